"""The bundled real data as a provider: what the store was seeded with, nothing newer.

The series are already in the store (datasets `daily` and `daily-ohlcv`), so `dataset` is None:
`update_store` has nothing to write for them. The provider exists so that a chain such as
`DATA_PROVIDERS=alpaca,bundled` still answers for the bundled symbols when the vendor is down,
and so that the default configuration (`bundled`) behaves like any other. It can never be fresher
than the bundle: asked for sessions after the bundle ends, it has no rows.

A symbol present in both bundled datasets (AAPL, MSFT) is answered from the one whose rows in
the range end latest; on a tie, the OHLCV bars (adjusted here with their `adj_close`) win over
the close-only series. Bundled rows on days that are not XNYS sessions (the T-bill index has a
few bond-market days) are left out, as the provider contract asks for sessions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from alphatrader.data import bundle
from alphatrader.data.calendar import sessions
from alphatrader.data.market import adjusted
from alphatrader.data.providers.base import (
    COLUMNS,
    check_range,
    finish,
    session_index,
    validate_bars,
)
from alphatrader.data.store import MarketDataStore, validate_symbol
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import AlphaTraderError, DataError


class BundledProvider:
    name = "bundled"
    dataset: str | None = None

    def __init__(self, store: MarketDataStore) -> None:
        self._store = store
        self._catalog: dict[str, list[Instrument]] | None = None

    def _instruments(self, symbol: str) -> list[Instrument]:
        if self._catalog is None:
            found: dict[str, list[Instrument]] = {}
            for inst in bundle.catalog():
                found.setdefault(inst.symbol, []).append(inst)
            self._catalog = found
        return self._catalog.get(symbol, [])

    def instrument(self, symbol: str, fields: frozenset[str]) -> Instrument:
        candidates = self._instruments(validate_symbol(symbol))
        for inst in candidates:
            if inst.fields == fields:
                return inst
        if not candidates:
            raise DataError(f"bundled: no bundled series for {symbol}")
        return candidates[0]

    def fetch_daily(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[str, pd.DataFrame]:
        check_range(start, end)
        self._store.ensure_seeded()
        frames: dict[str, pd.DataFrame] = {}
        errors: dict[str, AlphaTraderError] = {}
        for raw in symbols:
            symbol = validate_symbol(raw)
            try:
                frame = self._best(symbol, start, end)
            except AlphaTraderError as exc:
                errors[symbol] = exc
                continue
            if frame is not None:
                frames[symbol] = frame
        return finish(self.name, frames, errors)

    def _best(self, symbol: str, start: date, end: date) -> pd.DataFrame | None:
        best: tuple[pd.Timestamp, int, pd.DataFrame] | None = None
        for inst in self._instruments(symbol):
            stored = self._store.read(inst, pd.Timestamp(start), pd.Timestamp(end))
            frame = adjusted(stored)
            frame = frame[[c for c in COLUMNS if c in frame.columns]]
            frame = frame[frame.index.isin(sessions(start, end))]
            if frame.empty:
                continue
            frame.index = session_index(frame.index)
            key = (frame.index[-1], len(frame.columns))
            if best is None or key > best[:2]:
                best = (*key, frame)
        if best is None:
            return None
        return validate_bars(self.name, symbol, best[2], start, end)
