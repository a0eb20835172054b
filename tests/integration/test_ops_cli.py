"""`alphatrader runs`, `schedule` and `validate`, through Typer, on a private data folder."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from alphatrader.cli import ops
from alphatrader.config import Settings, load_settings
from alphatrader.jobs.scheduler import run_time
from alphatrader.storage.db import Database, default_database_url
from alphatrader.storage.models import JobRun
from alphatrader.validate import Check, run_checks
from tests.fakes.smtp import free_port, self_signed_cert, smtp_server

SETTINGS_ENV = tuple(f.alias for f in Settings.model_fields.values() if f.alias is not None)
NOW = datetime(2016, 7, 5, 12, tzinfo=UTC)
# After the bundled data (it ends in 2022): the last complete session is 2024-11-29.
LATER = datetime(2024, 12, 2, 12, tzinfo=UTC)


def make_app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("runs")(ops.runs)
    app.command("schedule")(ops.schedule)
    app.command("validate")(ops.validate)
    return app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data folder; no .env and no AlphaTrader variable from the outside."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALPHATRADER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(make_app(), list(args), env={"COLUMNS": "250"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def migrated(data_dir: Path) -> Database:
    db = Database(default_database_url(data_dir))
    db.migrate()
    return db


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, Any]) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, str(value))


# -- schedule -----------------------------------------------------------------------------------


def test_schedule_print_only_lists_the_next_five_runs(data_dir: Path) -> None:
    result = invoke("schedule", "--print-only")
    assert result.exit_code == 0, result.output
    rows = re.findall(
        r"(\d{4}-\d\d-\d\d) │ \w{3} (\d{4}-\d\d-\d\d) (\d\d:\d\d) (EST|EDT) │ "
        r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC",
        result.output,
    )
    assert len(rows) == 5
    for session, local_day, local_time, _zone, utc_text in rows:
        assert session == local_day
        assert local_time in ("16:30", "13:30")
        due = datetime.strptime(utc_text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        assert due == run_time(date.fromisoformat(session))
        assert due > datetime.now(UTC)


# -- runs -------------------------------------------------------------------------------------


def seed_runs(db: Database) -> None:
    rows = [
        (date(2016, 6, 29), 1, "completed", None),
        (date(2016, 6, 30), 1, "failed", "DataError: SPY has no bar for 2016-06-30\ntraceback..."),
        (date(2016, 6, 30), 2, "completed", None),
    ]
    with db.session() as s:
        for session, attempt, status, error in rows:
            started = run_time(session) + timedelta(minutes=attempt)
            s.add(
                JobRun(
                    job="daily",
                    session=session,
                    attempt=attempt,
                    status=status,
                    started_at=started,
                    finished_at=started + timedelta(seconds=75),
                    stages={"data": 1.25, "plan": 0.5},
                    counts={"signals": 12, "orders": 2},
                    error=error,
                )
            )


def test_runs_shows_attempts_rate_and_missed_sessions(data_dir: Path) -> None:
    db = migrated(data_dir)
    seed_runs(db)
    db.dispose()
    result = invoke("runs", "--now", NOW.isoformat())
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Recent runs: daily" in out
    for text in (
        "2016-06-29",
        "completed",
        "failed",
        "1m15s",
        "data 1.2s, plan 0.5s",
        "signals=12, orders=2",
        "DataError: SPY has no bar for 2016-06-30",
    ):
        assert text in out
    assert "traceback..." not in out  # the error's first line only
    assert "success rate (daily, completed / finished attempts): 67%" in out
    assert "1 missed session(s) with no completed run: 2016-07-01" in out
    assert "alphatrader daily --as-of 2016-07-01" in out


def test_runs_limit_and_an_empty_history(data_dir: Path) -> None:
    empty = invoke("runs")
    assert empty.exit_code == 0
    assert "no runs of 'daily' yet" in empty.output and "no missed sessions" in empty.output
    db = migrated(data_dir)
    seed_runs(db)
    db.dispose()
    one = invoke("runs", "--limit", "1", "--now", NOW.isoformat())
    rows = re.findall(r"^│ (2016-\d\d-\d\d) │ +(\d) ", one.output, flags=re.MULTILINE)
    assert rows == [("2016-06-30", "2")]  # the latest attempt only
    other = invoke("runs", "--job", "weekly", "--now", NOW.isoformat())
    assert "no runs of 'weekly' yet" in other.output


# -- validate ---------------------------------------------------------------------------------


def test_validate_on_a_clean_data_dir(data_dir: Path) -> None:
    migrated(data_dir).dispose()
    checks = by_name(run_checks(load_settings(), now=LATER))
    assert checks["mode"].ok and "paper" in checks["mode"].detail
    assert checks["required variables"].ok
    assert checks["SMTP"].ok and "not configured → .eml to" in checks["SMTP"].detail
    assert checks["database"].ok and "migrations current" in checks["database"].detail
    assert checks["broker (paper)"].ok
    assert "will be opened with $1,000" in checks["broker (paper)"].detail
    fresh = checks["data fresh"]
    assert not fresh.ok
    assert "have no bar for 2024-11-29" in fresh.detail  # the last complete session
    assert "last 2022-" in fresh.detail
    assert "DATA_PROVIDERS" in fresh.fix
    assert [name for name, c in checks.items() if not c.ok] == ["data fresh"]

    result = invoke("validate")
    assert result.exit_code == 1
    assert "not ready: 1 failed check(s): data fresh" in result.output
    assert "DATA_PROVIDERS=alpaca" in result.output
    assert "Traceback" not in result.output


def test_validate_does_not_create_the_database(data_dir: Path) -> None:
    checks = by_name(run_checks(load_settings(), now=LATER))
    database = checks["database"]
    assert database.ok and "not initialised — run alphatrader daily or db upgrade" in (
        database.detail
    )
    assert not (data_dir / "alphatrader.db").exists()


def test_validate_reports_the_paper_account(data_dir: Path) -> None:
    from alphatrader.execution.brokers.paper import PaperBroker

    db = migrated(data_dir)
    with db.session() as s:
        PaperBroker(load_settings().portfolio_size).account(s)
    db.dispose()
    broker = by_name(run_checks(load_settings(), now=LATER))["broker (paper)"]
    assert broker.ok and "cash $1,000.00" in broker.detail


def test_a_configuration_error_is_one_failed_check(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_POSITION_SIZE", "500")
    checks = run_checks()
    assert [(c.name, c.ok) for c in checks] == [("configuration", False)]
    assert "MIN_POSITION_SIZE (500) is above MAX_POSITION_SIZE (300)" in checks[0].detail
    result = invoke("validate")
    assert result.exit_code == 1
    assert "configuration" in result.output and "FAIL" in result.output


def test_incoherent_production_flags(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {"PRODUCTION_MODE": "true", "PAPER_TRADING_MODE": "false"})
    set_env(monkeypatch, {"DRY_RUN": "true"})
    checks = by_name(run_checks(now=LATER))
    assert not checks["mode"].ok
    assert "PRODUCTION_MODE with DRY_RUN" in checks["mode"].detail
    assert "ALPACA_PAPER=true" in checks["mode"].detail
    required = checks["required variables"]
    assert not required.ok
    for name in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "EMAIL_SMTP_SERVER", "EMAIL_TO"):
        assert name in required.detail
    broker = checks["broker (alpaca-paper)"]
    assert not broker.ok and broker.fix == "set ALPACA_API_KEY and ALPACA_SECRET_KEY"


def test_live_alpaca_without_production_mode_is_incoherent(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, {"PAPER_TRADING_MODE": "false", "ALPACA_PAPER": "false"})
    mode = by_name(run_checks(now=LATER))["mode"]
    assert not mode.ok and "without PRODUCTION_MODE=true" in mode.detail


def test_smtp_unreachable_fails_quickly(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(
        monkeypatch,
        {
            "EMAIL_SMTP_SERVER": "127.0.0.1",
            "EMAIL_SMTP_PORT": free_port(),
            "EMAIL_SMTP_SECURITY": "none",
        },
    )
    smtp = by_name(run_checks(now=LATER))["SMTP"]
    assert not smtp.ok and "ConnectionRefusedError" in smtp.detail
    assert "EMAIL_SMTP_PORT" in smtp.fix


def test_validate_sends_a_test_email_through_a_local_server(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server(security="none") as server:
        set_env(monkeypatch, server.settings(to="me@example.com"))
        result = invoke("validate", "--send-test-email")
        messages = server.messages
    assert result.exit_code == 1  # only the bundled data's age fails
    assert "not ready: 1 failed check(s): data fresh" in result.output
    assert f"127.0.0.1:{server.port} (none): connected" in result.output
    assert len(messages) == 1
    received = messages[0]
    assert received.rcpt_tos == ("me@example.com",)
    assert received.message["Subject"].startswith("AlphaTrader test email")
    assert "validate --send-test-email" in received.message.get_content()


def test_smtp_check_with_starttls_and_login(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert = self_signed_cert(tmp_path / "tls")
    with smtp_server(security="starttls", cert=cert, auth=("bot", "s3cret")) as server:
        set_env(monkeypatch, server.settings(host="localhost"))
        good = by_name(run_checks(now=LATER, send_test_email=True))
        set_env(monkeypatch, server.settings(password="wrong"))
        bad = by_name(run_checks(now=LATER))["SMTP"]
        received = server.messages
    assert good["SMTP"].ok and "logged in as bot" in good["SMTP"].detail
    assert good["test email"].ok
    assert len(received) == 1 and received[0].tls and received[0].login == "bot"
    assert not bad.ok and "SMTPAuthenticationError" in bad.detail
    assert "wrong" not in bad.detail


def test_test_email_without_smtp_is_written_to_the_outbox(data_dir: Path) -> None:
    check = by_name(run_checks(load_settings(), now=LATER, send_test_email=True))["test email"]
    assert check.ok and "no SMTP server: written to" in check.detail
    outbox = data_dir.parent / "outbox"
    [eml] = list(outbox.glob("*.eml"))
    assert "AlphaTrader test email" in eml.read_text()


def test_data_is_fresh_while_the_bundled_data_reaches_the_session(data_dir: Path) -> None:
    fresh = by_name(run_checks(load_settings(), now=NOW))["data fresh"]
    assert fresh.ok and fresh.detail.endswith("symbols up to 2016-07-01")


def test_a_check_that_raises_is_a_failed_check(data_dir: Path) -> None:
    beyond = datetime(2100, 1, 4, tzinfo=UTC)  # past the end of the exchange calendar
    checks = by_name(run_checks(load_settings(), now=beyond))
    fresh = checks["data fresh"]
    assert not fresh.ok and fresh.detail.startswith("the check itself failed: ValueError")
    assert checks["schedule"].ok and "none (the calendar ends)" in checks["schedule"].detail


def test_a_bad_execution_time_fails_the_schedule_check(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAILY_EXECUTION_TIME", "15:00")
    schedule = by_name(run_checks(now=LATER))["schedule"]
    assert not schedule.ok and "before the 16:00 ET close" in schedule.detail
