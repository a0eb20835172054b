"""Is the stored data fresh enough to plan a session? Sessions come from the XNYS calendar.

`check_freshness(store, symbols, as_of)` looks at the series a bare symbol resolves to (what the
planner will read) and reports, per symbol, its last stored session on or before `as_of`, whether
that is `as_of` itself, and how many XNYS sessions it lags. `last_complete_session(now)` is the
session the daily job should plan: the latest one whose close (early closes included) is before
`now`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from alphatrader.data.calendar import sessions, xnys
from alphatrader.data.store import MarketDataStore, validate_symbol
from alphatrader.errors import AlphaTraderError, InputError


@dataclass(frozen=True, slots=True)
class SymbolFreshness:
    symbol: str
    dataset: str | None  # the dataset the symbol resolves to; None when it does not resolve
    last_session: date | None  # the last stored session on or before as_of
    lag_sessions: int | None  # XNYS sessions after last_session up to and including as_of
    error: str | None = None

    @property
    def fresh(self) -> bool:
        return self.lag_sessions == 0


@dataclass(frozen=True, slots=True)
class FreshnessReport:
    as_of: date
    symbols: tuple[SymbolFreshness, ...]

    @property
    def stale(self) -> list[str]:
        """Symbols whose data does not reach `as_of` (or that have no data at all)."""
        return [s.symbol for s in self.symbols if not s.fresh]

    @property
    def ok(self) -> bool:
        return not self.stale

    def get(self, symbol: str) -> SymbolFreshness:
        for item in self.symbols:
            if item.symbol == symbol:
                return item
        raise KeyError(symbol)


def check_freshness(store: MarketDataStore, symbols: Sequence[str], as_of: date) -> FreshnessReport:
    """Per symbol: the last stored session and how many sessions it lags `as_of`.

    `as_of` must be an XNYS session (the one being planned)."""
    label = pd.Timestamp(as_of)
    if not xnys().is_session(label):
        before = xnys().date_to_session(label, direction="previous").date()
        raise InputError(
            f"{as_of.isoformat()} is not an XNYS session; the session before it is "
            f"{before.isoformat()}"
        )
    found: list[SymbolFreshness] = []
    for raw in symbols:
        found.append(_one(store, raw, as_of))
    return FreshnessReport(as_of, tuple(found))


def _one(store: MarketDataStore, raw: str, as_of: date) -> SymbolFreshness:
    try:
        symbol = validate_symbol(raw)
        inst = store.resolve(symbol)
        index = store.read(inst, end=pd.Timestamp(as_of)).index
    except AlphaTraderError as exc:
        return SymbolFreshness(str(raw).strip().upper(), None, None, None, str(exc))
    if len(index) == 0:
        return SymbolFreshness(symbol, inst.dataset, None, None, "no rows on or before as_of")
    last = index[-1].date()
    lag = len(sessions(last, as_of)) - (1 if xnys().is_session(pd.Timestamp(last)) else 0)
    return SymbolFreshness(symbol, inst.dataset, last, lag)


def last_complete_session(now: datetime) -> date:
    """The latest XNYS session whose close (early closes included) is before `now`."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("last_complete_session needs a timezone-aware datetime")
    instant = pd.Timestamp(now).tz_convert("UTC")
    closes = xnys().schedule["close"]
    if instant > closes.iloc[-1]:
        raise ValueError(f"{now.isoformat()} is beyond the XNYS calendar ({closes.index[-1]})")
    done = int(closes.searchsorted(instant, side="left"))  # closes strictly before `instant`
    if done == 0:
        raise ValueError(f"no XNYS session closed before {now.isoformat()}")
    return pd.Timestamp(closes.index[done - 1]).date()
