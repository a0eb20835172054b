"""Fills (deduplicated by execId), positions, the account and the calendar clock."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from alphatrader.clock import SimClock
from alphatrader.domain.orders import OrderStatus, Side
from alphatrader.execution.brokers.base import BrokerUnavailable
from alphatrader.execution.brokers.ibkr import IBKRBroker
from tests.fakes.ib_standin import TWS, IBStandIn
from tests.unit.execution.ibkr.support import buy, config


@pytest.fixture
def filled(tmp_path: Path) -> tuple[IBKRBroker, IBStandIn]:
    standin = IBStandIn(TWS(auto_fill=(0.4, 0.6)))  # market orders fill in two pieces
    broker = IBKRBroker(standin, config(tmp_path), sleep=lambda _: None)
    broker.connect()
    broker.submit(buy("AAPL", "10"), "c-1")
    standin.sleep()
    return broker, standin


def test_fills_carry_the_execution_id_and_our_client_id(
    filled: tuple[IBKRBroker, IBStandIn],
) -> None:
    broker, _ = filled

    fills = broker.fills()

    assert [f.qty for f in fills] == [Decimal(4), Decimal(6)]
    assert len({f.execution_id for f in fills}) == 2
    assert {f.client_order_id for f in fills} == {"c-1"}
    assert all(f.side is Side.BUY and f.price == Decimal(190) for f in fills)
    assert all(f.commission == Decimal(1) and f.at.tzinfo is not None for f in fills)
    order = broker.get_order("c-1")
    assert order is not None and order.status is OrderStatus.FILLED
    assert (order.filled_qty, order.avg_fill_price) == (Decimal(10), Decimal(190))


def test_fills_are_deduplicated_by_exec_id_across_resync_and_reconnect(
    filled: tuple[IBKRBroker, IBStandIn],
) -> None:
    broker, standin = filled
    first = broker.fills()

    standin.send_error(1101)  # data lost: the resync asks for the executions again
    again = broker.fills()
    standin.drop_connection()  # a new session loads them once more at its startup sync
    after_reconnect = broker.fills()
    standin.redeliver_executions()

    assert [f.execution_id for f in again] == [f.execution_id for f in first]
    assert [f.execution_id for f in after_reconnect] == [f.execution_id for f in first]
    assert [f.execution_id for f in broker.fills()] == [f.execution_id for f in first]


def test_fills_after_a_moment(filled: tuple[IBKRBroker, IBStandIn]) -> None:
    broker, _ = filled
    first, second = broker.fills()

    assert broker.fills(after=second.at) == [second]
    assert broker.fills(after=datetime(2030, 1, 1, tzinfo=UTC)) == []
    assert first.at < second.at


def test_positions_and_account(filled: tuple[IBKRBroker, IBStandIn]) -> None:
    broker, _ = filled

    (position,) = broker.positions()
    account = broker.account()

    assert (position.symbol, position.qty, position.avg_price) == ("AAPL", 10, Decimal(190))
    assert account.cash == Decimal("98098.00")  # 100,000 − 1,900 − 2 × $1 commission
    assert account.equity == Decimal("99998.00")
    assert account.buying_power == Decimal("98098.00")


def test_account_values_not_received_are_unavailable(
    broker: IBKRBroker, standin: IBStandIn
) -> None:
    standin._account_values = []

    with pytest.raises(BrokerUnavailable, match="not received yet"):
        broker.account()


@pytest.mark.parametrize(
    ("now", "is_open", "next_open", "next_close"),
    [
        # early close: the day after Thanksgiving 2025 closes 18:00 UTC
        ("2025-11-28T17:30", True, "2025-12-01T14:30", "2025-11-28T18:00"),
        # Saturday
        ("2025-03-08T15:00", False, "2025-03-10T13:30", "2025-03-10T20:00"),
        # national day of mourning: not a session
        ("2025-01-09T15:00", False, "2025-01-10T14:30", "2025-01-10T21:00"),
        # the close minute itself is closed
        ("2025-03-10T20:00", False, "2025-03-11T13:30", "2025-03-11T20:00"),
    ],
)
def test_clock_comes_from_the_xnys_calendar(
    tmp_path: Path, now: str, is_open: bool, next_open: str, next_close: str
) -> None:
    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    broker = IBKRBroker(IBStandIn(), config(tmp_path), clock=SimClock(utc(now)))

    clock = broker.clock()  # no connection needed

    assert (clock.is_open, clock.next_open, clock.next_close) == (
        is_open,
        utc(next_open),
        utc(next_close),
    )
    assert clock.timestamp == utc(now)
