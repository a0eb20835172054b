"""CSV import: every problem with its line number, nothing written unless the whole file is good.

All price data in this file is synthetic, written for the tests."""

from __future__ import annotations

import string
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphatrader.data.csv_import import import_csv, parse_csv
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import DataValidationError, InputError

OHLCV = "Date,Open,High,Low,Close,Volume\n"
GOOD_ROW = "2021-01-04,10,11,9,10.5,1000\n"


def _write(tmp_path: Path, content: str | bytes, name: str = "test.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(DataValidationError) as caught:
        parse_csv(path)
    assert caught.value.source == str(path)
    return caught.value.problems


# (case, file content, the line the problem is on, a fragment of its message)
MALFORMED = [
    ("empty file", "", 1, "empty"),
    ("blank lines only", "\n  \n\n", 1, "empty"),
    ("header only", OHLCV, 1, "header only"),
    ("no header", GOOD_ROW + GOOD_ROW, 1, "no header"),
    ("unknown column", "Date,Close,Foo\n2021-01-04,1,2\n", 1, "unknown column 'Foo'"),
    ("duplicate column", "Date,Close,close\n2021-01-04,1,2\n", 1, "appears twice"),
    ("no close column", "Date,Open\n2021-01-04,1\n", 1, "no 'close' column"),
    ("open without high/low", "Date,Open,Close\n2021-01-04,1,1\n", 1, "come together"),
    ("bad month", OHLCV + GOOD_ROW + "2021-13-01,10,11,9,10,5\n", 3, "2021-13-01"),
    ("not a leap day", OHLCV + "2021-02-29,10,11,9,10,5\n", 2, "2021-02-29"),
    ("US date format", OHLCV + "01/04/2021,10,11,9,10,5\n", 2, "YYYY-MM-DD"),
    ("negative close", OHLCV + GOOD_ROW + "2021-01-05,10,11,9,-1,5\n", 3, "close -1"),
    ("zero low", OHLCV + "2021-01-05,10,11,0,10,5\n", 2, "low 0 is not a positive"),
    ("NaN close", OHLCV + "2021-01-05,10,11,9,NaN,5\n", 2, "close 'NaN' is not a finite"),
    ("inf high", OHLCV + "2021-01-05,10,inf,9,10,5\n", 2, "high 'inf'"),
    ("overflow to inf", OHLCV + "2021-01-05,10,1e999,9,10,5\n", 2, "not a finite"),
    ("thousands separator", 'Date,Close\n2021-01-05,"1,000"\n', 2, "'1,000'"),
    ("empty value", OHLCV + "2021-01-05,10,11,9,,5\n", 2, "close is empty"),
    ("high below low", OHLCV + "2021-01-05,10,8,9,10,5\n", 2, "high 8 is below low 9"),
    ("open above high", OHLCV + "2021-01-05,12,11,9,10,5\n", 2, "open 12 is outside"),
    ("close below low", OHLCV + "2021-01-05,10,11,9,8,5\n", 2, "close 8 is outside"),
    ("negative volume", OHLCV + "2021-01-05,10,11,9,10,-5\n", 2, "volume -5 is negative"),
    (
        "duplicate date",
        OHLCV + GOOD_ROW + GOOD_ROW,
        3,
        "duplicate date 2021-01-04 (first on line 2)",
    ),
    ("missing column", OHLCV + "2021-01-05,10,11,9,10\n", 2, "expected 6 values, found 5"),
    ("extra column", OHLCV + "2021-01-05,10,11,9,10,5,7\n", 2, "expected 6 values, found 7"),
    ("broken quoting", 'Date,Close\n2021-01-05,1\n"2021-01-06"x,2\n', 3, "not valid CSV"),
    ("not UTF-8", b"Date,Close\n2021-01-04,1\n2021-01-05,\xff\n", 3, "not UTF-8"),
    ("UTF-16", "Date,Close\n2021-01-04,1\n".encode("utf-16"), 1, "not UTF-8"),
]


@pytest.mark.parametrize(
    ("content", "line", "fragment"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_file_names_the_line(
    tmp_path: Path, content: str | bytes, line: int, fragment: str
) -> None:
    problems = _problems(_write(tmp_path, content))
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"line {line}: "), problems
    assert fragment in problems[0]


def test_every_bad_row_is_reported_with_its_own_line(tmp_path: Path) -> None:
    content = (
        OHLCV
        + "2021-01-04,10,11,9,10,5\n"  # line 2 good
        + "2021-01-05,10,11,9,-3,5\n"  # line 3 bad close
        + "\n"  # line 4 blank, skipped
        + "nope,10,11,9,10,-1\n"  # line 5 bad date and volume
        + "2021-01-06,10,11,9,10,5\n"  # line 6 good
        + "2021-01-04,10,11,9,10,5\n"  # line 7 duplicate of line 2
    )
    problems = _problems(_write(tmp_path, content))
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 5", "line 7"]
    assert "volume -1 is negative" in problems[1] and "'nope'" in problems[1]


def test_bom_does_not_shift_line_numbers(tmp_path: Path) -> None:
    content = "\ufeffDate,Close\n2021-01-04,1\n2021-01-05,0\n".encode()
    assert _problems(_write(tmp_path, content)) == ["line 3: close 0 is not a positive price"]


def test_valid_file_is_sorted_float64_with_date_index(tmp_path: Path) -> None:
    content = (
        "\ufeffdate , OPEN,high,Low,close,VOLUME\r\n"
        "2021-01-06,12,13,11,12.5,300\r\n"
        "\r\n"
        "2021-01-04,10,11,9,10.5,100\r\n"
        "2021-01-05,11,12,10,11.5,0\r\n"
    )
    fields, frame = parse_csv(_write(tmp_path, content))
    assert fields == frozenset({"open", "high", "low", "close", "volume"})
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dtype == "float64" for dtype in frame.dtypes)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.name == "date"
    assert [f"{d:%Y-%m-%d}" for d in frame.index] == ["2021-01-04", "2021-01-05", "2021-01-06"]
    assert frame.loc["2021-01-06", "close"] == 12.5


def test_close_only_any_column_order_and_adj_close_ignored(tmp_path: Path) -> None:
    content = "Adj Close,Close,Date\n0.9,1.5,2021-01-05\n0.8,1.25,2021-01-04\n"
    fields, frame = parse_csv(_write(tmp_path, content))
    assert fields == frozenset({"close"})
    assert frame["close"].tolist() == [1.25, 1.5]


def test_import_writes_instrument_and_is_idempotent(
    tmp_path: Path, fresh_store: MarketDataStore
) -> None:
    path = _write(tmp_path, OHLCV + GOOD_ROW + "2021-01-05,10,12,9.5,11,900\n", "acme.csv")
    instrument, written = import_csv(fresh_store, path)
    assert written == 2
    assert instrument.symbol == "ACME"
    assert instrument.dataset == "user"
    assert instrument.source == "csv:acme.csv"
    assert instrument.adjustment == "as provided"
    assert instrument.asset_class == "user"
    assert instrument.tradable
    assert fresh_store.resolve("acme") == instrument
    assert import_csv(fresh_store, path)[1] == 0


def test_bad_file_writes_nothing_even_over_existing_data(
    tmp_path: Path, fresh_store: MarketDataStore
) -> None:
    good = _write(tmp_path, OHLCV + GOOD_ROW, "good.csv")
    import_csv(fresh_store, good, "ACME")
    stored = fresh_store.root / "user" / "ACME.parquet"
    before = stored.read_bytes()
    bad = _write(tmp_path, OHLCV + "2021-01-05,10,12,9.5,11,900\n2021-01-06,1,1,1,x,1\n", "bad.csv")
    with pytest.raises(DataValidationError):
        import_csv(fresh_store, bad, "ACME")
    assert stored.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "symbol", "dataset", "message"),
    [
        ("my prices.csv", None, "user", "pass --symbol"),
        ("x.csv", "../../etc/passwd", "user", "invalid symbol"),
        ("x.csv", "ACME", "../escape", "invalid dataset"),
        ("x.csv", "ACME", "daily", "holds the bundled data"),
    ],
)
def test_bad_symbol_or_dataset_is_refused_before_reading(
    tmp_path: Path,
    fresh_store: MarketDataStore,
    name: str,
    symbol: str | None,
    dataset: str,
    message: str,
) -> None:
    path = _write(tmp_path, OHLCV + GOOD_ROW, name)
    with pytest.raises(InputError, match=message):
        import_csv(fresh_store, path, symbol, dataset)
    assert not list(fresh_store.root.rglob("*.parquet"))


