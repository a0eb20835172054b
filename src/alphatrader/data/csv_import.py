"""Import a user's daily bars from a CSV file: every row checked, every problem reported with its
line number, nothing written unless the whole file is valid.

The accepted format (the decisions, so that users and tests can rely on them):

* UTF-8 text, with or without a byte-order mark; any other encoding is rejected, because guessing
  an encoding could silently turn prices into different numbers.
* The first non-blank line is a header. Names are case-insensitive and may come in any order:
  `Date` and `Close` are required, `Open`, `High` and `Low` come all three or not at all, `Volume`
  is optional. Any other column is an error, so that a typo is never silently dropped.
* `Adj Close` is accepted and ignored: the usual vendor download has it, and prices are stored as
  provided (`adjustment="as provided"`). Splits the file has not adjusted for are what
  `alphatrader data check` reports, so the user finds out instead of trading on them.
* Dates are `YYYY-MM-DD` and unique. Rows may come in any order and are stored sorted; a
  duplicate date is an error (which of the two rows is right is the user's call, not ours).
  Dates that are not exchange sessions are accepted here and reported by the quality check.
* Prices are plain decimal numbers, finite and > 0; volume is finite and >= 0;
  `low <= open, close <= high`. Blank lines are skipped.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from alphatrader.data import bundle
from alphatrader.data.store import USER, MarketDataStore, validate_symbol
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import DataValidationError, InputError

EXPECTED_HEADER = "Date,Open,High,Low,Close[,Volume] or Date,Close"
PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMN_ORDER = (*PRICE_COLUMNS, "volume")
IGNORED_COLUMNS = frozenset({"adj_close"})
_ALIASES = {"adjclose": "adj_close", "adjusted_close": "adj_close"}
_KNOWN = frozenset({"date", *COLUMN_ORDER}) | IGNORED_COLUMNS
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Python's float() also takes "nan", "inf", "1_000" and " 1 "; a price file should not.
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATASET = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_BUNDLED = frozenset({bundle.DAILY, bundle.DAILY_OHLCV})


@dataclass(frozen=True, slots=True)
class _Header:
    line: int
    names: tuple[str, ...]  # the normalized name of each position ("adj_close" included)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c for c in COLUMN_ORDER if c in self.names)


def parse_csv(path: Path) -> tuple[frozenset[str], pd.DataFrame]:
    """The fields and the validated rows (float64, indexed by a sorted DatetimeIndex `date`).

    Raises `DataValidationError` listing every problem found, with 1-based line numbers."""
    path = Path(path)
    rows, problems = _rows(_decode(path))
    if not problems and not rows:
        problems = [f"line 1: the file is empty; expected a header {EXPECTED_HEADER}"]
    if problems:
        raise DataValidationError(str(path), problems)
    header = _parse_header(*rows[0])
    if isinstance(header, list):
        raise DataValidationError(str(path), header)
    if len(rows) == 1:
        raise DataValidationError(
            str(path), [f"line {header.line}: header only, no data rows follow it"]
        )
    dates: dict[date, int] = {}
    values: list[list[float]] = []
    for line, cells in rows[1:]:
        parsed = _parse_row(line, cells, header, dates, problems)
        if parsed is not None:
            values.append(parsed)
    if problems:
        raise DataValidationError(str(path), problems)
    return frozenset(header.fields), _frame(list(dates), values, header.fields)


def ignored_columns(path: Path) -> list[str]:
    """Header names in the file that are accepted but not stored (`Adj Close`)."""
    rows, problems = _rows(_decode(Path(path)))
    if problems or not rows:
        return []
    return [cell.strip() for cell in rows[0][1] if _normalize(cell) in IGNORED_COLUMNS]


def import_csv(
    store: MarketDataStore, path: Path, symbol: str | None = None, dataset: str = USER
) -> tuple[Instrument, int]:
    """Validate the whole file, then upsert it atomically; returns the instrument and how many
    dates were new or changed (0 when the same file is imported twice)."""
    path = Path(path)
    symbol = _symbol_for(path, symbol)
    dataset = _check_dataset(dataset)
    fields, frame = parse_csv(path)
    instrument = Instrument(
        symbol=symbol,
        dataset=dataset,
        asset_class="user",
        fields=fields,
        source=f"csv:{path.name}",
        adjustment="as provided",
        tradable=True,
    )
    _check_compatible(store, instrument)
    return instrument, store.upsert(instrument, frame)


# -- reading the file ---------------------------------------------------------------------------
def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a CSV file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")  # strips a BOM if there is one
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        problem = f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
        raise DataValidationError(str(path), [problem]) from None


def _rows(text: str) -> tuple[list[tuple[int, list[str]]], list[str]]:
    """Non-blank rows with the line they end on; a CSV syntax error stops the reading."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        return rows, [f"line {reader.line_num}: not valid CSV ({exc})"]
    return rows, []


