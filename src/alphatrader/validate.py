"""The readiness checklist behind `alphatrader validate`.

Each check answers (name, ok, detail, fix): what was checked, whether it passed, what was found,
and what to do when it did not. Nothing here places an order or changes the ledger; the only
writes are the market-data seed (first use of the data dir) and, with `send_test_email`, one
message through the configured email channel.

What "required" means depends on the mode:

* paper (PAPER_TRADING_MODE=true, the default): nothing is required. The broker is the paper
  account in the database; without EMAIL_SMTP_SERVER emails are written to var/outbox as .eml.
* Alpaca (PAPER_TRADING_MODE=false): ALPACA_API_KEY and ALPACA_SECRET_KEY.
* production (PRODUCTION_MODE=true): the Alpaca keys with ALPACA_PAPER=false, and a working email
  channel (EMAIL_SMTP_SERVER, EMAIL_FROM, EMAIL_TO; EMAIL_USERNAME with EMAIL_PASSWORD), since
  nobody reads an .eml file in time when real money is at stake.
"""

from __future__ import annotations

import shutil
import smtplib
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from alphatrader.config import Settings, load_settings
from alphatrader.errors import AlphaTraderError, ConfigError
from alphatrader.storage.db import Database

SMTP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0
ALPACA_TRADING_URLS = {
    True: "https://paper-api.alpaca.markets",
    False: "https://api.alpaca.markets",
}
CRON_MARKER = "# AlphaTrader daily"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def run_checks(
    settings: Settings | None = None,
    *,
    now: datetime | None = None,
    send_test_email: bool = False,
) -> list[Check]:
    """Every check, in order. Settings that fail validation are one failed check (the others
    need settings, so they are not run)."""
    if settings is None:
        try:
            settings = load_settings()
        except ConfigError as exc:
            return [
                Check(
                    "configuration",
                    False,
                    str(exc),
                    "correct the named variables in .env or the environment "
                    "(`alphatrader config show` prints what is in effect)",
                )
            ]
    now = now or datetime.now(UTC)
    at = now
    database = _probe_database(settings)
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("safety limits", lambda: check_safety_limits(settings)),
        ("mode", lambda: check_mode(settings)),
        ("required variables", lambda: check_required(settings)),
        ("database", lambda: check_migrations(database)),
        ("broker", lambda: check_broker(settings, database)),
        ("SMTP", lambda: check_smtp(settings)),
    ]
    if send_test_email:
        steps.append(("test email", lambda: check_test_email(settings, at)))
    steps += [
        ("alert channels", lambda: check_alert_channels(settings)),
        ("data fresh", lambda: check_data_fresh(settings, at)),
        ("schedule", lambda: check_schedule(settings, at)),
    ]
    try:
        return [_guarded(name, step) for name, step in steps]
    finally:
        if database.database is not None:
            database.database.dispose()


def _guarded(name: str, step: Callable[[], Check]) -> Check:
    """A check that raised is a failed check with the error's first line, not a traceback."""
    try:
        return step()
    except Exception as exc:
        return Check(name, False, f"the check itself failed: {_one_line(exc)}", _fix_for(exc))


def _fix_for(exc: Exception) -> str:
    if isinstance(exc, ConfigError):
        return "correct the configuration named in the message"
    return "see the message; run with LOG_LEVEL=DEBUG for details"


def passed(checks: list[Check]) -> bool:
    return all(c.ok for c in checks)


# -- configuration -------------------------------------------------------------------------------


def broker_name(settings: Settings) -> str:
    if settings.paper_trading_mode:
        return "paper"
    return "alpaca-paper" if settings.alpaca_paper else "alpaca-live"


def check_safety_limits(settings: Settings) -> Check:
    investable = settings.portfolio_size - settings.min_cash_buffer
    return Check(
        "safety limits",
        True,
        f"portfolio ${settings.portfolio_size:,}, positions ${settings.min_position_size:,}–"
        f"${settings.max_position_size:,}, at most {settings.max_positions}, cash buffer "
        f"${settings.min_cash_buffer:,} (investable ${investable:,}), max drawdown "
        f"{settings.max_drawdown_pct:g}%, max daily loss {settings.max_daily_loss_pct:g}%",
    )


