"""Dual momentum (Antonacci): hold the stronger of US and international stocks while it beats
cash, otherwise hold bonds; decided once a month.

Rule: on the last session of each month (XNYS calendar), compare the `lookback`-bar (252 ≈ 12
months) returns of SPY and EFA (relative momentum; a tie goes to SPY). If the winner's return
beats that of TBILL3M_TR over the same bars (absolute momentum) hold the winner, else hold BND.
When the choice changes, emit an exit for the asset held and an entry for the new one; the
first decision emits just an entry. Only dates where all four series have a close are used
(an inner join), so a month whose last session is missing from any of them is not decided.
Confidence: 0.5 + 0.5 × margin / 10 percentage points (capped at 1), where margin is how
decisively the choice was made: holding stocks, the winner's lead over its closest rival (the
larger of the loser's and cash's returns); holding bonds, cash's lead over the better stock
return. The exit of a switch carries the confidence of the decision that caused it.
Instruments: SPY (US stocks), EFA (developed ex-US stocks), BND standing in for AGG (US
aggregate bonds; AGG is not in the bundled data) and TBILL3M_TR (3-month T-bill total return
index, a signal only, never traded).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from pydantic import Field

from alphatrader.data.market import Series
from alphatrader.indicators import roc
from alphatrader.strategies.base import Strategy, check_signals, empty_signals, make_signals
from alphatrader.strategies.rules import aligned_closes, month_ends

US, INTL, BONDS, CASH = "SPY", "EFA", "BND", "TBILL3M_TR"
FULL_MARGIN = 0.10


class DualMomentum(Strategy):
    name = "dual_momentum"
    summary = "Monthly: the stronger of SPY/EFA over 12 months if it beats T-bills, else BND"
    instruments = (US, INTL, BONDS, CASH)

    lookback: int = Field(252, ge=1)

    def generate(self, universe: Mapping[str, Series]) -> dict[str, pd.DataFrame]:
        closes = aligned_closes(self.name, universe, self.instruments or ())
        ret = closes.apply(lambda col: roc(col, self.lookback))
        decide = month_ends(pd.DatetimeIndex(closes.index)) & ret.notna().all(axis=1)
        ret = ret[decide]
        winner = np.where(ret[US] >= ret[INTL], US, INTL)
        best = ret[[US, INTL]].max(axis=1)
        worst = ret[[US, INTL]].min(axis=1)
        stocks = best > ret[CASH]
        choice = pd.Series(np.where(stocks, winner, BONDS), index=ret.index)
        margin = np.where(stocks, best - np.maximum(worst, ret[CASH]), ret[CASH] - best)
        confidence = pd.Series(0.5 + 0.5 * np.clip(margin / FULL_MARGIN, 0.0, 1.0), ret.index)
        before = choice.shift(1)
        switched = choice != before

        def why(i: int) -> str:
            r = ret.iloc[i]
            return (
                f"{self.lookback}-day returns SPY {r[US]:.1%}, EFA {r[INTL]:.1%}, "
                f"T-bills {r[CASH]:.1%}: hold {choice.iloc[i]}"
            )

        def why_exit(i: int) -> str:
            return f"switch from {before.iloc[i]} to {choice.iloc[i]}; " + why(i)

        out: dict[str, pd.DataFrame] = {}
        for symbol in (US, INTL, BONDS):
            entries = switched & (choice == symbol)
            exits = switched & (before == symbol)
            frame = (
                make_signals(
                    pd.DatetimeIndex(ret.index),
                    closes.loc[ret.index, symbol],
                    entries,
                    exits,
                    confidence,
                    why,
                    why_exit,
                )
                if (entries | exits).any()
                else empty_signals()
            )
            out[symbol] = check_signals(self.name, symbol, frame)
        return out
