"""Engine behaviour on the real bundled bars, with scripted signals so each rule is isolated."""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd
import pytest

from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.domain.orders import OrderStatus
from alphatrader.execution.costs import Commission, Slippage
from tests.factories import run

NAN = math.nan


def _bar(store: MarketDataStore, symbol: str, day: str) -> pd.Series:
    return load_series(store, symbol).bars.loc[day]


def test_signal_at_close_fills_at_next_open(store: MarketDataStore) -> None:
    # GOOG: 2010-03-01 is a Monday, the next session is 2010-03-02.
    result = run(store, ["GOOG"], {"GOOG": [("2010-03-01", "entry", 1.0, NAN, NAN)]})
    (trade,) = result.trades
    next_open = _bar(store, "GOOG", "2010-03-02")["open"]
    assert trade.entry_date.isoformat() == "2010-03-02"
    assert float(trade.entry_price) == pytest.approx(next_open, abs=1e-6)
    assert trade.qty == Decimal(math.floor(10_000 / float(trade.entry_price)))
    assert trade.exit_date is None


def test_close_only_series_fills_at_next_close(store: MarketDataStore) -> None:
    result = run(
        store,
        ["SPY"],
        {"SPY": [("2012-06-01", "entry", 1.0, NAN, NAN), ("2012-06-08", "exit", 1.0, NAN, NAN)]},
    )
    (trade,) = result.trades
    assert trade.entry_date.isoformat() == "2012-06-04"
    assert float(trade.entry_price) == pytest.approx(_bar(store, "SPY", "2012-06-04")["close"])
    assert trade.exit_date is not None and trade.exit_date.isoformat() == "2012-06-11"
    assert float(trade.exit_price) == pytest.approx(_bar(store, "SPY", "2012-06-11")["close"])


def test_final_equity_is_cash_plus_marked_positions(store: MarketDataStore) -> None:
    result = run(
        store,
        ["GOOG", "IBM"],
        {
            "GOOG": [("2010-03-01", "entry", 0.9, NAN, NAN), ("2011-03-01", "exit", 0.9, NAN, NAN)],
            "IBM": [("2012-01-03", "entry", 0.8, NAN, NAN)],
        },
        sizing="safety",
        cash=Decimal(1000),
    )
    realized = sum((t.pnl for t in result.trades if not t.is_open), Decimal(0))
    unrealized = sum((t.pnl for t in result.trades if t.is_open), Decimal(0))
    assert result.final_equity == Decimal(1000) + realized + unrealized
    assert float(result.final_equity) == pytest.approx(result.equity.iloc[-1], abs=0.01)


def test_safety_sizing_scales_with_confidence_and_keeps_buffer(store: MarketDataStore) -> None:
    # SPY traded ~ $130 in mid-2012: $50 + $250 x confidence buys 1 or 2 shares.
    result = run(
        store,
        ["SPY", "DIA", "XLK", "XLF", "XLE"],
        {
            s: [("2012-06-01", "entry", c, NAN, NAN)]
            for s, c in [("SPY", 1.0), ("DIA", 0.9), ("XLK", 0.8), ("XLF", 0.7), ("XLE", 0.6)]
        },
        sizing="safety",
        cash=Decimal(1000),
    )
    costs = {t.symbol: t.entry_price * t.qty for t in result.trades}
    assert "XLE" not in costs  # the fifth position is refused: MAX_POSITIONS = 4
    assert [r.rule for r in result.rejections] == ["max_positions"]
    for symbol, conf in [("SPY", 1.0), ("DIA", 0.9), ("XLK", 0.8), ("XLF", 0.7)]:
        budget = Decimal(50) + Decimal(250) * Decimal(str(conf))
        assert costs[symbol] <= budget
    assert sum(costs.values()) <= Decimal(1000) - Decimal(100)


def test_cash_buffer_refuses_entry_that_would_breach_it(store: MarketDataStore) -> None:
    result = run(
        store,
        ["SPY"],
        {"SPY": [("2012-06-01", "entry", 1.0, NAN, NAN)]},
        sizing="safety",
        cash=Decimal(140),
    )
    assert result.trades == []
    (rejection,) = result.rejections
    assert rejection.rule == "min_position_size"
    assert "buffer" in rejection.reason


