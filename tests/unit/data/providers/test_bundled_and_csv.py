"""The bundled provider (real bundled data) and the CSV drop folder (synthetic files)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from alphatrader.data.market import load_series
from alphatrader.data.providers.base import SymbolErrors
from alphatrader.data.providers.bundled import BundledProvider
from alphatrader.data.providers.csv_folder import CsvFolderProvider
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import DataError, DataValidationError


def test_bundled_returns_what_the_store_holds(store: MarketDataStore) -> None:
    frames = BundledProvider(store).fetch_daily(["SPY"], date(2016, 6, 1), date(2016, 7, 8))
    spy = frames["SPY"]
    assert list(spy.columns) == ["close"]
    assert spy.index[-1] == pd.Timestamp("2016-07-01")  # never fresher than the bundle
    stored = load_series(store, "SPY").bars.loc["2016-06-01":"2016-07-08"]
    assert spy["close"].tolist() == stored["close"].tolist()
    assert str(spy.index.dtype) == "datetime64[ns]" and spy.index.name == "date"


def test_bundled_prefers_ohlcv_bars_adjusted(store: MarketDataStore) -> None:
    provider = BundledProvider(store)
    frames = provider.fetch_daily(["IBM", "^GSPC"], date(2012, 1, 3), date(2012, 1, 31))
    ibm = frames["IBM"]
    assert list(ibm.columns) == ["open", "high", "low", "close", "volume"]
    raw = store.read(store.resolve("IBM", require={"open"}), end=pd.Timestamp("2012-01-31"))
    raw = raw.loc["2012-01-03":]
    # Adjusted with adj_close, as load_series does for strategies.
    assert ibm["close"].tolist() == pytest.approx(raw["adj_close"].tolist())
    assert provider.instrument("IBM", frozenset(ibm.columns)).dataset == "daily-ohlcv"


def test_bundled_picks_the_series_that_reaches_furthest(store: MarketDataStore) -> None:
    # AAPL: OHLCV bars end 2013-03-01, the close-only series runs to 2022.
    frames = BundledProvider(store).fetch_daily(["AAPL"], date(2013, 2, 1), date(2013, 6, 28))
    assert list(frames["AAPL"].columns) == ["close"]
    assert frames["AAPL"].index[-1] == pd.Timestamp("2013-06-28")


def test_bundled_has_nothing_after_the_bundle_and_no_unknown_symbols(
    store: MarketDataStore,
) -> None:
    provider = BundledProvider(store)
    assert provider.fetch_daily(["SPY", "NVDA"], date(2024, 1, 2), date(2024, 6, 28)) == {}
    assert provider.dataset is None


def test_bundled_leaves_out_non_sessions(store: MarketDataStore) -> None:
    # The T-bill index has a row on Good Friday 1999-04-02, when NYSE was closed.
    frame = BundledProvider(store).fetch_daily(["TBILL3M_TR"], date(1999, 3, 29), date(1999, 4, 9))[
        "TBILL3M_TR"
    ]
    assert pd.Timestamp("1999-04-02") not in frame.index
    assert len(frame) == 9


# -- CSV drop folder (synthetic files) ----------------------------------------------------------
OHLCV = "Date,Open,High,Low,Close,Volume\n"


def _drop(folder: Path, symbol: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{symbol}.csv"
    path.write_text(text)
    return path


def test_csv_folder_reads_one_file_per_symbol(tmp_path: Path) -> None:
    _drop(
        tmp_path,
        "ACME",
        OHLCV
        + "2024-01-04,10,11,9,10.5,1000\n"
        + "2024-01-02,9,10,8,9.5,900\n"
        + "2024-01-03,9.5,10.5,9,10,950\n",
    )
    frames = CsvFolderProvider(tmp_path).fetch_daily(
        ["ACME", "NONE"], date(2024, 1, 3), date(2024, 1, 31)
    )
    assert list(frames) == ["ACME"]
    acme = frames["ACME"]
    assert acme["close"].tolist() == [10.0, 10.5]
    assert str(acme.index.dtype) == "datetime64[ns]"
    inst = CsvFolderProvider(tmp_path).instrument("ACME", frozenset(acme.columns))
    assert (inst.dataset, inst.source, inst.adjustment) == ("csv", "csv:ACME.csv", "as provided")


def test_csv_close_only_files_are_close_only(tmp_path: Path) -> None:
    _drop(tmp_path, "ACME", "Date,Close\n2024-01-02,10\n2024-01-03,11\n")
    frame = CsvFolderProvider(tmp_path).fetch_daily(["ACME"], date(2024, 1, 1), date(2024, 1, 5))
    assert list(frame["ACME"].columns) == ["close"]


def test_csv_file_is_all_or_nothing(tmp_path: Path) -> None:
    _drop(tmp_path, "ACME", OHLCV + "2024-01-02,9,10,8,9.5,900\n2024-01-03,9.5,8,9,10,950\n")
    with pytest.raises(DataValidationError, match="line 3"):
        CsvFolderProvider(tmp_path).fetch_daily(["ACME"], date(2024, 1, 1), date(2024, 1, 5))


def test_csv_bad_file_does_not_hide_good_ones(tmp_path: Path) -> None:
    _drop(tmp_path, "GOOD", "Date,Close\n2024-01-02,10\n")
    _drop(tmp_path, "BAD", "Date,Close\n2024-01-02,-1\n")
    with pytest.raises(SymbolErrors) as caught:
        CsvFolderProvider(tmp_path).fetch_daily(["GOOD", "BAD"], date(2024, 1, 1), date(2024, 1, 5))
    assert list(caught.value.frames) == ["GOOD"]
    assert isinstance(caught.value.errors["BAD"], DataValidationError)


def test_csv_rows_on_non_sessions_are_refused(tmp_path: Path) -> None:
    _drop(tmp_path, "ACME", "Date,Close\n2024-01-05,10\n2024-01-06,11\n")  # a Saturday
    with pytest.raises(DataError, match="not XNYS sessions: 2024-01-06"):
        CsvFolderProvider(tmp_path).fetch_daily(["ACME"], date(2024, 1, 1), date(2024, 1, 31))
