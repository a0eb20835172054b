"""One plan, three order paths: the backtest's simulated broker, the paper account and the Alpaca
adapter (through alpaca-py and a local server speaking Alpaca's API) give the same orders and,
priced by the same next-session bar, the same fills."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from alphatrader.clock import SimClock
from alphatrader.config import load_settings
from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.domain.orders import OrderRequest, Side
from alphatrader.execution.brokers.alpaca import AlpacaBroker
from alphatrader.execution.brokers.paper import Bar, PaperBroker
from alphatrader.execution.brokers.simulated import SimMarket, SimulatedBroker
from alphatrader.execution.costs import to_price
from alphatrader.execution.ledger import Ledger
from alphatrader.execution.live import LiveOrderManager, OrderIntent
from alphatrader.execution.order_manager import OrderManager
from alphatrader.jobs.daily import DailyOptions, client_order_id, run_daily
from alphatrader.storage.db import Database, default_database_url
from alphatrader.storage.models import OrderRecord
from tests.fakes.alpaca_trading import FakeAlpacaTrading

SESSION, NEXT = date(2016, 6, 3), date(2016, 6, 6)
Outcome = set[tuple[str, str, Decimal, Decimal]]  # symbol, side, qty, price


@pytest.fixture
def plan_orders(
    tmp_path: Path, seeded_store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, OrderRequest, Decimal]]:
    (tmp_path / "data").mkdir()
    shutil.copytree(seeded_store_root, tmp_path / "data" / "market")
    monkeypatch.setenv("ALPHATRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    outcome = run_daily(load_settings(), DailyOptions(as_of=SESSION, dry_run=True))
    assert outcome.plan is not None and len(outcome.plan.orders) >= 2
    return [
        (
            client_order_id(SESSION, o),
            OrderRequest(o.symbol, Side(o.side), o.strategy, o.reason, qty=o.qty),
            o.est_price,
        )
        for o in outcome.plan.orders
    ]


def next_close(store: MarketDataStore, symbol: str) -> Decimal:
    return to_price(float(load_series(store, symbol).bars.loc[pd.Timestamp(NEXT), "close"]))


def backtest_path(
    store: MarketDataStore, orders: list[tuple[str, OrderRequest, Decimal]]
) -> Outcome:
    universe = {r.symbol: load_series(store, r.symbol) for _, r, _ in orders}
    clock = SimClock(datetime(2016, 6, 3, 20, 0, tzinfo=UTC))
    broker = SimulatedBroker(SimMarket(universe), clock)
    broker.session_ns = pd.Timestamp(SESSION).value
    om = OrderManager(broker, Ledger(cash=Decimal(10_000)), clock)
    for _, request, _ in orders:
        om.submit(request, SESSION, "entry")
    fills = broker.fills_for(pd.Timestamp(NEXT).value, datetime(2016, 6, 6, 20, tzinfo=UTC))
    return {(f.symbol, f.side.value, f.qty, f.price) for _, f, _ in fills if f is not None}


def paper_path(
    tmp_path: Path, store: MarketDataStore, orders: list[tuple[str, OrderRequest, Decimal]]
) -> Outcome:
    db = Database(default_database_url(tmp_path / "paper"))
    db.migrate()
    broker = PaperBroker(Decimal(10_000))
    now = datetime.now(UTC)
    with db.session() as s:
        broker.account(s)
        for cid, request, est in orders:
            row = OrderRecord(
                client_order_id=cid,
                session=SESSION,
                symbol=request.symbol,
                side=request.side.value,
                qty=request.qty or Decimal(0),
                est_price=est,
                order_type="market",
                time_in_force="day",
                notional=None,
                stop_price=None,
                limit_price=None,
                stop_loss=None,
                take_profit=None,
                strategy=request.strategy,
                reason=request.reason,
                status="planned",
                broker="paper",
                broker_order_id=None,
                filled_qty=Decimal(0),
                avg_fill_price=None,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            broker.accept(s, row)
    bars = {r.symbol: Bar(None, float(next_close(store, r.symbol))) for _, r, _ in orders}
    with db.session() as s:
        outcomes = broker.fill_pending(s, NEXT, bars, Decimal(100))
    return {(o.symbol, o.side, o.qty, o.price) for o in outcomes if o.price is not None}


def alpaca_path(
    tmp_path: Path, store: MarketDataStore, orders: list[tuple[str, OrderRequest, Decimal]]
) -> Outcome:
    db = Database(default_database_url(tmp_path / "alpaca"))
    db.migrate()
    with FakeAlpacaTrading("k", "s", seed=1) as fake:
        fake.set_account(cash=Decimal(10_000), equity=Decimal(10_000))
        for _, request, est in orders:
            fake.set_price(request.symbol, str(est))
        om = LiveOrderManager(db, AlpacaBroker("k", "s", url_override=fake.url, timeout=5))
        om.submit_many(OrderIntent(cid, req, SESSION, est) for cid, req, est in orders)
        for cid, request, _ in orders:  # the next session's bar prices the fill
            fake.fill(cid, price=next_close(store, request.symbol))
        om.sync()
        return {
            (o.symbol, o.side, o.filled_qty, o.filled_avg_price or Decimal(0))
            for o in fake.client_orders()
        }


def test_same_plan_same_orders_on_all_three_paths(
    plan_orders: list[tuple[str, OrderRequest, Decimal]], tmp_path: Path
) -> None:
    store = MarketDataStore(Path(os.environ["ALPHATRADER_DATA_DIR"]) / "market")
    backtest = backtest_path(store, plan_orders)
    paper = paper_path(tmp_path, store, plan_orders)
    alpaca = alpaca_path(tmp_path, store, plan_orders)
    assert len(backtest) == len(plan_orders)
    assert backtest == paper == alpaca
