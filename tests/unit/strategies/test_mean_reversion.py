from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import InputError
from alphatrader.indicators import rsi
from alphatrader.strategies import build
from alphatrader.strategies.mean_reversion import MeanReversion
from tests.unit.strategies.signal_checks import (
    assert_alternates,
    assert_no_lookahead,
    assert_well_formed,
    cut_dates,
    events,
)


def reference_events(close: pd.Series, oversold: float = 30.0) -> list[tuple[pd.Timestamp, str]]:
    """The rule as a plain loop with a position: bands from pandas (population std)."""
    mean, std = close.rolling(20).mean(), close.rolling(20).std(ddof=0)
    lower, strength = mean - 2 * std, rsi(close, 14)
    out, long = [], False
    for t in close.index:
        if not long and close[t] < lower[t] and strength[t] < oversold:
            out.append((t, "entry"))
            long = True
        elif long and close[t] >= mean[t]:
            out.append((t, "exit"))
            long = False
    return out


@pytest.mark.parametrize("symbol", ["SPY", "XLF", "KO", "EEM"])
def test_signals_follow_the_rule_on_real_data(store: MarketDataStore, symbol: str) -> None:
    close = load_series(store, symbol).bars["close"]
    frame = MeanReversion().signals(close.to_frame())
    assert_well_formed(frame, close)
    assert_alternates(frame)
    assert events(frame) == reference_events(close)


def test_stop_and_confidence_are_as_documented(store: MarketDataStore) -> None:
    close = load_series(store, "SPY").bars["close"]
    frame = MeanReversion().signals(close.to_frame())
    entries = frame[frame["action"] == "entry"]
    mean = close.rolling(20).mean()[entries.index]
    std = close.rolling(20).std(ddof=0)[entries.index]
    px = entries["price"]
    np.testing.assert_allclose(entries["stop_loss"], px - 2 * std, rtol=1e-9)
    assert (entries["stop_loss"] < px).all()
    depth = ((mean - 2 * std - px) / std).clip(0, 1)
    oversold = ((30 - rsi(close, 14)[entries.index]) / 15).clip(0, 1)
    np.testing.assert_allclose(entries["confidence"], 0.5 + 0.25 * depth + 0.25 * oversold)
    assert entries["reason"].str.contains("below lower band").all()


def test_a_stricter_threshold_gives_a_subset_of_entry_days(store: MarketDataStore) -> None:
    close = load_series(store, "SPY").bars["close"]
    strict = MeanReversion(rsi_oversold=20).signals(close.to_frame())
    assert events(strict) == reference_events(close, oversold=20)
    assert len(strict) < len(MeanReversion().signals(close.to_frame()))


def test_no_lookahead(store: MarketDataStore) -> None:
    bars = load_series(store, "SPY").bars
    strategy = MeanReversion()
    assert_no_lookahead(
        lambda cut: strategy.signals(bars if cut is None else bars.loc[:cut]),
        cut_dates(bars.index),
    )


def test_parameters_validate() -> None:
    assert build("mean_reversion", period="30").period == 30  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="did you mean 'rsi_oversold'"):
        MeanReversion.with_params(rsi_oversod=25)
    with pytest.raises(InputError, match="rsi_oversold"):
        MeanReversion.with_params(rsi_oversold=150)
    with pytest.raises(InputError, match="period"):
        MeanReversion.with_params(period=1)
