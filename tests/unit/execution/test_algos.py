"""Execution algorithms: exact slices, schedules, deterministic ids, and runs through the
backtest's order manager and simulated broker (real GOOG bars; synthetic bars where labelled)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

import pandas as pd
import pytest

from alphatrader.clock import SimClock
from alphatrader.data.market import Series, load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.domain.instrument import OHLCV_FIELDS, Instrument
from alphatrader.domain.orders import (
    Fill,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from alphatrader.execution.algos import (
    Iceberg,
    ScheduledAlgo,
    daily_volume_profile,
    intraday_volume_profile,
    intraday_weights,
    session_times,
    split_equal,
    split_weighted,
    twap,
    vwap,
    window_times,
)
from alphatrader.execution.brokers.simulated import (
    SimMarket,
    SimulatedBroker,
    session_instants,
)
from alphatrader.execution.ledger import Ledger
from alphatrader.execution.order_manager import OrderManager

D = Decimal


def parent(qty: str = "1003", symbol: str = "GOOG", **extra: object) -> OrderRequest:
    return OrderRequest(symbol, Side.BUY, "test", "rebalance", qty=D(qty), **extra)  # type: ignore[arg-type]


class Recorder:
    """A `submit` double: records (request, leg) and names the order after its leg."""

    def __init__(self) -> None:
        self.sent: list[tuple[OrderRequest, str]] = []

    def __call__(self, request: OrderRequest, leg: str) -> str:
        self.sent.append((request, leg))
        return f"cid-{leg}"


def fill(cid: str, qty: str) -> Fill:
    at = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)
    return Fill("x-" + cid + qty, cid, "SYN", Side.BUY, D(qty), D(1), D(0), at.date(), at)


# -- exact splits -------------------------------------------------------------------------------
def test_equal_split_is_exact_with_the_remainder_last() -> None:
    assert split_equal(D(1003), 4) == [D(250), D(250), D(250), D(253)]
    fractional = split_equal(D(10), 3, fractional=True)
    assert fractional == [D("3.333333333"), D("3.333333333"), D("3.333333334")]
    assert sum(fractional) == D(10)
    with pytest.raises(ValueError, match="whole share"):
        split_equal(D("10.5"), 2)


def test_weighted_split_is_exact_with_the_remainder_last() -> None:
    assert split_weighted(D(1000), [1, 2, 3, 4]) == [D(100), D(200), D(300), D(400)]
    # 7 × 0.2 = 1.4 → 1, 7 × 0.3 = 2.1 → 2, the last takes 4
    assert split_weighted(D(7), [0.2, 0.3, 0.5]) == [D(1), D(2), D(4)]


# -- TWAP ---------------------------------------------------------------------------------------
def test_twap_slices_schedule_and_deterministic_ids() -> None:
    start = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)
    times = window_times(start, start + timedelta(hours=6, minutes=30), 4)
    assert [t.strftime("%H:%M:%S") for t in times] == [
        "14:30:00",
        "16:07:30",
        "17:45:00",
        "19:22:30",
    ]
    children = twap(
        parent(order_type=OrderType.LIMIT, limit_price=D(100), oco_group="x"), "P7", times
    )
    assert [(c.leg, c.qty, c.at) for c in children] == [
        ("P7-1", D(250), times[0]),
        ("P7-2", D(250), times[1]),
        ("P7-3", D(250), times[2]),
        ("P7-4", D(253), times[3]),
    ]
    assert {
        (c.request.order_type, c.request.limit_price, c.request.oco_group) for c in children
    } == {(OrderType.LIMIT, D(100), None)}
    assert children[1].request.reason == "rebalance [twap 2/4]"


def test_scheduled_algo_sends_each_child_once_when_its_time_comes() -> None:
    start = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)
    times = window_times(start, start + timedelta(hours=6, minutes=30), 4)
    clock = SimClock(start - timedelta(minutes=1))
    submit = Recorder()
    algo = ScheduledAlgo(twap(parent(), "P", times), submit, clock)
    assert algo.poll() == [] and algo.next_at() == times[0]
    clock.advance_to(times[0])
    assert [s.client_order_id for s in algo.poll()] == ["cid-P-1"]
    assert algo.poll() == []  # nothing is sent twice
    clock.advance_to(times[2] + timedelta(minutes=1))
    assert [s.child.leg for s in algo.poll()] == ["P-2", "P-3"]
    assert [c.leg for c in algo.stop()] == ["P-4"]
    clock.advance_to(times[3])
    assert algo.poll() == [] and algo.done
    assert sum((r.qty or D(0) for r, _ in submit.sent), D(0)) == D(750)


def test_twap_over_sessions_through_the_order_manager_on_goog(store: MarketDataStore) -> None:
    """A 3001-share TWAP sent at three closes fills at the three next opens."""
    goog = load_series(store, "GOOG")
    times = session_times(date(2012, 11, 19), 3, "close")
    assert [t.date() for t in times] == [date(2012, 11, 19), date(2012, 11, 20), date(2012, 11, 21)]
    clock = SimClock(times[0] - timedelta(hours=1))
    broker = SimulatedBroker(SimMarket({"GOOG": goog}), clock)
    om = OrderManager(broker, Ledger(cash=D(10_000_000)), clock)

    def submit(request: OrderRequest, leg: str) -> str:
        session = pd.Timestamp(clock.now()).tz_convert("America/New_York").date()
        return om.submit(request, session, leg).client_order_id

    algo = ScheduledAlgo(twap(parent("3001"), "P", times), submit, clock)
    fills: list[Fill] = []
    while not algo.done or broker.working():
        dues = [d for o in broker.working() if (d := broker.due_ns(o.client_order_id))]
        due_at = None
        if dues:
            opens, _ = session_instants(pd.DatetimeIndex([pd.Timestamp(min(dues))]))
            due_at = pd.Timestamp(int(opens[0]), tz=UTC).to_pydatetime()
        send_at = algo.next_at()
        if send_at is not None and (due_at is None or send_at < due_at):
            clock.advance_to(send_at)
            algo.poll()
        else:
            assert due_at is not None
            clock.advance_to(due_at)
            for event in broker.events_for(min(dues)):
                assert event.fill is not None
                om.on_fill(event.fill)
                fills.append(event.fill)
    bars = goog.bars
    assert [(f.client_order_id, f.session, f.qty) for f in fills] == [
        ("bt-test-GOOG-20121119-P-1", date(2012, 11, 20), D(1000)),
        ("bt-test-GOOG-20121120-P-2", date(2012, 11, 21), D(1000)),
        ("bt-test-GOOG-20121121-P-3", date(2012, 11, 23), D(1001)),
    ]
    assert [float(f.price) for f in fills] == [
        pytest.approx(bars["open"].loc[str(f.session)], abs=1e-6) for f in fills
    ]
    assert om.ledger.positions["GOOG"].qty == D(3001)


# -- VWAP ---------------------------------------------------------------------------------------
def test_vwap_slices_follow_the_profile() -> None:
    times = window_times(
        datetime(2024, 1, 3, 14, 30, tzinfo=UTC), datetime(2024, 1, 3, 21, tzinfo=UTC), 3
    )
    children = vwap(parent("1001"), "V", times, [1, 2, 1])
    assert [(c.leg, c.qty) for c in children] == [("V-1", D(250)), ("V-2", D(500)), ("V-3", D(251))]
    assert sum(c.qty for c in children) == D(1001)


def test_intraday_profile_is_the_average_share_by_bucket() -> None:
    # synthetic intraday bars, two days of three half-hour buckets
    index = pd.DatetimeIndex(
        [f"2024-01-0{d} {t}" for d in (3, 4) for t in ("09:30", "09:45", "10:00", "10:30")]
    )
    volume = pd.Series([60, 40, 50, 50, 200, 100, 100, 600], index=index, dtype=float)
    profile = intraday_volume_profile(volume, "30min")
    # day 1: 100/200, 50/200, 50/200; day 2: 300/1000, 100/1000, 600/1000
    assert list(profile.round(10)) == [0.4, 0.175, 0.425]
    times = [datetime(2024, 1, 5, 14, 40, tzinfo=UTC), datetime(2024, 1, 5, 15, 35, tzinfo=UTC)]
    assert intraday_weights(profile, times) == pytest.approx([0.4, 0.425])  # 09:40, 10:35 EST


def test_daily_profile_from_goog_volume_has_no_look_ahead(store: MarketDataStore) -> None:
    volume = load_series(store, "GOOG").bars["volume"]
    sessions = [date(2012, 11, 20), date(2012, 11, 21), date(2012, 11, 23), date(2012, 11, 26)]
    weights = daily_volume_profile(volume, sessions, lookback=60)
    history = volume.loc[:"2012-11-19"].iloc[-60:]
    means = history.groupby(pd.DatetimeIndex(history.index).day_of_week).mean()
    # Tue, Wed, Fri (closes at 13:00: 210 of 390 minutes), Mon
    expected = [means[1], means[2], means[4] * 210 / 390, means[0]]
    assert weights == pytest.approx(expected)
    children = vwap(parent("100000"), "V", session_times(sessions[0], 4), weights)
    whole = sum(D(repr(w)) for w in weights)
    head = [
        (D(100000) * D(repr(w)) / whole).quantize(D(1), rounding=ROUND_FLOOR) for w in weights[:3]
    ]
    assert [c.qty for c in children] == [*head, D(100000) - sum(head)]
    assert children[2].qty < children[1].qty  # the half day gets less


# -- iceberg ------------------------------------------------------------------------------------
def test_iceberg_replenishes_only_when_the_visible_child_is_filled() -> None:
    clock = SimClock(datetime(2024, 1, 3, 14, 30, tzinfo=UTC))
    submit = Recorder()
    ice = Iceberg(parent("1050"), "ICE", D(400), submit, clock)
    first = ice.start()
    assert (first.child.leg, first.child.qty) == ("ICE-1", D(400))
    assert ice.on_fill(fill("cid-ICE-1", "150")) is None  # partly filled: still visible
    assert ice.on_fill(fill("someone-else", "400")) is None
    second = ice.on_fill(fill("cid-ICE-1", "250"))
    assert second is not None and (second.child.leg, second.child.qty) == ("ICE-2", D(400))
    third = ice.on_fill(fill("cid-ICE-2", "400"))
    assert third is not None and (third.child.leg, third.child.qty) == ("ICE-3", D(250))
    assert ice.on_fill(fill("cid-ICE-3", "250")) is None
    assert ice.done and ice.filled == D(1050)
    assert [r.qty for r, _ in submit.sent] == [D(400), D(400), D(250)]


def synthetic() -> Series:
    """Synthetic bars (hand-made, not market data)."""
    frame = pd.DataFrame(
        {
            "open": [100.0, 101.0, 97.0, 99.0],
            "high": [102.0, 103.0, 99.0, 106.0],
            "low": [99.0, 98.0, 95.0, 98.5],
            "close": [101.0, 99.0, 98.0, 105.0],
            "volume": [10_000.0, 1_000.0, 500.0, 2_000.0],
        },
        index=pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]),
    )
    return Series(
        Instrument("SYN", "synthetic", "equity", OHLCV_FIELDS, "synthetic", "none", True), frame
    )


def test_iceberg_through_the_simulated_broker_with_participation() -> None:
    """Children share each bar's 10% of volume: D1 1000 → 100, D2 500 → 50, D3 2000 → 200."""
    clock = SimClock(datetime(2024, 1, 2, 21, tzinfo=UTC))  # after D0's close
    broker = SimulatedBroker(SimMarket({"SYN": synthetic()}), clock, participation=D("0.1"))
    om = OrderManager(broker, Ledger(cash=D(1_000_000)), clock)

    def submit(request: OrderRequest, leg: str) -> str:
        return om.submit(request, date(2024, 1, 2), leg).client_order_id

    gtc = parent("250", "SYN", time_in_force=TimeInForce.GTC)  # children copy it
    ice = Iceberg(gtc, "ICE", D(100), submit, clock)
    ice.start()
    booked: list[tuple[str, date, Decimal]] = []
    while dues := [d for o in broker.working() if (d := broker.due_ns(o.client_order_id))]:
        day = min(dues)
        opens, _ = session_instants(pd.DatetimeIndex([pd.Timestamp(day)]))
        clock.advance_to(pd.Timestamp(int(opens[0]), tz=UTC).to_pydatetime())
        for event in broker.events_for(day):
            assert event.fill is not None
            om.on_fill(event.fill)
            booked.append((event.fill.client_order_id[-5:], event.fill.session, event.fill.qty))
            ice.on_fill(event.fill)
    d1, d2, d3 = date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5)
    # ICE-2, sent at D1's open after ICE-1 filled, finds D1's 100 shares used up
    assert booked == [
        ("ICE-1", d1, D(100)),
        ("ICE-2", d2, D(50)),
        ("ICE-2", d3, D(50)),
        ("ICE-3", d3, D(50)),
    ]
    assert ice.done and om.ledger.positions["SYN"].qty == D(250)
    assert {o.status for o in om.orders.values()} == {OrderStatus.FILLED}
