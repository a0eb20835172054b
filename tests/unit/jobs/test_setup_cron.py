"""scripts/setup_cron.sh: the line it installs, idempotently, with a fake `crontab`."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "setup_cron.sh"
BASH = shutil.which("bash")
TOOLS = ("awk", "sed", "date", "dirname", "cat", "rm", "mkdir")
BEGIN = "# AlphaTrader daily (managed by scripts/setup_cron.sh)"
END = "# AlphaTrader daily end"

pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")

FAKE_CRONTAB = """#!/bin/sh
# A stand-in for crontab(1) that keeps the table in $CRONTAB_FILE.
case "$1" in
  -l) [ -f "$CRONTAB_FILE" ] || { echo "no crontab for $USER" >&2; exit 1; }; cat "$CRONTAB_FILE" ;;
  -r) rm -f "$CRONTAB_FILE" ;;
  -) cat > "$CRONTAB_FILE" ;;
  *) echo "fake crontab: unsupported $*" >&2; exit 2 ;;
esac
"""


def job_line(repo: Path) -> str:
    return f"30 16 * * 1-5 cd {repo} && .venv/bin/alphatrader daily >> var/logs/daily.log 2>&1"


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH with the tools the script uses and no crontab."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} is needed by setup_cron.sh"
        (folder / tool).symlink_to(found)
    return folder


@pytest.fixture
def with_crontab(bin_dir: Path, tmp_path: Path) -> Path:
    """Adds a fake `crontab` to the PATH; returns the file that holds the table."""
    fake = bin_dir / "crontab"
    fake.write_text(FAKE_CRONTAB)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return tmp_path / "crontab.txt"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with an installed `alphatrader` entry point."""
    root = tmp_path / "checkout"
    entry = root / ".venv" / "bin" / "alphatrader"
    entry.parent.mkdir(parents=True)
    entry.write_text("#!/bin/sh\n")
    entry.chmod(0o755)
    return root


def run(bin_dir: Path, table: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(bin_dir), "HOME": str(bin_dir.parent), "TZ": "UTC"}
    if table is not None:
        env["CRONTAB_FILE"] = str(table)
    assert BASH is not None
    return subprocess.run(
        [BASH, str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dry_run_prints_the_line_and_needs_no_crontab(bin_dir: Path) -> None:
    assert shutil.which("crontab", path=str(bin_dir)) is None
    done = run(bin_dir, None, "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert job_line(REPO) in lines
    tz_at = lines.index("CRON_TZ=America/New_York")
    assert tz_at < lines.index(job_line(REPO))
    assert lines[tz_at - 1] == BEGIN and lines[-1] == END
    assert "not New York's" in done.stderr  # TZ=UTC: the CRON_TZ caveat is shown


def test_the_schedule_fields_mean_1630_on_weekdays() -> None:
    minute, hour, dom, month, dow, *command = job_line(REPO).split()
    assert (minute, hour, dom, month, dow) == ("30", "16", "*", "*", "1-5")
    assert command[:2] == ["cd", str(REPO)]


def test_the_script_explains_why_the_seed_line_is_wrong() -> None:
    text = SCRIPT.read_text()
    assert "0 16 30 * * *" in text
    assert "day-of-month 30" in text
    assert os.access(SCRIPT, os.X_OK)


def test_install_replaces_an_earlier_entry_and_keeps_other_lines(
    bin_dir: Path, with_crontab: Path, repo: Path
) -> None:
    with_crontab.write_text(
        "MAILTO=me@example.com\n"
        "0 1 * * * backup\n"
        f"{BEGIN}\nCRON_TZ=America/New_York\n30 16 * * 1-5 cd /old && old-command\n{END}\n"
        "5 5 * * * other\n"
    )
    for _ in range(2):  # idempotent
        done = run(bin_dir, with_crontab, "--repo", str(repo))
        assert done.returncode == 0, done.stderr
    table = with_crontab.read_text().splitlines()
    assert table == [
        "MAILTO=me@example.com",
        "0 1 * * * backup",
        "5 5 * * * other",
        BEGIN,
        "CRON_TZ=America/New_York",
        job_line(repo),
        END,
    ]
    assert (repo / "var" / "logs").is_dir()


def test_install_into_an_empty_crontab_and_remove(
    bin_dir: Path, with_crontab: Path, repo: Path
) -> None:
    assert run(bin_dir, with_crontab, "--repo", str(repo)).returncode == 0
    assert job_line(repo) in with_crontab.read_text().splitlines()
    dry = run(bin_dir, with_crontab, "--remove", "--dry-run", "--repo", str(repo))
    assert dry.returncode == 0 and job_line(repo) not in dry.stdout
    assert job_line(repo) in with_crontab.read_text()  # a dry run changes nothing
    removed = run(bin_dir, with_crontab, "--remove", "--repo", str(repo))
    assert removed.returncode == 0, removed.stderr
    assert not with_crontab.exists() or "AlphaTrader" not in with_crontab.read_text()
    again = run(bin_dir, with_crontab, "--remove", "--repo", str(repo))
    assert again.returncode == 0 and "nothing to remove" in again.stdout


def test_install_refuses_without_crontab_or_entry_point(
    bin_dir: Path, tmp_path: Path, repo: Path
) -> None:
    no_crontab = run(bin_dir, None, "--repo", str(repo))
    assert no_crontab.returncode == 1 and "'crontab' is not installed" in no_crontab.stderr
    empty = tmp_path / "empty-checkout"
    empty.mkdir()
    no_venv = run(bin_dir, None, "--repo", str(empty))
    assert no_venv.returncode == 1 and ".venv/bin/alphatrader not found" in no_venv.stderr


def test_paths_with_spaces_are_quoted(bin_dir: Path, tmp_path: Path) -> None:
    spaced = tmp_path / "my checkout"
    spaced.mkdir()
    done = run(bin_dir, None, "--dry-run", "--repo", str(spaced))
    assert done.returncode == 0, done.stderr
    assert f"cd {str(spaced).replace(' ', chr(92) + ' ')} &&" in done.stdout


def test_unknown_options_are_refused(bin_dir: Path) -> None:
    done = run(bin_dir, None, "--bogus")
    assert done.returncode == 2 and "unknown option --bogus" in done.stderr
