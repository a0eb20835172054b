"""Order manager: deterministic ids, no duplicate submission, fills booked exactly once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from alphatrader.clock import SimClock
from alphatrader.domain.orders import Fill, Order, OrderRequest, OrderStatus, Side
from alphatrader.execution.ledger import Ledger
from alphatrader.execution.order_manager import OrderManager

NOW = datetime(2012, 6, 1, 20, 0, tzinfo=UTC)


class CountingBroker:
    """A broker that accepts everything and counts what it was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def submit(self, order: Order) -> Order:
        self.sent.append(order.client_order_id)
        return order.transition(OrderStatus.ACCEPTED, NOW)

    def cancel(self, client_order_id: str) -> bool:
        return True


def manager() -> tuple[OrderManager, CountingBroker]:
    broker = CountingBroker()
    return OrderManager(broker, Ledger(cash=Decimal(1000)), SimClock(NOW)), broker


def buy(qty: str = "3") -> OrderRequest:
    return OrderRequest("SPY", Side.BUY, "golden_cross", "test", qty=Decimal(qty))


def fill(cid: str, exec_id: str, qty: str, price: str = "130.5") -> Fill:
    return Fill(
        exec_id,
        cid,
        "SPY",
        Side.BUY,
        Decimal(qty),
        Decimal(price),
        Decimal(0),
        date(2012, 6, 4),
        NOW,
    )


def test_resubmitting_the_same_intent_sends_nothing_new() -> None:
    om, broker = manager()
    first = om.submit(buy(), date(2012, 6, 1), "entry")
    again = om.submit(buy(), date(2012, 6, 1), "entry")
    assert first.client_order_id == again.client_order_id == "bt-golden_cross-SPY-20120601-entry"
    assert broker.sent == [first.client_order_id]


def test_duplicate_execution_is_booked_once() -> None:
    om, _ = manager()
    order = om.submit(buy(), date(2012, 6, 1), "entry")
    om.on_fill(fill(order.client_order_id, "x1", "3"))
    om.on_fill(fill(order.client_order_id, "x1", "3"))
    assert om.ledger.positions["SPY"].qty == Decimal(3)
    assert om.ledger.cash == Decimal(1000) - Decimal("391.5")
    assert om.orders[order.client_order_id].status is OrderStatus.FILLED


def test_partial_fills_accumulate_exactly() -> None:
    om, _ = manager()
    order = om.submit(buy("3"), date(2012, 6, 1), "entry")
    om.on_fill(fill(order.client_order_id, "x1", "1", "130.10"))
    assert om.orders[order.client_order_id].status is OrderStatus.PARTIALLY_FILLED
    om.on_fill(fill(order.client_order_id, "x2", "2", "130.25"))
    booked = om.orders[order.client_order_id]
    assert booked.status is OrderStatus.FILLED
    assert booked.filled_qty == Decimal(3)
    assert booked.avg_fill_price == (Decimal("130.10") + 2 * Decimal("130.25")) / 3
    assert [s for s, _ in booked.history] == [
        OrderStatus.NEW,
        OrderStatus.SUBMITTED,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]


def test_cancel_after_fill_is_a_no_op() -> None:
    om, _ = manager()
    order = om.submit(buy(), date(2012, 6, 1), "entry")
    om.on_fill(fill(order.client_order_id, "x1", "3"))
    om.cancel(order.client_order_id)
    assert om.orders[order.client_order_id].status is OrderStatus.FILLED


def test_selling_more_than_held_is_refused() -> None:
    ledger = Ledger(cash=Decimal(1000))
    ledger.apply(fill("a", "x1", "2"), "s")
    oversell = Fill(
        "x2", "b", "SPY", Side.SELL, Decimal(3), Decimal(131), Decimal(0), date(2012, 6, 5), NOW
    )
    with pytest.raises(ValueError, match="exceeds"):
        ledger.apply(oversell, "s")
