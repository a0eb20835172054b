"""Data-quality checks, on the real bundled series and on synthetic series (labelled as such)."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest

from alphatrader.data.calendar import sessions
from alphatrader.data.quality import (
    Finding,
    Thresholds,
    check_series,
    check_store,
    split_check_applies,
)
from alphatrader.data.store import MarketDataStore
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import UnknownNameError

REAL_SPLITS = {"AAPL": [date(2000, 6, 21), date(2005, 2, 28)], "MSFT": [date(2003, 2, 18)]}

SYNTHETIC = Instrument(
    symbol="SYNTH",
    dataset="user",
    asset_class="user",
    fields=frozenset({"open", "high", "low", "close", "volume"}),
    source="synthetic test data",
    adjustment="as provided",
    tradable=True,
)


def synthetic_bars(
    start: str = "2021-01-04", end: str = "2021-12-31", seed: int = 7
) -> pd.DataFrame:
    """SYNTHETIC data: a seeded 1%-a-day random walk on every XNYS session, with consistent
    OHLC. Not market data."""
    index = pd.DatetimeIndex(sessions(pd.Timestamp(start), pd.Timestamp(end)), name="date")
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(index))))
    open_ = np.concatenate([[100.0], close[:-1]])
    frame = pd.DataFrame({"open": open_, "close": close}, index=index)
    frame["high"] = frame[["open", "close"]].max(axis=1) * 1.005
    frame["low"] = frame[["open", "close"]].min(axis=1) * 0.995
    frame["volume"] = 1e6
    return frame[["open", "high", "low", "close", "volume"]]


def _checks(findings: list[Finding]) -> list[str]:
    return [f.check for f in findings]


# -- real data: splits ---------------------------------------------------------------------------
@pytest.mark.parametrize("symbol", sorted(REAL_SPLITS))
def test_raw_bars_contain_the_real_splits(store: MarketDataStore, symbol: str) -> None:
    """The data itself: the open halves against the previous close and adj_close's factor
    doubles on exactly these dates."""
    bars = store.read(store.resolve(symbol, dataset="daily-ohlcv"))
    overnight = bars["open"] / bars["close"].shift(1)
    factor = bars["adj_close"] / bars["close"]
    doubled = bars.index[(factor / factor.shift(1)).round(3) == 2.0]
    assert [d.date() for d in doubled] == REAL_SPLITS[symbol]
    assert overnight[doubled].between(0.49, 0.52).all()


@pytest.mark.parametrize("symbol", sorted(REAL_SPLITS))
def test_split_detector_finds_real_splits_in_raw_bars(store: MarketDataStore, symbol: str) -> None:
    inst = store.resolve(symbol, dataset="daily-ohlcv")
    splits = [f for f in check_series(inst, store.read(inst)) if f.check == "split"]
    assert [f.dates[0] for f in splits] == REAL_SPLITS[symbol]
    assert all("2-for-1" in f.detail and f.severity == "warning" for f in splits)


@pytest.mark.parametrize("symbol", sorted(REAL_SPLITS))
def test_split_detector_finds_them_from_prices_alone(store: MarketDataStore, symbol: str) -> None:
    """Without adj_close, the overnight drop plus a new level that holds is the evidence."""
    inst = store.resolve(symbol, dataset="daily-ohlcv")
    bars = store.read(inst).drop(columns="adj_close")
    splits = [f for f in check_series(inst, bars) if f.check == "split"]
    assert [f.dates[0] for f in splits] == REAL_SPLITS[symbol]
    assert all(f.severity == "error" for f in splits)


def test_a_real_crash_is_not_a_split(store: MarketDataStore) -> None:
    """AAPL lost 52% on 2000-09-29 (a profit warning): it opened at 0.527 of the previous
    close and adj_close's factor did not move."""
    inst = store.resolve("AAPL", dataset="daily-ohlcv")
    bars = store.read(inst)
    assert bars["close"]["2000-09-29"] / bars["close"]["2000-09-28"] == pytest.approx(
        0.481, abs=1e-3
    )
    found = check_series(inst, bars)
    assert date(2000, 9, 29) not in {d for f in found if f.check == "split" for d in f.dates}


