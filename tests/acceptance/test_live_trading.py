"""Automated and approval modes with a real broker adapter: the daily plan goes through the
persistent order manager and alpaca-py to a local server speaking Alpaca's trading API."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from alphatrader.config import load_settings
from alphatrader.execution.reconcile import reconcile
from alphatrader.jobs.daily import DailyOptions, run_daily
from alphatrader.services import database, order_manager
from alphatrader.storage.models import OrderRecord
from tests.fakes.alpaca_trading import FakeAlpacaTrading

SESSION = date(2016, 6, 3)


@pytest.fixture
def fake(
    tmp_path: Path, seeded_store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeAlpacaTrading]:
    (tmp_path / "data").mkdir()
    shutil.copytree(seeded_store_root, tmp_path / "data" / "market")
    monkeypatch.chdir(tmp_path)
    with FakeAlpacaTrading("live-key", "live-secret", seed=3) as server:
        server.set_account(cash=Decimal(1000), equity=Decimal(1000))
        for key, value in {
            "ALPHATRADER_DATA_DIR": str(tmp_path / "data"),
            "BROKER": "alpaca",
            "PAPER_TRADING_MODE": "false",
            "ALPACA_API_KEY": "live-key",
            "ALPACA_SECRET_KEY": "live-secret",
            "ALPACA_TRADING_URL": server.url,
        }.items():
            monkeypatch.setenv(key, value)
        yield server


def test_auto_trade_sends_the_plan_once_and_reconciles_clean(
    fake: FakeAlpacaTrading, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTO_TRADE", "true")
    outcome = run_daily(load_settings(), DailyOptions(as_of=SESSION, no_email=True))
    assert outcome.plan is not None and outcome.plan.orders
    sent = {o.client_order_id for o in fake.client_orders()}
    assert sent == {
        f"daily-{SESSION:%Y%m%d}-{o.strategy}-{o.symbol}-{o.side}" for o in outcome.plan.orders
    }
    assert all(n == 1 for n in fake.created.values())
    for cid in sent:
        fake.fill(cid, price=Decimal("50"))
    settings = load_settings()
    db = database(settings)
    report = reconcile(order_manager(settings, db), settings)
    assert report.clean, report.differences
    with db.session() as s:
        assert {r.status for r in s.scalars(select(OrderRecord))} == {"filled"}
    rerun = run_daily(settings, DailyOptions(as_of=SESSION, no_email=True))
    assert rerun.status == "already_done"
    assert all(n == 1 for n in fake.created.values())


def test_approval_mode_sends_nothing_until_approved(fake: FakeAlpacaTrading) -> None:
    outcome = run_daily(load_settings(), DailyOptions(as_of=SESSION, no_email=True))
    assert outcome.plan is not None and outcome.plan.orders
    assert fake.client_orders() == []
    settings = load_settings()
    db = database(settings)
    with db.session() as s:
        first = s.scalars(
            select(OrderRecord.client_order_id).order_by(OrderRecord.client_order_id)
        ).first()
    assert first is not None
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "alphatrader", "signals", "approve", first],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert [o.client_order_id for o in fake.client_orders()] == [first]


def test_unexplained_broker_state_blocks_sending(
    fake: FakeAlpacaTrading, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alphatrader.errors import NeedsHumanError

    monkeypatch.setenv("AUTO_TRADE", "true")
    fake.set_price("KO", "45")
    fake.add_order("typed-by-hand-in-the-app", symbol="KO", side="buy", qty=Decimal(1))
    with pytest.raises(NeedsHumanError, match="unexplained"):
        run_daily(load_settings(), DailyOptions(as_of=SESSION, no_email=True))
    assert [o.client_order_id for o in fake.client_orders()] == ["typed-by-hand-in-the-app"]
