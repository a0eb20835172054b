"""Mean reversion: buy a close below the lower Bollinger band when RSI confirms it is
oversold; sell when the close gets back to the middle band.

Rule: entry when close < lower band (SMA `period` − `num_std` population std) and
RSI(`rsi_period`) < `rsi_oversold`, while flat; exit at the first close at or above the middle
band after an entry (the bar the close crosses up through it). Signals alternate: an entry is
taken only while flat and an exit only while long (see `rules.alternate`).
Stop loss: entry close − `stop_std` × the band's rolling standard deviation.
Confidence: entries 0.5 + 0.25 × depth + 0.25 × oversold, where depth is how far the close is
below the lower band in standard deviations (1 std or more counts fully) and oversold is how
far RSI is below the threshold (half the threshold below it counts fully: RSI 15 for 30).
Exits 0.5 + 0.5 × how far the close is above the middle band, in std (1 std counts fully).
Instruments: any symbol with a close (close-only series included).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from alphatrader.indicators import bollinger, rsi
from alphatrader.strategies.base import Strategy, make_signals
from alphatrader.strategies.rules import alternate


class MeanReversion(Strategy):
    name = "mean_reversion"
    summary = "Bollinger(20, 2) lower-band buy with RSI(14) < 30 confirmation, sell at the mean"

    period: int = Field(20, ge=2)
    num_std: float = Field(2.0, gt=0)
    rsi_period: int = Field(14, ge=2)
    rsi_oversold: float = Field(30.0, gt=0, lt=100)
    stop_std: float = Field(2.0, gt=0)

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        close = bars["close"]
        upper, middle, lower = bollinger(close, self.period, self.num_std)
        strength = rsi(close, self.rsi_period)
        std = (upper - middle) / self.num_std
        entries, exits = alternate(
            (close < lower) & (strength < self.rsi_oversold), close >= middle
        )
        depth = ((lower - close) / std).clip(0.0, 1.0)
        oversold = ((self.rsi_oversold - strength) / (self.rsi_oversold / 2)).clip(0.0, 1.0)
        above = ((close - middle) / std).clip(0.0, 1.0)
        confidence = pd.Series(
            np.where(entries, 0.5 + 0.25 * depth + 0.25 * oversold, 0.5 + 0.5 * above),
            index=close.index,
        )
        c, lo, mid, r = close.to_numpy(), lower.to_numpy(), middle.to_numpy(), strength.to_numpy()
        return make_signals(
            pd.DatetimeIndex(bars.index),
            close,
            entries,
            exits,
            confidence,
            lambda i: f"close {c[i]:.2f} below lower band {lo[i]:.2f}, RSI {r[i]:.1f}",
            lambda i: f"close {c[i]:.2f} back at or above middle band {mid[i]:.2f}",
            stop_loss=close - self.stop_std * std,
        )
