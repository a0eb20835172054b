"""The real historical data that ships inside the package (see `bundled/NOTICE`)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pandas as pd

from alphatrader.domain.instrument import Instrument

DAILY = "daily"  # the 52 close-only series: the default universe
DAILY_OHLCV = "daily-ohlcv"  # raw OHLCV bars with adj_close: AAPL MSFT IBM GOOG FB ^GSPC

# Indexes and derived series are signals and benchmarks, never traded.
NOT_TRADABLE = frozenset({"SP500", "^GSPC", "^VIX", "SPY_TR", "TBILL3M_TR"})


def bundled_dir() -> Path:
    return Path(str(resources.files("alphatrader.data") / "bundled"))


def catalog() -> list[Instrument]:
    with (bundled_dir() / "catalog.csv").open(newline="") as fh:
        return [_instrument(row) for row in csv.DictReader(fh)]


def _instrument(row: dict[str, str]) -> Instrument:
    fields = frozenset(f for f in row["fields"].split(",") if f != "adj_close")
    return Instrument(
        symbol=row["symbol"],
        dataset=DAILY_OHLCV if row["kind"] == "ohlcv" else DAILY,
        asset_class=row["asset_class"],
        fields=fields,
        source=row["source"],
        adjustment=row["price_type"],
        tradable=row["symbol"] not in NOT_TRADABLE,
        license=row["license"],
    )


def series() -> Iterator[tuple[Instrument, pd.DataFrame]]:
    """Every bundled series with its instrument, as frames indexed by session date."""
    by_key = {(i.dataset, i.symbol): i for i in catalog()}
    for dataset, filename in ((DAILY, "daily_close.parquet"), (DAILY_OHLCV, "daily_ohlcv.parquet")):
        frame = pd.read_parquet(bundled_dir() / filename)
        for symbol, rows in frame.groupby("symbol", observed=True, sort=True):
            bars = rows.drop(columns="symbol").set_index("date").sort_index()
            bars.index = pd.DatetimeIndex(bars.index, name="date")
            yield by_key[(dataset, str(symbol))], bars
