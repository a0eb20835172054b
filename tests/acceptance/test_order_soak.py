"""Fault-injection soak (RELIABILITY B1, T1 size): 2,000 order intents over five seeds through the
order manager, alpaca-py and a local server speaking Alpaca's trading API, with injected timeouts
(before and after acceptance), 429s, 5xx, PDT refusals and unknown statuses, partial and
repeated fill reads, a restart of the order manager every 200 intents and crashes right after a
POST returned. Seeded and reproducible: a failure prints the seed.

At the end: every intent has exactly one broker order or one recorded rejection, no order is
left unresolved after three reconciliation cycles, each order's fills add up to the broker's
filled quantity, and local positions equal the broker's for every symbol.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alphatrader.domain.orders import OrderRequest, Side
from alphatrader.execution.brokers.alpaca import AlpacaBroker
from alphatrader.execution.brokers.base import BrokerOrder
from alphatrader.execution.live import LiveOrderManager, OrderIntent
from alphatrader.storage.db import Database, default_database_url
from alphatrader.storage.models import FillRecord, LocalPosition, OrderRecord
from tests.fakes.alpaca_trading import FakeAlpacaTrading, Fault

KEY, SECRET = "soak-key", "soak-secret-canary"
SYMBOLS = [f"SYM{i:02d}" for i in range(12)]
INTENTS_PER_SEED = 400
RESTART_EVERY = 200
RATES = {
    Fault.TIMEOUT_AFTER_ACCEPT: 0.10,
    Fault.TIMEOUT_BEFORE_ACCEPT: 0.05,
    Fault.RATE_LIMIT: 0.05,
    Fault.GATEWAY_TIMEOUT: 0.02,
    Fault.SERVER_ERROR: 0.01,
    Fault.PDT: 0.02,
    Fault.UNKNOWN_STATUS: 0.01,
}


class Killed(BaseException):
    """The process died right after the broker answered, before the answer was recorded."""


class Crashing(AlpacaBroker):
    def __init__(self, *args: object, crash_after: set[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.crash_after = crash_after

    def submit(self, request: OrderRequest, client_order_id: str) -> BrokerOrder:
        answer = super().submit(request, client_order_id)
        if client_order_id in self.crash_after:
            self.crash_after.discard(client_order_id)
            raise Killed(client_order_id)
        return answer


def manager(db: Database, fake: FakeAlpacaTrading, crash_after: set[str]) -> LiveOrderManager:
    broker = Crashing(
        KEY,
        SECRET,
        url_override=fake.url,
        timeout=0.15,
        sleep=lambda s: None,
        backoff=0.0,
        max_wait=0.0,
        pdt_protection=False,
        crash_after=crash_after,
    )
    return LiveOrderManager(db, broker)


def intents(rng: random.Random, seed: int) -> list[OrderIntent]:
    out = []
    for n in range(INTENTS_PER_SEED):
        symbol = rng.choice(SYMBOLS)
        request = OrderRequest(symbol, Side.BUY, "soak", "soak", qty=Decimal(rng.randint(1, 9)))
        out.append(
            OrderIntent(f"soak-{seed}-{n:04d}-{symbol}", request, date(2016, 6, 3), Decimal(50))
        )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_nothing_lost_nothing_doubled(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    db = Database(default_database_url(tmp_path))
    db.migrate()
    crash_after: set[str] = set()
    with FakeAlpacaTrading(KEY, SECRET, seed=seed, fault_delay=0.1) as fake:
        for symbol in SYMBOLS:
            fake.set_price(symbol, "50")
        fake.set_account(cash=Decimal(10**8), equity=Decimal(10**8))
        fake.chaos(RATES, seed=seed, on=("submit", "lookup", "order"))
        om = manager(db, fake, crash_after)
        plan = intents(rng, seed)

        def survive(step: Callable[[LiveOrderManager], object]) -> LiveOrderManager:
            """Run a step; a crash (wherever it hits: submit, resend in sync) means a restart."""
            nonlocal om
            try:
                step(om)
            except Killed:
                om = manager(db, fake, crash_after)
            return om

        for n, intent in enumerate(plan):
            if n and n % RESTART_EVERY == 0:
                om = manager(db, fake, crash_after)  # kill and restart: state is the database
                survive(lambda m: m.sync())
            if rng.random() < 0.02:
                crash_after.add(intent.client_order_id)
            survive(lambda m, i=intent: m.submit(i))
            _trade(fake, rng, plan[max(0, n - 5) : n + 1])
            if n % 100 == 0:
                survive(lambda m: m.sync())  # repeated reads of the same executions: booked once
        fake.clear_faults()
        crash_after.clear()
        om = manager(db, fake, crash_after)
        for _cycle in range(3):
            report = om.sync()
        assert report.unresolved == [], f"seed {seed}"
        _check(db, fake, plan, seed)


def _trade(fake: FakeAlpacaTrading, rng: random.Random, recent: list[OrderIntent]) -> None:
    """The market acts on recent orders: fills, partial fills, expiries."""
    for intent in recent:
        cid = intent.client_order_id
        if cid not in fake.created or rng.random() > 0.3:
            continue
        try:
            roll = rng.random()
            if roll < 0.15:
                fake.fill_in_pieces(cid, rng.randint(2, 5))
            elif roll < 0.85:
                fake.fill(cid)
            else:
                fake.expire(cid)
        except (KeyError, ValueError):  # already terminal
            continue


def _check(db: Database, fake: FakeAlpacaTrading, plan: list[OrderIntent], seed: int) -> None:
    with db.session() as s:
        rows = {r.client_order_id: r for r in s.scalars(select(OrderRecord))}
        fills = dict(
            s.execute(
                select(FillRecord.client_order_id, func.count()).group_by(
                    FillRecord.client_order_id
                )
            ).all()
        )
        local = {p.symbol: p.qty for p in s.scalars(select(LocalPosition)) if p.qty != 0}
    assert not fake.duplicate_posts() or all(
        fake.created.get(cid, 0) <= 1 for cid in fake.duplicate_posts()
    ), f"seed {seed}: an order was created twice"
    assert fake.resent_without_lookup() == [], f"seed {seed}"
    for intent in plan:
        cid = intent.client_order_id
        row = rows[cid]
        created = fake.created.get(cid, 0)
        assert created <= 1, f"seed {seed}: {cid} created {created} times"
        if created == 0:
            assert row.status == "rejected", f"seed {seed}: {cid} lost ({row.status})"
        else:
            assert row.status not in ("new", "submitted", "unknown"), f"seed {seed}: {cid}"
    broker_orders = {o.client_order_id: o for o in fake.client_orders()}
    with db.session() as s:
        for cid, order in broker_orders.items():
            booked = s.scalar(
                select(func.coalesce(func.count(), 0))
                .select_from(FillRecord)
                .where(FillRecord.client_order_id == cid)
            )
            row = s.get_one(OrderRecord, cid)
            assert row.filled_qty == order.filled_qty, f"seed {seed}: {cid} fills"
            assert (booked > 0) == (order.filled_qty > 0)
    broker_positions = {sym: qty for sym, qty in fake.position_quantities().items() if qty != 0}
    assert local == broker_positions, f"seed {seed}: positions differ"
    assert sum(fills.values()) >= sum(1 for o in broker_orders.values() if o.filled_qty > 0)
