"""The daily job end to end: real SMTP on loopback, SQLite and PostgreSQL, kill -9 and rerun."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alphatrader.config import Settings, load_settings
from alphatrader.jobs.daily import DailyOptions, run_daily
from alphatrader.risk.engine import RiskEngine, TradingState
from alphatrader.storage.db import Database
from alphatrader.storage.models import JobRun, Notification, OrderRecord, SignalRecord
from tests.fakes.smtp import SmtpServer, smtp_server

SESSION = date(2016, 6, 3)  # a session whose plan has orders from an empty account
REPLAYED = [date(2016, 6, 1), date(2016, 6, 2)]


@pytest.fixture
def data_dir(tmp_path: Path, seeded_store_root: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    shutil.copytree(seeded_store_root, root / "market")
    return root


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server(security="none") as server:
        yield server


@pytest.fixture
def env(
    data_dir: Path, database_url: str, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    values = {
        "ALPHATRADER_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        **{k: str(v) for k, v in smtp.settings().items()},
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(data_dir.parent)
    return values


def settings() -> Settings:
    return load_settings()


def count(db: Database, model: type, **where: object) -> int:
    with db.session() as s:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(s.scalar(query) or 0)


def test_plan_is_made_emailed_once_and_not_repeated(env: dict[str, str], smtp: SmtpServer) -> None:
    for day in REPLAYED:
        assert run_daily(settings(), DailyOptions(as_of=day, no_email=True)).status == "completed"
    outcome = run_daily(settings(), DailyOptions(as_of=SESSION))
    assert outcome.status == "completed"
    assert outcome.email == "sent"
    (received,) = smtp.messages
    assert received.message["Subject"] == f"AlgoTrading Daily Signals - {SESSION}"
    body = received.message.get_body(("html",)).get_content()
    for heading in (
        "Portfolio Summary",
        "Top Signals",
        "Cash Depletion Analysis",
        "Position Consolidation Recommendations",
        "Next Day Trading Plan",
        "Strategy Performance",
    ):
        assert heading in body
    assert outcome.report_path is not None and outcome.report_path.exists()

    again = run_daily(settings(), DailyOptions(as_of=SESSION))
    assert again.status == "already_done"
    assert len(smtp.messages) == 1
    db = Database(env["DATABASE_URL"])
    assert count(db, JobRun, session=SESSION, status="completed") == 1


def test_plan_respects_the_small_account_rules(env: dict[str, str]) -> None:
    outcome = run_daily(settings(), DailyOptions(as_of=SESSION, no_email=True))
    plan = outcome.plan
    assert plan is not None
    s = settings()
    assert plan.after.cash >= s.min_cash_buffer
    assert len(plan.after.positions) <= s.max_positions
    for buy in plan.buys:
        assert s.min_position_size <= buy.notional <= s.max_position_size
    payload = outcome.payload
    assert set(payload) == {
        "session",
        "risk_state",
        "portfolio_before",
        "signals",
        "orders",
        "rejections",
        "portfolio_after",
    }
    assert payload["session"] == "2016-06-03"


def test_not_a_session_is_a_clear_no_op(env: dict[str, str]) -> None:
    weekend = run_daily(settings(), DailyOptions(as_of=date(2016, 7, 2)))
    holiday = run_daily(settings(), DailyOptions(as_of=date(2016, 7, 4)))
    assert (weekend.status, holiday.status) == ("no_session", "no_session")
    assert "weekend" in weekend.message and "holiday" in holiday.message


def test_stale_data_fails_closed_and_says_why(env: dict[str, str], smtp: SmtpServer) -> None:
    from alphatrader.errors import DataError

    # 2023-01-03 is a completed session, but the bundled data ends in 2022 (stocks) and 2016.
    with pytest.raises(DataError, match="no tradable symbol has a bar on 2023-01-03"):
        run_daily(settings(), DailyOptions(as_of=date(2023, 1, 3)))
    db = Database(env["DATABASE_URL"])
    assert count(db, OrderRecord) == 0
    with db.session() as s:
        assert s.scalars(select(JobRun.status)).all() == ["failed"]
    (alert,) = smtp.messages  # no plan email, one failure alert
    assert "raised an error for 2023-01-03" in alert.message["Subject"]


def test_halted_state_survives_restart_and_blocks_orders(env: dict[str, str]) -> None:
    db = Database(env["DATABASE_URL"])
    db.migrate()
    RiskEngine(db, settings()).halt("test: operator stop", actor="test")
    outcome = run_daily(settings(), DailyOptions(as_of=SESSION, no_email=True))
    assert outcome.risk_state == TradingState.HALTED
    assert outcome.plan is not None and outcome.plan.orders == ()
    assert any(r.rule == "risk_state" for r in outcome.plan.rejections)
    RiskEngine(db, settings()).resume("test: checked", actor="test")
    resumed = run_daily(settings(), DailyOptions(as_of=date(2016, 6, 6), no_email=True))
    assert resumed.risk_state == TradingState.ACTIVE


def _run_cli(env: dict[str, str], crash_at: str | None) -> subprocess.CompletedProcess[str]:
    child = {**os.environ, **env}
    child.pop("ALPHATRADER_CRASH_AT", None)
    if crash_at:
        child["ALPHATRADER_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "alphatrader", "daily", "--as-of", SESSION.isoformat()],
        capture_output=True,
        text=True,
        env=child,
        timeout=300,
        cwd=Path(env["ALPHATRADER_DATA_DIR"]).parent,
    )


def _orders(db: Database) -> list[tuple[str, str]]:
    with db.session() as s:
        rows = s.execute(
            select(OrderRecord.client_order_id, OrderRecord.status)
            .where(OrderRecord.session == SESSION)
            .order_by(OrderRecord.client_order_id)
        ).all()
    return [(cid, status) for cid, status in rows]


@pytest.mark.parametrize(
    "crash_at", ["after_fills", "mid_persist", "after_persist", "after_submit", "before_email"]
)
def test_killed_run_is_finished_by_the_rerun_without_repeats(
    env: dict[str, str], smtp: SmtpServer, crash_at: str
) -> None:
    reference = run_daily(settings(), DailyOptions(as_of=SESSION, dry_run=True))
    expected = sorted(
        f"daily-{SESSION:%Y%m%d}-{o.strategy}-{o.symbol}-{o.side}"
        for o in (reference.plan.orders if reference.plan else ())
    )
    assert expected, "the chosen session must have orders for this test to mean anything"

    killed = _run_cli(env, crash_at)
    assert killed.returncode == -9, killed.stderr
    db = Database(env["DATABASE_URL"])
    if crash_at == "mid_persist":  # the transaction died with the process: nothing half-written
        assert count(db, OrderRecord, session=SESSION) == 0
        assert count(db, SignalRecord, session=SESSION) == 0
    assert smtp.messages == []

    rerun = _run_cli(env, None)
    assert rerun.returncode == 0, rerun.stderr
    orders = _orders(db)
    assert [cid for cid, _ in orders] == expected  # the same ids, each once
    assert {status for _, status in orders} == {"accepted"}
    assert len(smtp.messages) == 1
    assert count(db, Notification, status="sent") == 1
    with db.session() as s:
        statuses = s.scalars(
            select(JobRun.status).where(JobRun.session == SESSION).order_by(JobRun.attempt)
        ).all()
    assert statuses == ["failed", "completed"]


def test_concurrent_start_is_refused(env: dict[str, str]) -> None:
    from alphatrader.jobs import runs

    db = Database(env["DATABASE_URL"])
    db.migrate()
    lock_dir = Path(env["ALPHATRADER_DATA_DIR"]) / "locks"
    holder = runs.begin(db, "daily", SESSION, lock_dir)
    try:
        outcome = run_daily(settings(), DailyOptions(as_of=SESSION))
        assert outcome.status == "running"
        assert count(db, OrderRecord) == 0
    finally:
        holder.finish("failed", "test")
