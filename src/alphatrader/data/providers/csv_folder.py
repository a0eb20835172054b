"""Daily bars dropped as CSV files into a folder: `{CSV_DROP_DIR}/{SYMBOL}.csv`.

Each file goes through `csv_import.parse_csv`, so the format and its rules are the CSV import's
(header names, plain decimals, `low <= open, close <= high`, unique dates) and a file is used
all-or-nothing: one bad row and none of it is used, the `DataValidationError` (with line numbers)
is what the caller sees. Prices are taken as provided (`adjustment="as provided"`). A file with
rows on days that are not XNYS sessions is refused too (the provider contract is sessions only).

A symbol without a file is absent from the answer; `update_store` then tries the next provider.
The series are stored in the dataset `csv`, kept apart from `alphatrader data import` (`user`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from alphatrader.data.csv_import import parse_csv
from alphatrader.data.providers.base import check_range, finish, session_index, validate_bars
from alphatrader.data.store import validate_symbol
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import AlphaTraderError

DATASET = "csv"


class CsvFolderProvider:
    name = "csv"
    dataset: str | None = DATASET

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path_for(self, symbol: str) -> Path:
        return self.folder / f"{validate_symbol(symbol)}.csv"

    def instrument(self, symbol: str, fields: frozenset[str]) -> Instrument:
        return Instrument(
            symbol=validate_symbol(symbol),
            dataset=DATASET,
            asset_class="user",
            fields=fields,
            source=f"csv:{self.path_for(symbol).name}",
            adjustment="as provided",
            tradable=True,
        )

    def fetch_daily(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[str, pd.DataFrame]:
        check_range(start, end)
        frames: dict[str, pd.DataFrame] = {}
        errors: dict[str, AlphaTraderError] = {}
        for raw in symbols:
            symbol = validate_symbol(raw)
            path = self.path_for(symbol)
            if not path.is_file():
                continue
            try:
                _fields, rows = parse_csv(path)
                rows.index = session_index(rows.index)
                rows = rows[(rows.index >= pd.Timestamp(start)) & (rows.index <= pd.Timestamp(end))]
                if rows.empty:
                    continue
                frames[symbol] = validate_bars(f"{self.name} ({path})", symbol, rows, start, end)
            except AlphaTraderError as exc:
                errors[symbol] = exc
        return finish(self.name, frames, errors)
