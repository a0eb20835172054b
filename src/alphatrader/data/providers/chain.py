"""Providers tried in order, and `update_store`: fetch daily bars and upsert them into the store.

Where the bars go (the decision):

* Each provider writes its own dataset: `alpaca`, `alphavantage`, `csv` (the drop folder; the
  `user` dataset stays for `alphatrader data import`). A stored series therefore never mixes two
  vendors' adjustments (their split/dividend factors differ slightly), and `Instrument.source`
  says where every row came from. The bundled provider writes nothing (`dataset is None`): its
  series are already in `daily`/`daily-ohlcv`.
* The chain does not stitch: a symbol is answered by the first provider that has bars for it in
  the window, and the whole window comes from that provider. A fallback provider is asked for the
  full window too, so its series is complete rather than a one-day stub.
* Adjusted history changes after every split or dividend. Before writing, the fetched bars are
  compared with the stored ones on the dates they share (the window reaches back at least
  `OVERLAP_SESSIONS` stored sessions so there is an overlap, and any gap since the last update
  is filled). If the stored prices differ, the vendor has re-adjusted: the series is fetched
  again from its first stored date and replaced, instead of stitching two adjustment bases.
* A bare symbol must then resolve to the freshest series: see `RESOLUTION_ORDER` in
  `alphatrader.data.store` (fetched datasets before the bundled ones, freshest first).

Failures are collected per symbol and provider (`UpdateReport.failures`); one bad symbol never
stops the others, and nothing is written for a symbol whose bars failed validation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from alphatrader.config import Settings
from alphatrader.data.providers.alpaca import AlpacaProvider
from alphatrader.data.providers.alphavantage import AlphaVantageProvider
from alphatrader.data.providers.base import (
    Provider,
    SymbolErrors,
    check_range,
    error_kind,
)
from alphatrader.data.providers.bundled import BundledProvider
from alphatrader.data.providers.csv_folder import CsvFolderProvider
from alphatrader.data.store import MarketDataStore, validate_symbol
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import AlphaTraderError, ConfigError, DataError, InputError

log = logging.getLogger(__name__)

PROVIDER_NAMES = ("alpaca", "alphavantage", "bundled", "csv")
# Stored sessions the fetch window reaches back over, to compare adjustments (the last stored
# bar is left out of the comparison: it may have been a provisional bar, fixed since).
OVERLAP_SESSIONS = 5
# Relative difference above which stored and fetched prices of the same day are "different".
ADJUSTMENT_RTOL = 1e-6


@dataclass(frozen=True, slots=True)
class Failure:
    """One provider could not serve one symbol. `kind`: temporary, config, input, data,
    no-data or unexpected (a bug: the message names the exception)."""

    symbol: str
    provider: str
    kind: str
    error: str


@dataclass(frozen=True, slots=True)
class Written:
    """The symbol's bars came from `provider` and were upserted into `dataset`."""

    symbol: str
    provider: str
    dataset: str
    rows: int  # dates new or changed in the store; 0 when nothing changed
    first: date
    last: date
    readjusted: bool = False  # the vendor had re-adjusted history: the series was refetched


@dataclass(frozen=True, slots=True)
class Fetched:
    provider: str
    frame: pd.DataFrame


@dataclass(frozen=True, slots=True)
class ChainResult:
    frames: dict[str, Fetched]
    failures: tuple[Failure, ...]


@dataclass(frozen=True, slots=True)
class UpdateReport:
    start: date
    end: date
    symbols: tuple[str, ...]
    written: tuple[Written, ...]
    failures: tuple[Failure, ...]

    @property
    def missing(self) -> list[str]:
        """Symbols no provider could serve."""
        done = {w.symbol for w in self.written}
        return [s for s in self.symbols if s not in done]

    @property
    def ok(self) -> bool:
        return not self.missing

    @property
    def rows_written(self) -> int:
        return sum(w.rows for w in self.written)

    def failures_for(self, symbol: str) -> list[Failure]:
        return [f for f in self.failures if f.symbol == symbol]


