"""The simulated broker's bar rules, hand-computed on small synthetic bars and checked on real
bundled bars (GOOG) where a rule can be seen in real data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_FLOOR, Decimal

import pandas as pd
import pytest

from alphatrader.clock import SimClock
from alphatrader.data.market import Series, load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.domain.instrument import OHLCV_FIELDS, Instrument
from alphatrader.domain.orders import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from alphatrader.execution.brokers.simulated import SimEvent, SimMarket, SimulatedBroker
from alphatrader.execution.costs import Commission, Slippage, to_price

D = Decimal
GTC, DAY, OPG, CLS = TimeInForce.GTC, TimeInForce.DAY, TimeInForce.OPG, TimeInForce.CLS
MARKET, LIMIT, STOP, STOP_LIMIT = (
    OrderType.MARKET,
    OrderType.LIMIT,
    OrderType.STOP,
    OrderType.STOP_LIMIT,
)

# Synthetic bars (hand-made, not market data) on real XNYS sessions; January: EST, so every
# session opens at 14:30 UTC and closes at 21:00 UTC.
SYNTHETIC = pd.DataFrame(
    {
        "open": [100.0, 101.0, 97.0, 99.0, 108.0, 104.0],
        "high": [102.0, 103.0, 99.0, 106.0, 110.0, 105.0],
        "low": [99.0, 98.0, 95.0, 98.5, 104.0, 102.0],
        "close": [101.0, 99.0, 98.0, 105.0, 109.0, 103.0],
        "volume": [10_000.0, 1_000.0, 500.0, 2_000.0, 3_000.0, 1_500.0],
    },
    index=pd.DatetimeIndex(
        ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"],
        name="date",
    ),
)
D0, D1, D2, D3, D4, D5 = (d.date() for d in SYNTHETIC.index)


def synthetic(symbol: str = "SYN", close_only: bool = False) -> Series:
    fields = frozenset({"close"}) if close_only else OHLCV_FIELDS
    instrument = Instrument(symbol, "synthetic", "equity", fields, "synthetic", "none", True)
    frame = SYNTHETIC[["close"]] if close_only else SYNTHETIC
    return Series(instrument, frame.copy())


def utc(day: object, hour: int, minute: int = 0) -> datetime:
    stamp = pd.Timestamp(str(day))
    return datetime(stamp.year, stamp.month, stamp.day, hour, minute, tzinfo=UTC)


def after_close(day: object) -> datetime:
    return utc(day, 21)


def at_open(day: object) -> datetime:
    return utc(day, 14, 30)


def make(now: datetime, *series: Series, **options: object) -> tuple[SimulatedBroker, SimClock]:
    universe = {s.symbol: s for s in (series or (synthetic(),))}
    clock = SimClock(now)
    return SimulatedBroker(SimMarket(universe), clock, **options), clock  # type: ignore[arg-type]


def request(
    side: Side,
    qty: str | None = "10",
    kind: OrderType = MARKET,
    tif: TimeInForce = DAY,
    limit: str | None = None,
    stop: str | None = None,
    symbol: str = "SYN",
    **extra: object,
) -> OrderRequest:
    return OrderRequest(
        symbol,
        side,
        "test",
        "test",
        qty=None if qty is None else D(qty),
        order_type=kind,
        time_in_force=tif,
        limit_price=None if limit is None else D(limit),
        stop_price=None if stop is None else D(stop),
        **extra,  # type: ignore[arg-type]
    )


def send(broker: SimulatedBroker, req: OrderRequest, cid: str = "o1") -> Order:
    now = broker.clock.now()
    return broker.submit(Order(cid, req, created_at=now, status=OrderStatus.SUBMITTED))


def drive(broker: SimulatedBroker) -> list[SimEvent]:
    """Run every session on which some working order is due, in date order."""
    events: list[SimEvent] = []
    while dues := [
        d for o in broker.working() if (d := broker.due_ns(o.client_order_id)) is not None
    ]:
        events += broker.events_for(min(dues))
    return events


def fills(events: list[SimEvent]) -> list[tuple[object, Decimal, Decimal]]:
    return [(e.fill.session, e.fill.qty, e.fill.price) for e in events if e.fill is not None]


# -- market, limit, stop ---------------------------------------------------------------------
def test_market_after_the_close_fills_at_the_next_open_stamped_at_the_open() -> None:
    broker, _ = make(after_close(D0))
    send(broker, request(Side.BUY))
    (event,) = drive(broker)
    assert event.fill is not None
    assert (event.fill.session, event.fill.price, event.fill.at) == (D1, D(101), at_open(D1))
    assert event.order.status is OrderStatus.FILLED


def test_market_before_the_open_fills_at_that_open() -> None:
    broker, _ = make(utc(D1, 12))
    send(broker, request(Side.BUY))
    assert fills(drive(broker)) == [(D1, D(10), D(101))]


@pytest.mark.parametrize(
    ("side", "kind", "price", "expected"),
    [
        # limit buy at 96: D1 low 98 misses; D2 low 95 reaches it, open 97 above: at 96
        (Side.BUY, LIMIT, "96", (D2, D(96), False)),
        # limit buy at 97.5: D2 opens at 97, below it: at the better open
        (Side.BUY, LIMIT, "97.5", (D2, D(97), True)),
        # limit sell at 105: D3 high 106 reaches it from an open of 99: at 105
        (Side.SELL, LIMIT, "105", (D3, D(105), False)),
        # limit sell at 107: D4 opens at 108: at the better open
        (Side.SELL, LIMIT, "107", (D4, D(108), True)),
        # stop buy at 104: D3 high 106 reaches it from an open of 99: at 104
        (Side.BUY, STOP, "104", (D3, D(104), False)),
        # stop buy at 107: D4 gaps up to 108: at the worse open
        (Side.BUY, STOP, "107", (D4, D(108), True)),
        # stop sell at 98.5: D1 low 98 reaches it from an open of 101: at 98.5
        (Side.SELL, STOP, "98.5", (D1, D("98.5"), False)),
        # stop sell at 97.5 (D1 low 98 misses): D2 gaps down to 97: at the worse open
        (Side.SELL, STOP, "97.5", (D2, D(97), True)),
    ],
)
def test_limit_and_stop_prices_on_synthetic_bars(
    side: Side, kind: OrderType, price: str, expected: tuple[object, Decimal, bool]
) -> None:
    broker, _ = make(after_close(D0))
    level = {"limit": price} if kind is LIMIT else {"stop": price}
    send(broker, request(side, kind=kind, tif=GTC, **level))
    (event,) = drive(broker)
    assert event.fill is not None
    session, fill_price, at_the_open = expected
    assert (event.fill.session, event.fill.price) == (session, fill_price)
    # a fill at the open is stamped at the open; one inside the bar at the close
    assert event.fill.at == (at_open(session) if at_the_open else after_close(session))


def test_day_limit_not_reached_expires_at_that_sessions_close() -> None:
    broker, _ = make(after_close(D0))
    send(broker, request(Side.BUY, kind=LIMIT, limit="96"))  # D1 low is 98
    (event,) = drive(broker)
    assert event.fill is None and event.status is OrderStatus.EXPIRED
    assert event.order.history[-1] == (OrderStatus.EXPIRED, after_close(D1))
    assert event.reason == "day order expired on 2024-01-03: limit 96 not reached"
    assert broker.working() == []


def test_a_resting_order_placed_during_a_session_works_from_the_next_one() -> None:
    broker, _ = make(utc(D1, 15))  # after D1's open: D1's low of 98 may have come before
    send(broker, request(Side.BUY, kind=LIMIT, tif=GTC, limit="98"))
    assert fills(drive(broker)) == [(D2, D(10), D(97))]


def test_slippage_moves_a_limit_fill_against_the_order() -> None:
    broker, _ = make(after_close(D0), slippage=Slippage(D(10)))
    send(broker, request(Side.BUY, kind=LIMIT, tif=GTC, limit="96"))
    assert fills(drive(broker)) == [(D2, D(10), D("96.096"))]


# -- stop-limit ------------------------------------------------------------------------------
def test_stop_limit_reached_inside_the_bar_fills_at_the_stop_within_the_limit() -> None:
    broker, _ = make(after_close(D0))
    send(broker, request(Side.BUY, kind=STOP_LIMIT, tif=GTC, stop="104", limit="105"))
    assert fills(drive(broker)) == [(D3, D(10), D(104))]
    broker, _ = make(after_close(D0))
    send(broker, request(Side.SELL, kind=STOP_LIMIT, tif=GTC, stop="98.5", limit="98"))
    assert fills(drive(broker)) == [(D1, D(10), D("98.5"))]


def test_stop_limit_that_triggers_but_cannot_fill_expires_as_a_day_order() -> None:
    # D4 opens at 108, through the stop 107: triggered; its low 104 never gets to the limit 103
    broker, _ = make(after_close(D3))
    send(broker, request(Side.BUY, kind=STOP_LIMIT, stop="107", limit="103"))
    (event,) = drive(broker)
    assert (event.status, event.order.filled_qty) == (OrderStatus.EXPIRED, D(0))
    assert event.reason.endswith("stop 107 triggered but the limit 103 was not reached")


def test_triggered_gtc_stop_limit_works_as_a_limit_from_the_next_bar() -> None:
    broker, _ = make(after_close(D3))
    send(broker, request(Side.BUY, kind=STOP_LIMIT, tif=GTC, stop="107", limit="103"))
    # D4 triggers without a fill; D5 (open 104, low 102) reaches the limit: at 103
    assert fills(drive(broker)) == [(D5, D(10), D(103))]


def test_stop_limit_gapping_through_the_stop_fills_as_a_limit_on_that_bar() -> None:
    broker, _ = make(after_close(D3))
    send(broker, request(Side.BUY, kind=STOP_LIMIT, stop="107", limit="107.5"))
    # D4 opens at 108 (triggered at the open), low 104: the limit 107.5 is reached
    assert fills(drive(broker)) == [(D4, D(10), D("107.5"))]


def test_stop_limit_with_the_limit_beyond_the_stop_inside_the_bar_waits() -> None:
    # D3: open 99, stop 104 reached inside the bar; the limit 103.5 is under the stop and the
    # bar cannot say whether its low (98.5) came after the trigger: no fill on D3 (documented)
    broker, _ = make(after_close(D2))
    send(broker, request(Side.BUY, kind=STOP_LIMIT, tif=GTC, stop="104", limit="103.5"))
    # D4 low 104 misses 103.5; D5 opens at 104 and trades down to 102: at 103.5
    assert fills(drive(broker)) == [(D5, D(10), D("103.5"))]


# -- OPG and CLS -----------------------------------------------------------------------------
def test_opg_fills_at_the_next_open_or_expires() -> None:
    broker, _ = make(after_close(D0))
    send(broker, request(Side.BUY, tif=OPG), "opg")
    send(broker, request(Side.BUY, kind=LIMIT, tif=OPG, limit="100"), "opg-limit")
    events = drive(broker)
    assert [(e.order.client_order_id, e.status) for e in events] == [
        ("opg", OrderStatus.FILLED),
        ("opg-limit", OrderStatus.EXPIRED),
    ]
    assert events[0].fill is not None and events[0].fill.price == D(101)
    assert (
        events[1].reason == "opg order expired on 2024-01-03: the open 101 is beyond the limit 100"
    )


def test_cls_fills_at_that_sessions_close_or_the_next() -> None:
    broker, clock = make(at_open(D1))
    send(broker, request(Side.BUY, tif=CLS), "during")
    clock.advance_to(after_close(D1))
    send(broker, request(Side.BUY, tif=CLS), "after")
    events = drive(broker)
    assert fills(events) == [(D1, D(10), D(99)), (D2, D(10), D(98))]
    assert [e.fill.at for e in events if e.fill] == [after_close(D1), after_close(D2)]


def test_cls_limit_not_satisfied_by_the_close_expires() -> None:
    broker, _ = make(at_open(D1))
    send(broker, request(Side.SELL, kind=LIMIT, tif=CLS, limit="100"))  # D1 closes at 99
    (event,) = drive(broker)
    assert event.status is OrderStatus.EXPIRED


def test_invalid_orders_are_rejected_with_the_reason() -> None:
    broker, _ = make(after_close(D0), synthetic(), synthetic("SYNC", close_only=True))
    cases = {
        "stop-no-price": request(Side.SELL, kind=STOP),
        "opg-stop": request(Side.SELL, kind=STOP, tif=OPG, stop="90"),
        "opg-close-only": request(Side.BUY, tif=OPG, symbol="SYNC"),
        "unknown": request(Side.BUY, symbol="NOPE"),
    }
    reasons = {cid: send(broker, req, cid) for cid, req in cases.items()}
    assert {c: (o.status, o.reject_reason) for c, o in reasons.items()} == {
        "stop-no-price": (OrderStatus.REJECTED, "a stop order needs a stop price"),
        "opg-stop": (
            OrderStatus.REJECTED,
            "a stop order cannot be opg: opg and cls orders are market or limit orders",
        ),
        "opg-close-only": (
            OrderStatus.REJECTED,
            "SYNC is a close-only series: no opening price for an opg order",
        ),
        "unknown": (OrderStatus.REJECTED, "no market data for NOPE"),
    }


# -- partial fills by volume participation -----------------------------------------------------
def test_gtc_market_order_fills_in_parts_that_sum_exactly() -> None:
    broker, _ = make(after_close(D0), participation=D("0.1"))
    send(broker, request(Side.BUY, qty="250", tif=GTC))
    events = drive(broker)
    # 10% of the volume: D1 1000 → 100 at the open 101; D2 500 → 50 at 97; D3 → the last 100
    assert fills(events) == [(D1, D(100), D(101)), (D2, D(50), D(97)), (D3, D(100), D(99))]
    assert [e.status for e in events] == [
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]
    assert events[-1].order.filled_qty == D(250)
    assert events[-1].order.avg_fill_price == D("99.4")  # (10100 + 4850 + 9900) / 250


def test_day_order_partially_filled_expires_with_the_rest() -> None:
    broker, _ = make(after_close(D0), participation=D("0.1"))
    send(broker, request(Side.BUY, qty="250"))
    events = drive(broker)
    assert [(e.status, e.order.filled_qty) for e in events] == [
        (OrderStatus.PARTIALLY_FILLED, D(100)),
        (OrderStatus.EXPIRED, D(100)),
    ]
    assert (
        events[-1].reason
        == "day order expired on 2024-01-03: 150 unfilled at the participation limit"
    )


def test_partial_limit_keeps_its_limit_and_a_partial_stop_goes_on_at_market() -> None:
    broker, _ = make(after_close(D0), synthetic("A"), synthetic("B"), participation=D("0.1"))
    send(broker, request(Side.BUY, "120", LIMIT, GTC, limit="98", symbol="A"), "limit")
    send(broker, request(Side.SELL, "150", STOP, GTC, stop="98.5", symbol="B"), "stop")
    events = drive(broker)
    by_order = {
        cid: fills([e for e in events if e.order.client_order_id == cid])
        for cid in ("limit", "stop")
    }
    assert by_order == {
        "limit": [(D1, D(100), D(98)), (D2, D(20), D(97))],  # min(open, 98) both days
        "stop": [(D1, D(100), D("98.5")), (D2, D(50), D(97))],  # the rest at D2's open
    }


def test_orders_in_one_symbol_share_the_bars_participation() -> None:
    broker, _ = make(after_close(D0), participation=D("0.1"))
    send(broker, request(Side.BUY, "70", tif=GTC), "first")
    send(broker, request(Side.BUY, "70", tif=GTC), "second")
    events = drive(broker)
    # D1: 100 shares of room, first come first served: 70 + 30; D2: the second's last 40
    assert [(e.order.client_order_id, e.fill.session, e.fill.qty) for e in events if e.fill] == [
        ("first", D1, D(70)),
        ("second", D1, D(30)),
        ("second", D2, D(40)),
    ]


def test_commission_minimum_is_charged_once_per_order_across_partial_fills() -> None:
    commission = Commission(per_share=D("0.005"), minimum=D(1))
    broker, _ = make(after_close(D0), participation=D("0.1"), commission=commission)
    send(broker, request(Side.BUY, qty="250", tif=GTC))
    charged = [e.fill.commission for e in drive(broker) if e.fill is not None]
    # fees 0.50, then 0.75 in all, then 1.25 in all; the order pays max(1.25, 1) = 1.25
    assert charged == [D("1.00"), D("0.00"), D("0.25")]
    assert sum(charged) == commission(D(250), D(99))


def test_notional_order_fixes_its_shares_at_the_first_fill_price() -> None:
    broker, _ = make(after_close(D0), participation=D("0.1"))
    send(broker, request(Side.BUY, qty=None, tif=GTC, notional=D(30_000)))
    # floor(30000 / 101) = 297 shares: 100, 50, then the last 147 (under D3's 200)
    assert [q for _, q, _ in fills(drive(broker))] == [D(100), D(50), D(147)]


def test_close_only_series_has_no_participation_limit() -> None:
    broker, _ = make(after_close(D0), synthetic("SYNC", close_only=True), participation=D("0.1"))
    send(broker, request(Side.BUY, qty="1000000", symbol="SYNC"))
    (event,) = drive(broker)
    assert event.fill is not None
    assert (event.fill.qty, event.fill.price, event.fill.at) == (
        D(1_000_000),
        D(99),
        after_close(D1),
    )


# -- OCO and bracket legs ----------------------------------------------------------------------
def test_stop_first_when_a_bar_reaches_stop_and_target_and_the_target_is_cancelled() -> None:
    broker, _ = make(after_close(D0))
    send(broker, request(Side.SELL, kind=LIMIT, limit="102.5", oco_group="g"), "target")
    send(broker, request(Side.SELL, kind=STOP, stop="98.5", oco_group="g"), "stop")
    events = drive(broker)  # D1: high 103 and low 98 reach both
    assert [(e.order.client_order_id, e.status) for e in events] == [("stop", OrderStatus.FILLED)]
    assert broker.working() == []


def test_bracket_legs_with_the_default_day_rest_until_triggered() -> None:
    leg = request(Side.SELL, kind=LIMIT, limit="105", oco_group="g")
    broker, _ = make(after_close(D0))
    send(broker, leg)
    assert fills(drive(broker)) == [(D3, D(10), D(105))]
    broker, _ = make(after_close(D0), oco_gtc=False)
    send(broker, leg)
    assert [e.status for e in drive(broker)] == [OrderStatus.EXPIRED]


def test_fills_for_keeps_the_engine_rows() -> None:
    broker, _ = make(after_close(D0))
    send(broker, request(Side.BUY))
    due = broker.due_ns("o1")
    assert due == pd.Timestamp(D1).value
    ((order, fill, reason),) = broker.fills_for(due, at_open(D1))
    assert (order.client_order_id, reason) == ("o1", "")
    assert fill is not None and fill.price == D(101)


# -- on real bundled bars ----------------------------------------------------------------------
def test_goog_limit_buy_fills_at_min_open_limit_on_the_first_bar_reaching_it(
    store: MarketDataStore,
) -> None:
    goog = load_series(store, "GOOG")
    bars = goog.bars
    limit = to_price(bars["close"].loc["2010-03-01"] * 0.9).quantize(D("0.01"))
    after = bars.loc["2010-03-02":]
    first = after.index[after["low"] <= float(limit)][0]
    broker, _ = make(after_close("2010-03-01"), goog)
    send(broker, request(Side.BUY, kind=LIMIT, tif=GTC, limit=str(limit), symbol="GOOG"))
    (event,) = drive(broker)
    assert event.fill is not None
    assert event.fill.session == first.date()
    assert event.fill.price == min(to_price(float(bars.loc[first, "open"])), limit)


def test_goog_cls_on_an_early_close_is_stamped_at_13_00_new_york(store: MarketDataStore) -> None:
    goog = load_series(store, "GOOG")
    broker, _ = make(at_open("2012-11-23"), goog)  # the day after Thanksgiving: 13:00 close
    send(broker, request(Side.BUY, tif=CLS, symbol="GOOG"))
    (event,) = drive(broker)
    assert event.fill is not None
    assert event.fill.at == utc("2012-11-23", 18)  # 13:00 EST
    assert event.fill.price == to_price(goog.bars["close"].loc["2012-11-23"])


def test_goog_large_order_fills_at_ten_percent_of_each_bars_volume(store: MarketDataStore) -> None:
    goog = load_series(store, "GOOG")
    qty = D(2_000_000)
    broker, _ = make(after_close("2012-11-20"), goog, participation=D("0.1"))
    send(broker, request(Side.BUY, qty=str(qty), tif=GTC, symbol="GOOG"))
    got = fills(drive(broker))
    assert sum(q for _, q, _ in got) == qty
    volume = goog.bars["volume"].loc["2012-11-21":]
    caps = [(D(repr(float(v))) * D("0.1")).quantize(D(1), rounding=ROUND_FLOOR) for v in volume]
    expected_qty = []
    left = qty
    for cap in caps:
        expected_qty.append(min(cap, left))
        left -= expected_qty[-1]
        if left == 0:
            break
    assert [q for _, q, _ in got] == expected_qty
    assert [s for s, _, _ in got] == [d.date() for d in volume.index[: len(expected_qty)]]
    assert got[1][0] == date(2012, 11, 23)  # the half day: a smaller slice
    assert got[1][1] < min(got[0][1], got[2][1])
