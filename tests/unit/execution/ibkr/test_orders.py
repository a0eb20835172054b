"""Placing, idempotency by orderRef, status mapping, cancelling."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from alphatrader.domain.orders import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from alphatrader.execution.brokers.base import BrokerRejected, BrokerUnavailable
from alphatrader.execution.brokers.ibkr import IBKRBroker
from tests.fakes.ib_standin import TWS, IBStandIn
from tests.unit.execution.ibkr.support import buy, config, limit_buy


def test_submit_sends_our_id_as_order_ref_and_numbers_from_the_ib_sequence(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    answer = broker.submit(limit_buy("150.25"), "c-1")

    (trade,) = standin.trades()
    assert trade.order.orderRef == "c-1"
    assert trade.order.orderId == 1  # TWS's next valid id for a new clientId
    assert (trade.order.orderType, trade.order.lmtPrice, trade.order.tif) == ("LMT", 150.25, "DAY")
    assert trade.order.account == "DU1234567"
    assert answer.status is OrderStatus.ACCEPTED
    assert answer.vendor_status == "Submitted"
    assert answer.broker_order_id == str(trade.order.permId)
    assert (answer.symbol, answer.side, answer.qty) == ("AAPL", Side.BUY, Decimal(10))
    assert (answer.order_type, answer.time_in_force) == ("limit", "day")
    assert answer.limit_price == Decimal("150.25")
    assert answer.submitted_at is not None

    broker.submit(limit_buy(), "c-2")
    assert standin.trades()[-1].order.orderId == 2


def test_submitting_the_same_id_again_returns_the_order_without_placing(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    first = broker.submit(limit_buy(), "c-1")
    again = broker.submit(limit_buy(), "c-1")

    assert again.broker_order_id == first.broker_order_id
    assert standin.place_counts["c-1"] == 1


def test_resubmission_after_a_lost_ack_returns_the_existing_order(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    standin.fail_next("lost_ack")  # TWS took the order; the connection dropped before any answer
    with pytest.raises(BrokerUnavailable, match="look it up"):
        broker.submit(limit_buy(), "c-1")

    found = broker.get_order("c-1")  # reconnects, syncs, finds it by orderRef
    again = broker.submit(limit_buy(), "c-1")

    assert found is not None and found.status is OrderStatus.ACCEPTED
    assert again.broker_order_id == found.broker_order_id
    assert standin.place_counts["c-1"] == 1
    assert len(standin.tws_orders_by_ref("c-1")) == 1
    assert standin.connect_calls == 2


def test_an_order_lost_in_transit_is_absent_and_may_be_sent_again(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    standin.fail_next("lost_order")
    with pytest.raises(BrokerUnavailable):
        broker.submit(limit_buy(), "c-1")

    assert broker.get_order("c-1") is None
    answer = broker.submit(limit_buy(), "c-1")

    assert answer.status is OrderStatus.ACCEPTED
    assert len(standin.tws_orders_by_ref("c-1")) == 1


def test_an_order_placed_by_another_session_is_found_before_placing(tmp_path: Path) -> None:
    tws = TWS()
    earlier = IBKRBroker(IBStandIn(tws), config(tmp_path, client_id=3), sleep=lambda _: None)
    earlier.connect()
    placed = earlier.submit(limit_buy(), "c-1")

    standin = IBStandIn(tws)
    broker = IBKRBroker(standin, config(tmp_path, client_id=4), sleep=lambda _: None)
    broker.connect()  # clientId 4's startup sync does not load clientId 3's open orders
    again = broker.submit(limit_buy(), "c-1")

    assert again.broker_order_id == placed.broker_order_id
    assert standin.place_counts["c-1"] == 0
    assert standin.request_counts["reqAllOpenOrders"] == 1


def test_a_failed_lookup_refuses_the_submission(broker: IBKRBroker, standin: IBStandIn) -> None:
    standin.fail_next("request_timeout")

    with pytest.raises(BrokerUnavailable, match="lookup failed"):
        broker.submit(limit_buy(), "c-1")
    assert standin.place_counts["c-1"] == 0


def test_error_201_raises_broker_rejected_with_the_text(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    standin.fail_next("reject")

    with pytest.raises(BrokerRejected) as caught:
        broker.submit(buy(), "c-1")

    assert caught.value.code == "201"
    assert "EQUITY WITH LOAN VALUE" in caught.value.reason
    found = broker.get_order("c-1")
    assert found is not None and found.status is OrderStatus.REJECTED


def test_an_error_that_ib_async_reads_as_cancelled_is_unknown_until_looked_up(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    standin.fail_next("spurious_error")  # acknowledged, then error 10349; TWS keeps working it

    answer = broker.submit(limit_buy(), "c-1")

    assert standin.trades()[0].orderStatus.status == "Cancelled"  # ib_async's local view
    assert standin.tws_orders_by_ref("c-1")[0].status == "Submitted"  # TWS's
    assert answer.status is OrderStatus.UNKNOWN
    assert "error 10349" in answer.vendor_status
    lookups = standin.request_counts["reqAllOpenOrders"]

    found = broker.get_order("c-1")

    assert found is not None and found.status is OrderStatus.ACCEPTED
    assert standin.request_counts["reqAllOpenOrders"] == lookups + 1
    assert broker.submit(limit_buy(), "c-1").status is OrderStatus.ACCEPTED
    assert standin.place_counts["c-1"] == 1


def test_an_error_on_a_working_order_is_resolved_by_lookup(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    broker.submit(limit_buy(), "c-1")
    standin.order_error("c-1", 10349)

    found = broker.get_order("c-1")

    assert found is not None and found.status is OrderStatus.ACCEPTED


def test_an_error_cancel_confirmed_by_tws_is_cancelled(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    broker.submit(limit_buy(), "c-1")
    (tws_order,) = standin.tws_orders_by_ref("c-1")
    tws_order.status = "Cancelled"  # TWS cancelled it; only the error reaches us
    standin.send_error(201, "Order rejected - reason:margin", req_id=tws_order.order_id)
    rejected = broker.get_order("c-1")
    assert rejected is not None and rejected.status is OrderStatus.REJECTED

    broker.submit(limit_buy(), "c-2")
    (other,) = standin.tws_orders_by_ref("c-2")
    other.status = "Cancelled"
    standin.send_error(10349, req_id=other.order_id)
    found = broker.get_order("c-2")

    assert found is not None and found.status is OrderStatus.CANCELLED
    assert found.broker_order_id == str(other.perm_id)


@pytest.mark.parametrize(
    ("vendor", "expected"),
    [
        ("PendingSubmit", OrderStatus.SUBMITTED),
        ("ApiPending", OrderStatus.SUBMITTED),
        ("PreSubmitted", OrderStatus.ACCEPTED),
        ("Submitted", OrderStatus.ACCEPTED),
        ("PendingCancel", OrderStatus.CANCEL_PENDING),
        ("Cancelled", OrderStatus.CANCELLED),
        ("ApiCancelled", OrderStatus.CANCELLED),
        ("Filled", OrderStatus.FILLED),
        ("Inactive", OrderStatus.UNKNOWN),
        ("ValidationError", OrderStatus.UNKNOWN),
        ("SomethingIBNeverSent", OrderStatus.UNKNOWN),
    ],
)
def test_status_mapping(
    broker: IBKRBroker, standin: IBStandIn, vendor: str, expected: OrderStatus
) -> None:
    broker.submit(limit_buy(), "c-1")
    standin.set_status("c-1", vendor)

    found = broker.get_order("c-1")

    assert found is not None
    assert (found.status, found.vendor_status) == (expected, vendor)


def test_a_partial_fill_is_partially_filled(broker: IBKRBroker, standin: IBStandIn) -> None:
    broker.submit(limit_buy(), "c-1")
    standin.fill("c-1", qty=4, price=149.5)

    found = broker.get_order("c-1")

    assert found is not None and found.status is OrderStatus.PARTIALLY_FILLED
    assert (found.filled_qty, found.avg_fill_price) == (Decimal(4), Decimal("149.5"))


def test_cancel_asks_tws_and_the_status_follows(broker: IBKRBroker, standin: IBStandIn) -> None:
    broker.submit(limit_buy(), "c-1")

    broker.cancel("c-1")
    standin.sleep()

    found = broker.get_order("c-1")
    assert found is not None and found.status is OrderStatus.CANCELLED
    assert standin.tws_orders_by_ref("c-1")[0].status == "Cancelled"
    broker.cancel("c-1")  # a finished order: nothing is asked
    broker.cancel("no-such-order")


def test_notional_and_fractional_orders_are_refused_before_sending(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    notional = OrderRequest(
        symbol="AAPL", side=Side.BUY, strategy="s", reason="r", notional=Decimal(100)
    )
    with pytest.raises(BrokerRejected, match="notional"):
        broker.submit(notional, "c-1")
    with pytest.raises(BrokerRejected, match="fractional"):
        broker.submit(buy(qty="1.5"), "c-2")
    assert sum(standin.place_counts.values()) == 0


def test_order_types_and_times_in_force_translate(broker: IBKRBroker, standin: IBStandIn) -> None:
    def request(order_type: OrderType, tif: TimeInForce, **prices: Decimal) -> OrderRequest:
        return OrderRequest(
            symbol="MSFT",
            side=Side.SELL,
            strategy="s",
            reason="r",
            qty=Decimal(3),
            order_type=order_type,
            time_in_force=tif,
            oco_group="g-1",
            **prices,
        )

    broker.submit(request(OrderType.STOP, TimeInForce.GTC, stop_price=Decimal(400)), "c-1")
    stop_limit = request(
        OrderType.STOP_LIMIT, TimeInForce.DAY, stop_price=Decimal(400), limit_price=Decimal(399)
    )
    broker.submit(stop_limit, "c-2")
    broker.submit(request(OrderType.MARKET, TimeInForce.CLS), "c-3")
    broker.submit(request(OrderType.MARKET, TimeInForce.OPG), "c-4")

    sent = {t.order.orderRef: t.order for t in standin.trades()}
    assert (sent["c-1"].orderType, sent["c-1"].auxPrice, sent["c-1"].tif) == ("STP", 400.0, "GTC")
    assert (sent["c-2"].orderType, sent["c-2"].lmtPrice) == ("STP LMT", 399.0)
    assert (sent["c-3"].orderType, sent["c-3"].tif) == ("MOC", "DAY")
    assert (sent["c-4"].orderType, sent["c-4"].tif) == ("MKT", "OPG")
    assert (sent["c-1"].action, sent["c-1"].ocaGroup, sent["c-1"].ocaType) == ("SELL", "g-1", 1)
    stop = broker.get_order("c-1")
    assert stop is not None and stop.stop_price == Decimal(400)


def test_orders_lists_everything_newest_last(broker: IBKRBroker, standin: IBStandIn) -> None:
    broker.submit(limit_buy(), "c-1")
    broker.submit(buy(), "c-2")
    standin.fill("c-2")

    everything = broker.orders()
    working = broker.orders(open_only=True)

    assert [o.client_order_id for o in everything] == ["c-1", "c-2"]
    assert [o.client_order_id for o in working] == ["c-1"]
    assert everything[1].status is OrderStatus.FILLED
