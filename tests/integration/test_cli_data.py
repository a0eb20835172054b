"""`alphatrader data ...` run as a user runs it: a separate process, a private data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphatrader.data.calendar import sessions
from alphatrader.data.store import MarketDataStore

OHLCV = "Date,Open,High,Low,Close,Volume\n"
ROW = "2021-01-04,10,11,9,10.5,1000\n"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder whose data/market is seeded once for the module (what the first command
    would do), so that each case does not pay for seeding."""
    root = tmp_path_factory.mktemp("cli-data")
    MarketDataStore(root / "data" / "market").ensure_seeded()
    return root


def run(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHATRADER_")}
    env |= {"ALPHATRADER_DATA_DIR": str(workdir / "data"), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "alphatrader", *args],
        cwd=workdir,  # so that no developer's .env is read
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def user_file(workdir: Path, symbol: str) -> Path:
    return workdir / "data" / "market" / "user" / f"{symbol}.parquet"


def assert_one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert "Traceback" not in stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


# (case, file content, line numbers that must be reported)
MALFORMED = [
    ("empty", "", [1]),
    ("header-only", OHLCV, [1]),
    ("unknown-column", "Date,Close,Price\n2021-01-04,1,1\n", [1]),
    ("bad-date", OHLCV + ROW + "2021-13-01,10,11,9,10,5\n", [3]),
    ("us-date", OHLCV + "01/04/2021,10,11,9,10,5\n", [2]),
    ("negative-price", OHLCV + ROW + ROW.replace("04", "05").replace("10.5", "-1"), [3]),
    ("zero-price", "Date,Close\n2021-01-04,1\n2021-01-05,0\n", [3]),
    ("nan", OHLCV + "2021-01-05,10,11,9,nan,5\n", [2]),
    ("inf", OHLCV + "2021-01-05,10,inf,9,10,5\n", [2]),
    ("high-below-low", OHLCV + ROW + "2021-01-05,10,8,9,10,5\n", [3]),
    ("close-outside", OHLCV + "2021-01-05,10,11,9,12,5\n", [2]),
    ("negative-volume", OHLCV + "2021-01-05,10,11,9,10,-5\n", [2]),
    ("duplicate-date", OHLCV + ROW + "2021-01-05,10,11,9,10,5\n" + ROW, [4]),
    ("missing-column", OHLCV + "2021-01-05,10,11,9,10\n", [2]),
    ("extra-column", OHLCV + "2021-01-05,10,11,9,10,5,6\n", [2]),
    ("not-utf8", b"Date,Close\n2021-01-04,1\n2021-01-05,1\n2021-01-06,\xe9\n", [4]),
    ("bom-and-bad-row", "\ufeffDate,Close\n2021-01-04,x\n", [2]),
    (
        "many-bad-rows",
        OHLCV + "".join(f"2021-01-{d:02d},1,1,1,-1,1\n" for d in range(4, 12)),
        list(range(2, 10)),
    ),
]


@pytest.mark.parametrize(
    ("content", "lines"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_csv_is_refused_with_line_numbers(
    workdir: Path, request: pytest.FixtureRequest, content: str | bytes, lines: list[int]
) -> None:
    case = request.node.callspec.id
    symbol = "BAD-" + case.upper()[:16]
    path = workdir / f"{case}.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)

    result = run(workdir, "data", "import-csv", str(path), "--symbol", symbol)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    *problems, error = result.stderr.splitlines()
    assert error.startswith("error: ") and "nothing imported" in error
    assert [p.split(":")[0] for p in problems] == [f"  line {n}" for n in lines]
    assert f"line {lines[0]}:" in error
    assert not user_file(workdir, symbol).exists()
    assert result.stdout == ""


def synthetic_csv(path: Path) -> Path:
    """SYNTHETIC data: a seeded 1%-a-day random walk on the XNYS sessions of 2021, consistent
    OHLC, written newest first (the importer sorts). Not market data."""
    days = sessions(pd.Timestamp("2021-01-04"), pd.Timestamp("2021-12-31"))
    rng = np.random.default_rng(11)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
    opens = np.concatenate([[50.0], close[:-1]])
    rows = [
        f"{d:%Y-%m-%d},{o:.4f},{max(o, c) * 1.004:.4f},{min(o, c) * 0.996:.4f},{c:.4f},{v}"
        for d, o, c, v in zip(days, opens, close, range(1000, 1000 + len(days)), strict=True)
    ]
    path.write_text("Date,Open,High,Low,Close,Volume\n" + "\n".join(reversed(rows)) + "\n")
    return path


def test_clean_synthetic_import_then_check_exits_zero(workdir: Path) -> None:
    path = synthetic_csv(workdir / "synth.csv")

    first = run(workdir, "data", "import-csv", str(path))
    assert first.returncode == 0, first.stderr
    assert "imported user/SYNTH: 252 row(s) new or changed, 252 stored" in first.stdout
    again = run(workdir, "data", "import-csv", str(path))
    assert "0 row(s) new or changed, 252 stored" in again.stdout

    check = run(workdir, "data", "check", "SYNTH")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "1 series checked, 0 with findings: none" in check.stdout

    listing = run(workdir, "data", "list", "--dataset", "user")
    assert "SYNTH" in listing.stdout and "csv:synth.csv" in listing.stdout


def test_adj_close_column_is_reported_as_ignored(workdir: Path) -> None:
    path = workdir / "adjc.csv"
    path.write_text("Date,Close,Adj Close\n2021-01-04,10,9.5\n2021-01-05,11,10.4\n")
    result = run(workdir, "data", "import-csv", str(path))
    assert result.returncode == 0, result.stderr
    assert "column 'Adj Close' ignored" in result.stdout


def test_check_raw_aapl_exits_one_with_the_splits(workdir: Path) -> None:
    result = run(workdir, "data", "check", "AAPL", "--dataset", "daily-ohlcv")
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    for day in ("2000-06-21", "2005-02-28"):
        assert day in result.stdout
    assert "1 series checked, 1 with findings: split 2" in result.stdout


def test_check_everything_reports_the_bundle_findings(workdir: Path) -> None:
    result = run(workdir, "data", "check", "--details", "1")
    assert result.returncode == 1
    assert "series checked, 11 with findings" in result.stdout
    assert "TBILL3M_TR" in result.stdout and "more (--details" in result.stdout


def test_list_shows_every_bundled_series(workdir: Path) -> None:
    result = run(workdir, "data", "list")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(rows) >= 58
    aapl_raw = next(r for r in rows if "AAPL" in r and "daily-ohlcv" in r)
    assert "2000-03-01" in aapl_raw and "2013-03-01" in aapl_raw and "3270" in aapl_raw


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "check", "AAPLL"], "error: unknown symbol 'AAPLL'; did you mean 'AAPL'?"),
        (["data", "check", "../../etc/passwd"], "error: invalid symbol '../../etc/passwd'"),
        (["data", "check", "--dataset", "nope"], "error: unknown dataset 'nope'"),
        (["data", "import-csv", "absent.csv"], "error: absent.csv: no such file"),
        (["data", "import-csv", "absent.csv", "--dataset", "daily"], "holds the bundled data"),
    ],
)
def test_bad_names_are_one_line_errors(workdir: Path, args: list[str], message: str) -> None:
    result = run(workdir, *args)
    assert result.returncode == 2
    assert message in assert_one_error_line(result.stderr)
