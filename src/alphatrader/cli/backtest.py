"""`alphatrader backtest`: run strategies over bundled or your own data."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from alphatrader.backtest.engine import BacktestResult
from alphatrader.backtest.metrics import compute_metrics, format_metrics
from alphatrader.backtest.report import result_json, write_json
from alphatrader.backtest.runner import BacktestRequest, run_backtest
from alphatrader.backtest.tearsheet import render_tearsheet, write_tearsheet
from alphatrader.cli.progress import LazyProgress
from alphatrader.config import load_settings
from alphatrader.errors import InputError
from alphatrader.services import market_store


def backtest(
    strategy: Annotated[
        str | None,
        typer.Option(help="Strategy name(s), comma-separated. Default: every strategy."),
    ] = None,
    symbols: Annotated[
        str | None, typer.Option(help="Symbols, comma-separated, e.g. SPY,XLK.")
    ] = None,
    universe: Annotated[
        str | None, typer.Option(help="'default': the 52-series bundled daily panel.")
    ] = None,
    data_csv: Annotated[
        Path | None,
        typer.Option(
            help="Backtest your own CSV (Date,Open,High,Low,Close[,Volume] or Date,Close)."
        ),
    ] = None,
    start: Annotated[str | None, typer.Option(help="First session, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last session, YYYY-MM-DD.")] = None,
    cash: Annotated[
        str | None, typer.Option(help="Starting cash in dollars. Default: PORTFOLIO_SIZE.")
    ] = None,
    commission: Annotated[
        str, typer.Option(help="Commission as a fraction of traded value (0.001 = 0.1%).")
    ] = "0",
    slippage_bps: Annotated[
        str, typer.Option(help="Slippage in basis points, against you on every fill.")
    ] = "0",
    sizing: Annotated[
        str,
        typer.Option(
            help="'safety': small-account limits from config; 'all-in': all cash, one position."
        ),
    ] = "safety",
    param: Annotated[
        list[str] | None,
        typer.Option(help="Strategy parameter key=value (or strategy.key=value); repeatable."),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the result as JSON to this path.")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Tearsheet path. Default: var/reports/backtest-<start>-<end>.html."),
    ] = None,
) -> None:
    """Backtest strategies through the same order path as live trading.

    Signals at a session's close fill at the next session's open (the next close on close-only
    series). Prints a summary, writes an HTML tearsheet and, with --json, the result as JSON.
    """
    console = Console()
    settings = load_settings()
    strategies = _split(strategy)
    if universe not in (None, "default"):
        raise InputError(f"unknown universe {universe!r}; the only universe is 'default'")
    if symbols and (universe or data_csv):
        raise InputError("give either --symbols, --universe or --data-csv, not several")
    if sizing not in ("safety", "all-in"):
        raise InputError(f"--sizing must be 'safety' or 'all-in', not {sizing!r}")
    request = BacktestRequest(
        strategies=strategies,
        symbols=[s.upper() for s in _split(symbols)],
        data_csv=data_csv,
        start=_date("--start", start),
        end=_date("--end", end),
        cash=_decimal("--cash", cash, positive=True) if cash is not None else None,
        commission=_decimal("--commission", commission),
        slippage_bps=_decimal("--slippage-bps", slippage_bps),
        sizing="all-in" if sizing == "all-in" else "safety",
        params=_params(param or [], strategies),
    )
    if request.start is not None and request.end is not None and request.start > request.end:
        raise InputError(f"--start {start} is after --end {end}")
    store = market_store(settings)
    with LazyProgress(console) as progress:
        run = run_backtest(request, store, settings, progress=progress)
    result = run.result
    metrics = compute_metrics(
        result.equity,
        result.trades,
        benchmark=run.benchmark,
        exposure=result.exposure,
        traded_notional=float(result.traded_notional),
    )
    for note in run.notes:
        console.print(f"[yellow]note:[/] {note}")
    _print_summary(console, result, metrics, run.benchmark_symbol)
    path = report or Path("var/reports") / f"backtest-{result.start}-{result.end}.html"
    title = "Backtest: " + ", ".join(result.strategies)
    subtitle = (
        f"{len(result.symbols)} symbol(s), {result.start} to {result.end}, "
        f"{request.sizing} sizing, starting cash ${result.initial_cash:,.2f}"
    )
    html = render_tearsheet(
        title,
        result.equity,
        metrics,
        result.trades,
        benchmark_equity=run.benchmark,
        subtitle=subtitle,
        benchmark_label=run.benchmark_symbol or "Benchmark",
    )
    write_tearsheet(path, html)
    console.print(f"tearsheet: {path}")
    if json_path is not None:
        write_json(json_path, result_json(result, metrics))
        console.print(f"json: {json_path}")


def _print_summary(
    console: Console, result: BacktestResult, metrics: dict[str, Any], benchmark: str | None
) -> None:
    by_strategy: dict[str, list[Any]] = defaultdict(list)
    for trade in result.trades:
        by_strategy[trade.strategy].append(trade)
    table = Table(title="Strategies", title_justify="left")
    for col in ("Strategy", "Trades", "Open", "Win rate", "P&L"):
        table.add_column(col, justify="left" if col == "Strategy" else "right")
    for name in result.strategies:
        trades = by_strategy.get(name, [])
        closed = [t for t in trades if not t.is_open]
        wins = sum(1 for t in closed if t.pnl > 0)
        pnl = sum((t.pnl for t in trades), Decimal(0))
        rate = f"{wins / len(closed):.0%}" if closed else "n/a"
        style = "green" if pnl > 0 else "red" if pnl < 0 else ""
        table.add_row(
            name,
            str(len(closed)),
            str(len(trades) - len(closed)),
            rate,
            f"[{style}]{pnl:,.2f}[/]" if style else f"{pnl:,.2f}",
        )
    console.print(table)
    summary = Table(title="Portfolio", title_justify="left", show_header=False)
    summary.add_column("Metric")
    summary.add_column("Value", justify="right")
    summary.add_row("Period", f"{result.start} .. {result.end}")
    summary.add_row("Symbol-bars", f"{result.bars:,}")
    summary.add_row("Initial cash", f"${result.initial_cash:,.2f}")
    summary.add_row("Final equity", f"${result.final_equity:,.2f}")
    if benchmark:
        summary.add_row("Benchmark", benchmark)
    summary.add_row("Rejected signals", str(len(result.rejections)))
    for label, value in format_metrics(metrics):
        summary.add_row(label, value)
    console.print(summary)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _date(option: str, value: str | None) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(date.fromisoformat(value))
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date; use YYYY-MM-DD") from None


def _decimal(option: str, value: str, positive: bool = False) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InputError(f"{option} {value!r} is not a number") from None
    if not number.is_finite() or number < 0 or (positive and number == 0):
        raise InputError(f"{option} must be a {'positive' if positive else 'non-negative'} number")
    return number


def _params(items: list[str], strategies: list[str]) -> dict[str, dict[str, Any]]:
    """`key=value` goes to the only strategy given; `strategy.key=value` names it."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--param {item!r}: use key=value or strategy.key=value")
        name, dot, field = key.rpartition(".")
        if not dot:
            if len(strategies) != 1:
                raise InputError(
                    f"--param {item!r}: name the strategy (strategy.{key}=...) when running "
                    "several strategies"
                )
            name, field = strategies[0], key
        out.setdefault(name, {})[field] = value
    return out
