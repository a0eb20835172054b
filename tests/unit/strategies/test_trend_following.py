from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import InputError
from alphatrader.indicators import atr
from alphatrader.strategies.trend_following import TrendFollowing
from tests.unit.strategies.signal_checks import (
    assert_alternates,
    assert_no_lookahead,
    assert_well_formed,
    cut_dates,
    events,
)

HLC = frozenset({"high", "low", "close"})


def reference_events(bars: pd.DataFrame) -> list[tuple[pd.Timestamp, str]]:
    """Loop: channels are max/min over the 55/20 bars strictly before each bar."""
    close = bars["close"].to_numpy()
    high = bars["high"].to_numpy() if "high" in bars else close
    low = bars["low"].to_numpy() if "low" in bars else close
    trend = bars["close"].rolling(200).mean().to_numpy()
    out, long = [], False
    for i, t in enumerate(bars.index):
        if not long and i >= 55 and close[i] > trend[i] and close[i] > high[i - 55 : i].max():
            out.append((t, "entry"))
            long = True
        elif long and i >= 20 and close[i] < low[i - 20 : i].min():
            out.append((t, "exit"))
            long = False
    return out


@pytest.mark.parametrize(
    ("symbol", "require"),
    [("SPY", None), ("KO", None), ("XLE", None), ("IBM", HLC), ("MSFT", HLC)],
)
def test_signals_follow_the_rule_on_real_data(
    store: MarketDataStore, symbol: str, require: frozenset[str] | None
) -> None:
    bars = load_series(store, symbol, require=require or frozenset({"close"})).bars
    assert ("high" in bars) == (require is not None)
    frame = TrendFollowing().signals(bars)
    assert_well_formed(frame, bars["close"])
    assert_alternates(frame)
    assert events(frame) == reference_events(bars)


@pytest.mark.parametrize(("symbol", "require"), [("SPY", None), ("IBM", HLC)])
def test_atr_stop_and_optional_take_profit(
    store: MarketDataStore, symbol: str, require: frozenset[str] | None
) -> None:
    bars = load_series(store, symbol, require=require or frozenset({"close"})).bars
    high, low = bars.get("high", bars["close"]), bars.get("low", bars["close"])
    range_ = atr(high, low, bars["close"], 14)
    frame = TrendFollowing(take_profit_atr=3).signals(bars)
    entries = frame[frame["action"] == "entry"]
    px, a = entries["price"], range_[entries.index]
    np.testing.assert_allclose(entries["stop_loss"], px - 2.0 * a)
    np.testing.assert_allclose(entries["take_profit"], px + 3.0 * a)
    assert (entries["stop_loss"] < px).all()
    assert TrendFollowing().signals(bars)["take_profit"].isna().all()


def test_close_only_atr_is_wilders_mean_absolute_close_change(store: MarketDataStore) -> None:
    close = load_series(store, "SPY").bars["close"]
    frame = TrendFollowing().signals(close.to_frame())
    change = close.diff().abs().to_numpy()
    smoothed = np.full(len(close), np.nan)
    smoothed[14] = change[1:15].mean()
    for i in range(15, len(close)):
        smoothed[i] = (smoothed[i - 1] * 13 + change[i]) / 14
    entries = frame[frame["action"] == "entry"]
    expected = smoothed[close.index.get_indexer(entries.index)]
    np.testing.assert_allclose((entries["price"] - entries["stop_loss"]) / 2.0, expected)


def test_no_lookahead(store: MarketDataStore) -> None:
    bars = load_series(store, "IBM", require=HLC).bars
    strategy = TrendFollowing(take_profit_atr=4)
    assert_no_lookahead(
        lambda cut: strategy.signals(bars if cut is None else bars.loc[:cut]),
        cut_dates(bars.index),
    )


def test_parameters_validate() -> None:
    with pytest.raises(InputError, match="did you mean 'exit_channel'"):
        TrendFollowing.with_params(exit_chanel=10)
    with pytest.raises(InputError, match="atr_mult"):
        TrendFollowing.with_params(atr_mult=-1)
    assert TrendFollowing.with_params(take_profit_atr="2.5").take_profit_atr == 2.5