@pytest.mark.parametrize("symbol", sorted(REAL_SPLITS))
def test_no_split_on_adjusted_closes(store: MarketDataStore, symbol: str) -> None:
    inst = store.resolve(symbol, dataset="daily")
    closes = store.read(inst)
    assert not split_check_applies(inst)  # declared split-adjusted
    assert "split" not in _checks(check_series(inst, closes))
    # Even treated as raw, the adjusted closes show nothing on the split dates.
    as_raw = dataclasses.replace(inst, adjustment="as provided")
    flagged = {d for f in check_series(as_raw, closes) if f.check == "split" for d in f.dates}
    assert not flagged & set(REAL_SPLITS[symbol])


# -- real data: calendar, stale runs, spikes ---------------------------------------------------
def test_bond_market_calendar_of_tbill_series_shows_as_gaps_and_extra_days(
    store: MarketDataStore,
) -> None:
    """TBILL3M_TR follows the bond market: closed on Columbus Day, open when the NYSE was not
    (after 9/11)."""
    inst = store.resolve("TBILL3M_TR")
    found = check_series(inst, store.read(inst))
    gaps = {d for f in found if f.check == "gap" for d in f.dates}
    extra = [f.dates for f in found if f.check == "extra_day"]
    assert date(1990, 10, 8) in gaps
    assert (date(2001, 9, 13), date(2001, 9, 14)) in extra
    assert set(_checks(found)) == {"gap", "extra_day"}


def test_stale_runs_in_illiquid_early_rrc(store: MarketDataStore) -> None:
    inst = store.resolve("RRC")
    stale = [f for f in check_series(inst, store.read(inst)) if f.check == "stale"]
    first = stale[0]
    assert (first.dates[0], first.dates[-1], len(first.dates)) == (
        date(1990, 1, 2),
        date(1990, 4, 9),
        69,
    )


def test_whole_bundle_findings(store: MarketDataStore) -> None:
    """What the bundled data holds, as a regression record (see `alphatrader data check`)."""
    report = check_store(store)
    assert len(report.series) == 58
    where = {(f.symbol, f.dataset, f.check) for f in report.findings}
    assert where == {
        ("TBILL3M_TR", "daily", "gap"),
        ("TBILL3M_TR", "daily", "extra_day"),
        ("AAPL", "daily-ohlcv", "split"),
        ("MSFT", "daily-ohlcv", "split"),
        ("RRC", "daily", "stale"),
        ("RRC", "daily", "outlier"),
        *{(s, "daily", "stale") for s in ("AMD", "BBY", "GE", "JPM", "KO", "PG", "SIZE")},
    }
    assert report.counts()["split"] == 3


# -- synthetic series ------------------------------------------------------------------------
def test_clean_synthetic_series_has_no_findings() -> None:
    assert check_series(SYNTHETIC, synthetic_bars()) == []


def test_gap_detector_finds_exactly_the_deleted_session() -> None:
    bars = synthetic_bars()  # SYNTHETIC
    deleted = pd.Timestamp("2021-02-16")  # the Tuesday after Presidents' Day
    found = check_series(SYNTHETIC, bars.drop(index=deleted))
    assert [(f.check, f.dates) for f in found] == [("gap", (date(2021, 2, 16),))]


def test_consecutive_missing_sessions_are_one_gap() -> None:
    bars = synthetic_bars().drop(index=pd.to_datetime(["2021-03-03", "2021-03-04", "2021-03-05"]))
    gaps = [f for f in check_series(SYNTHETIC, bars) if f.check == "gap"]
    assert len(gaps) == 1
    assert gaps[0].detail == "3 missing XNYS sessions"


def test_weekend_and_holiday_rows_are_extra_days() -> None:
    bars = synthetic_bars()  # SYNTHETIC
    extra = bars.iloc[[10, 11]].copy()
    extra.index = pd.DatetimeIndex(pd.to_datetime(["2021-01-18", "2021-01-23"]), name="date")
    found = check_series(SYNTHETIC, pd.concat([bars, extra]))
    assert [(f.check, f.dates) for f in found if f.check == "extra_day"] == [
        ("extra_day", (date(2021, 1, 18),)),  # Martin Luther King Jr. Day
        ("extra_day", (date(2021, 1, 23),)),  # a Saturday
    ]


