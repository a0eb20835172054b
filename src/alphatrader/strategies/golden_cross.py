"""Golden cross: buy when the 50-day SMA crosses above the 200-day SMA, sell on the cross below.

Rule: a cross is a change in the sign of fast − slow; a zero difference keeps the previous sign
(the rule backtrader and vectorbt use), so a tie is never a cross by itself.
Confidence: 0.5 plus the gap between the averages relative to price, scaled so that a 2% gap
gives full confidence — a cross that opens decisively is trusted more than a grazing one.
Instruments: any symbol with a close (close-only series included).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphatrader.indicators import crossings, sma
from alphatrader.strategies.base import Strategy, make_signals


class GoldenCross(Strategy):
    name = "golden_cross"
    summary = "SMA fast/slow crossover (50/200): long above, flat below"

    fast: int = 50
    slow: int = 200

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        close = bars["close"]
        fast, slow = sma(close, self.fast), sma(close, self.slow)
        up, down = crossings(fast - slow)
        gap = ((fast - slow) / close).abs()
        confidence = (0.5 + np.clip(gap / 0.02, 0.0, 1.0) * 0.5).fillna(0.5)
        f, s = fast.to_numpy(), slow.to_numpy()
        return make_signals(
            pd.DatetimeIndex(bars.index),
            close,
            up,
            down,
            confidence,
            lambda i: f"SMA{self.fast} {f[i]:.2f} crossed above SMA{self.slow} {s[i]:.2f}",
            lambda i: f"SMA{self.fast} {f[i]:.2f} crossed below SMA{self.slow} {s[i]:.2f}",
        )
