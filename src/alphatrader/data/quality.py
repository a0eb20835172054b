"""Data-quality checks on stored daily series: what is wrong, where, and how badly.

Each check is vectorized over the whole series and returns findings; none of them changes data.

* `gap`        XNYS sessions between the first and last date that have no row (one per run).
* `extra_day`  rows on dates that are not XNYS sessions: weekends, holidays (one per run).
* `duplicate`  the same date more than once (later copies are ignored by the other checks).
* `bad_value`  prices that are NaN, infinite or <= 0; volume that is NaN, infinite or < 0.
* `ohlc`       bars where high < low, or open/close lie outside [low, high].
* `stale`      `stale_run` or more identical consecutive closes (a feed that stopped updating).
* `split`      a price drop that matches a split ratio and holds: an unadjusted split.
* `outlier`    a one-day spike in the close that reverts the next session (a bad print).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from alphatrader.data.calendar import sessions, xnys
from alphatrader.data.store import MarketDataStore, validate_symbol
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import UnknownNameError

Severity = Literal["error", "warning"]
CHECKS = ("gap", "extra_day", "duplicate", "bad_value", "ohlc", "stale", "split", "outlier")
PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
# Price ratio after a split -> its name. A 3-for-2 split leaves 2/3 of the price.
SPLIT_RATIOS = {
    1 / 2: "2-for-1",
    1 / 3: "3-for-1",
    2 / 3: "3-for-2",
    1 / 4: "4-for-1",
    1 / 5: "5-for-1",
    1 / 10: "10-for-1",
}
# A close-only series declared split-adjusted has no open and no adjustment factor to tell a
# split from a crash (AAPL fell 52% on 2000-09-29), so the split check would only add noise.
_SPLIT_ADJUSTED = re.compile(r"split(_and_dividend)?_adjusted|index")
_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution × this = its standard deviation


@dataclass(frozen=True, slots=True)
class Thresholds:
    stale_run: int = 5  # identical consecutive closes that make a stale run
    split_tolerance: float = 0.03  # |log(open/prev close ÷ split ratio)|: a 3% miss matches
    split_close_tolerance: float = 0.05  # close-only series: the day's own move adds noise
    split_hold_sessions: int = 5  # without adj_close, the new level must hold this long ...
    split_hold_tolerance: float = 0.15  # ... with its median within 15% of the split ratio
    outlier_k: float = 8.0  # a spike is > k robust sigmas ...
    outlier_floor: float = 0.05  # ... and > 5% log return, so calm or stale series stay quiet
    outlier_window: int = 21  # sessions in the centered window that estimates sigma
    outlier_revert: float = 0.5  # the next session undoes at least half of the move


@dataclass(frozen=True, slots=True)
class Finding:
    symbol: str
    dataset: str
    check: str
    dates: tuple[date, ...]
    detail: str
    severity: Severity

    @property
    def when(self) -> str:
        if not self.dates:
            return ""
        first, last = self.dates[0].isoformat(), self.dates[-1].isoformat()
        return first if len(self.dates) == 1 else f"{first}..{last} ({len(self.dates)})"


@dataclass(frozen=True, slots=True)
class SeriesReport:
    instrument: Instrument
    rows: int
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class QualityReport:
    series: tuple[SeriesReport, ...]

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.series for f in s.findings]

    @property
    def clean(self) -> bool:
        return not self.findings

    def counts(self) -> dict[str, int]:
        """Findings per check, in `CHECKS` order, checks without findings left out."""
        seen = Counter(f.check for f in self.findings)
        return {c: seen[c] for c in CHECKS if seen[c]}


class _Issue(NamedTuple):
    check: str
    dates: pd.Index  # of Timestamps
    detail: str
    severity: Severity


def check_series(
    instrument: Instrument, frame: pd.DataFrame, thresholds: Thresholds | None = None
) -> list[Finding]:
    """Every check on one stored frame (indexed by date), in `CHECKS` order."""
    th = thresholds or Thresholds()
    frame = frame.sort_index(kind="stable")
    frame.index = pd.DatetimeIndex(frame.index).normalize()
    issues = _duplicates(frame)
    frame = frame[~frame.index.duplicated(keep="first")]
    issues += _calendar(pd.DatetimeIndex(frame.index))
    issues += _bad_values(frame) + _ohlc(frame) + _stale(frame, th)
    if split_check_applies(instrument):
        issues += _splits(frame, th)
    issues += _outliers(frame, th)
    return [
        Finding(
            instrument.symbol,
            instrument.dataset,
            i.check,
            tuple(d.date() for d in pd.DatetimeIndex(i.dates)),
            i.detail,
            i.severity,
        )
        for i in issues
    ]


def split_check_applies(instrument: Instrument) -> bool:
    return not _SPLIT_ADJUSTED.search(instrument.adjustment)


def check_store(
    store: MarketDataStore,
    symbols: Sequence[str] = (),
    dataset: str | None = None,
    thresholds: Thresholds | None = None,
) -> QualityReport:
    """Check the named symbols (every dataset holding each, unless `dataset` is given), or
    every stored series when no symbol is named."""
    reports = []
    for inst in _select(store, symbols, dataset):
        frame = store.read(inst)
        reports.append(SeriesReport(inst, len(frame), tuple(check_series(inst, frame, thresholds))))
    return QualityReport(tuple(reports))


def _select(
    store: MarketDataStore, symbols: Sequence[str], dataset: str | None
) -> list[Instrument]:
    everything = store.instruments()
    if dataset is not None and dataset not in {i.dataset for i in everything}:
        raise UnknownNameError("dataset", dataset, {i.dataset for i in everything})
    if not symbols:
        return [i for i in everything if dataset is None or i.dataset == dataset]
    chosen: list[Instrument] = []
    for raw in symbols:
        symbol = validate_symbol(raw)
        found = [i for i in everything if i.symbol == symbol and dataset in (None, i.dataset)]
        # resolve() raises the one-line "unknown symbol ..., did you mean" error.
        chosen += found or [store.resolve(symbol, dataset=dataset)]
    return list(dict.fromkeys(chosen))


# -- the checks ---------------------------------------------------------------------------------
def _duplicates(frame: pd.DataFrame) -> list[_Issue]:
    dup = frame.index[frame.index.duplicated(keep="first")].unique()
    return [
        _Issue("duplicate", pd.DatetimeIndex([d]), "date appears more than once", "error")
        for d in dup
    ]


def _calendar(index: pd.DatetimeIndex) -> list[_Issue]:
    if index.empty:
        return []
    cal = xnys()
    # Only dates the calendar covers can be judged; earlier or later ones are left alone.
    judged = index[(index >= cal.first_session) & (index <= cal.last_session)]
    if judged.empty:
        return []
    expected = sessions(judged[0], judged[-1])
    issues = []
    for run in _runs(expected, expected.difference(judged)):
        noun = "session" if len(run) == 1 else "sessions"
        issues.append(_Issue("gap", run, f"{len(run)} missing XNYS {noun}", "warning"))
    extra = judged.difference(expected)
    for run in _runs(pd.date_range(extra.min(), extra.max()) if len(extra) else extra, extra):
        days = ", ".join(f"{d:%a}" for d in run)
        issues.append(_Issue("extra_day", run, f"not an XNYS session ({days})", "warning"))
    return issues


def _runs(axis: pd.DatetimeIndex, members: pd.DatetimeIndex) -> list[pd.DatetimeIndex]:
    """`members` split into runs that are consecutive along `axis`."""
    if members.empty:
        return []
    pos = axis.get_indexer(members)
    breaks = np.flatnonzero(np.diff(pos) != 1) + 1
    return [members[part] for part in np.split(np.arange(len(members)), breaks)]


def _bad_values(frame: pd.DataFrame) -> list[_Issue]:
    issues = []
    for col in [c for c in (*PRICE_COLUMNS, "volume") if c in frame.columns]:
        values = frame[col].to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(values) | (values < 0 if col == "volume" else values <= 0)
        if bad.any():
            rule = "NaN, infinite or negative" if col == "volume" else "NaN, infinite or <= 0"
            first = f"{values[bad][0]} on {frame.index[bad][0]:%Y-%m-%d}"
            detail = f"{col}: {int(bad.sum())} value(s) {rule} (first {first})"
            issues.append(_Issue("bad_value", frame.index[bad], detail, "error"))
    return issues


def _ohlc(frame: pd.DataFrame) -> list[_Issue]:
    if not {"open", "high", "low", "close"} <= set(frame.columns):
        return []
    o, h, low, c = (frame[k] for k in ("open", "high", "low", "close"))
    rules = {
        "high below low": h < low,
        "low above min(open, close)": (h >= low) & (low > np.minimum(o, c)),
        "high below max(open, close)": (h >= low) & (h < np.maximum(o, c)),
    }
    return [
        _Issue("ohlc", frame.index[mask.to_numpy()], f"{rule} on {int(mask.sum())} bar(s)", "error")
        for rule, mask in rules.items()
        if mask.any()
    ]


def _stale(frame: pd.DataFrame, th: Thresholds) -> list[_Issue]:
    close = frame["close"]
    run_id = (close != close.shift()).cumsum()
    sizes = close.groupby(run_id).transform("size")
    stale = (sizes >= th.stale_run) & close.notna()
    issues = []
    for _, run in close[stale].groupby(run_id[stale]):
        detail = f"{len(run)} identical closes of {run.iloc[0]:g}"
        issues.append(_Issue("stale", pd.DatetimeIndex(run.index), detail, "warning"))
    return issues


def _log_ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    ratio = num / den
    return pd.Series(np.log(ratio.where(ratio > 0)), index=num.index)


def _splits(frame: pd.DataFrame, th: Thresholds) -> list[_Issue]:
    """Drops that match a split ratio: open / previous close where there are opens (a split
    takes effect overnight), else close to close with a wider tolerance for the day's own move.
    Where `adj_close` exists its factor must jump by the same ratio (a crash leaves it alone);
    otherwise the new price level must hold for `split_hold_sessions`."""
    close, prev = frame["close"], frame["close"].shift(1)
    measure, tolerance = (
        ("open", th.split_tolerance) if "open" in frame else ("close", th.split_close_tolerance)
    )
    move = _log_ratio(frame[measure], prev).to_numpy()
    targets = np.log(np.array(list(SPLIT_RATIOS)))
    dist = np.nan_to_num(np.abs(move[:, None] - targets[None, :]), nan=np.inf)
    nearest = dist.argmin(axis=1)
    hit = dist.min(axis=1) <= tolerance
    severity: Severity
    if "adj_close" in frame.columns:
        factor = frame["adj_close"] / close
        jump = _log_ratio(factor, factor.shift(1)).to_numpy()
        confirmed = np.abs(jump + targets[nearest]) <= th.split_tolerance
        advice, severity = "adj_close carries the factor; use adjusted prices", "warning"
    else:
        n = th.split_hold_sessions
        held = _log_ratio(close.rolling(n).median().shift(-(n - 1)), prev).to_numpy()
        confirmed = np.abs(held - targets[nearest]) <= th.split_hold_tolerance
        advice, severity = f"the new level holds {n} sessions; adjust the prices", "error"
    names = list(SPLIT_RATIOS.values())
    return [
        _Issue(
            "split",
            frame.index[[int(i)]],
            f"unadjusted {names[nearest[i]]} split? {measure}/previous close "
            f"{np.exp(move[i]):.3f}; {advice}",
            severity,
        )
        for i in np.flatnonzero(hit & confirmed)
    ]


def _outliers(frame: pd.DataFrame, th: Thresholds) -> list[_Issue]:
    """Spikes: |log return| above max(k × robust sigma, floor) that the next session reverts.
    Sigma is the MAD of returns in a window centered on the day: quality control may look ahead,
    and a centered window follows a crash's volatility instead of calling every crash day bad."""
    close = frame["close"]
    ret = _log_ratio(close, close.shift(1))
    w = th.outlier_window
    med = ret.rolling(w, center=True, min_periods=w // 2).median()
    mad = (ret - med).abs().rolling(w, center=True, min_periods=w // 2).median()
    limit = np.maximum(th.outlier_k * _MAD_TO_SIGMA * mad, th.outlier_floor)
    nxt = ret.shift(-1)
    spike = (
        (ret.abs() > limit)
        & (nxt.abs() > limit)
        & (np.sign(nxt) == -np.sign(ret))
        & ((ret + nxt).abs() <= th.outlier_revert * ret.abs())
    )
    issues = []
    for day in close.index[spike.to_numpy()]:
        detail = (
            f"close {close[day]:g} moves {np.expm1(ret[day]):+.1%} and "
            f"{np.expm1(nxt[day]):+.1%} the next session (limit ±{limit[day]:.3f} log)"
        )
        issues.append(_Issue("outlier", pd.DatetimeIndex([day]), detail, "warning"))
    return issues