def check_mode(settings: Settings) -> Check:
    problems: list[str] = []
    if settings.production_mode and settings.paper_trading_mode:
        problems.append("PRODUCTION_MODE with PAPER_TRADING_MODE")
    if settings.production_mode and settings.dry_run:
        problems.append("PRODUCTION_MODE with DRY_RUN (nothing would ever be sent)")
    if settings.production_mode and not settings.paper_trading_mode and settings.alpaca_paper:
        problems.append("PRODUCTION_MODE with ALPACA_PAPER=true (orders would go to paper)")
    live = not settings.paper_trading_mode and not settings.alpaca_paper
    if live and not settings.production_mode:
        problems.append("ALPACA_PAPER=false (real money) without PRODUCTION_MODE=true")
    mode = (
        "production"
        if settings.production_mode
        else "paper"
        if settings.paper_trading_mode
        else ("Alpaca " + ("paper" if settings.alpaca_paper else "LIVE"))
    )
    if settings.dry_run:
        sending = "DRY_RUN: nothing is sent to the broker"
    else:
        sending = "AUTO_TRADE on" if settings.auto_trade else "AUTO_TRADE off"
    if problems:
        return Check(
            "mode",
            False,
            f"incoherent flags: {'; '.join(problems)}",
            "for real money: PRODUCTION_MODE=true, PAPER_TRADING_MODE=false, DRY_RUN=false, "
            "ALPACA_PAPER=false; otherwise PRODUCTION_MODE=false",
        )
    return Check("mode", True, f"{mode}, broker {broker_name(settings)}, {sending}")


def _missing(names: dict[str, object]) -> list[str]:
    return [
        name
        for name, value in names.items()
        if value is None or (hasattr(value, "get_secret_value") and not value.get_secret_value())
    ]


def check_required(settings: Settings) -> Check:
    required: dict[str, object] = {}
    if not settings.paper_trading_mode:
        required["ALPACA_API_KEY"] = settings.alpaca_api_key
        required["ALPACA_SECRET_KEY"] = settings.alpaca_secret_key
    if settings.production_mode:
        required["EMAIL_SMTP_SERVER"] = settings.email_smtp_server
        required["EMAIL_FROM"] = settings.email_from
        required["EMAIL_TO"] = settings.email_to or None
    if settings.email_username or settings.email_password:  # both or neither
        required["EMAIL_USERNAME"] = settings.email_username
        required["EMAIL_PASSWORD"] = settings.email_password
    missing = _missing(required)
    if missing:
        return Check(
            "required variables",
            False,
            f"missing for this mode: {', '.join(missing)}",
            "set them in .env or the environment; paper trading needs none of them",
        )
    if not required:
        return Check("required variables", True, "paper trading: none required")
    return Check("required variables", True, f"present: {', '.join(required)}")


# -- database ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _DatabaseState:
    url: str
    database: Database | None  # None: a SQLite file that does not exist yet
    error: str | None = None
    current: str | None = None
    head: str | None = None


