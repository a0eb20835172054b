"""Lookups and listings: orders (paged), fills from account activities, positions, account,
clock, cancel, and the status table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from alphatrader.domain.orders import OrderStatus, Side
from alphatrader.execution.brokers.alpaca import AlpacaBroker, map_status
from alphatrader.execution.brokers.base import BrokerUnavailable
from tests.fakes.alpaca_trading import FakeAlpacaTrading, Fault
from tests.unit.execution.alpaca.conftest import buy

T0 = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)  # 10:00 New York, a Tuesday


def test_get_order_unknown_is_none(broker: AlpacaBroker) -> None:
    assert broker.get_order("never-sent") is None


def test_partial_then_full_fill(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    broker.submit(buy("10"), "pf-1")
    server.fill("pf-1", qty="4", price="100")
    part = broker.get_order("pf-1")
    assert part is not None
    assert part.status is OrderStatus.PARTIALLY_FILLED
    assert part.filled_qty == Decimal(4)
    assert part.avg_fill_price == Decimal(100)
    server.fill("pf-1", price="101")
    done = broker.get_order("pf-1")
    assert done is not None
    assert done.status is OrderStatus.FILLED
    assert done.filled_qty == Decimal(10)
    assert done.avg_fill_price == Decimal("100.6")


@pytest.mark.parametrize(
    ("vendor", "filled", "expected"),
    [
        ("new", "0", OrderStatus.ACCEPTED),
        ("accepted", "0", OrderStatus.ACCEPTED),
        ("pending_new", "0", OrderStatus.ACCEPTED),
        ("accepted_for_bidding", "0", OrderStatus.ACCEPTED),
        ("held", "0", OrderStatus.ACCEPTED),
        ("stopped", "0", OrderStatus.ACCEPTED),
        ("suspended", "0", OrderStatus.ACCEPTED),
        ("calculated", "3", OrderStatus.PARTIALLY_FILLED),
        ("done_for_day", "0", OrderStatus.ACCEPTED),
        ("done_for_day", "3", OrderStatus.PARTIALLY_FILLED),
        ("pending_replace", "0", OrderStatus.ACCEPTED),
        ("partially_filled", "3", OrderStatus.PARTIALLY_FILLED),
        ("filled", "10", OrderStatus.FILLED),
        ("pending_cancel", "0", OrderStatus.CANCEL_PENDING),
        ("canceled", "3", OrderStatus.CANCELLED),
        ("replaced", "0", OrderStatus.CANCELLED),
        ("expired", "3", OrderStatus.EXPIRED),
        ("rejected", "0", OrderStatus.REJECTED),
        ("Filled", "10", OrderStatus.FILLED),
        ("restated", "0", OrderStatus.UNKNOWN),
        ("", "0", OrderStatus.UNKNOWN),
    ],
)
def test_status_table(vendor: str, filled: str, expected: OrderStatus) -> None:
    assert map_status(vendor, Decimal(filled)) is expected


def test_done_for_day_is_not_terminal(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    broker.submit(buy("10"), "dfd")
    server.fill("dfd", qty="3")
    server.set_status("dfd", "done_for_day")
    order = broker.get_order("dfd")
    assert order is not None
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert not order.status.is_terminal
    assert order.vendor_status == "done_for_day"


def test_unknown_status_maps_to_unknown_verbatim(
    broker: AlpacaBroker, server: FakeAlpacaTrading
) -> None:
    broker.submit(buy(), "weird")
    server.set_status("weird", "Pending_Review_V2")
    order = broker.get_order("weird")
    assert order is not None
    assert order.status is OrderStatus.UNKNOWN
    assert order.vendor_status == "Pending_Review_V2"
    # A transient unknown string (fault) on one answer only.
    server.set_status("weird", "new")
    server.fail_next(Fault.UNKNOWN_STATUS, on="lookup")
    first = broker.get_order("weird")
    second = broker.get_order("weird")
    assert first is not None and second is not None
    assert (first.status, first.vendor_status) == (OrderStatus.UNKNOWN, "mystery_status")
    assert second.status is OrderStatus.ACCEPTED


def test_orders_are_paged_oldest_first(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    for i in range(1203):
        server.add_order(f"p-{i:04d}", at=T0 + timedelta(seconds=i))
    orders = broker.orders()
    assert [o.client_order_id for o in orders] == [f"p-{i:04d}" for i in range(1203)]
    listing = server.requests_of("orders")
    assert len(listing) == 3
    assert all(r.query["limit"] == "500" for r in listing)
    assert all(r.query["direction"] == "asc" for r in listing)
    assert all(r.query["status"] == "all" for r in listing)


def test_orders_after_and_open_only(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    for i in range(6):
        server.add_order(f"o-{i}", at=T0 + timedelta(minutes=i))
    server.fill("o-1")
    server.expire("o-2")
    server.cancel_order("o-3")
    after = broker.orders(after=T0 + timedelta(seconds=30))
    assert [o.client_order_id for o in after] == ["o-1", "o-2", "o-3", "o-4", "o-5"]
    assert [o.status for o in after] == [
        OrderStatus.FILLED,
        OrderStatus.EXPIRED,
        OrderStatus.CANCELLED,
        OrderStatus.ACCEPTED,
        OrderStatus.ACCEPTED,
    ]
    assert [o.client_order_id for o in broker.orders(open_only=True)] == ["o-0", "o-4", "o-5"]
    assert server.requests_of("orders")[-1].query["status"] == "open"


def test_fills_from_activities_with_unique_execution_ids(
    broker: AlpacaBroker, server: FakeAlpacaTrading
) -> None:
    broker.submit(buy("9"), "f-1")
    broker.submit(buy("1", symbol="MSFT"), "f-2")
    server.fill_in_pieces("f-1", 3, price="100")
    server.fill("f-2", price="400")
    fills = broker.fills()
    assert len(fills) == 4
    assert len({f.execution_id for f in fills}) == 4
    assert [(f.client_order_id, f.qty) for f in fills] == [
        ("f-1", Decimal(3)),
        ("f-1", Decimal(3)),
        ("f-1", Decimal(3)),
        ("f-2", Decimal(1)),
    ]
    assert all(f.side is Side.BUY and f.at.tzinfo is not None for f in fills)
    assert sum(f.qty for f in fills if f.client_order_id == "f-1") == Decimal(9)
    query = server.requests_of("activities")[0].query
    assert query["activity_types"] == "FILL"
    assert query["direction"] == "asc"


def test_fills_paging_after_and_unknown_order_ids(
    broker: AlpacaBroker, server: FakeAlpacaTrading
) -> None:
    server.set_time(T0)
    server.add_order("many", qty="250")  # placed elsewhere: the adapter has not seen its id
    for _ in range(250):
        server.advance(1)
        server.fill("many", qty="1", price="100")
    fills = broker.fills()
    assert len(fills) == 250
    assert len({f.execution_id for f in fills}) == 250
    assert {f.client_order_id for f in fills} == {"many"}
    assert len(server.requests_of("activities")) == 3
    assert len(server.requests_of("order")) == 1  # order id → client id, looked up once
    later = broker.fills(after=T0 + timedelta(seconds=200))
    assert len(later) == 50
    assert [f.at for f in later] == sorted(f.at for f in later)


def test_positions_account_clock(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    server.set_time(T0)
    server.set_account(cash="1000", daytrade_count=2, pattern_day_trader=False)
    server.set_position("MSFT", 1, "380")
    broker.submit(buy("2"), "acct-1")
    server.fill("acct-1", price="100")
    server.set_price("AAPL", "110")

    positions = broker.positions()
    assert [(p.symbol, p.qty, p.avg_price, p.market_value) for p in positions] == [
        ("AAPL", Decimal(2), Decimal(100), Decimal(220)),
        ("MSFT", Decimal(1), Decimal(380), Decimal(400)),
    ]

    account = broker.account()
    assert account.cash == Decimal(800)
    assert account.equity == Decimal(1420)
    assert account.buying_power == Decimal(800)
    assert account.daytrade_count == 2
    assert account.pattern_day_trader is False
    assert account.blocked is False
    server.set_account(trading_blocked=True)
    assert broker.account().blocked is True

    clock = broker.clock()
    assert clock.timestamp == T0
    assert clock.is_open is True
    assert clock.next_close == datetime(2025, 3, 4, 21, 0, tzinfo=UTC)
    assert clock.next_open == datetime(2025, 3, 5, 14, 30, tzinfo=UTC)


def test_short_position_is_negative(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    server.set_position("AAPL", -3, "100")
    (position,) = broker.positions()
    assert position.qty == Decimal(-3)


def test_cancel(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    broker.submit(buy(), "c-1")
    broker.cancel("c-1")
    order = broker.get_order("c-1")
    assert order is not None
    assert order.status is OrderStatus.CANCELLED
    (delete,) = server.requests_of("cancel")
    assert delete.path == f"/v2/orders/{order.broker_order_id}"
    broker.cancel("c-1")  # final already: nothing sent
    broker.cancel("never-sent")
    assert len(server.requests_of("cancel")) == 1


def test_cancel_not_cancelable_is_a_no_op(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    broker.submit(buy(), "c-2")
    server.set_status("c-2", "pending_replace")  # Alpaca refuses cancels while replacing
    broker.cancel("c-2")
    (delete,) = server.requests_of("cancel")
    assert delete.method == "DELETE"
    order = broker.get_order("c-2")
    assert order is not None
    assert order.vendor_status == "pending_replace"


def test_cancel_lost_is_unavailable_and_not_retried(
    broker: AlpacaBroker, server: FakeAlpacaTrading, sleeps: list[float]
) -> None:
    broker.submit(buy(), "c-3")
    server.fail_next(Fault.RATE_LIMIT, on="cancel")
    with pytest.raises(BrokerUnavailable):
        broker.cancel("c-3")
    assert len(server.requests_of("cancel")) == 1
    assert sleeps == []


def test_pending_cancel(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    broker.submit(buy(), "c-4")
    server.set_status("c-4", "pending_cancel")
    order = broker.get_order("c-4")
    assert order is not None
    assert order.status is OrderStatus.CANCEL_PENDING
    server.confirm_cancel("c-4")
    order = broker.get_order("c-4")
    assert order is not None
    assert order.status is OrderStatus.CANCELLED


def test_unreadable_listing_is_unavailable(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    from tests.fakes import Reply

    server.queue(Reply(200, [{"id": "x", "status": "new"}]))
    with pytest.raises(BrokerUnavailable, match="unreadable"):
        broker.orders()
