from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import InputError
from alphatrader.indicators import ema
from alphatrader.strategies.ema_crossover import EmaCrossover
from tests.unit.strategies.signal_checks import (
    assert_alternates,
    assert_no_lookahead,
    assert_well_formed,
    cut_dates,
    events,
)

OHLCV = frozenset({"close", "volume"})


def reference_events(bars: pd.DataFrame, factor: float = 1.0) -> list[tuple[pd.Timestamp, str]]:
    """Loop over bars tracking the last nonzero sign of fast − slow and a position."""
    close, volume = bars["close"], bars["volume"]
    diff = (ema(close, 9) - ema(close, 21)).to_numpy()
    threshold = (volume.rolling(20).mean() * factor).to_numpy()
    out, last, long = [], 0.0, False
    for i, t in enumerate(bars.index):
        if np.isnan(diff[i]) or diff[i] == 0:
            continue
        sign = np.sign(diff[i])
        if last < 0 < sign and not long and volume.iloc[i] > threshold[i]:
            out.append((t, "entry"))
            long = True
        elif last > 0 > sign and long:
            out.append((t, "exit"))
            long = False
        last = sign
    return out


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT", "IBM", "GOOG"])
def test_signals_follow_the_rule_on_real_data(store: MarketDataStore, symbol: str) -> None:
    bars = load_series(store, symbol, require=OHLCV).bars
    frame = EmaCrossover().signals(bars)
    assert_well_formed(frame, bars["close"])
    assert_alternates(frame)
    assert events(frame) == reference_events(bars)


def test_volume_confirmation_filters_entries(store: MarketDataStore) -> None:
    bars = load_series(store, "MSFT", require=OHLCV).bars
    loose = EmaCrossover(volume_factor=0.01).signals(bars)
    strict = EmaCrossover(volume_factor=1.5).signals(bars)
    assert events(strict) == reference_events(bars, factor=1.5)
    assert (strict["action"] == "entry").sum() < (loose["action"] == "entry").sum()
    entries = strict[strict["action"] == "entry"].index
    average = bars["volume"].rolling(20).mean()
    assert (bars["volume"][entries] > 1.5 * average[entries]).all()


def test_needs_volume_so_close_only_symbols_are_refused(store: MarketDataStore) -> None:
    assert "volume" in EmaCrossover.requires
    with pytest.raises(InputError, match="volume"):
        store.resolve("SPY", require=EmaCrossover.requires)
    assert load_series(store, "AAPL", require=EmaCrossover.requires).instrument.has_volume


def test_no_lookahead(store: MarketDataStore) -> None:
    bars = load_series(store, "AAPL", require=OHLCV).bars
    strategy = EmaCrossover()
    assert_no_lookahead(
        lambda cut: strategy.signals(bars if cut is None else bars.loc[:cut]),
        cut_dates(bars.index),
    )


def test_parameters_validate() -> None:
    with pytest.raises(InputError, match="did you mean 'volume_factor'"):
        EmaCrossover.with_params(volume_facter=2)
    with pytest.raises(InputError, match="slow"):
        EmaCrossover.with_params(fast=30, slow=20)
    assert EmaCrossover.with_params(fast="5", slow="10").describe().startswith("ema_crossover(")
