"""Trend following: a Donchian channel breakout taken only above the 200-day SMA, with an
ATR stop.

Rule: entry when close > SMA(`trend_period`) and close > the highest high of the previous
`channel` bars, while flat; exit when close < the lowest low of the previous `exit_channel`
bars, while long. The channels exclude the current bar (no look-ahead).
Stop loss: entry close − `atr_mult` × ATR(`atr_period`); take profit: entry close +
`take_profit_atr` × ATR when that parameter is set.
Confidence: 0.5 + 0.5 × how far the close is beyond the channel it broke, in ATRs (one ATR
counts fully), for entries and exits alike.
Instruments: any symbol with a close. With OHLC bars the channels use highs and lows and ATR
uses the true range; on a close-only series highs and lows are the close, so the channels are
close channels and ATR is the average absolute close-to-close change (an intraday range is
missing, so stops sit somewhat tighter than with OHLC bars).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from alphatrader.indicators import atr, sma
from alphatrader.strategies.base import Strategy, make_signals
from alphatrader.strategies.rules import alternate


class TrendFollowing(Strategy):
    name = "trend_following"
    summary = "55-day Donchian breakout above the 200-day SMA, 20-day low exit, 2×ATR stop"

    trend_period: int = Field(200, ge=2)
    channel: int = Field(55, ge=1)
    exit_channel: int = Field(20, ge=1)
    atr_period: int = Field(14, ge=1)
    atr_mult: float = Field(2.0, gt=0)
    take_profit_atr: float | None = Field(None, gt=0)

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        close = bars["close"]
        high = bars["high"] if "high" in bars.columns else close
        low = bars["low"] if "low" in bars.columns else close
        trend = sma(close, self.trend_period)
        upper = high.rolling(self.channel).max().shift(1)
        lower = low.rolling(self.exit_channel).min().shift(1)
        range_ = atr(high, low, close, self.atr_period)
        entries, exits = alternate((close > trend) & (close > upper), close < lower)
        beyond = np.where(entries, close - upper, lower - close) / range_
        confidence = pd.Series(0.5 + 0.5 * beyond.clip(0.0, 1.0), index=close.index)
        take_profit = None
        if self.take_profit_atr is not None:
            take_profit = close + self.take_profit_atr * range_
        c, u, lo, t = close.to_numpy(), upper.to_numpy(), lower.to_numpy(), trend.to_numpy()
        a = range_.to_numpy()
        return make_signals(
            pd.DatetimeIndex(bars.index),
            close,
            entries,
            exits,
            confidence,
            lambda i: (
                f"close {c[i]:.2f} broke above {self.channel}-bar high {u[i]:.2f}, "
                f"above SMA{self.trend_period} {t[i]:.2f}; ATR{self.atr_period} {a[i]:.2f}"
            ),
            lambda i: f"close {c[i]:.2f} broke below {self.exit_channel}-bar low {lo[i]:.2f}",
            stop_loss=close - self.atr_mult * range_,
            take_profit=take_profit,
        )