def test_changing_fields_of_an_existing_symbol_is_refused(
    tmp_path: Path, fresh_store: MarketDataStore
) -> None:
    import_csv(fresh_store, _write(tmp_path, OHLCV + GOOD_ROW, "a.csv"), "ACME")
    close_only = _write(tmp_path, "Date,Close\n2021-01-05,3\n", "b.csv")
    with pytest.raises(InputError, match="already holds"):
        import_csv(fresh_store, close_only, "ACME")


def test_missing_file_is_an_input_error(tmp_path: Path, fresh_store: MarketDataStore) -> None:
    with pytest.raises(InputError, match="no such file"):
        import_csv(fresh_store, tmp_path / "absent.csv", "ACME")


# Garbage: random bytes, or CSV-shaped text built from fragments that are often almost right.
_CELLS = st.one_of(
    st.sampled_from(["2021-01-04", "2021-01-05", "2021-02-30", "1", "0", "-1", "nan", "1e999"]),
    st.sampled_from(["", " ", '"', "10.5", "x", "\x00", "\ufeff", "inf", "2021/01/04", ",", "\n"]),
    st.text(alphabet=string.printable, max_size=8),
)
_HEADERS = st.sampled_from(
    ["Date,Open,High,Low,Close,Volume", "Date,Close", "date,close,adj close", "Close", ""]
)
_CSV_TEXT = st.builds(
    lambda header, rows: "\n".join([header, *(",".join(row) for row in rows)]),
    _HEADERS,
    st.lists(st.lists(_CELLS, max_size=7), max_size=6),
).map(str.encode)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.one_of(st.binary(max_size=200), _CSV_TEXT))
def test_garbage_never_raises_anything_else_and_never_half_writes(
    tmp_path: Path, fresh_store: MarketDataStore, content: bytes
) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(content)
    target = fresh_store.root / "user" / "GARBAGE.parquet"
    target.unlink(missing_ok=True)
    try:
        _, written = import_csv(fresh_store, path, "GARBAGE")
    except DataValidationError as exc:
        problems = exc.problems
    else:  # the rare generated file that is valid is written in full
        assert written == len(fresh_store.read(fresh_store.resolve("GARBAGE")))
        return
    assert problems
    assert all(p.startswith("line ") for p in problems)
    assert not target.exists()