def test_stop_loss_fills_at_stop_or_worse_open(store: MarketDataStore) -> None:
    entry_day, fill_day = "2008-09-26", "2008-09-29"  # GOOG fell hard on 2008-09-29
    fill_open = _bar(store, "GOOG", fill_day)["open"]
    stop = round(fill_open * 0.95, 2)
    result = run(store, ["GOOG"], {"GOOG": [(entry_day, "entry", 1.0, stop, NAN)]})
    (trade,) = result.trades
    assert trade.exit_date is not None
    exit_bar = _bar(store, "GOOG", trade.exit_date.isoformat())
    bars = load_series(store, "GOOG").bars.loc[fill_day : trade.exit_date.isoformat()]
    assert (bars["low"].iloc[:-1] > stop).all()  # not touched before the exit day
    assert float(trade.exit_price) == pytest.approx(min(exit_bar["open"], stop), abs=1e-6)


def test_take_profit_and_stop_are_one_cancels_other(store: MarketDataStore) -> None:
    open_ = _bar(store, "GOOG", "2010-03-02")["open"]
    result = run(
        store,
        ["GOOG"],
        {"GOOG": [("2010-03-01", "entry", 1.0, open_ * 0.5, open_ * 1.05)]},
    )
    (trade,) = result.trades
    assert trade.exit_date is not None
    assert float(trade.exit_price) >= open_ * 1.05 - 1e-6  # the target filled, not the stop
    assert len([f for f in result.fills if f.side == "sell"]) == 1


def test_exit_signal_cancels_resting_stop(store: MarketDataStore) -> None:
    open_ = _bar(store, "GOOG", "2010-03-02")["open"]
    result = run(
        store,
        ["GOOG"],
        {
            "GOOG": [
                ("2010-03-01", "entry", 1.0, open_ * 0.5, NAN),
                ("2010-03-10", "exit", 1.0, NAN, NAN),
            ]
        },
    )
    (trade,) = result.trades
    assert trade.exit_date is not None and trade.exit_date.isoformat() == "2010-03-11"
    assert len(result.fills) == 2


def test_commission_and_slippage_reduce_pnl_exactly(store: MarketDataStore) -> None:
    script = {"GOOG": [("2010-03-01", "entry", 1.0, NAN, NAN), ("2010-06-01", "exit", 1, NAN, NAN)]}
    free = run(store, ["GOOG"], script).trades[0]
    costly = run(
        store,
        ["GOOG"],
        script,
        commission=Commission(rate=Decimal("0.001")),
        slippage=Slippage(Decimal(10)),
    ).trades[0]
    assert costly.entry_price == (free.entry_price * Decimal("1.001")).quantize(Decimal("1e-6"))
    assert costly.exit_price == (free.exit_price * Decimal("0.999")).quantize(Decimal("1e-6"))
    expected_fees = (costly.entry_price * costly.qty * Decimal("0.001")).quantize(
        Decimal("0.01")
    ) + (costly.exit_price * costly.qty * Decimal("0.001")).quantize(Decimal("0.01"))
    assert costly.commission == expected_fees
    assert costly.pnl == (costly.exit_price - costly.entry_price) * costly.qty - expected_fees


def test_entry_pending_at_end_expires_and_is_not_a_trade(store: MarketDataStore) -> None:
    last = load_series(store, "GOOG").bars.index[-1].date().isoformat()
    result = run(store, ["GOOG"], {"GOOG": [(last, "entry", 1.0, NAN, NAN)]})
    assert result.trades == []
    assert result.final_equity == Decimal(10_000)


def test_orders_move_only_along_the_state_table(store: MarketDataStore) -> None:
    from alphatrader.domain.orders import InvalidTransition, Order, OrderRequest, Side

    request = OrderRequest("SPY", Side.BUY, "s", "r", qty=Decimal(1))
    order = Order("id", request, created_at=pd.Timestamp("2020-01-02", tz="UTC").to_pydatetime())
    with pytest.raises(InvalidTransition):
        order.transition(OrderStatus.FILLED, order.created_at)