class ProviderChain:
    def __init__(self, providers: Iterable[Provider]) -> None:
        self.providers = tuple(providers)
        if not self.providers:
            raise ConfigError("DATA_PROVIDERS is empty; name at least one provider")
        names = [p.name for p in self.providers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"DATA_PROVIDERS lists {', '.join(twice)} more than once")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.providers]

    def fetch(self, symbols: Sequence[str], start: date, end: date) -> ChainResult:
        """Each symbol from the first provider that has bars for it in [start, end]."""
        check_range(start, end)
        wanted, failures = _clean_symbols(symbols)
        found: dict[str, Fetched] = {}
        for provider in self.providers:
            remaining = [s for s in wanted if s not in found]
            if not remaining:
                break
            frames, errors = attempt(provider, remaining, start, end)
            for symbol in remaining:
                if symbol in errors:
                    failures.append(_failure(symbol, provider.name, errors[symbol]))
                elif symbol in frames and not frames[symbol].empty:
                    found[symbol] = Fetched(provider.name, frames[symbol])
                else:
                    failures.append(_no_data(symbol, provider.name, start, end))
        return ChainResult(found, tuple(failures))


def attempt(
    provider: Provider, symbols: list[str], start: date, end: date
) -> tuple[dict[str, pd.DataFrame], dict[str, BaseException]]:
    """One provider's answer for `symbols`: frames, and an error per failed symbol. Never raises.

    A request refused as a whole for a data reason (one bad symbol can spoil a batch) is asked
    again one symbol at a time, to tell the good symbols from the bad."""
    try:
        return provider.fetch_daily(symbols, start, end), {}
    except SymbolErrors as exc:
        return exc.frames, dict(exc.errors)
    except (DataError, InputError) as exc:
        if len(symbols) == 1:
            return {}, {symbols[0]: exc}
        frames: dict[str, pd.DataFrame] = {}
        errors: dict[str, BaseException] = {}
        for symbol in symbols:
            one, bad = attempt(provider, [symbol], start, end)
            frames.update(one)
            errors.update(bad)
        return frames, errors
    except AlphaTraderError as exc:
        return {}, dict.fromkeys(symbols, exc)
    except Exception as exc:  # a provider bug must not stop the other providers and symbols
        log.exception("provider %s raised unexpectedly", provider.name)
        return {}, dict.fromkeys(symbols, exc)


def build_chain(settings: Settings, store: MarketDataStore) -> ProviderChain:
    """The providers named in DATA_PROVIDERS, in that order."""
    providers: list[Provider] = []
    for name in settings.provider_names():
        key = name.lower()
        if key == "bundled":
            providers.append(BundledProvider(store))
        elif key == "csv":
            providers.append(CsvFolderProvider(settings.csv_drop_dir))
        elif key == "alpaca":
            providers.append(AlpacaProvider.from_settings(settings))
        elif key == "alphavantage":
            providers.append(AlphaVantageProvider.from_settings(settings))
        else:
            raise ConfigError(
                f"DATA_PROVIDERS: unknown provider {name!r}; valid names: "
                f"{', '.join(PROVIDER_NAMES)}"
            )
    return ProviderChain(providers)


def update_store(
    store: MarketDataStore,
    chain: ProviderChain,
    symbols: Sequence[str],
    start: date,
    end: date,
) -> UpdateReport:
    """Fetch [start, end] for every symbol through the chain and upsert it; see the module
    docstring for where bars go. Idempotent: a second run with the same data writes 0 rows."""
    check_range(start, end)
    store.ensure_seeded()
    wanted, failures = _clean_symbols(symbols)
    written: list[Written] = []
    done: set[str] = set()
    for provider in chain.providers:
        remaining = [s for s in wanted if s not in done]
        if not remaining:
            break
        window = _window_start(store, provider, remaining, start)
        frames, errors = attempt(provider, remaining, window, end)
        for symbol in remaining:
            frame = frames.get(symbol)
            if symbol in errors:
                failures.append(_failure(symbol, provider.name, errors[symbol]))
            elif frame is None or frame.empty:
                failures.append(_no_data(symbol, provider.name, window, end))
            else:
                try:
                    written.append(_write(store, provider, symbol, frame, end))
                except Exception as exc:  # collected, like a fetch failure; see _failure
                    if not isinstance(exc, AlphaTraderError):
                        log.exception("writing %s from %s failed", symbol, provider.name)
                    failures.append(_failure(symbol, provider.name, exc))
                    continue
                done.add(symbol)
    invalid = [f.symbol for f in failures if f.provider == "-"]
    return UpdateReport(start, end, (*wanted, *invalid), tuple(written), tuple(failures))


