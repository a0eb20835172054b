"""Position management on hand-computed synthetic bars, and a trailing stop on real GOOG bars."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.domain.orders import OrderType, Side, TimeInForce
from alphatrader.execution.costs import to_price
from alphatrader.execution.position_manager import (
    BrokerCapabilities,
    ExitIntent,
    ExitKind,
    ExitRules,
    ManagedPosition,
    PositionManager,
    PriceBar,
    Target,
    evaluate,
    needs_replace,
    protective_orders,
    record_exit,
    step,
)

D = Decimal
START = date(2024, 1, 2)


def bars(*rows: tuple[float, ...]) -> list[PriceBar]:
    """Synthetic bars (hand-made, not market data): (open, high, low, close[, atr])."""
    out = []
    for n, row in enumerate(rows):
        o, h, low, c, *atr = row
        out.append(PriceBar.of(START + timedelta(days=n), o, h, low, c, atr[0] if atr else None))
    return out


def walk(
    position: ManagedPosition, series: list[PriceBar], local: bool = True
) -> tuple[list[ManagedPosition], list[ExitIntent]]:
    """Step through the bars; returns the positions after each bar and all exits."""
    states: list[ManagedPosition] = []
    exits: list[ExitIntent] = []
    for bar in series:
        result = step(position, bar, local)
        position = result.position
        states.append(position)
        exits.extend(result.exits)
    return states, exits


def long(qty: str, price: str, **rules: object) -> ManagedPosition:
    return ManagedPosition.open("SYN", "test", D(qty), D(price), START, ExitRules(**rules))  # type: ignore[arg-type]


def test_percent_trailing_stop_ratchets_up_only_and_exits() -> None:
    pos = long("100", "100", trail_percent=D("0.05"))
    series = bars(
        (100, 104, 99, 103),  # best 104 → stop 98.8
        (103, 108, 102, 107),  # best 108 → stop 102.6
        (107, 107, 103, 104),  # best still 108: the stop stays at 102.6, low 103 above it
        (104, 105, 101, 102),  # low 101 reaches 102.6: out at min(104, 102.6)
    )
    states, exits = walk(pos, series)
    assert [s.stop for s in states[:3]] == [D("98.8"), D("102.6"), D("102.6")]
    (exit_,) = exits
    assert (exit_.kind, exit_.qty, exit_.price, exit_.session) == (
        ExitKind.TRAILING_STOP,
        D(100),
        D("102.6"),
        series[3].session,
    )
    assert states[-1].realized == D(260) and not states[-1].is_open


def test_atr_trailing_stop_never_moves_down() -> None:
    pos = long("10", "100", trail_atr=D(2))
    series = bars(
        (100, 104, 99, 103, 2),  # 104 − 2×2 = 100
        (103, 108, 102, 107, 3),  # 108 − 2×3 = 102
        (107, 107, 103, 106, 1),  # 108 − 2×1 = 106
        (106, 107, 106.5, 107, 5),  # 108 − 2×5 = 98 is lower: stays 106
    )
    states, exits = walk(pos, series)
    assert [s.stop for s in states] == [D(100), D(102), D(106), D(106)]
    assert exits == []


def test_scale_out_then_stop_at_break_even() -> None:
    pos = long(
        "100",
        "50",
        stop_loss=D(45),
        targets=(Target(D(55), D("0.5"), stop_to_break_even=True),),
        take_profit=D(60),
    )
    series = bars(
        (50, 53, 48, 52),  # nothing
        (52, 56, 51, 55),  # target 1: 50 at max(52, 55) = 55; the stop goes to 50 afterwards
        (55, 57, 49.5, 50),  # low 49.5 reaches the break-even stop: 50 at min(55, 50)
    )
    states, exits = walk(pos, series)
    assert [(e.kind, e.qty, e.price) for e in exits] == [
        (ExitKind.SCALE_OUT, D(50), D(55)),
        (ExitKind.BREAK_EVEN, D(50), D(50)),
    ]
    assert [s.stop for s in states] == [D(45), D(50), D(50)]
    assert states[-1].realized == D(250)  # 50 × (55 − 50) + 50 × 0


def test_scale_out_then_take_profit_and_two_targets_in_one_bar() -> None:
    rules = {
        "stop_loss": D(45),
        "targets": (Target(D(55), D("0.5"), stop_to_break_even=True),),
        "take_profit": D(60),
    }
    _, exits = walk(long("100", "50", **rules), bars((52, 56, 51, 55), (56, 61, 55, 60)))
    assert [(e.kind, e.qty, e.price) for e in exits] == [
        (ExitKind.SCALE_OUT, D(50), D(55)),
        (ExitKind.TAKE_PROFIT, D(50), D(60)),
    ]
    # one bar through both targets: both fill on it, at their levels
    (state,), exits = walk(long("101", "50", **rules), bars((52, 61, 51, 60)))
    assert [(e.kind, e.qty, e.price) for e in exits] == [
        (ExitKind.SCALE_OUT, D(50), D(55)),  # floor(101 × 0.5)
        (ExitKind.TAKE_PROFIT, D(51), D(60)),  # the rest
    ]
    assert state.realized == D(50 * 5 + 51 * 10)


def test_stop_is_assumed_first_when_a_bar_reaches_stop_and_target() -> None:
    pos = long("100", "50", stop_loss=D(48), take_profit=D(55))
    assert [(e.kind, e.price) for e in evaluate(pos, bars((50, 56, 47, 52))[0])] == [
        (ExitKind.STOP, D(48))
    ]


def test_gap_through_the_stop_exits_at_the_open() -> None:
    pos = long("100", "50", stop_loss=D(48))
    (exit_,) = evaluate(pos, bars((46, 47, 45, 46))[0])
    assert exit_.price == D(46)
    assert exit_.request("test").order_type is OrderType.STOP


def test_time_exit_after_n_sessions_at_the_next_open() -> None:
    pos = long("100", "50", max_sessions=3)
    series = bars((50, 51, 49, 50), (50, 52, 49, 51), (51, 52, 50, 51), (52, 53, 51, 52))
    states, exits = walk(pos, series)
    (exit_,) = exits
    assert (exit_.kind, exit_.session, exit_.price, exit_.order_type) == (
        ExitKind.TIME,
        series[3].session,
        D(52),
        OrderType.MARKET,
    )
    assert [s.sessions for s in states[:3]] == [1, 2, 3]
    assert states[-1].realized == D(200)


def test_realized_and_unrealized_pnl_in_decimal() -> None:
    pos = long("3", "10.10", targets=(Target(D("10.50"), D("0.34")),), take_profit=D(11))
    (state,), _ = walk(pos, bars((10.1, 10.6, 10.0, 10.45)))
    # floor(3 × 0.34) = 1 share at 10.50: realized 0.40; 2 left marked at 10.45: 0.70
    assert (state.qty, state.realized, state.unrealized(D("10.45"))) == (
        D(2),
        D("0.40"),
        D("0.70"),
    )
    assert state.pnl(D("10.45")) == D("1.10")


def test_short_position_mirrors_the_rules() -> None:
    pos = ManagedPosition.open(
        "SYN",
        "test",
        D(10),
        D(100),
        START,
        ExitRules(stop_loss=D(105), trail_percent=D("0.05")),
        long=False,
    )
    series = bars(
        (100, 101, 96, 97),  # best (lowest) 96 → stop min(105, 100.8) = 100.8
        (97, 101, 95, 100),  # high 101 reaches 100.8: bought back at max(97, 100.8)
    )
    states, exits = walk(pos, series)
    assert states[0].stop == D("100.8")
    (exit_,) = exits
    assert (exit_.side, exit_.price, exit_.kind) == (Side.BUY, D("100.8"), ExitKind.TRAILING_STOP)
    assert states[-1].realized == D(-8)


def test_broker_side_protection_is_an_oco_pair_replaced_after_a_fill() -> None:
    manager = PositionManager(BrokerCapabilities(oco=True))
    pos = long(
        "100",
        "50",
        stop_loss=D(45),
        targets=(Target(D(55), D("0.5"), stop_to_break_even=True),),
        take_profit=D(60),
    )
    stop, target = manager.orders(pos, "g1")
    assert (stop.order_type, stop.stop_price, stop.qty) == (OrderType.STOP, D(45), D(100))
    assert (target.order_type, target.limit_price, target.qty) == (OrderType.LIMIT, D(55), D(50))
    assert {o.time_in_force for o in (stop, target)} == {TimeInForce.GTC}
    assert {o.oco_group for o in (stop, target)} == {"g1"}
    # a bar through the stop: the broker holds it, so nothing is decided here
    result = manager.on_bar(pos, bars((50, 56, 44, 52))[0])
    assert result.exits == ()
    # the broker fills the target: book it; the orders no longer fit
    (intent,) = evaluate(pos, bars((52, 56, 51, 55))[0])
    after = record_exit(pos, intent)
    assert needs_replace(pos, after)
    stop, target = protective_orders(after, "g2")
    assert (stop.stop_price, stop.qty, target.limit_price, target.qty) == (
        D(50),
        D(50),
        D(60),
        D(50),
    )
    assert PositionManager(BrokerCapabilities()).orders(pos, "g") == []


def test_targets_must_be_nearest_first() -> None:
    with pytest.raises(ValueError, match="nearest first"):
        long("10", "50", targets=(Target(D(60), D("0.5")),), take_profit=D(55))


def test_goog_trailing_stop_exit_date_and_price(store: MarketDataStore) -> None:
    """A 10% trailing stop on GOOG from the 2010-03-02 open; the expected exit is computed
    with pandas: the stop on a bar is 90% of the highest high of the bars before it."""
    frame = load_series(store, "GOOG").bars.loc["2010-03-02":]
    stops = frame["high"].cummax().shift(1) * 0.9
    hit = frame.index[frame["low"] <= stops][0]
    best = to_price(float(frame["high"].loc[: hit - timedelta(days=1)].max()))
    expected_stop = (best * D("0.9")).quantize(D("0.000001"), rounding=ROUND_HALF_UP)
    pos = ManagedPosition.open(
        "GOOG",
        "test",
        D(10),
        to_price(float(frame["open"].iloc[0])),
        frame.index[0].date(),
        ExitRules(trail_percent=D("0.1")),
    )
    window = frame.loc[:hit]
    columns = [window[c].to_numpy(dtype=float) for c in ("open", "high", "low", "close")]
    for day, o, h, low, c in zip(window.index, *columns, strict=True):
        bar = PriceBar.of(day.date(), o, h, low, c)
        result = step(pos, bar)
        pos = result.position
        if result.exits:
            break
    (exit_,) = result.exits
    assert exit_.session == hit.date()
    assert exit_.price == min(to_price(float(frame.loc[hit, "open"])), expected_stop)
