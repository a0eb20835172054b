"""Indicators against independent formulas in pandas/numpy, on real bundled data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphatrader import indicators as ind
from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore


@pytest.fixture
def close(store: MarketDataStore) -> pd.Series:
    return load_series(store, "SPY").bars["close"]


@pytest.fixture
def ohlc(store: MarketDataStore) -> pd.DataFrame:
    return load_series(store, "IBM", require=frozenset({"high", "low", "close"})).bars


def ema_reference(x: np.ndarray, n: int) -> np.ndarray:
    """TA-Lib's convention: the first value is the SMA of the first n, then alpha = 2/(n+1)."""
    out = np.full(len(x), np.nan)
    out[n - 1] = x[:n].mean()
    alpha = 2.0 / (n + 1)
    for i in range(n, len(x)):
        out[i] = alpha * x[i] + (1 - alpha) * out[i - 1]
    return out


def wilder_reference(values: np.ndarray, n: int) -> np.ndarray:
    """Wilder's smoothing of values[1:]: seeded by the mean of the first n, output from n."""
    out = np.full(len(values), np.nan)
    out[n] = values[1 : n + 1].mean()
    for i in range(n + 1, len(values)):
        out[i] = (out[i - 1] * (n - 1) + values[i]) / n
    return out


def assert_same(actual: pd.Series, expected: np.ndarray | pd.Series, rtol: float = 1e-9) -> None:
    expected = np.asarray(expected, dtype=float)
    a = actual.to_numpy(dtype=float)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(expected))
    np.testing.assert_allclose(a, expected, rtol=rtol, equal_nan=True)


@pytest.mark.parametrize("period", [5, 20, 200])
def test_sma_is_the_rolling_mean(close: pd.Series, period: int) -> None:
    result = ind.sma(close, period)
    assert result.index.equals(close.index)
    assert_same(result, close.rolling(period).mean())


@pytest.mark.parametrize("period", [9, 21])
def test_ema_is_sma_seeded_then_recursive(close: pd.Series, period: int) -> None:
    assert_same(ind.ema(close, period), ema_reference(close.to_numpy(), period))


def test_rsi_is_wilders(close: pd.Series) -> None:
    x = close.to_numpy()
    change = np.concatenate([[np.nan], np.diff(x)])
    gain = wilder_reference(np.where(change > 0, change, 0.0), 14)
    loss = wilder_reference(np.where(change < 0, -change, 0.0), 14)
    result = ind.rsi(close, 14)
    assert_same(result, 100.0 * gain / (gain + loss))
    assert result.dropna().between(0, 100).all()


def test_bollinger_uses_population_std(close: pd.Series) -> None:
    upper, middle, lower = ind.bollinger(close, 20, 2.0)
    mean, std = close.rolling(20).mean(), close.rolling(20).std(ddof=0)
    assert_same(middle, mean)
    assert_same(upper, mean + 2.0 * std, rtol=1e-8)
    assert_same(lower, mean - 2.0 * std, rtol=1e-8)


def test_atr_is_wilder_smoothed_true_range(ohlc: pd.DataFrame) -> None:
    h, lo, c = (ohlc[k].to_numpy() for k in ("high", "low", "close"))
    prev = np.concatenate([[np.nan], c[:-1]])
    true_range = np.maximum(h - lo, np.maximum(np.abs(h - prev), np.abs(lo - prev)))
    result = ind.atr(ohlc["high"], ohlc["low"], ohlc["close"], 14)
    assert_same(result, wilder_reference(true_range, 14))
    assert (result.dropna() > 0).all()


def test_roc_is_a_fraction(close: pd.Series) -> None:
    assert_same(ind.roc(close, 63), close / close.shift(63) - 1.0)


def test_macd_is_the_ema_difference_after_warmup(close: pd.Series) -> None:
    line, signal, hist = ind.macd(close, 12, 26, 9)
    x = close.to_numpy()
    # TA-Lib starts both EMAs of MACD at the slow one's first bar, so they agree once the
    # seeds have decayed; 200 bars is far past that.
    reference = ema_reference(x, 12) - ema_reference(x, 26)
    np.testing.assert_allclose(line.to_numpy()[200:], reference[200:], rtol=0, atol=1e-9)
    assert_same(hist, line - signal)
    assert line.isna().sum() == 26 + 9 - 2


def test_volatility_is_annualized_sample_std_of_log_returns(close: pd.Series) -> None:
    x = close.to_numpy()
    log_ret = np.diff(np.log(x))
    windows = np.lib.stride_tricks.sliding_window_view(log_ret, 20)
    expected = np.concatenate([np.full(20, np.nan), windows.std(axis=1, ddof=1) * np.sqrt(252)])
    assert_same(ind.volatility(close, 20), expected)
    raw = ind.volatility(close, 20, annualize=False)
    assert_same(raw, expected / np.sqrt(252))


def test_volatility_of_an_empty_series_is_empty() -> None:
    empty = pd.Series([], dtype=float, index=pd.DatetimeIndex([]))
    assert ind.volatility(empty).empty


def _crosses(values: list[float]) -> tuple[list[int], list[int]]:
    up, down = ind.crossings(pd.Series(values, dtype=float))
    return list(np.flatnonzero(up)), list(np.flatnonzero(down))


def test_crossings_on_sign_changes() -> None:
    assert _crosses([-1, -0.5, 0.5, 1, -2, 3]) == ([2, 5], [4])


def test_a_tie_between_negative_and_positive_crosses_once_at_the_first_positive_bar() -> None:
    assert _crosses([-1, 0, 1, 2]) == ([2], [])
    assert _crosses([1, 0, 0, -1]) == ([], [3])


def test_touching_zero_and_returning_is_no_cross() -> None:
    assert _crosses([-1, 0, -1, 0, 0, -2]) == ([], [])


def test_nan_bars_never_cross_and_the_first_valid_bar_is_no_cross() -> None:
    assert _crosses([np.nan, np.nan, 1, -1]) == ([], [3])
    # A NaN gap keeps the last known sign: the next valid bar of the other sign crosses.
    assert _crosses([1, np.nan, -1, np.nan]) == ([], [2])


def test_crossings_of_moving_averages_on_real_data_alternate(close: pd.Series) -> None:
    up, down = ind.crossings(ind.sma(close, 20) - ind.sma(close, 50))
    assert not (up & down).any()
    marks = pd.Series(np.where(up, 1, np.where(down, -1, 0)), index=close.index)
    marks = marks[marks != 0]
    assert len(marks) > 10
    assert (marks.diff().dropna() != 0).all()  # up, down, up, ...
