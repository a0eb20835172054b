"""EMA crossover with volume confirmation: buy when the fast EMA crosses above the slow EMA on
above-average volume, sell when it crosses back below.

Rule: entry on the up-cross of EMA(`fast`) over EMA(`slow`) when volume > SMA(volume,
`volume_period`) × `volume_factor`, while flat; exit on the down-cross (no volume condition),
while long. Crosses follow `indicators.crossings` (a tie is never a cross by itself).
Confidence: entries 0.5 + 0.25 × gap + 0.25 × surge, where gap is the EMA gap relative to price
(0.5% counts fully) and surge is how far volume exceeds its threshold (twice the threshold
counts fully); exits 0.5 + 0.5 × gap.
Instruments: symbols with volume only (the OHLCV datasets: AAPL, MSFT, IBM, GOOG, FB);
a close-only series is refused because `requires` names volume.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from alphatrader.indicators import crossings, ema, sma
from alphatrader.strategies.base import Strategy, make_signals
from alphatrader.strategies.rules import alternate


class EmaCrossover(Strategy):
    name = "ema_crossover"
    summary = "EMA 9/21 crossover, entries confirmed by volume above its 20-day average"
    requires = frozenset({"close", "volume"})

    fast: int = Field(9, ge=2)
    slow: int = Field(21, ge=3)
    volume_period: int = Field(20, ge=2)
    volume_factor: float = Field(1.0, gt=0)

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        close, volume = bars["close"], bars["volume"]
        fast, slow = ema(close, self.fast), ema(close, self.slow)
        threshold = sma(volume, self.volume_period) * self.volume_factor
        up, down = crossings(fast - slow)
        entries, exits = alternate(up & (volume > threshold), down)
        gap = ((fast - slow).abs() / close / 0.005).clip(0.0, 1.0)
        surge = (volume / threshold - 1.0).clip(0.0, 1.0)
        confidence = pd.Series(
            np.where(entries, 0.5 + 0.25 * gap + 0.25 * surge, 0.5 + 0.5 * gap), index=close.index
        )
        f, s = fast.to_numpy(), slow.to_numpy()
        v, t = volume.to_numpy(), threshold.to_numpy()
        return make_signals(
            pd.DatetimeIndex(bars.index),
            close,
            entries,
            exits,
            confidence,
            lambda i: (
                f"EMA{self.fast} {f[i]:.2f} crossed above EMA{self.slow} {s[i]:.2f} "
                f"on volume {v[i]:,.0f} > threshold {t[i]:,.0f}"
            ),
            lambda i: f"EMA{self.fast} {f[i]:.2f} crossed below EMA{self.slow} {s[i]:.2f}",
        )
