"""MarketDataStore: idempotent atomic upserts, date-range reads, resolution order, symbol rules."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from alphatrader.data.store import MarketDataStore, validate_symbol
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import InputError, UnknownNameError


def _instrument(symbol: str = "TEST", dataset: str = "user") -> Instrument:
    return Instrument(
        symbol=symbol,
        dataset=dataset,
        asset_class="user",
        fields=frozenset({"close"}),
        source="synthetic test data",
        adjustment="as provided",
        tradable=True,
    )


def _closes(start: str, values: list[float]) -> pd.DataFrame:
    """Synthetic closes on consecutive business days (not real market data)."""
    index = pd.DatetimeIndex(pd.bdate_range(start, periods=len(values)), name="date")
    return pd.DataFrame({"close": values}, index=index)


def test_upsert_counts_new_rows_and_is_idempotent(fresh_store: MarketDataStore) -> None:
    inst = _instrument()
    rows = _closes("2021-01-04", [10.0, 11.0, 12.0])
    assert fresh_store.upsert(inst, rows) == 3
    path = fresh_store.root / "user" / "TEST.parquet"
    before = path.read_bytes()
    assert fresh_store.upsert(inst, rows) == 0
    assert path.read_bytes() == before  # nothing rewritten


def test_upsert_merges_and_replaces_by_date(fresh_store: MarketDataStore) -> None:
    inst = _instrument()
    fresh_store.upsert(inst, _closes("2021-01-04", [10.0, 11.0, 12.0]))
    changed = fresh_store.upsert(inst, _closes("2021-01-06", [12.5, 13.0]))
    assert changed == 2  # 2021-01-06 changed, 2021-01-07 new
    stored = fresh_store.read(inst)
    assert stored["close"].tolist() == [10.0, 11.0, 12.5, 13.0]
    assert stored.index.is_monotonic_increasing


def test_failed_write_leaves_the_old_file_and_no_temp_files(
    fresh_store: MarketDataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    inst = _instrument()
    fresh_store.upsert(inst, _closes("2021-01-04", [10.0, 11.0]))
    folder = fresh_store.root / "user"
    before = (folder / "TEST.parquet").read_bytes()

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", disk_full)  # the store writes through it
    with pytest.raises(OSError, match="No space"):
        fresh_store.upsert(inst, _closes("2021-01-06", [99.0]))
    assert (folder / "TEST.parquet").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["TEST.parquet"]


def test_read_by_date_range_is_inclusive(store: MarketDataStore) -> None:
    inst = store.resolve("AAPL", dataset="daily-ohlcv")
    frame = store.read(inst, start=pd.Timestamp("2005-02-24"), end=pd.Timestamp("2005-03-01"))
    assert [f"{d:%Y-%m-%d}" for d in frame.index] == [
        "2005-02-24",
        "2005-02-25",
        "2005-02-28",
        "2005-03-01",
    ]
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.name == "date"


def test_resolution_order_user_then_daily_then_ohlcv(store: MarketDataStore) -> None:
    assert store.resolve("AAPL").dataset == "daily"
    # only daily-ohlcv has the bars, so asking for open skips the close-only series
    assert store.resolve("aapl", require={"open", "high"}).dataset == "daily-ohlcv"
    assert store.resolve("IBM").dataset == "daily-ohlcv"


def test_user_dataset_wins_resolution(tmp_path: Path) -> None:
    root = tmp_path / "market"
    seeded = MarketDataStore(root)
    seeded.ensure_seeded()
    seeded.upsert(_instrument("AAPL"), _closes("2021-01-04", [1.0, 2.0]))
    assert seeded.resolve("AAPL").dataset == "user"
    assert seeded.resolve("AAPL", dataset="daily").dataset == "daily"


def test_close_only_series_cannot_serve_bars(store: MarketDataStore) -> None:
    with pytest.raises(InputError, match="no high, open data"):
        store.resolve("SPY", require={"open", "high"})


def test_unknown_symbol_suggests_close_names(store: MarketDataStore) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'AAPL'"):
        store.resolve("AAPLL")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("aapl", "AAPL"),
        (" msft ", "MSFT"),
        ("^GSPC", "^GSPC"),
        ("BRK.B", "BRK.B"),
        ("SPY_TR", "SPY_TR"),
    ],
)
def test_valid_symbols_are_normalized(raw: str, expected: str) -> None:
    assert validate_symbol(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "../../etc/passwd",
        "..",
        "A/B",
        "A\\B",
        "",
        " ",
        "-AAPL",
        ".hidden",
        "A" * 21,
        "A B",
        "^",
        "AA\x00PL",
    ],
)
def test_invalid_symbols_are_rejected(raw: str) -> None:
    with pytest.raises(InputError, match="invalid symbol"):
        validate_symbol(raw)


def test_path_traversal_symbol_never_touches_the_disk(fresh_store: MarketDataStore) -> None:
    with pytest.raises(InputError):
        fresh_store.upsert(_instrument("../../etc/passwd"), _closes("2021-01-04", [1.0]))
    with pytest.raises(InputError):
        fresh_store.resolve("../../etc/passwd")
    assert not list(fresh_store.root.parent.rglob("*.parquet"))
