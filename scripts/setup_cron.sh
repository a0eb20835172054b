#!/usr/bin/env bash
# Install (or replace, or remove) the crontab entry that runs `alphatrader daily` after the close.
#
#   scripts/setup_cron.sh             install, replacing an earlier AlphaTrader entry
#   scripts/setup_cron.sh --dry-run   print the crontab that would be installed; change nothing
#   scripts/setup_cron.sh --remove    remove the AlphaTrader entry (with --dry-run: print only)
#   scripts/setup_cron.sh --repo DIR  the checkout to run in (default: this script's checkout)
#
# The entry, in the current user's crontab, between two marker comments:
#
#   CRON_TZ=America/New_York
#   30 16 * * 1-5 cd <repo> && .venv/bin/alphatrader daily >> var/logs/daily.log 2>&1
#
# 16:30 New York time, Monday to Friday. Cron knows nothing about exchange holidays or early
# closes; it does not need to: the daily job reads the XNYS calendar and refuses a day that is
# not a session, and on an early-close day (13:00) 16:30 is still after the close. CRON_TZ makes
# 16:30 mean New York time whatever the machine's zone, daylight saving time included.
#
# Why not the plan's `0 16 30 * * *`: crontab lines have five time fields (minute hour
# day-of-month month day-of-week), not six, so cron reads that line as minute 0, hour 16,
# day-of-month 30, every month, every weekday, and then tries to run a command called `*`:
# once a month at 16:00, on the 30th (never in February), weekends included, and broken.
# (Six fields with seconds first is Quartz/Spring syntax, where it would mean 16:00:00 on the
# 30th; neither says 16:30 on trading days.)
#
# CRON_TZ is honoured by cronie (Fedora, RHEL, Arch; Debian's `cronie` package) and by Debian's
# `systemd-cron`; Debian/Ubuntu's default `cron` (Vixie cron) ignores it and reads 16:30 in the
# system time zone. This script warns when the system zone is not New York's; then set the system
# zone to America/New_York, install cronie, or run `alphatrader schedule` (its own calendar-aware
# scheduler) as a service instead.
#
# Lines added to the crontab *after* this block are also read in New York time (CRON_TZ applies
# to every following line), which is why the block is kept at the end.
set -euo pipefail

MARK_BEGIN="# AlphaTrader daily (managed by scripts/setup_cron.sh)"
MARK_END="# AlphaTrader daily end"
MARKER="# AlphaTrader daily"

dry_run=0
remove=0
repo=""

usage() {
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --remove) remove=1 ;;
        --repo)
            [[ $# -ge 2 ]] || { echo "error: --repo needs a directory" >&2; exit 2; }
            repo="$2"
            shift
            ;;
        --repo=*) repo="${1#--repo=}" ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [[ -z "$repo" ]]; then
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
else
    [[ -d "$repo" ]] || { echo "error: --repo $repo is not a directory" >&2; exit 2; }
    repo="$(cd "$repo" && pwd)"
fi

if [[ $remove -eq 0 && $dry_run -eq 0 && ! -x "$repo/.venv/bin/alphatrader" ]]; then
    echo "error: $repo/.venv/bin/alphatrader not found; run 'make run' (or pip install -e .) first" >&2
    exit 1
fi

have_crontab=0
if command -v crontab >/dev/null 2>&1; then
    have_crontab=1
elif [[ $dry_run -eq 0 ]]; then
    echo "error: 'crontab' is not installed (Debian/Ubuntu: apt-get install cron or cronie);" \
        "or run 'alphatrader schedule' instead" >&2
    exit 1
fi

current=""
if [[ $have_crontab -eq 1 ]]; then
    # `crontab -l` fails when the user has no crontab yet: that is an empty one.
    current="$(crontab -l 2>/dev/null || true)"
fi

# Everything except an earlier AlphaTrader block (and any stray line carrying the marker).
kept="$(printf '%s\n' "$current" | awk -v begin="$MARK_BEGIN" -v end="$MARK_END" -v mark="$MARKER" '
    $0 == begin { skipping = 1; next }
    skipping && $0 == end { skipping = 0; next }
    skipping { next }
    index($0, mark) { next }
    { print }
' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}')"

block="$MARK_BEGIN
CRON_TZ=America/New_York
30 16 * * 1-5 cd $(printf '%q' "$repo") && .venv/bin/alphatrader daily >> var/logs/daily.log 2>&1
$MARK_END"

if [[ $remove -eq 1 ]]; then
    new="$kept"
elif [[ -n "$kept" ]]; then
    new="$kept
$block"
else
    new="$block"
fi

if [[ $remove -eq 0 ]]; then
    system_offset="$(date +%z)"
    new_york_offset="$(TZ=America/New_York date +%z)"
    if [[ "$system_offset" != "$new_york_offset" ]]; then
        echo "note: the system time zone (UTC$system_offset) is not New York's" \
            "(UTC$new_york_offset). cronie honours CRON_TZ; Debian/Ubuntu's default cron does" \
            "not and would run at 16:30 system time. See the comment at the top of $0." >&2
    fi
fi

if [[ $dry_run -eq 1 ]]; then
    if [[ $remove -eq 1 ]]; then
        echo "# dry run: the crontab after removing the AlphaTrader entry would be:"
    else
        echo "# dry run: the crontab would be:"
    fi
    [[ -n "$new" ]] && printf '%s\n' "$new"
    exit 0
fi

if [[ $remove -eq 1 ]]; then
    if [[ "$new" == "$current" ]]; then
        echo "no AlphaTrader entry in the crontab; nothing to remove"
        exit 0
    fi
    if [[ -n "$new" ]]; then
        printf '%s\n' "$new" | crontab -
    else
        crontab -r 2>/dev/null || true
    fi
    echo "removed the AlphaTrader entry from the crontab"
    exit 0
fi

mkdir -p "$repo/var/logs"
printf '%s\n' "$new" | crontab -
echo "installed: 16:30 America/New_York, Monday-Friday (the job skips non-sessions):"
printf '%s\n' "$block" | sed 's/^/  /'
echo "log: $repo/var/logs/daily.log"
