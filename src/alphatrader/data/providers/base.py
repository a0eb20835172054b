"""The `Provider` protocol and the one validation every frame passes before it leaves a provider.

A provider answers `fetch_daily(symbols, start, end)` with, per symbol it has, a frame indexed by
XNYS session date (`DatetimeIndex`, ns unit, tz-naive, name `date`) with float64 columns
`open high low close volume` — or just `close` for a close-only source — holding *adjusted*
prices (the vendor's split-and-dividend-adjusted series; volume divided by the same factor, as
`alphatrader.data.market.adjusted` does). Only sessions in [start, end] are returned. A symbol the
provider does not have is simply absent from the answer.

Errors, by what the caller should do:

* `TemporaryError`  transport faults, throttling, 429/5xx after the retries ran out: retry later.
* `DataError`       the vendor answered something malformed or unusable; nothing is returned.
* `ConfigError`     credentials refused, or the endpoint needs a plan the key does not have.
* `SymbolErrors`    (a `DataError`) some symbols failed and others did not: the good frames are in
                    `frames`, each failed symbol's own error in `errors`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from alphatrader.data import bundle
from alphatrader.data.calendar import sessions
from alphatrader.data.store import validate_symbol
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import AlphaTraderError, ConfigError, DataError, InputError, TemporaryError

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = (*PRICE_COLUMNS, "volume")
# Plain decimals only: Python's float() also takes "nan", "inf", "1_000" and " 1 ".
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@runtime_checkable
class Provider(Protocol):
    """A source of daily bars."""

    name: str
    # The store dataset `update_store` writes this provider's series to; None when the data is
    # already in the store (the bundled data) and nothing needs writing.
    dataset: str | None

    def fetch_daily(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[str, pd.DataFrame]: ...

    def instrument(self, symbol: str, fields: frozenset[str]) -> Instrument:
        """How a series this provider returned is described in the store."""
        ...


class SymbolErrors(DataError):
    """Some symbols of one request failed; the others' frames are kept."""

    def __init__(
        self,
        provider: str,
        frames: Mapping[str, pd.DataFrame],
        errors: Mapping[str, AlphaTraderError],
    ) -> None:
        shown = "; ".join(f"{sym}: {err}" for sym, err in list(errors.items())[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{provider}: {len(errors)} symbol(s) failed: {shown}{more}")
        self.provider = provider
        self.frames = dict(frames)
        self.errors = dict(errors)


def finish(
    provider: str,
    frames: dict[str, pd.DataFrame],
    errors: dict[str, AlphaTraderError],
) -> dict[str, pd.DataFrame]:
    """The frames when every symbol went well; otherwise raise: a lone failure as itself (so a
    one-symbol request sees a plain `DataError`/`TemporaryError`), several as `SymbolErrors`."""
    if not errors:
        return frames
    if not frames and len(errors) == 1:
        raise next(iter(errors.values()))
    raise SymbolErrors(provider, frames, errors)


def check_range(start: date, end: date) -> None:
    if start > end:
        raise InputError(f"start {start.isoformat()} is after end {end.isoformat()}")


def session_index(days: Sequence[date] | pd.Index) -> pd.DatetimeIndex:
    """Dates as the frame index every provider returns: tz-naive midnight, ns unit, `date`."""
    return pd.DatetimeIndex(pd.to_datetime(list(days)), name="date").as_unit("ns")


def validate_bars(
    provider: str, symbol: str, frame: pd.DataFrame, start: date, end: date
) -> pd.DataFrame:
    """The frame in its canonical form, or a `DataError` naming the provider, the symbol, the
    first bad date and what is wrong with it. Nothing is repaired here: a bad bar means the
    vendor's answer cannot be trusted as a whole."""
    where = f"{provider}: {symbol}"
    columns = [c for c in COLUMNS if c in frame.columns]
    unknown = sorted(set(map(str, frame.columns)) - set(COLUMNS))
    if unknown:
        raise DataError(f"{where}: unexpected column(s) {', '.join(unknown)}")
    if "close" not in columns:
        raise DataError(f"{where}: no close prices")
    ohlc = [c for c in ("open", "high", "low") if c in columns]
    if ohlc and len(ohlc) < 3:
        raise DataError(f"{where}: open, high and low must come together (has {', '.join(ohlc)})")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{where}: the index is not dates")
    index = frame.index
    if index.tz is not None or not (index == index.normalize()).all():
        raise DataError(f"{where}: the index must be tz-naive session dates")
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise DataError(f"{where}: date {dup.date().isoformat()} appears twice")
    if not index.is_monotonic_increasing:
        raise DataError(f"{where}: dates are not in increasing order")
    out = frame[columns].astype("float64")
    out.index = pd.DatetimeIndex(index, name="date").as_unit("ns")
    if len(out) == 0:
        return out
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    if out.index[0] < lo or out.index[-1] > hi:
        raise DataError(
            f"{where}: rows from {out.index[0].date()} to {out.index[-1].date()} fall outside "
            f"the requested {start.isoformat()}..{end.isoformat()}"
        )
    extra = out.index.difference(sessions(start, end))
    if len(extra):
        days = ", ".join(d.date().isoformat() for d in extra[:3])
        raise DataError(f"{where}: {len(extra)} row(s) on days that are not XNYS sessions: {days}")
    _check_values(where, out)
    return out


def _first_bad(where: str, frame: pd.DataFrame, bad: np.ndarray, what: str) -> None:
    if bad.any():
        day = frame.index[int(np.argmax(bad))].date().isoformat()
        raise DataError(f"{where}: {what} on {day} ({int(bad.sum())} row(s))")


def _check_values(where: str, frame: pd.DataFrame) -> None:
    for col in PRICE_COLUMNS:
        if col in frame.columns:
            values = frame[col].to_numpy()
            bad = ~np.isfinite(values) | (np.nan_to_num(values, nan=-1.0) <= 0)
            _first_bad(where, frame, bad, f"{col} is not a positive finite price")
    if "volume" in frame.columns:
        vol = frame["volume"].to_numpy()
        _first_bad(
            where,
            frame,
            ~np.isfinite(vol) | (np.nan_to_num(vol, nan=-1.0) < 0),
            "volume is not a finite number >= 0",
        )
    if "high" in frame.columns:
        high, low = frame["high"].to_numpy(), frame["low"].to_numpy()
        _first_bad(where, frame, high < low, "high is below low")
        for col in ("open", "close"):
            value = frame[col].to_numpy()
            _first_bad(
                where, frame, (value < low) | (value > high), f"{col} is outside [low, high]"
            )


def strict_float(value: object) -> float:
    """A JSON number or a plain decimal string as float; anything else (bools, None, "N/A",
    "nan") raises ValueError."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        number = float(value)
    else:
        raise ValueError(f"{value!r} is not a number")
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def error_kind(error: BaseException) -> str:
    """A short word for reports: what the operator should do about the failure."""
    if isinstance(error, TemporaryError):
        return "temporary"
    if isinstance(error, ConfigError):
        return "config"
    if isinstance(error, InputError):
        return "input"
    if isinstance(error, DataError):
        return "data"
    return "unexpected"


def fetched_instrument(
    symbol: str, dataset: str, source: str, fields: frozenset[str]
) -> Instrument:
    """A US equity series fetched from a vendor, split- and dividend-adjusted."""
    symbol = validate_symbol(symbol)
    return Instrument(
        symbol=symbol,
        dataset=dataset,
        asset_class="us_equity",
        fields=fields,
        source=source,
        adjustment="split_and_dividend_adjusted",
        tradable=symbol not in bundle.NOT_TRADABLE,
    )