# -- the header ---------------------------------------------------------------------------------
def _normalize(name: str) -> str:
    key = re.sub(r"[\s_]+", "_", name.strip().lower())
    return _ALIASES.get(key, key)


def _parse_header(line: int, cells: list[str]) -> _Header | list[str]:
    """The header, or its problems as one line (the file cannot be read without it)."""
    if _DATE.match(cells[0].strip()):
        return [f"line {line}: no header; the first line must name the columns: {EXPECTED_HEADER}"]
    names = tuple(_normalize(c) for c in cells)
    found = [
        f"unknown column {cell.strip()!r}"
        for cell, name in zip(cells, names, strict=True)
        if name not in _KNOWN
    ]
    found += [
        f"column {n!r} appears twice" for n in sorted({n for n in names if names.count(n) > 1})
    ]
    found += [f"no {need!r} column" for need in ("date", "close") if need not in names]
    ohlc = [c for c in ("open", "high", "low") if c in names]
    if ohlc and len(ohlc) < 3:
        missing = " and ".join(c for c in ("open", "high", "low") if c not in ohlc)
        found.append(f"open, high and low come together (missing {missing})")
    if found:
        return [f"line {line}: {'; '.join(found)}; expected {EXPECTED_HEADER}"]
    return _Header(line, names)


# -- one data row -------------------------------------------------------------------------------
def _parse_row(
    line: int, cells: list[str], header: _Header, dates: dict[date, int], problems: list[str]
) -> list[float] | None:
    """The row's values in `header.fields` order, or None after appending its problems (one
    line per bad row, so that the error's "N bad row(s)" counts rows)."""
    if len(cells) != len(header.names):
        problems.append(f"line {line}: expected {len(header.names)} values, found {len(cells)}")
        return None
    cell = dict(zip(header.names, (c.strip() for c in cells), strict=True))
    found: list[str] = []
    day = _parse_date(cell["date"], found)
    values = {name: _parse_number(name, cell[name], found) for name in header.fields}
    if day is not None and day in dates:
        found.append(f"duplicate date {day.isoformat()} (first on line {dates[day]})")
    if not found:
        _check_bar(values, found)
    if found or day is None:
        problems.append(f"line {line}: {'; '.join(found)}")
        return None
    dates[day] = line
    return [values[name] for name in header.fields]


def _parse_date(text: str, found: list[str]) -> date | None:
    try:
        if _DATE.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    found.append(f"date {text!r} is not a valid YYYY-MM-DD date")
    return None


def _parse_number(name: str, text: str, found: list[str]) -> float:
    if not text:
        found.append(f"{name} is empty")
        return math.nan
    value = float(text) if _NUMBER.match(text) else math.nan
    if not math.isfinite(value):
        found.append(f"{name} {text!r} is not a finite number")
    elif name == "volume" and value < 0:
        found.append(f"volume {text} is negative")
    elif name != "volume" and value <= 0:
        found.append(f"{name} {text} is not a positive price")
    return value


def _check_bar(v: dict[str, float], found: list[str]) -> None:
    if "high" not in v:
        return
    if v["high"] < v["low"]:
        found.append(f"high {v['high']:g} is below low {v['low']:g}")
        return
    for name in ("open", "close"):
        if not v["low"] <= v[name] <= v["high"]:
            found.append(f"{name} {v[name]:g} is outside [low {v['low']:g}, high {v['high']:g}]")


def _frame(dates: list[date], values: list[list[float]], fields: tuple[str, ...]) -> pd.DataFrame:
    # Microsecond resolution, like the bundled series, so that indexes align without casting.
    index = pd.DatetimeIndex(pd.to_datetime(dates), name="date").as_unit("us")
    frame = pd.DataFrame(values, index=index, columns=list(fields), dtype="float64")
    return frame.sort_index()


# -- where it goes ------------------------------------------------------------------------------
def _symbol_for(path: Path, symbol: str | None) -> str:
    if symbol is not None:
        return validate_symbol(symbol)
    try:
        return validate_symbol(path.stem)
    except InputError as exc:
        raise InputError(f"{exc}; the file name is not a symbol, pass --symbol") from None


def _check_dataset(dataset: str) -> str:
    if not _DATASET.match(dataset):
        raise InputError(f"invalid dataset {dataset!r}: use lowercase letters, digits, '-' or '_'")
    if dataset in _BUNDLED:
        raise InputError(
            f"dataset {dataset!r} holds the bundled data; import into {USER!r} "
            "or a dataset of your own"
        )
    return dataset


def _check_compatible(store: MarketDataStore, instrument: Instrument) -> None:
    """Refuse to merge a close-only file into OHLCV bars (or back): rows would lose columns."""
    for existing in store.instruments(instrument.dataset):
        if existing.symbol == instrument.symbol and existing.fields != instrument.fields:
            raise InputError(
                f"{instrument.dataset}/{instrument.symbol} already holds "
                f"{', '.join(sorted(existing.fields))}; this file has "
                f"{', '.join(sorted(instrument.fields))}. Import it under another --symbol"
            )