# -- helpers ------------------------------------------------------------------------------------
def _clean_symbols(symbols: Sequence[str]) -> tuple[list[str], list[Failure]]:
    wanted: list[str] = []
    failures: list[Failure] = []
    for raw in symbols:
        try:
            symbol = validate_symbol(raw)
        except InputError as exc:
            failures.append(Failure(str(raw), "-", "input", str(exc)))
            continue
        if symbol not in wanted:
            wanted.append(symbol)
    return wanted, failures


def _failure(symbol: str, provider: str, error: BaseException) -> Failure:
    kind = error_kind(error)
    text = str(error) if kind != "unexpected" else f"{type(error).__name__}: {error} (a bug)"
    return Failure(symbol, provider, kind, text)


def _no_data(symbol: str, provider: str, start: date, end: date) -> Failure:
    return Failure(
        symbol, provider, "no-data", f"{provider}: no bars for {symbol} in {start}..{end}"
    )


def _stored(store: MarketDataStore, dataset: str, symbol: str) -> Instrument | None:
    """The instrument already stored for `symbol` in `dataset`, if any."""
    if not (store.root / dataset / f"{symbol}.parquet").exists():
        return None
    return store.resolve(symbol, dataset=dataset)


def _window_start(
    store: MarketDataStore, provider: Provider, symbols: list[str], start: date
) -> date:
    """`start`, moved back so that every symbol's fetch overlaps its last stored sessions."""
    if provider.dataset is None:
        return start
    earliest = start
    for symbol in symbols:
        inst = _stored(store, provider.dataset, symbol)
        if inst is None:
            continue
        index = store.read(inst).index
        if len(index):
            earliest = min(earliest, index[-min(len(index), OVERLAP_SESSIONS)].date())
    return earliest


def _readjusted(stored: pd.DataFrame, fetched: pd.DataFrame) -> bool:
    """Do the stored prices differ from the fetched ones on the dates both have (the last
    stored date excepted)?"""
    common = stored.index[:-1].intersection(fetched.index)
    cols = [c for c in ("open", "high", "low", "close") if c in stored and c in fetched]
    if len(common) == 0 or not cols:
        return False
    before = stored.loc[common, cols].to_numpy(dtype="float64")
    after = fetched.loc[common, cols].to_numpy(dtype="float64")
    return not bool(np.allclose(before, after, rtol=ADJUSTMENT_RTOL, atol=0.0))


def _write(
    store: MarketDataStore, provider: Provider, symbol: str, frame: pd.DataFrame, end: date
) -> Written:
    first, last = frame.index[0].date(), frame.index[-1].date()
    fields = frozenset(str(c) for c in frame.columns)
    if provider.dataset is None:  # already in the store (bundled)
        inst = provider.instrument(symbol, fields)
        return Written(symbol, provider.name, inst.dataset, 0, first, last)
    instrument = provider.instrument(symbol, fields)
    stored = _stored(store, provider.dataset, symbol)
    readjusted = False
    if stored is not None:
        if stored.fields != instrument.fields:
            raise DataError(
                f"{provider.dataset}/{symbol} holds {', '.join(sorted(stored.fields))} but "
                f"{provider.name} now has {', '.join(sorted(instrument.fields))}; "
                f"remove the stored file to replace it"
            )
        current = store.read(stored)
        if _readjusted(current, frame):
            since = current.index[0].date()
            log.info(
                "%s: %s re-adjusted history; refetching since %s", symbol, provider.name, since
            )
            full = provider.fetch_daily([symbol], since, end).get(symbol)
            if full is None or full.empty or full.index[0] > current.index[0]:
                raise DataError(
                    f"{provider.name} re-adjusted {symbol}'s history but no longer serves it "
                    f"from {since}; remove {provider.dataset}/{symbol} to rebuild it"
                )
            frame, readjusted = full, True
            first, last = frame.index[0].date(), frame.index[-1].date()
    rows = store.upsert(instrument, frame)
    return Written(symbol, provider.name, provider.dataset, rows, first, last, readjusted)
