"""Sector rotation: each month hold the sector ETFs with the strongest recent momentum.

Rule: score = the average of the `short` (63 ≈ 3 months) and `long` (126 ≈ 6 months) bar
returns. On the last session of each month (XNYS calendar) the `top_n` best scores are held
(ties go to the earlier symbol in `instruments`); an entry is emitted for each name entering
the top N and an exit for each name leaving it (the first decision emits entries only). Only
dates where all five ETFs have a close are used (an inner join).
Confidence: 0.5 + 0.5 × spread / 5 percentage points (capped at 1), where spread is the score
gap to the cut-off: for an entry, its score above the best name left out; for an exit, its
score below the weakest name held.
Instruments: XLB, XLE, XLF, XLK and XLU — the only Select Sector SPDRs in the bundled data
(materials, energy, financials, technology, utilities); the rotation is among these five only.
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

SECTORS = ("XLB", "XLE", "XLF", "XLK", "XLU")
FULL_SPREAD = 0.05


class SectorRotation(Strategy):
    name = "sector_rotation"
    summary = "Monthly: hold the 2 of 5 sector ETFs with the best 3- and 6-month momentum"
    instruments = SECTORS

    short: int = Field(63, ge=1)
    long: int = Field(126, ge=1)
    top_n: int = Field(2, ge=1, le=len(SECTORS) - 1)

    def generate(self, universe: Mapping[str, Series]) -> dict[str, pd.DataFrame]:
        closes = aligned_closes(self.name, universe, SECTORS)
        short = closes.apply(lambda col: roc(col, self.short))
        long = closes.apply(lambda col: roc(col, self.long))
        score = (short + long) / 2
        decide = month_ends(pd.DatetimeIndex(closes.index)) & score.notna().all(axis=1)
        score, short, long = score[decide], short[decide], long[decide]
        # Rank 1 = best; a stable sort of the negated scores gives ties to the earlier symbol.
        order = np.argsort(-score.to_numpy(), axis=1, kind="stable")
        rank = pd.DataFrame(np.argsort(order, axis=1) + 1, score.index, SECTORS)
        held = rank <= self.top_n
        was = held.shift(1, fill_value=False)
        ranked = np.take_along_axis(score.to_numpy(), order, axis=1)
        weakest_in, best_out = ranked[:, self.top_n - 1], ranked[:, self.top_n]

        def signals_for(symbol: str) -> pd.DataFrame:
            entries, exits = held[symbol] & ~was[symbol], was[symbol] & ~held[symbol]
            if not (entries | exits).any():
                return empty_signals()
            s = score[symbol].to_numpy()
            spread = np.where(entries, s - best_out, weakest_in - s)
            confidence = pd.Series(0.5 + 0.5 * np.clip(spread / FULL_SPREAD, 0, 1), score.index)
            r, s3, s6 = rank[symbol].to_numpy(), short[symbol].to_numpy(), long[symbol].to_numpy()

            def why(i: int, verb: str) -> str:
                return (
                    f"score {s[i]:.1%} ({self.short}-day {s3[i]:.1%}, {self.long}-day "
                    f"{s6[i]:.1%}) ranks {r[i]} of {len(SECTORS)}: {verb} top {self.top_n}"
                )

            frame = make_signals(
                pd.DatetimeIndex(score.index),
                closes.loc[score.index, symbol],
                entries,
                exits,
                confidence,
                lambda i: why(i, "enters"),
                lambda i: why(i, "leaves"),
            )
            return check_signals(self.name, symbol, frame)

        return {symbol: signals_for(symbol) for symbol in SECTORS}
