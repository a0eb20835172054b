"""`alphatrader data ...`: list, import-csv, check."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alphatrader.config import load_settings
from alphatrader.data import csv_import, quality
from alphatrader.data.store import USER, MarketDataStore
from alphatrader.errors import DataValidationError
from alphatrader.services import market_store

app = typer.Typer(help="Inspect, import and check market data.", no_args_is_help=True)

DatasetOption = Annotated[
    str | None,
    typer.Option("--dataset", "-d", help="Only this dataset (daily, daily-ohlcv, user)."),
]


def _store() -> MarketDataStore:
    return market_store(load_settings())


@app.command("list")
def list_series(dataset: DatasetOption = None) -> None:
    """Every stored series: where it came from, its span, its fields and whether it is tradable."""
    store = _store()
    table = Table(title="Stored series")
    for name in ("Symbol", "Dataset", "First", "Last", "Rows", "Fields"):
        table.add_column(name, no_wrap=True)
    for name in ("Source", "Adjustment", "Asset class", "Tradable"):
        table.add_column(name, overflow="fold")  # long names wrap instead of being cut
    for inst in store.instruments(dataset):
        frame = store.read(inst)
        first, last = (f"{frame.index[i]:%Y-%m-%d}" if len(frame) else "" for i in (0, -1))
        fields = ",".join(c for c in csv_import.COLUMN_ORDER if c in inst.fields)
        table.add_row(
            inst.symbol,
            inst.dataset,
            first,
            last,
            str(len(frame)),
            fields,
            inst.source,
            inst.adjustment,
            inst.asset_class,
            "yes" if inst.tradable else "no",
        )
    Console().print(table)


@app.command("import-csv")
def import_csv(
    path: Annotated[Path, typer.Argument(help="CSV with Date,Open,High,Low,Close[,Volume].")],
    symbol: Annotated[
        str | None,
        typer.Option("--symbol", "-s", help="Store under this symbol (default: file name)."),
    ] = None,
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset to store into.")] = USER,
) -> None:
    """Import your own daily bars. The whole file is validated first: if any row is bad, every
    problem is listed with its line number and nothing is written. Rows may be in any order;
    an `Adj Close` column is ignored (prices are stored as provided)."""
    store = _store()
    try:
        instrument, changed = csv_import.import_csv(store, path, symbol, dataset)
    except DataValidationError as exc:
        for problem in exc.problems:  # all of them; the error line shows only the first few
            print(f"  {problem}", file=sys.stderr)
        raise
    frame = store.read(instrument)
    for column in csv_import.ignored_columns(path):
        print(f"note: column {column!r} ignored; prices are stored as provided")
    print(
        f"imported {instrument.dataset}/{instrument.symbol}: {changed} row(s) new or changed, "
        f"{len(frame)} stored ({frame.index[0]:%Y-%m-%d} to {frame.index[-1]:%Y-%m-%d}); "
        f"check it with `alphatrader data check {instrument.symbol} --dataset {dataset}`"
    )


@app.command("check")
def check(
    symbols: Annotated[
        list[str] | None, typer.Argument(help="Symbols to check (default: every stored series).")
    ] = None,
    dataset: DatasetOption = None,
    details: Annotated[
        int, typer.Option("--details", min=0, help="Findings shown per series and check.")
    ] = 3,
) -> None:
    """Report gaps, non-session days, duplicates, bad values, OHLC inconsistencies, stale runs,
    unadjusted splits and one-day spikes. Exit code 0 when clean, 1 when anything was found."""
    report = quality.check_store(_store(), symbols or [], dataset)
    console = Console()
    console.print(_summary_table(report))
    if not report.clean:
        console.print(_findings_table(report, details))
    counts = ", ".join(f"{check} {n}" for check, n in report.counts().items()) or "none"
    flagged = sum(1 for s in report.series if s.findings)
    console.print(f"{len(report.series)} series checked, {flagged} with findings: {counts}")
    if not report.clean:
        # typer.Exit's code is lost under `app(standalone_mode=False)`; SystemExit is not.
        sys.exit(1)


def _summary_table(report: quality.QualityReport) -> Table:
    table = Table(title="Data quality")
    for name in ("Symbol", "Dataset", "Rows", "Findings"):
        table.add_column(name, justify="right" if name == "Rows" else "left")
    for series in report.series:
        per_check = quality.QualityReport((series,)).counts()
        text = ", ".join(f"{c} {n}" for c, n in per_check.items()) or "[green]ok[/green]"
        inst = series.instrument
        table.add_row(inst.symbol, inst.dataset, str(series.rows), text)
    return table


def _findings_table(report: quality.QualityReport, limit: int) -> Table:
    table = Table(title="Findings")
    for name in ("Symbol", "Dataset", "Check", "Severity", "Dates", "Detail"):
        table.add_column(name, no_wrap=name != "Detail", overflow="fold")
    for series in report.series:
        for check in quality.CHECKS:
            found = [f for f in series.findings if f.check == check]
            for f in found[:limit]:
                table.add_row(f.symbol, f.dataset, f.check, f.severity, f.when, f.detail)
            if len(found) > limit:
                more = f"... {len(found) - limit} more (--details {len(found)} shows all)"
                table.add_row(
                    series.instrument.symbol, series.instrument.dataset, check, "", "", more
                )
    return table
