"""MACD momentum: buy when MACD crosses above its signal line in an uptrend, sell when it
crosses back below.

Rule: entry when the MACD(`fast`, `slow`, `signal`) line crosses above its signal line and the
close is above SMA(`trend_period`), while flat; exit when the MACD line crosses below its
signal line, while long. Crosses follow `indicators.crossings` on the histogram.
Confidence: from the distance to the trend average, relative to price, 5% counting fully:
entries 0.5 + 0.5 × (close above SMA), exits 0.5 + 0.5 × (close below SMA) — an exit that
also breaks the trend is the surer one.
Instruments: any symbol with a close (close-only series included).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from alphatrader.indicators import crossings, macd, sma
from alphatrader.strategies.base import Strategy, make_signals
from alphatrader.strategies.rules import alternate


class MacdMomentum(Strategy):
    name = "macd_momentum"
    summary = "MACD(12, 26, 9) signal-line crossover, entries only above the 200-day SMA"

    fast: int = Field(12, ge=2)
    slow: int = Field(26, ge=3)
    signal: int = Field(9, ge=1)
    trend_period: int = Field(200, ge=2)

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        close = bars["close"]
        line, sig, hist = macd(close, self.fast, self.slow, self.signal)
        trend = sma(close, self.trend_period)
        up, down = crossings(hist)
        entries, exits = alternate(up & (close > trend), down)
        distance = (close / trend - 1.0) / 0.05
        confidence = pd.Series(
            0.5 + 0.5 * np.where(entries, distance, -distance).clip(0.0, 1.0), index=close.index
        )
        m, s, c, t = line.to_numpy(), sig.to_numpy(), close.to_numpy(), trend.to_numpy()
        return make_signals(
            pd.DatetimeIndex(bars.index),
            close,
            entries,
            exits,
            confidence,
            lambda i: (
                f"MACD {m[i]:.2f} crossed above signal {s[i]:.2f}; "
                f"close {c[i]:.2f} above SMA{self.trend_period} {t[i]:.2f}"
            ),
            lambda i: f"MACD {m[i]:.2f} crossed below signal {s[i]:.2f}",
        )
