"""Load bars ready for strategies and the backtest: adjusted, validated, one frame per symbol."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from alphatrader.data.store import MarketDataStore
from alphatrader.domain.instrument import Instrument


@dataclass(frozen=True, slots=True)
class Series:
    """One instrument's bars. Columns are a subset of open/high/low/close/volume (float64);
    a close-only series has just `close`."""

    instrument: Instrument
    bars: pd.DataFrame

    @property
    def symbol(self) -> str:
        return self.instrument.symbol


def adjusted(frame: pd.DataFrame) -> pd.DataFrame:
    """Apply the split/dividend adjustment that `adj_close` carries to open/high/low/close.

    Volume is divided by the same factor, so that dollar volume is preserved across splits.
    """
    if "adj_close" not in frame.columns:
        return frame
    factor = frame["adj_close"] / frame["close"]
    out = frame.drop(columns="adj_close").copy()
    for col in ("open", "high", "low", "close"):
        if col in out.columns:
            out[col] = out[col] * factor
    if "volume" in out.columns:
        out["volume"] = out["volume"] / factor
    return out


def load_series(
    store: MarketDataStore,
    symbol: str,
    require: frozenset[str] = frozenset({"close"}),
    dataset: str | None = None,
) -> Series:
    instrument = store.resolve(symbol, require=require, dataset=dataset)
    frame = adjusted(store.read(instrument))
    cols = [c for c in ("open", "high", "low", "close", "volume") if c in frame.columns]
    return Series(instrument, frame[cols].astype("float64"))