def test_duplicate_dates() -> None:
    bars = synthetic_bars()  # SYNTHETIC
    found = check_series(SYNTHETIC, pd.concat([bars, bars.iloc[[5]]]))
    assert [(f.check, f.dates) for f in found] == [("duplicate", (bars.index[5].date(),))]


def test_bad_values_per_column() -> None:
    bars = synthetic_bars()  # SYNTHETIC
    bars.loc[bars.index[3], "close"] = np.nan
    bars.loc[bars.index[[4, 6]], "low"] = -1.0
    bars.loc[bars.index[7], "volume"] = -10.0
    bad = {
        f.detail.split(":")[0]: f.dates
        for f in check_series(SYNTHETIC, bars)
        if f.check == "bad_value"
    }
    assert bad == {
        "low": (bars.index[4].date(), bars.index[6].date()),
        "close": (bars.index[3].date(),),
        "volume": (bars.index[7].date(),),
    }


@pytest.mark.parametrize(
    ("column", "factor", "rule"),
    [
        ("high", 0.5, "high below low"),
        ("low", 1.5, "high below low"),
        ("open", 1.004, "high below max(open, close)"),
        ("close", 0.996, "low above min(open, close)"),
    ],
)
def test_ohlc_inconsistency(column: str, factor: float, rule: str) -> None:
    bars = synthetic_bars()  # SYNTHETIC
    day = bars.index[20]
    if column in ("open", "close"):  # move just outside the 0.5% band around open/close
        edge = "high" if factor > 1 else "low"
        bars.loc[day, column] = bars.loc[day, edge] * (1.001 if factor > 1 else 0.999)
    else:
        bars.loc[day, column] = bars.loc[day, column] * factor
    ohlc = [f for f in check_series(SYNTHETIC, bars) if f.check == "ohlc"]
    assert [(f.detail, f.dates) for f in ohlc] == [(f"{rule} on 1 bar(s)", (day.date(),))]


@pytest.mark.parametrize(("run", "minimum", "found"), [(5, 5, True), (4, 5, False), (3, 3, True)])
def test_stale_run_threshold(run: int, minimum: int, found: bool) -> None:
    bars = synthetic_bars()[["close"]]  # SYNTHETIC
    bars.iloc[30 : 30 + run, 0] = 42.0
    stale = [
        f
        for f in check_series(SYNTHETIC, bars, Thresholds(stale_run=minimum))
        if f.check == "stale"
    ]
    expected = [tuple(d.date() for d in bars.index[30 : 30 + run])] if found else []
    assert [f.dates for f in stale] == expected


def test_spike_that_reverts_is_an_outlier_and_a_lasting_jump_is_not() -> None:
    bars = synthetic_bars()[["close"]]  # SYNTHETIC
    spike_day, jump_day = bars.index[100], bars.index[200]
    bars.loc[spike_day, "close"] *= 1.25  # a bad print: back to normal the next day
    bars.loc[jump_day:, "close"] *= 1.25  # news: the new level stays
    outliers = [f for f in check_series(SYNTHETIC, bars) if f.check == "outlier"]
    assert [f.dates for f in outliers] == [(spike_day.date(),)]


def test_synthetic_unadjusted_split_without_adj_close() -> None:
    bars = synthetic_bars()  # SYNTHETIC: a 3-for-1 split applied from day 150 onward
    split_day = bars.index[150]
    bars.loc[split_day:, ["open", "high", "low", "close"]] /= 3
    splits = [f for f in check_series(SYNTHETIC, bars) if f.check == "split"]
    assert [(f.dates, f.severity) for f in splits] == [((split_day.date(),), "error")]
    assert "3-for-1" in splits[0].detail


# -- check_store selection ---------------------------------------------------------------------
def test_named_symbol_is_checked_in_every_dataset_holding_it(store: MarketDataStore) -> None:
    report = check_store(store, ["aapl"])
    assert [(s.instrument.dataset, s.rows) for s in report.series] == [
        ("daily", 8313),
        ("daily-ohlcv", 3270),
    ]
    assert report.counts() == {"split": 2}
    assert check_store(store, ["AAPL"], dataset="daily").clean


def test_unknown_symbol_or_dataset(store: MarketDataStore) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'AAPL'"):
        check_store(store, ["AAPLL"])
    with pytest.raises(UnknownNameError, match="unknown dataset 'nope'"):
        check_store(store, dataset="nope")
