"""Developer tool: vendor the real market data from ../shared/data into the package.

Run once when the source data changes; the product never reads ../shared at run or test time.

    python scripts/vendor_data.py [SOURCE_DIR]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

DEST = Path(__file__).resolve().parents[1] / "src" / "alphatrader" / "data" / "bundled"


def _write(frame: pd.DataFrame, name: str) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, DEST / name, compression="zstd", compression_level=19)


def main(source: Path) -> None:
    DEST.mkdir(parents=True, exist_ok=True)
    close = pd.read_csv(source / "daily_close.csv.gz", parse_dates=["date"])
    close = close[["date", "symbol", "close"]].sort_values(["symbol", "date"])
    close["symbol"] = close["symbol"].astype("category")
    _write(close, "daily_close.parquet")

    bars = pd.read_csv(source / "daily_ohlcv.csv.gz", parse_dates=["date"])
    cols = ["date", "symbol", "open", "high", "low", "close", "adj_close", "volume"]
    bars = bars[cols].sort_values(["symbol", "date"])
    bars["symbol"] = bars["symbol"].astype("category")
    bars["volume"] = bars["volume"].astype("float64")
    _write(bars, "daily_ohlcv.parquet")

    shutil.copyfile(source / "catalog.csv", DEST / "catalog.csv")
    print(f"vendored {len(close)} close rows and {len(bars)} bars into {DEST}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data"))
