"""`alphatrader backtest` end to end in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, seeded_store_root: Path) -> Path:
    root = tmp_path_factory.mktemp("cli-data")
    shutil.copytree(seeded_store_root, root / "market")
    return root


def alphatrader(args: list[str], data_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALPHATRADER_DATA_DIR": str(data_dir), "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "alphatrader", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_json_result_has_the_documented_shape(data_dir: Path, tmp_path: Path) -> None:
    out = alphatrader(
        [
            "backtest",
            "--strategy",
            "golden_cross",
            "--symbols",
            "SPY,XLK",
            "--json",
            "r.json",
            "--report",
            "r.html",
        ],
        data_dir,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert set(doc) == {
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
    assert doc["strategies"] == ["golden_cross"]
    assert doc["symbols"] == ["SPY", "XLK"]
    assert (doc["start"], doc["end"]) == ("2008-01-02", "2016-07-01")
    assert doc["initial_cash"] == 1000.0  # PORTFOLIO_SIZE
    assert doc["trades"], "golden cross trades SPY and XLK over 2008-2016"
    for trade in doc["trades"]:
        assert set(trade) == {
            "symbol",
            "strategy",
            "entry_date",
            "entry_price",
            "exit_date",
            "exit_price",
            "qty",
            "pnl",
        }
    assert doc["equity"][0] == ["2008-01-02", 1000.0]
    assert doc["equity"][-1][1] == pytest.approx(doc["final_equity"], abs=0.01)
    realized = sum(t["pnl"] for t in doc["trades"])
    assert doc["final_equity"] == pytest.approx(1000.0 + realized, abs=0.05)
    html = (tmp_path / "r.html").read_text()
    assert "<html" in html and "Backtest: golden_cross" in html


def test_summary_table_is_printed(data_dir: Path, tmp_path: Path) -> None:
    out = alphatrader(
        [
            "backtest",
            "--strategy",
            "mean_reversion",
            "--symbols",
            "KO",
            "--start",
            "2010-01-01",
            "--end",
            "2012-12-31",
        ],
        data_dir,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "mean_reversion" in out.stdout and "Final equity" in out.stdout
    assert list((tmp_path / "var" / "reports").glob("backtest-2010-01-04-2012-12-31.html"))


BAD_INPUTS = [
    (["--strategy", "golden_crss"], "did you mean 'golden_cross'"),
    (["--strategy", "golden_cross", "--param", "fsat=10"], "did you mean 'fast'"),
    (["--strategy", "golden_cross", "--param", "fast=ten"], "fast"),
    (["--strategy", "golden_cross", "--symbols", "NOPE"], "unknown symbol 'NOPE'"),
    (["--strategy", "golden_cross", "--symbols", "../../etc/passwd"], "invalid symbol"),
    (["--strategy", "golden_cross", "--symbols", "SPY", "--start", "2020-01-01"], "no data"),
    (["--strategy", "golden_cross", "--start", "2012-13-01"], "not a date"),
    (["--strategy", "golden_cross", "--start", "2012-01-01", "--end", "2011-01-01"], "after"),
    (["--strategy", "ema_crossover", "--symbols", "SPY"], "needs volume"),
    (["--sizing", "yolo"], "--sizing"),
    (["--cash", "-5"], "--cash"),
    (["--universe", "sp500"], "unknown universe"),
]


@pytest.mark.parametrize(("args", "expected"), BAD_INPUTS)
def test_bad_input_is_one_clear_line(
    args: list[str], expected: str, data_dir: Path, tmp_path: Path
) -> None:
    out = alphatrader(["backtest", *args], data_dir, tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert not (tmp_path / "var" / "reports").exists()  # nothing half-written


def test_malformed_csv_is_refused_with_line_numbers(data_dir: Path, tmp_path: Path) -> None:
    csv = tmp_path / "mine.csv"
    csv.write_text("Date,Close\n2020-01-02,10\n2020-01-03,-1\nnot-a-date,11\n")
    out = alphatrader(
        ["backtest", "--strategy", "golden_cross", "--data-csv", str(csv)], data_dir, tmp_path
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "line 3" in out.stderr and "line 4" in out.stderr


def test_backtest_on_own_csv(data_dir: Path, tmp_path: Path, store: object) -> None:
    from alphatrader.data.market import load_series

    bars = load_series(store, "IBM").bars  # type: ignore[arg-type]
    csv = tmp_path / "ibm.csv"
    bars.rename(columns=str.title).to_csv(csv, index_label="Date")
    out = alphatrader(
        ["backtest", "--strategy", "ema_crossover", "--data-csv", str(csv), "--json", "o.json"],
        data_dir,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "o.json").read_text())
    assert doc["symbols"] == ["IBM"] and doc["trades"]
