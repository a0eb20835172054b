"""Backtest speed: prints ONE JSON line.

    .venv/bin/python bench/backtest_speed.py      (or `make bench`)

Figures:
- `single_symbol_bars_per_s`: GOOG (2,148 OHLCV bars), golden_cross, all-in, $10,000 — symbol-bars
  per second of the event-driven engine, engine construction + run, the median of N runs with the
  data preloaded and the calendar and code paths warmed up (steady state).
- `universe_seconds`: `run_backtest(BacktestRequest(), store, settings)` — the whole default
  universe with every strategy that can run on it — wall time including loading the bars from the
  Parquet store; the one-off store seeding and the exchange-calendar construction are reported
  separately (`store_seed_seconds`, `calendar_load_seconds`). `universe_symbol_bars` is the number
  of symbol-bars in that run.
- The same single-symbol run in backtrader (`backtrader_bars_per_s`: Cerebro construction + run,
  cheat-on-open SMA 50/200 CrossOver, stdstats off) and backtesting.py
  (`backtesting_py_bars_per_s`: `Backtest.run()` only), when importable, and our speed relative to
  theirs (`vs_backtrader`, `vs_backtesting_py`: > 1 means we are faster). Trade counts of every
  engine are reported as a sanity check that they ran the same rules.

Runs against a private data dir (ALPHATRADER_DATA_DIR in a temp folder), under ~60 s.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

SYMBOL = "GOOG"
CASH = 10_000
BUDGET_S = 2.0  # time budget per timed loop (after warm-up)


def _median_time(
    fn: Callable[[], Any], max_runs: int, min_runs: int = 3, budget_s: float = BUDGET_S
) -> tuple[float, int]:
    """Median wall time of `fn` over up to `max_runs` runs (at least `min_runs`, stopping once
    the budget is spent), after one warm-up run."""
    fn()
    times: list[float] = []
    spent = 0.0
    while len(times) < max_runs and (len(times) < min_runs or spent < budget_s):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
    return statistics.median(times), len(times)


def _ours_single(series: Any) -> tuple[Callable[[], Any], int, int]:
    from alphatrader.backtest.engine import BacktestConfig, BacktestEngine
    from alphatrader.strategies.registry import build

    def run() -> Any:
        engine = BacktestEngine(
            [build("golden_cross")],
            universe={series.symbol: series},
            config=BacktestConfig(initial_cash=Decimal(CASH), sizing="all-in"),
        )
        return engine.run()

    result = run()
    return run, result.bars, len(result.trades)


def _backtrader_single(bars: pd.DataFrame) -> tuple[Callable[[], Any], int] | None:
    try:
        import backtrader as bt  # type: ignore[import-untyped]
    except ImportError:
        return None

    class GoldenCross(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            fast = bt.ind.SMA(self.data.close, period=50)
            slow = bt.ind.SMA(self.data.close, period=200)
            self.cross = bt.ind.CrossOver(fast, slow)
            self.entries = 0

        def next_open(self) -> None:  # indicators still at the signal bar: cross[0]
            if self.cross[0] > 0 and not self.position:
                self.buy(size=math.floor(self.broker.getcash() / self.data.open[0]))
                self.entries += 1
            elif self.cross[0] < 0 and self.position:
                self.close()

        def nextstart_open(self) -> None:
            self.next_open()

    feed = bars[["open", "high", "low", "close", "volume"]]

    def run() -> int:
        cerebro = bt.Cerebro(cheat_on_open=True, stdstats=False)
        cerebro.adddata(bt.feeds.PandasData(dataname=feed, openinterest=None))
        cerebro.broker.setcash(CASH)
        cerebro.addstrategy(GoldenCross)
        (strategy,) = cerebro.run()
        return int(strategy.entries)

    return run, run()


def _backtesting_py_single(bars: pd.DataFrame) -> tuple[Callable[[], Any], int] | None:
    try:
        from backtesting import Backtest, Strategy  # type: ignore[import-untyped]
        from backtesting.lib import crossover  # type: ignore[import-untyped]
    except ImportError:
        return None

    def sma(values: Any, n: int) -> Any:
        return pd.Series(values).rolling(n).mean()

    class GoldenCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, 50)
            self.slow = self.I(sma, self.data.Close, 200)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()

    frame = bars.rename(columns=str.capitalize)[["Open", "High", "Low", "Close", "Volume"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backtest = Backtest(
            frame,
            GoldenCross,
            cash=CASH,
            commission=0,
            trade_on_close=False,
            exclusive_orders=True,
            finalize_trades=True,
        )

    def run() -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = backtest.run()
        return int(stats["# Trades"])

    return run, run()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="alphatrader-bench-") as tmp:
        os.environ["ALPHATRADER_DATA_DIR"] = str(Path(tmp) / "data")
        sys.stdout.write(json.dumps(measure()) + "\n")


def measure() -> dict[str, Any]:
    wall0 = time.perf_counter()

    from alphatrader.backtest.runner import BacktestRequest, run_backtest
    from alphatrader.config import load_settings
    from alphatrader.data import calendar
    from alphatrader.data.market import load_series
    from alphatrader.data.store import MarketDataStore

    settings = load_settings()
    t0 = time.perf_counter()
    store = MarketDataStore(settings.data_dir / "market")
    store.ensure_seeded()
    store_seed_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    cal = calendar.xnys()
    _ = cal.schedule  # the session table the engine reads
    calendar.sessions(cal.first_session, cal.last_session)
    calendar_s = time.perf_counter() - t0

    # (a) single symbol, data preloaded, steady state
    series = load_series(store, SYMBOL)
    ours_run, bars, ours_trades = _ours_single(series)
    ours_s, ours_n = _median_time(ours_run, max_runs=50, min_runs=20)
    ours_bps = bars / ours_s

    # (b) the whole default universe, every strategy that can run on it
    universe_times: list[float] = []
    universe_bars = 0
    universe_trades = 0
    for _ in range(3):
        t0 = time.perf_counter()
        run = run_backtest(BacktestRequest(), store, settings)
        universe_times.append(time.perf_counter() - t0)
        universe_bars = run.result.bars
        universe_trades = len(run.result.trades)
    universe_s = statistics.median(universe_times)

    out: dict[str, Any] = {
        "bench": "backtest_speed",
        "single_symbol": f"{SYMBOL} golden_cross all-in ${CASH:,}",
        "single_symbol_bars": bars,
        "single_symbol_seconds": round(ours_s, 6),
        "single_symbol_bars_per_s": round(ours_bps),
        "method": (
            f"median of {ours_n} runs of engine construction + run, data preloaded, calendar and "
            "code warmed up by one untimed run"
        ),
        "universe_seconds": round(universe_s, 3),
        "universe_seconds_first_run": round(universe_times[0], 3),
        "universe_symbol_bars": universe_bars,
        "universe_bars_per_s": round(universe_bars / universe_s),
        "universe_method": (
            "median of 3 runs of run_backtest(BacktestRequest(), store, settings): default "
            "universe, every strategy, safety sizing; includes Parquet loading, excludes "
            "store seeding and calendar construction"
        ),
        "store_seed_seconds": round(store_seed_s, 3),
        "calendar_load_seconds": round(calendar_s, 3),
        "trades": {"alphatrader": ours_trades, "universe": universe_trades},
    }

    bt_single = _backtrader_single(series.bars)
    if bt_single is not None:
        bt_run, bt_entries = bt_single
        bt_s, bt_n = _median_time(bt_run, max_runs=10, min_runs=3)
        out["backtrader_bars_per_s"] = round(bars / bt_s)
        out["vs_backtrader"] = round(ours_bps / (bars / bt_s), 2)
        out["backtrader_method"] = (
            f"median of {bt_n} runs of Cerebro construction + run (stdstats off)"
        )
        out["trades"]["backtrader"] = bt_entries

    btp_single = _backtesting_py_single(series.bars)
    if btp_single is not None:
        btp_run, btp_trades = btp_single
        btp_s, btp_n = _median_time(btp_run, max_runs=10, min_runs=3)
        out["backtesting_py_bars_per_s"] = round(bars / btp_s)
        out["vs_backtesting_py"] = round(ours_bps / (bars / btp_s), 2)
        out["backtesting_py_method"] = f"median of {btp_n} runs of Backtest.run()"
        out["trades"]["backtesting_py"] = btp_trades

    out["python"] = platform.python_version()
    out["total_seconds"] = round(time.perf_counter() - wall0, 1)
    return out


if __name__ == "__main__":
    main()
