"""Golden cross (SMA 50/200), all-in, $10,000, no costs: our engine against backtrader.

backtrader is the independent oracle (a test-only dependency, never imported by the package).
It gets the very same adjusted bars (`load_series(...).bars`) and runs the textbook strategy:
`bt.ind.SMA(50)`, `bt.ind.SMA(200)`, `bt.ind.CrossOver`, the signal at bar t's close, the fill
at bar t+1's open, all cash in whole shares sized at that open price, the whole position sold
on the down-cross. Our engine must produce the same trades: identical entry/exit dates and
quantities, prices to 1e-6, P&L to 1e-4 and final equity to a cent.

How backtrader is made to fill at the next open and size at that open, without look-ahead:
`bt.Cerebro(cheat_on_open=True)` calls the strategy's `next_open()` when bar t+1 has been
loaded but before the broker has matched orders and before the indicators are advanced; the
broker is switched to cheat-on-open (`broker_coo`, on by default), so a market order placed in
`next_open()` is checked against and filled at bar t+1's *open*. Inside `next_open()` the
indicator buffers still point at bar t, so the signal bar's crossover is `cross[0]` — not
`cross[-1]`, which is bar t-1 (the probe `test_backtrader_fills_at_the_open_after_the_signal`
pins this down by checking every executed date and price against the signal bars). The size is
floor(broker.getcash() / data.open[0]); `close()` sells the whole position on the down-cross.

Close-only series (SPY, KO, ...): our engine fills at the next *close*. backtrader needs OHLC,
so it gets a feed with open = high = low = close = the close; its fill at bar t+1's "open" is
then exactly bar t+1's close, the same price our engine uses.

A trade still open at the end: backtrader only reports it as an open position, so only its
entry (date, price) and quantity are compared; the final equity marks it to the last close on
both sides (`broker.getvalue()` does the same).

The golden file `tests/golden/golden_cross_goog_all_in.json` holds BACKTRADER's trades and final
value for GOOG (2004-08-19..2013-03-01) — the oracle's output, never ours. It is checked against
a live backtrader run here, and the CLI's `--json` output is checked against it. Regenerate it
(only when the bundled data or the oracle changes, never to make our engine pass) with:

    .venv/bin/python tests/acceptance/test_golden_backtrader.py
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import backtrader as bt  # type: ignore[import-untyped]
import pandas as pd
import pytest

from alphatrader.backtest.engine import BacktestConfig, BacktestEngine, BacktestResult
from alphatrader.data.market import Series, load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.strategies.registry import build

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "golden_cross_goog_all_in.json"
CASH = 10_000
PRICE_TOL = 1e-6
PNL_TOL = 1e-4
EQUITY_TOL = 0.01


# -- the oracle -------------------------------------------------------------------------------
@dataclass(frozen=True)
class OracleFill:
    day: date
    side: str  # "buy" or "sell"
    size: int
    price: float


@dataclass(frozen=True)
class OracleTrade:
    entry_date: date
    entry_price: float
    qty: int
    exit_date: date | None  # None: still open at the end
    exit_price: float  # the last close for an open trade
    pnl: float  # backtrader's own trade P&L; marked to the last close for an open trade


@dataclass(frozen=True)
class OracleRun:
    trades: list[OracleTrade]
    fills: list[OracleFill]
    signals: dict[date, int]  # crossover value (+1/-1) at each signal bar's close
    final_value: float
    start: date
    end: date


class _GoldenCross(bt.Strategy):  # type: ignore[misc]
    def __init__(self) -> None:
        fast = bt.ind.SMA(self.data.close, period=50)
        slow = bt.ind.SMA(self.data.close, period=200)
        self.cross = bt.ind.CrossOver(fast, slow)
        self.signals: dict[date, int] = {}
        self.fills: list[OracleFill] = []
        self.closed_pnl: list[float] = []
        self.problems: list[str] = []

    def next(self) -> None:  # bar t's close: only record the signal
        if self.cross[0]:
            self.signals[self.data.datetime.date(0)] = int(self.cross[0])

    def nextstart_open(self) -> None:  # the first bar with a crossover value behind it
        self.next_open()

    def next_open(self) -> None:
        # The data is at bar t+1, the indicators are not advanced yet: cross[0] is bar t's.
        signal = self.cross[0]
        if signal > 0 and not self.position:
            size = math.floor(self.broker.getcash() / self.data.open[0])
            if size > 0:
                self.buy(size=size)
        elif signal < 0 and self.position:
            self.close()

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            self.fills.append(
                OracleFill(
                    day=bt.num2date(order.executed.dt).date(),
                    side="buy" if order.isbuy() else "sell",
                    size=round(abs(order.executed.size)),
                    price=float(order.executed.price),
                )
            )
        elif order.status in (order.Canceled, order.Margin, order.Rejected, order.Expired):
            self.problems.append(f"order {order.ref} {order.getstatusname()}")

    def notify_trade(self, trade: Any) -> None:
        if trade.isclosed:
            self.closed_pnl.append(float(trade.pnl))


def oracle_feed(series: Series) -> pd.DataFrame:
    """The bars backtrader sees: the same adjusted OHLCV, or open=high=low=close for a
    close-only series (so that its next-open fill is the next close, as in our engine)."""
    bars = series.bars
    if series.instrument.close_only:
        close = bars["close"]
        return pd.DataFrame(
            {"open": close, "high": close, "low": close, "close": close, "volume": 0.0},
            index=bars.index,
        )
    return bars[["open", "high", "low", "close", "volume"]].copy()


def run_backtrader(series: Series, cash: float = CASH) -> OracleRun:
    feed = oracle_feed(series)
    cerebro = bt.Cerebro(cheat_on_open=True, stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=feed, openinterest=None))
    cerebro.broker.setcash(cash)  # default broker: no commission, no slippage, coc off
    cerebro.addstrategy(_GoldenCross)
    (strategy,) = cerebro.run()
    assert not strategy.problems, strategy.problems

    trades: list[OracleTrade] = []
    pending: OracleFill | None = None
    closed_pnl = iter(strategy.closed_pnl)
    for fill in strategy.fills:
        if fill.side == "buy":
            assert pending is None, "two entries without an exit"
            pending = fill
            continue
        assert pending is not None, "exit without an entry"
        assert fill.size == pending.size, "exit of a different size than the entry"
        trades.append(
            OracleTrade(
                pending.day, pending.price, pending.size, fill.day, fill.price, next(closed_pnl)
            )
        )
        pending = None
    last_close = float(feed["close"].iloc[-1])
    if pending is not None:
        position = strategy.position
        assert position.size == pending.size
        assert position.price == pytest.approx(pending.price, abs=1e-12)
        pnl = (last_close - pending.price) * pending.size
        trades.append(OracleTrade(pending.day, pending.price, pending.size, None, last_close, pnl))
    return OracleRun(
        trades=trades,
        fills=strategy.fills,
        signals=strategy.signals,
        final_value=float(cerebro.broker.getvalue()),
        start=feed.index[0].date(),
        end=feed.index[-1].date(),
    )


# -- our engine -------------------------------------------------------------------------------
def run_engine(series: Series) -> BacktestResult:
    engine = BacktestEngine(
        [build("golden_cross")],
        universe={series.symbol: series},
        config=BacktestConfig(initial_cash=Decimal(CASH), sizing="all-in"),
    )
    return engine.run()


def _describe(oracle: OracleRun, ours: BacktestResult) -> str:
    rows = ["backtrader:"]
    rows += [
        f"  {t.entry_date} {t.entry_price:.6f} x{t.qty} -> {t.exit_date} {t.exit_price:.6f} "
        f"pnl {t.pnl:.6f}"
        for t in oracle.trades
    ]
    rows.append(f"  final {oracle.final_value:.6f}")
    rows.append("alphatrader:")
    rows += [
        f"  {t.entry_date} {t.entry_price} x{t.qty} -> {t.exit_date} {t.exit_price} pnl {t.pnl}"
        for t in ours.trades
    ]
    rows.append(f"  final {ours.final_equity}")
    return "\n".join(rows)


def assert_same_trades(oracle: OracleRun, ours: BacktestResult) -> None:
    detail = _describe(oracle, ours)
    assert len(ours.trades) == len(oracle.trades), detail
    for mine, theirs in zip(ours.trades, oracle.trades, strict=True):
        assert mine.entry_date == theirs.entry_date, detail
        assert mine.qty == theirs.qty, detail
        assert abs(float(mine.entry_price) - theirs.entry_price) <= PRICE_TOL, detail
        assert mine.exit_date == theirs.exit_date, detail
        if theirs.exit_date is None:  # open at the end: entry and quantity only
            continue
        assert abs(float(mine.exit_price) - theirs.exit_price) <= PRICE_TOL, detail
        assert abs(float(mine.pnl) - theirs.pnl) <= PNL_TOL, detail
    assert abs(float(ours.final_equity) - oracle.final_value) <= EQUITY_TOL, detail


# -- tests ------------------------------------------------------------------------------------
# GOOG and IBM: OHLCV bars (fills at the next open). SPY and KO: close-only (fills at the next
# close); KO spans 1990-2022, the longest history with the most crosses.
CASES = [
    pytest.param("GOOG", date(2004, 8, 19), date(2013, 3, 1), id="GOOG-ohlcv"),
    pytest.param("IBM", date(2000, 3, 1), date(2013, 3, 1), id="IBM-ohlcv"),
    pytest.param("SPY", date(2008, 1, 2), date(2016, 7, 1), id="SPY-close-only"),
    pytest.param("KO", date(1990, 1, 2), date(2022, 12, 28), id="KO-close-only"),
]


@pytest.mark.parametrize(("symbol", "first", "last"), CASES)
def test_engine_matches_backtrader(
    store: MarketDataStore, symbol: str, first: date, last: date
) -> None:
    series = load_series(store, symbol)
    assert (series.bars.index[0].date(), series.bars.index[-1].date()) == (first, last)
    oracle = run_backtrader(series)
    ours = run_engine(series)
    assert len(oracle.trades) >= 2, _describe(oracle, ours)  # the comparison is not vacuous
    assert (ours.start, ours.end) == (first, last)
    assert_same_trades(oracle, ours)


@pytest.mark.parametrize(("symbol", "first", "last"), CASES)
def test_backtrader_fills_at_the_open_after_the_signal(
    store: MarketDataStore, symbol: str, first: date, last: date
) -> None:
    """The oracle's own timing: every fill is at the open of the bar right after a crossover
    of the matching sign (+1 buy, -1 sell), and every actionable crossover got its fill."""
    series = load_series(store, symbol)
    feed = oracle_feed(series)
    days = [d.date() for d in feed.index]
    position = {d: i for i, d in enumerate(days)}
    oracle = run_backtrader(series)
    assert oracle.fills
    for fill in oracle.fills:
        i = position[fill.day]
        signal_day = days[i - 1]
        assert oracle.signals.get(signal_day) == (1 if fill.side == "buy" else -1), fill
        # backtrader averages the executed price in floating point: equal to ~1 ulp
        assert fill.price == pytest.approx(feed["open"].iloc[i], rel=1e-12), fill
        if series.instrument.close_only:
            assert fill.price == pytest.approx(series.bars["close"].iloc[i], rel=1e-12), fill
    # every up-cross while flat and every down-cross while long, except on the last bar
    long = False
    expected = []
    for day, signal in sorted(oracle.signals.items()):
        if day == days[-1]:
            continue
        if signal > 0 and not long:
            expected.append((days[position[day] + 1], "buy"))
            long = True
        elif signal < 0 and long:
            expected.append((days[position[day] + 1], "sell"))
            long = False
    assert [(f.day, f.side) for f in oracle.fills] == expected


def oracle_golden(store: MarketDataStore) -> dict[str, Any]:
    """The golden payload: backtrader's GOOG run, in the CLI JSON's field names."""
    series = load_series(store, "GOOG")
    run = run_backtrader(series)
    return {
        "about": (
            "golden_cross (SMA 50/200 crossover) on GOOG, all-in whole shares, $10,000, no "
            "commission or slippage; signal at the close, fill at the next open. Produced by "
            f"backtrader {bt.__version__} (the oracle), not by alphatrader; regenerate with "
            "`.venv/bin/python tests/acceptance/test_golden_backtrader.py`."
        ),
        "oracle": f"backtrader {bt.__version__}",
        "strategies": ["golden_cross"],
        "symbols": ["GOOG"],
        "start": run.start.isoformat(),
        "end": run.end.isoformat(),
        "initial_cash": float(CASH),
        "final_equity": run.final_value,
        "trades": [
            {
                "symbol": "GOOG",
                "strategy": "golden_cross",
                "entry_date": t.entry_date.isoformat(),
                "entry_price": t.entry_price,
                "exit_date": t.exit_date.isoformat() if t.exit_date else None,
                "exit_price": t.exit_price,
                "qty": float(t.qty),
                "pnl": t.pnl,
            }
            for t in run.trades
        ],
    }


def assert_matches_golden(
    payload: dict[str, Any], golden: dict[str, Any], money_tol: float, pnl_tol: float
) -> None:
    for key in ("strategies", "symbols", "start", "end"):
        assert payload[key] == golden[key], key
    assert payload["initial_cash"] == pytest.approx(golden["initial_cash"], abs=money_tol)
    assert payload["final_equity"] == pytest.approx(golden["final_equity"], abs=money_tol)
    assert len(payload["trades"]) == len(golden["trades"])
    for mine, theirs in zip(payload["trades"], golden["trades"], strict=True):
        for key in ("symbol", "strategy", "entry_date", "exit_date", "qty"):
            assert mine[key] == theirs[key], (key, mine, theirs)
        assert mine["entry_price"] == pytest.approx(theirs["entry_price"], abs=PRICE_TOL)
        if theirs["exit_date"] is None:  # open: entry and quantity only (and final equity)
            continue
        assert mine["exit_price"] == pytest.approx(theirs["exit_price"], abs=PRICE_TOL)
        assert mine["pnl"] == pytest.approx(theirs["pnl"], abs=pnl_tol)


def test_golden_file_is_backtraders_output(store: MarketDataStore) -> None:
    """The pinned file is what the oracle says today (it was not written from our output)."""
    golden = json.loads(GOLDEN.read_text())
    assert golden["oracle"].startswith("backtrader ")
    assert_matches_golden(oracle_golden(store), golden, money_tol=1e-6, pnl_tol=1e-6)


def test_cli_json_matches_golden(tmp_path: Path) -> None:
    """`alphatrader backtest ... --json` in a subprocess, on a fresh data dir, against the
    golden file. The JSON rounds money to cents and prices to 6 decimals, hence the
    tolerances: P&L and equity within half a cent of rounding plus the engine tolerance."""
    golden = json.loads(GOLDEN.read_text())
    out = tmp_path / "out.json"
    exe = Path(sys.executable).with_name("alphatrader")
    env = {**os.environ, "ALPHATRADER_DATA_DIR": str(tmp_path / "data")}
    command = [
        str(exe),
        "backtest",
        "--strategy",
        "golden_cross",
        "--symbols",
        "GOOG",
        "--sizing",
        "all-in",
        "--cash",
        "10000",
        "--json",
        str(out),
        "--report",
        str(tmp_path / "report.html"),
    ]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    payload = json.loads(out.read_text())
    assert set(payload) == {
        "strategies",
        "symbols",
        "start",
        "end",
        "initial_cash",
        "final_equity",
        "metrics",
        "trades",
        "equity",
    }
    assert_matches_golden(payload, golden, money_tol=EQUITY_TOL, pnl_tol=0.005 + PNL_TOL)
    assert payload["equity"][0][0] == golden["start"]
    assert payload["equity"][-1][0] == golden["end"]
    assert payload["equity"][-1][1] == pytest.approx(golden["final_equity"], abs=EQUITY_TOL)


def regenerate() -> None:
    """Write the golden file from backtrader's output over a freshly seeded store."""
    with tempfile.TemporaryDirectory() as tmp:
        store = MarketDataStore(Path(tmp) / "market")
        store.ensure_seeded()
        payload = oracle_golden(store)
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {GOLDEN}: {len(payload['trades'])} trades, final {payload['final_equity']}")


if __name__ == "__main__":
    regenerate()
