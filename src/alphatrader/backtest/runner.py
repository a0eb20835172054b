"""The backtest service: resolve strategies and symbols, load data, run the engine.

The CLI, the API and the benchmarks call `run_backtest`; nothing else wires a backtest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from alphatrader.backtest.engine import BacktestConfig, BacktestEngine, BacktestResult, Progress
from alphatrader.config import Settings
from alphatrader.data import bundle
from alphatrader.data.market import Series, load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import InputError
from alphatrader.execution.costs import Commission, Slippage
from alphatrader.portfolio.sizing import Limits, SizingMode
from alphatrader.strategies.base import Strategy
from alphatrader.strategies.registry import STRATEGIES, build

BENCHMARKS = ("SPY", "^GSPC", "SP500")  # the first that covers the tested range


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    strategies: Sequence[str] = ()  # empty: every strategy
    symbols: Sequence[str] = ()  # empty: the default universe
    data_csv: Path | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    cash: Decimal | None = None  # None: PORTFOLIO_SIZE
    commission: Decimal = Decimal(0)
    slippage_bps: Decimal = Decimal(0)
    sizing: SizingMode = "safety"
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # strategy -> params


@dataclass(frozen=True, slots=True)
class BacktestRun:
    result: BacktestResult
    benchmark: pd.Series | None  # benchmark close over the tested range
    benchmark_symbol: str | None
    notes: list[str]  # what was skipped and why


def default_universe(store: MarketDataStore) -> list[str]:
    return sorted(i.symbol for i in store.instruments(bundle.DAILY))


def build_strategies(request: BacktestRequest) -> list[Strategy]:
    names = list(request.strategies) or list(STRATEGIES)
    unknown_params = set(request.params) - set(names)
    if unknown_params:
        raise InputError(
            f"--param given for {', '.join(sorted(unknown_params))}, which is not among the "
            f"strategies run ({', '.join(names)})"
        )
    return [build(name, **request.params.get(name, {})) for name in names]


def run_backtest(
    request: BacktestRequest,
    store: MarketDataStore,
    settings: Settings,
    progress: Progress | None = None,
) -> BacktestRun:
    strategies = build_strategies(request)
    explicit = bool(request.symbols) or request.data_csv is not None
    targets, universe = _load_targets(request, store, strategies)
    notes = _check_fields(strategies, universe, targets, explicit_symbols=explicit)
    for strategy in strategies:
        for symbol in strategy.instruments or ():
            if symbol not in universe:
                universe[symbol] = load_series(store, symbol)
    benchmark_symbol, benchmark = _benchmark(store, request, universe, targets)
    config = BacktestConfig(
        initial_cash=request.cash if request.cash is not None else settings.portfolio_size,
        sizing=request.sizing,
        limits=Limits(
            min_position=settings.min_position_size,
            max_position=settings.max_position_size,
            cash_buffer=settings.min_cash_buffer,
            max_positions=settings.max_positions,
        ),
        commission=Commission(rate=request.commission),
        slippage=Slippage(request.slippage_bps),
        start=request.start,
        end=request.end,
    )
    engine = BacktestEngine(strategies, universe, config, progress=progress, targets=targets)
    result = engine.run()
    if benchmark is not None:
        benchmark = benchmark.loc[result.equity.index[0] : result.equity.index[-1]]
    return BacktestRun(result, benchmark, benchmark_symbol, notes)


def _load_targets(
    request: BacktestRequest, store: MarketDataStore, strategies: Sequence[Strategy]
) -> tuple[list[str], dict[str, Series]]:
    if request.data_csv is not None:
        from alphatrader.data.csv_import import parse_csv

        fields, frame = parse_csv(request.data_csv)
        symbol = request.data_csv.stem.upper()
        instrument = Instrument(
            symbol,
            "csv",
            "user",
            frozenset(fields),
            f"csv:{request.data_csv.name}",
            "as provided",
            tradable=True,
        )
        return [symbol], {symbol: Series(instrument, frame)}
    if not request.symbols:  # the default universe is exactly the bundled daily panel
        panel = {s: load_series(store, s, dataset=bundle.DAILY) for s in default_universe(store)}
        return list(panel), panel
    # A bare symbol means the first dataset with the fields the chosen strategies need.
    wanted = frozenset().union(*(s.requires for s in strategies if s.instruments is None))
    universe: dict[str, Series] = {}
    for symbol in request.symbols:
        try:
            series = load_series(store, symbol, require=wanted)
        except InputError:  # lacks some field: load what exists, strategies are checked next
            series = load_series(store, symbol)
        universe[series.symbol] = series
    return list(universe), universe


def _check_fields(
    strategies: Sequence[Strategy],
    universe: dict[str, Series],
    targets: Sequence[str],
    explicit_symbols: bool,
) -> list[str]:
    notes = []
    for strategy in strategies:
        if strategy.instruments is not None:
            continue
        lacking = [s for s in targets if not strategy.requires <= universe[s].instrument.fields]
        if not lacking:
            continue
        missing = ", ".join(sorted(strategy.requires - universe[lacking[0]].instrument.fields))
        if explicit_symbols:
            raise InputError(
                f"strategy {strategy.name} needs {missing}, which {lacking[0]} does not have "
                "(close-only series); use a symbol with OHLCV bars: AAPL, MSFT, IBM, GOOG or FB"
            )
        notes.append(
            f"{strategy.name} skipped {len(lacking)} close-only symbol(s): it needs {missing}"
        )
    return notes


def _benchmark(
    store: MarketDataStore,
    request: BacktestRequest,
    universe: dict[str, Series],
    targets: Sequence[str],
) -> tuple[str | None, pd.Series | None]:
    first = min(universe[s].bars.index[0] for s in targets)
    last = max(universe[s].bars.index[-1] for s in targets)
    lo = max(first, request.start) if request.start is not None else first
    hi = min(last, request.end) if request.end is not None else last
    for symbol in BENCHMARKS:
        series = universe.get(symbol) or load_series(store, symbol)
        index = series.bars.index
        if index[0] <= lo and index[-1] >= hi:
            return symbol, series.bars["close"]
    return None, None