def _probe_database(settings: Settings) -> _DatabaseState:
    from alphatrader.storage.db import default_database_url

    url = (
        settings.database_url.get_secret_value() if settings.database_url else None
    ) or default_database_url(settings.data_dir)
    shown = url if url.startswith("sqlite") else _mask_url(url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return _DatabaseState(shown, None)
    database: Database | None = None
    try:
        database = Database(url)
        current = database.current_revision()
        head = database.head_revision()
    except Exception as exc:
        if database is not None:
            database.dispose()
        return _DatabaseState(shown, None, error=_one_line(exc))
    return _DatabaseState(shown, database, current=current, head=head)


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable DATABASE_URL>"


def check_migrations(state: _DatabaseState) -> Check:
    if state.error:
        return Check(
            "database",
            False,
            f"{state.url}: unreachable: {state.error}",
            "check DATABASE_URL and that the server runs (unset it for the embedded SQLite)",
        )
    if state.database is None or state.current is None:
        return Check(
            "database",
            True,
            f"{state.url}: not initialised — run alphatrader daily or db upgrade "
            "(the first daily run creates it)",
        )
    if state.current != state.head:
        return Check(
            "database",
            False,
            f"{state.url}: schema at {state.current}, code expects {state.head}",
            "run alphatrader db upgrade (a schema newer than the code needs the newer release)",
        )
    return Check("database", True, f"{state.url}: migrations current ({state.head})")


def check_broker(settings: Settings, state: _DatabaseState) -> Check:
    name = broker_name(settings)
    if name == "paper":
        return _check_paper_account(settings, state)
    return _check_alpaca(settings)


def _check_paper_account(settings: Settings, state: _DatabaseState) -> Check:
    from sqlalchemy.orm import Session

    from alphatrader.execution.brokers.paper import ACCOUNT_ROW, PaperBroker
    from alphatrader.storage.models import PaperAccount

    if state.error:
        return Check("broker (paper)", False, "the database is unreachable", "see 'database'")
    starting = f"${settings.portfolio_size:,}"
    if state.database is None or state.current is None:
        return Check(
            "broker (paper)",
            True,
            f"the paper account will be opened with {starting} on the first daily run",
        )
    try:
        with Session(state.database.engine) as s:
            existing = s.get(PaperAccount, ACCOUNT_ROW)
            if existing is not None:
                return Check(
                    "broker (paper)",
                    True,
                    f"paper account open since {existing.opened_at:%Y-%m-%d}, cash "
                    f"${existing.cash:,.2f}",
                )
            PaperBroker(Decimal(settings.portfolio_size)).account(s)  # can it be created?
            s.rollback()
    except Exception as exc:
        return Check(
            "broker (paper)",
            False,
            f"the paper account cannot be opened: {_one_line(exc)}",
            "run alphatrader db upgrade; check that the database is writable",
        )
    return Check("broker (paper)", True, f"no paper account yet; it will be opened with {starting}")


def _check_alpaca(settings: Settings) -> Check:
    import httpx

    name = f"broker ({broker_name(settings)})"
    if not (settings.alpaca_api_key and settings.alpaca_secret_key):
        return Check(name, False, "no Alpaca keys", "set ALPACA_API_KEY and ALPACA_SECRET_KEY")
    url = ALPACA_TRADING_URLS[settings.alpaca_paper] + "/v2/account"
    headers = {
        "APCA-API-KEY-ID": settings.alpaca_api_key.get_secret_value(),
        "APCA-API-SECRET-KEY": settings.alpaca_secret_key.get_secret_value(),
    }
    try:
        response = httpx.get(url, headers=headers, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        return Check(name, False, f"{url}: {_one_line(exc)}", "check the network and the URL")
    if response.status_code in (401, 403):
        return Check(
            name,
            False,
            f"{url}: keys refused (HTTP {response.status_code})",
            "check the keys, and that paper keys go with ALPACA_PAPER=true",
        )
    if response.status_code != 200:
        return Check(name, False, f"{url}: HTTP {response.status_code}", "retry later")
    status = response.json().get("status", "?")
    return Check(name, status == "ACTIVE", f"account status {status}", "see the Alpaca dashboard")


# -- email -------------------------------------------------------------------------------------


def check_smtp(settings: Settings, timeout: float = SMTP_TIMEOUT) -> Check:
    """Connect, EHLO, TLS per EMAIL_SMTP_SECURITY and log in; nothing is sent."""
    if not settings.email_smtp_server:
        outbox = settings.var_dir / "outbox"
        return Check("SMTP", True, f"not configured → .eml to {outbox}")
    host, port, security = (
        settings.email_smtp_server,
        settings.email_smtp_port,
        settings.email_smtp_security,
    )
    where = f"{host}:{port} ({security})"
    fix = (
        "check EMAIL_SMTP_SERVER, EMAIL_SMTP_PORT, EMAIL_SMTP_SECURITY (starttls on 587, ssl on "
        "465), EMAIL_USERNAME/EMAIL_PASSWORD (an app password for Gmail), EMAIL_CA_FILE"
    )
    login = settings.email_username
    if login and security == "none" and not _is_loopback(host):
        return Check(
            "SMTP",
            False,
            f"{where}: a login without TLS would send EMAIL_PASSWORD in clear text",
            "set EMAIL_SMTP_SECURITY=starttls or ssl",
        )
    try:
        context = None
        if security != "none":
            ca_file = settings.email_ca_file
            context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        smtp: smtplib.SMTP
        if security == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if security == "starttls":
                if not smtp.has_extn("starttls"):
                    return Check("SMTP", False, f"{where}: the server offers no STARTTLS", fix)
                smtp.starttls(context=context)
                smtp.ehlo()
            if login:
                password = settings.email_password
                smtp.login(login, password.get_secret_value() if password else "")
                where += f", logged in as {login}"
            smtp.noop()
    except (OSError, smtplib.SMTPException) as exc:  # ssl errors are OSErrors
        return Check("SMTP", False, f"{where}: {_one_line(exc)}", fix)
    return Check("SMTP", True, f"{where}: connected")


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() in {"localhost", "localhost.localdomain", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_test_email(settings: Settings, now: datetime) -> Check:
    """One short message through the email channel: SMTP when configured, else an .eml file."""
    from alphatrader.notify.email import EmailSender, write_eml

    sender = EmailSender(settings, timeout=SMTP_TIMEOUT)
    message = sender.build_alert(
        f"AlphaTrader test email {now.astimezone(UTC):%Y-%m-%d %H:%M UTC}",
        "This is a test message from `alphatrader validate --send-test-email`.\n"
        "If you can read it, the daily signals email and the alerts will reach you too.\n",
        key=f"validate-test-{now.astimezone(UTC):%Y%m%dT%H%M%S}",
    )
    try:
        if not sender.configured:
            path = write_eml(message, settings.var_dir / "outbox")
            return Check("test email", True, f"no SMTP server: written to {path}")
        sender.send(message)
    except (AlphaTraderError, OSError, smtplib.SMTPException) as exc:
        return Check(
            "test email",
            False,
            _one_line(exc),
            "see the SMTP check; the test message was not delivered",
        )
    return Check(
        "test email",
        True,
        f"sent via {sender.endpoint} to {', '.join(settings.email_recipients())} "
        f"(Message-ID {message['Message-ID']})",
    )


def check_alert_channels(settings: Settings) -> Check:
    from alphatrader.notify.hub import build_hub

    try:
        build_hub(settings)
    except AlphaTraderError as exc:
        return Check(
            "alert channels",
            False,
            _one_line(exc),
            "ALERT_CHANNELS is a comma-separated list of: log, email",
        )
    return Check("alert channels", True, settings.alert_channels or "none")


# -- data and schedule -----------------------------------------------------------------------------


def check_data_fresh(settings: Settings, now: datetime) -> Check:
    from alphatrader.data import bundle
    from alphatrader.data.providers.freshness import check_freshness, last_complete_session
    from alphatrader.jobs.market_view import universe_symbols
    from alphatrader.services import market_store

    store = market_store(settings)
    tradable = {i.symbol for i in store.instruments(bundle.DAILY) if i.tradable}
    symbols = [s for s in universe_symbols(store) if s in tradable]
    as_of = last_complete_session(now)
    report = check_freshness(store, symbols, as_of)
    if report.ok:
        return Check("data fresh", True, f"{len(symbols)} symbols up to {as_of}")
    stale = report.stale
    sample = ", ".join(
        f"{symbol} last {report.get(symbol).last_session or 'never'}" for symbol in stale[:3]
    )
    return Check(
        "data fresh",
        False,
        f"{len(stale)} of {len(symbols)} symbols have no bar for {as_of} ({sample})",
        "configure a provider in .env: DATA_PROVIDERS=alpaca (with ALPACA_API_KEY and "
        "ALPACA_SECRET_KEY), alphavantage (with ALPHAVANTAGE_API_KEY) or csv (daily files in "
        "CSV_DROP_DIR); the bundled data is history and ends years ago",
    )


def check_schedule(
    settings: Settings, now: datetime, crontab: Callable[[], str | None] | None = None
) -> Check:
    from alphatrader.jobs.scheduler import describe, upcoming_runs

    try:
        runs = upcoming_runs(now, 1, settings.daily_execution_time)
    except ConfigError as exc:
        return Check("schedule", False, str(exc), "set DAILY_EXECUTION_TIME=16:30")
    listed = (crontab or _crontab)()
    if listed is None:
        cron = "crontab not available"
    elif CRON_MARKER in listed:
        cron = "cron line installed"
    else:
        cron = "no cron line (scripts/setup_cron.sh, or run alphatrader schedule)"
    nxt = describe(runs)[0][1] if runs else "none (the calendar ends)"
    return Check("schedule", True, f"next run {nxt}; {cron}")


def _crontab() -> str | None:
    if shutil.which("crontab") is None:
        return None
    try:
        done = subprocess.run(
            ["crontab", "-l"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else ""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
