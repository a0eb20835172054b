from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import InputError
from alphatrader.indicators import macd
from alphatrader.strategies.macd_momentum import MacdMomentum
from tests.unit.strategies.signal_checks import (
    assert_alternates,
    assert_no_lookahead,
    assert_well_formed,
    cut_dates,
    events,
)


def reference_events(close: pd.Series, trend_period: int = 200) -> list[tuple[pd.Timestamp, str]]:
    """Loop: track the last nonzero sign of MACD − signal; trend SMA from pandas."""
    line, signal, _ = macd(close, 12, 26, 9)
    diff = (line - signal).to_numpy()
    trend = close.rolling(trend_period).mean().to_numpy()
    out, last, long = [], 0.0, False
    for i, t in enumerate(close.index):
        if np.isnan(diff[i]) or diff[i] == 0:
            continue
        sign = np.sign(diff[i])
        if last < 0 < sign and not long and close.iloc[i] > trend[i]:
            out.append((t, "entry"))
            long = True
        elif last > 0 > sign and long:
            out.append((t, "exit"))
            long = False
        last = sign
    return out


@pytest.mark.parametrize("symbol", ["SPY", "XLK", "JNJ", "EFA"])
def test_signals_follow_the_rule_on_real_data(store: MarketDataStore, symbol: str) -> None:
    close = load_series(store, symbol).bars["close"]
    frame = MacdMomentum().signals(close.to_frame())
    assert_well_formed(frame, close)
    assert_alternates(frame)
    assert events(frame) == reference_events(close)


def test_entries_only_above_the_trend(store: MarketDataStore) -> None:
    close = load_series(store, "EFA").bars["close"]
    frame = MacdMomentum().signals(close.to_frame())
    entries = frame[frame["action"] == "entry"].index
    assert (close[entries] > close.rolling(200).mean()[entries]).all()
    # EFA spent long stretches below its 200-day average: the filter must bite.
    unfiltered = MacdMomentum(trend_period=2).signals(close.to_frame())
    assert len(unfiltered) > len(frame)
    assert events(unfiltered) == reference_events(close, trend_period=2)


def test_no_lookahead(store: MarketDataStore) -> None:
    bars = load_series(store, "SPY").bars
    strategy = MacdMomentum()
    assert_no_lookahead(
        lambda cut: strategy.signals(bars if cut is None else bars.loc[:cut]),
        cut_dates(bars.index),
    )


def test_parameters_validate() -> None:
    with pytest.raises(InputError, match="did you mean 'trend_period'"):
        MacdMomentum.with_params(trend_periods=100)
    with pytest.raises(InputError, match="slow"):
        MacdMomentum.with_params(fast=26, slow=12)
    with pytest.raises(InputError, match="signal"):
        MacdMomentum.with_params(signal="nine")
