"""`MarketDataStore`: Parquet files, one per dataset and symbol, seeded from the bundle.

Layout: `{root}/{dataset}/{SYMBOL}.parquet`. A dataset names a timeframe and a source family
(`daily`, `daily-ohlcv`, `user`); the same ticker may exist in several datasets (AAPL is both an
adjusted close series in `daily` and raw bars in `daily-ohlcv`), and they are never mixed.
Each file carries its `Instrument` in the Parquet metadata. Writes are atomic (temp file +
rename) and upserts are idempotent: writing the same rows twice changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alphatrader.data import bundle
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import DataError, InputError, UnknownNameError

SEED_MARKER = ".seeded-v1"
USER = "user"
# Datasets that `alphatrader.data.providers.update_store` writes, one per provider.
FETCHED = ("alpaca", "alphavantage", "csv")
# Which dataset answers a bare symbol: the user's own import first; otherwise, of the datasets
# that have the fields required, the one whose series ends latest (a fallback provider may be a
# session ahead of the usual one, and fetched data is fresher than the bundle), ties broken in
# this order.
RESOLUTION_ORDER = (USER, *FETCHED, bundle.DAILY, bundle.DAILY_OHLCV)
_SYMBOL = re.compile(r"^\^?[A-Z0-9][A-Z0-9._\-]{0,19}$")
_META_KEY = b"alphatrader.instrument"


def validate_symbol(symbol: str) -> str:
    cleaned = symbol.strip().upper()
    if not _SYMBOL.match(cleaned):
        raise InputError(
            f"invalid symbol {symbol!r}: use letters, digits, '.', '_' or '-' "
            "(an index may start with '^'), at most 20 characters"
        )
    return cleaned


class MarketDataStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- seeding --------------------------------------------------------------------------
    def ensure_seeded(self) -> None:
        """Write the bundled series on first use; a no-op once the marker exists."""
        if (self.root / SEED_MARKER).exists():
            return
        for instrument, bars in bundle.series():
            self.upsert(instrument, bars)
        (self.root / SEED_MARKER).write_text("bundled data seeded\n")

    # -- metadata -------------------------------------------------------------------------
    def instruments(self, dataset: str | None = None) -> list[Instrument]:
        self.ensure_seeded()
        found = []
        datasets = (
            [dataset] if dataset else sorted(p.name for p in self.root.iterdir() if p.is_dir())
        )
        for name in datasets:
            for path in sorted((self.root / name).glob("*.parquet")):
                found.append(_read_instrument(path))
        return found

    def resolve(
        self, symbol: str, require: Iterable[str] = (), dataset: str | None = None
    ) -> Instrument:
        """The instrument a bare symbol means: the first dataset in `RESOLUTION_ORDER` that has
        it with the fields required; a clear error when it exists but lacks them."""
        self.ensure_seeded()
        symbol = validate_symbol(symbol)
        needed = frozenset(require)
        order = [dataset] if dataset else [*RESOLUTION_ORDER, *self._other_datasets()]
        candidates = [
            _read_instrument(self._path(name, symbol))
            for name in order
            if self._path(name, symbol).exists()
        ]
        if not candidates:
            known = {i.symbol for i in self.instruments()}
            raise UnknownNameError("symbol", symbol, known, hint="; see `alphatrader data list`")
        usable = [inst for inst in candidates if needed <= inst.fields]
        if usable:
            if usable[0].dataset == USER or len(usable) == 1:
                return usable[0]
            return max(usable, key=self._last_date)  # the first of equals: order breaks ties
        missing = ", ".join(sorted(needed - candidates[0].fields))
        raise InputError(
            f"{symbol} has no {missing} data (it is a close-only series in "
            f"{candidates[0].dataset}); choose a symbol with OHLCV bars "
            "(see `alphatrader data list`)"
        )

    def _last_date(self, instrument: Instrument) -> pd.Timestamp:
        table = pq.read_table(self._path(instrument.dataset, instrument.symbol), columns=["date"])
        last = pd.Timestamp(table.column("date").to_pandas().max())
        return last if pd.notna(last) else pd.Timestamp.min

    def _other_datasets(self) -> list[str]:
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and p.name not in RESOLUTION_ORDER
        )

    # -- reading --------------------------------------------------------------------------
    def read(
        self,
        instrument: Instrument,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """The stored columns, indexed by session date, within [start, end]."""
        path = self._path(instrument.dataset, instrument.symbol)
        if not path.exists():
            raise DataError(f"no stored data for {instrument.symbol} in {instrument.dataset}")
        filters = []
        if start is not None:
            filters.append(("date", ">=", pd.Timestamp(start)))
        if end is not None:
            filters.append(("date", "<=", pd.Timestamp(end)))
        table = pq.read_table(path, filters=filters or None)
        frame: pd.DataFrame = table.to_pandas().set_index("date")
        # One time unit everywhere: the engine works on int64 nanoseconds.
        frame.index = pd.DatetimeIndex(frame.index, name="date").as_unit("ns")
        return frame

    # -- writing --------------------------------------------------------------------------
    def upsert(self, instrument: Instrument, rows: pd.DataFrame) -> int:
        """Insert or replace rows by date; returns how many dates were new or changed."""
        symbol = validate_symbol(instrument.symbol)
        path = self._path(instrument.dataset, symbol)
        rows = rows.sort_index()
        if path.exists():
            current = self.read(_read_instrument(path))
            merged = rows.combine_first(current) if not current.empty else rows
            merged.update(rows)
            changed = _count_changed(current, rows)
            if changed == 0:
                return 0
        else:
            merged, changed = rows, len(rows)
        self._write_atomic(path, instrument, merged.sort_index())
        return changed

    def _write_atomic(self, path: Path, instrument: Instrument, frame: pd.DataFrame) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(frame.reset_index(), preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[_META_KEY] = json.dumps(_instrument_json(instrument)).encode()
        table = table.replace_schema_metadata(meta)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _path(self, dataset: str, symbol: str) -> Path:
        return self.root / dataset / f"{symbol}.parquet"


def _count_changed(current: pd.DataFrame, rows: pd.DataFrame) -> int:
    new_dates = rows.index.difference(current.index)
    common = rows.index.intersection(current.index)
    cols = [c for c in rows.columns if c in current.columns]
    before = current.loc[common, cols]
    after = rows.loc[common, cols]
    differs = ~((before == after) | (before.isna() & after.isna())).all(axis=1)
    return len(new_dates) + int(differs.sum())


def _instrument_json(inst: Instrument) -> dict[str, object]:
    data = asdict(inst)
    data["fields"] = sorted(inst.fields)
    return data


def _read_instrument(path: Path) -> Instrument:
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(_META_KEY)
    if raw is None:
        raise DataError(f"{path} has no instrument metadata; re-import it")
    data = json.loads(raw)
    data["fields"] = frozenset(data["fields"])
    return Instrument(**data)
