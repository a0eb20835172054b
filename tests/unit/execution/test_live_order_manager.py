"""The persistent order manager against an in-memory broker with injected faults, on both
databases: every intent ends with one broker order or one recorded rejection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from alphatrader.domain.orders import OrderRequest, OrderStatus, Side
from alphatrader.execution.brokers.base import BrokerOrder, BrokerUnavailable
from alphatrader.execution.brokers.instant import InstantBroker
from alphatrader.execution.live import LiveOrderManager, OrderIntent
from alphatrader.risk.gate import Rejected, Verdict
from alphatrader.storage.db import Database
from alphatrader.storage.models import FillRecord, LocalPosition, OrderEvent, OrderRecord

SESSION = date(2016, 6, 3)
PRICES = {"KO": Decimal("45.10"), "PEP": Decimal("101.20")}


class Faulty(InstantBroker):
    """Times out before or after accepting, as a broker behind a bad network does."""

    def __init__(self) -> None:
        super().__init__(PRICES)
        self.fail_before: set[str] = set()
        self.fail_after: set[str] = set()
        self.posts: dict[str, int] = {}

    def submit(self, request: OrderRequest, client_order_id: str) -> BrokerOrder:
        self.posts[client_order_id] = self.posts.get(client_order_id, 0) + 1
        if client_order_id in self.fail_before:
            self.fail_before.discard(client_order_id)
            raise BrokerUnavailable("read timeout before the broker saw the order")
        order = super().submit(request, client_order_id)
        if client_order_id in self.fail_after:
            self.fail_after.discard(client_order_id)
            raise BrokerUnavailable("read timeout after the broker accepted the order")
        return order


def intent(symbol: str, qty: str = "3", leg: str = "entry") -> OrderIntent:
    request = OrderRequest(symbol, Side.BUY, "test", "because", qty=Decimal(qty))
    return OrderIntent(f"daily-20160603-test-{symbol}-{leg}", request, SESSION, PRICES[symbol])


def events(db: Database, cid: str) -> list[str]:
    with db.session() as s:
        rows = s.scalars(
            select(OrderEvent.to_status)
            .where(OrderEvent.client_order_id == cid)
            .order_by(OrderEvent.id)
        ).all()
    return list(rows)


def test_an_intent_is_recorded_then_sent_once(database: Database) -> None:
    broker = Faulty()
    om = LiveOrderManager(database, broker)
    assert om.submit(intent("KO")) is OrderStatus.FILLED
    assert om.submit(intent("KO")) is OrderStatus.FILLED  # the same intent again
    assert broker.posts == {"daily-20160603-test-KO-entry": 1}
    assert events(database, "daily-20160603-test-KO-entry") == ["new", "submitted", "filled"]


def test_timeout_after_accept_is_looked_up_not_resent(database: Database) -> None:
    broker = Faulty()
    broker.fail_after.add("daily-20160603-test-KO-entry")
    om = LiveOrderManager(database, broker)
    assert om.submit(intent("KO")) is OrderStatus.FILLED
    assert broker.posts["daily-20160603-test-KO-entry"] == 1
    assert "unknown" in events(database, "daily-20160603-test-KO-entry")


def test_timeout_before_accept_is_sent_again_under_the_same_id(database: Database) -> None:
    broker = Faulty()
    broker.fail_before.add("daily-20160603-test-PEP-entry")
    om = LiveOrderManager(database, broker)
    assert om.submit(intent("PEP")) is OrderStatus.FILLED
    assert broker.posts["daily-20160603-test-PEP-entry"] == 2
    assert len(broker.orders()) == 1


def test_fills_are_booked_once_and_positions_follow_them(database: Database) -> None:
    broker = Faulty()
    om = LiveOrderManager(database, broker)
    om.submit(intent("KO", "3"))
    om.submit(intent("PEP", "2"))
    first = om.sync()
    second = om.sync()
    assert (first.fills_booked, second.fills_booked, second.duplicate_fills) == (2, 0, 2)
    with database.session() as s:
        ko = s.get_one(LocalPosition, ("instant", "KO"))
        assert (ko.qty, ko.avg_price) == (Decimal(3), Decimal("45.10"))
        order = s.get_one(OrderRecord, "daily-20160603-test-KO-entry")
        assert (order.filled_qty, order.avg_fill_price) == (Decimal(3), Decimal("45.10"))
        assert len(s.scalars(select(FillRecord)).all()) == 2
    broker_positions = {p.symbol: p.qty for p in broker.positions()}
    assert broker_positions == {"KO": Decimal(3), "PEP": Decimal(2)}


def test_risk_gate_rejection_is_recorded_and_nothing_sent(database: Database) -> None:
    broker = Faulty()

    def gate(request: OrderRequest) -> Verdict:
        return Rejected("max_positions", "4 positions open, limit 4")

    om = LiveOrderManager(database, broker, gate=gate)
    assert om.submit(intent("KO")) is OrderStatus.REJECTED
    assert broker.posts == {}
    with database.session() as s:
        assert "max_positions" in s.get_one(OrderRecord, "daily-20160603-test-KO-entry").reason


def test_unknown_symbol_is_a_recorded_rejection_not_an_exception(database: Database) -> None:
    om = LiveOrderManager(database, Faulty())
    bad = OrderIntent(
        "daily-20160603-test-ZZZ-entry",
        OrderRequest("ZZZ", Side.BUY, "test", "because", qty=Decimal(1)),
        SESSION,
        Decimal(1),
    )
    assert om.submit(bad) is OrderStatus.REJECTED


@pytest.mark.parametrize("fault", ["fail_before", "fail_after"])
def test_restart_after_unknown_outcome_resolves_without_duplicates(
    database: Database, fault: str
) -> None:
    broker = Faulty()
    cid = "daily-20160603-test-KO-entry"
    getattr(broker, fault).add(cid)
    # the broker is unreachable for lookups too, so the first manager leaves the order UNKNOWN
    om = LiveOrderManager(database, broker)
    original_get = broker.get_order

    def unreachable(client_order_id: str) -> BrokerOrder | None:
        raise BrokerUnavailable("network down")

    broker.get_order = unreachable  # type: ignore[method-assign]
    assert om.submit(intent("KO")) is OrderStatus.UNKNOWN
    broker.get_order = original_get  # type: ignore[method-assign]
    restarted = LiveOrderManager(database, broker)
    report = restarted.sync()
    assert report.unresolved == []
    assert len(broker.orders()) == 1
    with database.session() as s:
        assert s.get_one(OrderRecord, cid).status == "filled"
