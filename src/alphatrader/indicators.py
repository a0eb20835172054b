"""Technical indicators: thin wrappers over TA-Lib, vectorized over whole histories.

Each takes and returns pandas Series aligned to the input index; warm-up bars are NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib

TRADING_DAYS = 252


def _values(series: pd.Series) -> np.ndarray:
    return np.ascontiguousarray(series.to_numpy(dtype="float64"))


def _wrap(values: np.ndarray, like: pd.Series, name: str) -> pd.Series:
    return pd.Series(values, index=like.index, name=name)


def sma(close: pd.Series, period: int) -> pd.Series:
    return _wrap(talib.SMA(_values(close), timeperiod=period), close, f"sma{period}")


def ema(close: pd.Series, period: int) -> pd.Series:
    return _wrap(talib.EMA(_values(close), timeperiod=period), close, f"ema{period}")


def rsi(close: pd.Series, period: int = 14) -> pd.Series:
    return _wrap(talib.RSI(_values(close), timeperiod=period), close, f"rsi{period}")


def roc(close: pd.Series, period: int) -> pd.Series:
    """Rate of change as a fraction: close / close[period bars ago] - 1."""
    return _wrap(talib.ROCR(_values(close), timeperiod=period) - 1.0, close, f"roc{period}")


def bollinger(
    close: pd.Series, period: int = 20, num_std: float = 2.0
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Upper, middle (SMA: TA-Lib's default MA type) and lower bands, with the population
    standard deviation as TA-Lib computes it."""
    upper, middle, lower = talib.BBANDS(
        _values(close), timeperiod=period, nbdevup=num_std, nbdevdn=num_std
    )
    return (
        _wrap(upper, close, "bb_upper"),
        _wrap(middle, close, "bb_middle"),
        _wrap(lower, close, "bb_lower"),
    )


def macd(
    close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """MACD line, signal line and histogram."""
    line, sig, hist = talib.MACD(
        _values(close), fastperiod=fast, slowperiod=slow, signalperiod=signal
    )
    return _wrap(line, close, "macd"), _wrap(sig, close, "macd_signal"), _wrap(hist, close, "hist")


def atr(high: pd.Series, low: pd.Series, close: pd.Series, period: int = 14) -> pd.Series:
    values = talib.ATR(_values(high), _values(low), _values(close), timeperiod=period)
    return _wrap(values, close, f"atr{period}")


def volatility(close: pd.Series, period: int = 20, annualize: bool = True) -> pd.Series:
    """Rolling standard deviation of daily log returns (sample, ddof=1), annualized by √252."""
    values = _values(close)
    ratio = np.full(len(values), np.nan)
    ratio[1:] = values[1:] / values[:-1]
    log_ret = pd.Series(np.log(ratio), index=close.index)
    vol = log_ret.rolling(period).std(ddof=1)
    if annualize:
        vol = vol * np.sqrt(TRADING_DAYS)
    return vol.rename(f"vol{period}")


def crossings(diff: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Up- and down-crosses of zero by `diff` (e.g. fast - slow).

    A cross is a change in the sign of `diff`; a zero keeps the previous sign, so a tie between
    two moving averages is never a cross by itself (the rule backtrader and vectorbt use).
    Bars where `diff` is NaN carry no sign and never cross.
    """
    sign = np.sign(diff.to_numpy(dtype="float64"))
    sign[sign == 0] = np.nan
    held = pd.Series(sign, index=diff.index).ffill()
    prev = held.shift(1)
    valid = diff.notna() & prev.notna()
    up = valid & (held > 0) & (prev < 0)
    down = valid & (held < 0) & (prev > 0)
    return up, down
