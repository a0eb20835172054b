"""TWS's connectivity, farm, pacing and duplicate-id messages."""

from __future__ import annotations

import pytest

from alphatrader.domain.orders import OrderStatus
from alphatrader.execution.brokers.base import BrokerUnavailable
from alphatrader.execution.brokers.ibkr import IBKRBroker
from tests.fakes.ib_standin import IBStandIn
from tests.unit.execution.ibkr.support import limit_buy

RESYNC = ("reqPositions", "reqAccountUpdates", "reqAllOpenOrders", "reqCompletedOrders")


def test_1100_refuses_everything_until_1102(broker: IBKRBroker, standin: IBStandIn) -> None:
    broker.submit(limit_buy(), "c-1")
    standin.send_error(1100)

    assert not broker.ready
    with pytest.raises(BrokerUnavailable, match="1100"):
        broker.submit(limit_buy(), "c-2")
    with pytest.raises(BrokerUnavailable):
        broker.get_order("c-1")
    with pytest.raises(BrokerUnavailable):
        broker.cancel("c-1")
    assert standin.place_counts["c-2"] == 0
    assert broker.clock() is not None  # the calendar needs no connection

    standin.send_error(1102)

    assert broker.ready
    assert broker.submit(limit_buy(), "c-2").status is OrderStatus.ACCEPTED
    assert standin.connect_calls == 1  # the socket to TWS never dropped


def test_1101_resyncs_before_the_next_call(broker: IBKRBroker, standin: IBStandIn) -> None:
    standin.send_error(1100)
    standin.send_error(1101)
    before = {name: standin.request_counts[name] for name in (*RESYNC, "reqExecutions")}

    broker.submit(limit_buy(), "c-1")

    for name, count in before.items():
        assert standin.request_counts[name] > count, name
    assert broker.ready


def test_a_failed_resync_keeps_refusing(broker: IBKRBroker, standin: IBStandIn) -> None:
    standin.send_error(1101)
    standin.fail_next("request_timeout")

    with pytest.raises(BrokerUnavailable, match="resync failed"):
        broker.submit(limit_buy(), "c-1")
    assert standin.place_counts["c-1"] == 0

    assert broker.submit(limit_buy(), "c-1").status is OrderStatus.ACCEPTED


@pytest.mark.parametrize("code", [2103, 2104, 2105, 2106, 2107, 2108, 2158])
def test_farm_messages_are_not_errors(broker: IBKRBroker, standin: IBStandIn, code: int) -> None:
    standin.send_error(code, f"farm message {code}")

    assert broker.ready
    assert broker.submit(limit_buy(), "c-1").status is OrderStatus.ACCEPTED


def test_pacing_pauses_the_next_request_and_the_order_may_be_sent_again(
    broker: IBKRBroker, standin: IBStandIn, sleeps: list[float]
) -> None:
    standin.fail_next("pacing")  # error 100: TWS dropped the message, no order was created

    with pytest.raises(BrokerUnavailable, match="TWS refused the message"):
        broker.submit(limit_buy(), "c-1")
    assert broker.get_order("c-1") is None  # after a lookup that found nothing
    assert sleeps == [1.0]  # the lookup waited first

    standin.send_error(100)
    standin.send_error(100)
    broker.submit(limit_buy(), "c-1")

    assert sleeps == [1.0, 2.0]  # repeated pacing errors double the pause
    assert len(standin.tws_orders_by_ref("c-1")) == 1


def test_duplicate_order_id_resyncs_ids_by_reconnecting(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    broker.submit(limit_buy(), "c-1")
    broker.submit(limit_buy(), "c-2")
    standin.fill("c-1")
    standin.fill("c-2")  # done: no open order bumps the sequence past their ids
    standin.drop_connection()
    broker.connect()  # a new session, whose id sequence is then made stale
    standin.client._reqIdSeq = 1  # the next id was used already (orders 1 and 2)

    with pytest.raises(BrokerUnavailable, match="103"):
        broker.submit(limit_buy(), "c-3")
    assert not broker.ready

    assert broker.get_order("c-3") is None  # reconnected (fresh nextValidId), looked up
    answer = broker.submit(limit_buy(), "c-3")

    assert standin.connect_calls == 3
    assert answer.status is OrderStatus.ACCEPTED
    (created,) = standin.tws_orders_by_ref("c-3")
    assert created.order_id == 3


def test_a_lost_connection_during_submit_is_unknown_not_failed(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    standin.fail_next("lost_ack")

    with pytest.raises(BrokerUnavailable):
        broker.submit(limit_buy(), "c-1")

    assert not broker.ready
    found = broker.get_order("c-1")
    assert found is not None and found.status is OrderStatus.ACCEPTED


def test_an_unacknowledged_order_is_submitted(broker: IBKRBroker, standin: IBStandIn) -> None:
    standin.fail_next("no_ack")

    answer = broker.submit(limit_buy(), "c-1")

    assert answer.status is OrderStatus.SUBMITTED
    assert answer.broker_order_id == "7.1"  # clientId.orderId until TWS gives a permId
    found = broker.get_order("c-1")  # TWS has it neither open nor done: unknown, not absent
    assert found is not None and found.status is OrderStatus.UNKNOWN
    assert found.vendor_status == "PendingSubmit (not found at TWS)"
    assert broker.submit(limit_buy(), "c-1").status is OrderStatus.UNKNOWN
    assert standin.place_counts["c-1"] == 1  # never sent twice on a guess

    standin.drop_connection()  # a new session: TWS's lists are the whole truth
    assert broker.get_order("c-1") is None
