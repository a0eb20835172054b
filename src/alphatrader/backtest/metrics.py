"""Performance metrics of a backtest: one flat dict of JSON-safe numbers.

`compute_metrics(equity, trades, benchmark=None, exposure=None, traded_notional=0.0)` returns a
dict whose keys are always the same (`METRIC_KEYS`), in that order. Every value is a Python
`float`, an `int` or `None`; never NaN or infinity, so `json.dumps(..., allow_nan=False)` works.
`None` means "undefined for this input" (too few points, a zero denominator), never "zero".

Conventions. Risk-free rate 0; 252 periods per year. `equity` is the daily portfolio value
(index = session dates, sorted; NaNs are dropped). With values e_0 .. e_{n-1}:

    r_t = e_t / e_{t-1} - 1             t = 1 .. n-1   (N = n - 1 daily returns)
                                        (r_t = 0 when e_{t-1} <= 0: nothing left to grow)
    Y   = N / 252                       years
    G   = prod(1 + r_t)                 growth of one dollar (= e_{n-1} / e_0)

Where empyrical (empyrical-reloaded) defines a metric, the definition here is the same,
formula for formula, applied to the daily returns r (empyrical's function in brackets):

    total_return        G - 1                                        [cum_returns_final]
    cagr                G ** (1 / Y) - 1; None if G < 0              [annual_return / cagr]
    annual_volatility   std(r, ddof=1) * sqrt(252); 0.0 if r is constant   [annual_volatility]
    sharpe              mean(r) / std(r, ddof=1) * sqrt(252)         [sharpe_ratio]
                        None if r is constant (std 0)
    sortino             mean(r) * 252 / DD, DD = sqrt(mean(min(r, 0) ** 2)) * sqrt(252)
                        (downside deviation over ALL days, target 0); None if DD == 0
                                                                     [sortino_ratio]
    max_drawdown        min_t (W_t / max_{s<=t} W_s - 1) with W = 100 * cumprod(1 + r)
                        anchored at W = 100 before the first return; a negative fraction,
                        0.0 if the curve never falls                 [max_drawdown]
    calmar              cagr / |max_drawdown|; None if max_drawdown == 0   [calmar_ratio]
    var_95              5th percentile of r (numpy linear interpolation); a daily return,
                        negative when the worst 5 % of days lose     [value_at_risk]
    cvar_95             mean of the k + 1 smallest r, k = int((N - 1) * 0.05)
                                                                     [conditional_value_at_risk]

With a benchmark (a value or price series, e.g. an index level or a total-return index), both
series are restricted to the dates they share and r, b are their daily returns on those dates:

    benchmark_total_return  prod(1 + b) - 1
    benchmark_cagr          same formula as cagr, on b
    excess_return           (prod(1 + r) - 1) - benchmark_total_return  (shared dates)
    beta                    mean((b - mean(b)) * r) / mean((b - mean(b)) ** 2)  [beta]
                            None if the variance of b is below 1e-30
    alpha                   (1 + mean(r - beta * b)) ** 252 - 1          [alpha]
    correlation             Pearson correlation of r and b; None if either is constant
    tracking_error          std(r - b, ddof=1) * sqrt(252); 0.0 if r - b is constant
    information_ratio       mean(r - b) / std(r - b, ddof=1) * sqrt(252)
                            = empyrical.excess_sharpe(r, b) * sqrt(252) (empyrical leaves
                            excess_sharpe un-annualized; here it is annualized like sharpe);
                            None if r - b is constant

Not in empyrical:

    max_drawdown_duration_days  longest underwater spell, in sessions: from the session of a
                                peak to the first session back at or above it, or to the last
                                session if it never recovers; 0 if never underwater
    exposure            mean of the finite values of the `exposure` series (fraction of
                        equity invested each day); 0.0 when it is None or empty
    turnover            traded_notional / mean(e) / Y: the sum of |notional| of every fill,
                        buys AND sells, per average dollar of equity, per year. Buying the
                        whole book and selling it once a year is 2.0. None if Y == 0 or
                        mean(e) <= 0

Trade statistics. `num_trades` counts every trade (closed + open). The others use CLOSED
trades only (an open trade's P&L is only marked, not realized), with `pnl` as recorded on the
Trade (net of commission if the engine nets it):

    win_rate        (#closed with pnl > 0) / #closed            None if no closed trade
    profit_factor   sum(pnl > 0) / |sum(pnl < 0)|               None if no losing trade
    avg_win         mean pnl of winners ($)                     None if no winner
    avg_loss        mean pnl of losers ($, negative)            None if no loser
    expectancy      mean pnl per closed trade ($)               None if no closed trade

Degenerate input. Fewer than two equity points (or a first value <= 0): every equity and
benchmark metric is None; trade statistics, `num_trades` and `exposure` are still computed.
Fewer than two shared dates with the benchmark: every benchmark metric is None. Without a
benchmark the benchmark keys are present and None.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphatrader.domain.trade import Trade

PERIODS_PER_YEAR: Final = 252
VAR_CUTOFF: Final = 0.05

MetricValue = float | int | None
FloatArray = npt.NDArray[np.float64]

EQUITY_KEYS: Final = (
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration_days",
    "var_95",
    "cvar_95",
)
TRADE_KEYS: Final = (
    "win_rate",
    "profit_factor",
    "avg_win",
    "avg_loss",
    "expectancy",
    "exposure",
    "num_trades",
    "turnover",
)
BENCHMARK_KEYS: Final = (
    "benchmark_total_return",
    "benchmark_cagr",
    "alpha",
    "beta",
    "excess_return",
    "correlation",
    "tracking_error",
    "information_ratio",
)
METRIC_KEYS: Final = EQUITY_KEYS + TRADE_KEYS + BENCHMARK_KEYS


# -- small numeric helpers -------------------------------------------------------------------
def _clean(value: float | np.floating | None) -> float | None:
    """A plain Python float, or None for None/NaN/inf."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _values(series: pd.Series) -> pd.Series:
    """Finite float values, sorted by date, with a DatetimeIndex."""
    s = pd.Series(
        np.asarray(series, dtype=np.float64), index=pd.DatetimeIndex(pd.to_datetime(series.index))
    )
    s = s[np.isfinite(s.to_numpy())]
    return s.sort_index()


def simple_returns(values: FloatArray) -> FloatArray:
    """r_t = e_t / e_{t-1} - 1, and 0 where the previous value is not positive."""
    prev = values[:-1]
    cur = values[1:]
    out = np.zeros(len(cur), dtype=np.float64)
    ok = prev > 0
    out[ok] = cur[ok] / prev[ok] - 1.0
    return out


def _is_constant(x: FloatArray) -> bool:
    return bool(np.max(x) == np.min(x))


def _growth_rate(growth: float, n_returns: int) -> float | None:
    if n_returns < 1 or growth < 0:
        return None
    years = n_returns / PERIODS_PER_YEAR
    return _clean(growth ** (1.0 / years) - 1.0)


def _drawdowns(returns: FloatArray) -> FloatArray:
    """Drawdown after each return (empyrical's anchored-at-100 convention)."""
    wealth = np.empty(len(returns) + 1, dtype=np.float64)
    wealth[0] = 100.0
    wealth[1:] = 100.0 * np.cumprod(1.0 + returns)
    peak = np.fmax.accumulate(wealth)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = (wealth - peak) / peak
    return np.asarray(np.nan_to_num(dd[1:], nan=0.0), dtype=np.float64)


def _max_drawdown_duration(returns: FloatArray) -> int:
    """Longest spell, in sessions, from a peak to recovery (or to the last session)."""
    wealth = np.empty(len(returns) + 1, dtype=np.float64)
    wealth[0] = 1.0
    wealth[1:] = np.cumprod(1.0 + returns)
    at_peak = np.flatnonzero(wealth >= np.fmax.accumulate(wealth))
    gaps = np.diff(at_peak)
    longest = int(gaps.max()) if len(gaps) and gaps.max() > 1 else 0
    tail = len(wealth) - 1 - int(at_peak[-1])
    return max(longest, tail)


# -- public helpers used by the tear sheet ----------------------------------------------------
def drawdown_series(equity: pd.Series) -> pd.Series:
    """Underwater curve of `equity`: e_t / max_{s<=t} e_s - 1 (0 at the first date)."""
    s = _values(equity)
    if s.empty:
        return s
    peak = s.cummax()
    dd = (s / peak.where(peak > 0) - 1.0).fillna(0.0)
    return dd


def monthly_returns(equity: pd.Series) -> pd.DataFrame:
    """Compounded return of each calendar month, as a years x months (1..12) table.

    The first month is measured from the first equity value; later months from the previous
    month's last value. Months without data are NaN.
    """
    s = _values(equity)
    table = pd.DataFrame(index=pd.Index([], dtype="int64"), columns=list(range(1, 13)))
    if len(s) < 2:
        return table.astype("float64")
    idx = pd.DatetimeIndex(s.index)
    keys = idx.year * 100 + idx.month
    month_end = s.groupby(keys).last()
    prev = month_end.shift(1)
    prev.iloc[0] = float(s.iloc[0])
    rets = (month_end / prev.where(prev > 0) - 1.0).astype("float64")
    years = (rets.index.to_numpy() // 100).astype(int)
    months = (rets.index.to_numpy() % 100).astype(int)
    frame = pd.DataFrame({"year": years, "month": months, "ret": rets.to_numpy()})
    pivot = frame.pivot_table(index="year", columns="month", values="ret", aggfunc="first")
    return pivot.reindex(columns=list(range(1, 13))).astype("float64")


def annual_returns(equity: pd.Series) -> pd.Series:
    """Compounded return of each calendar year (the first from the first equity value)."""
    s = _values(equity)
    if len(s) < 2:
        return pd.Series(dtype="float64")
    idx = pd.DatetimeIndex(s.index)
    year_end = s.groupby(idx.year).last()
    prev = year_end.shift(1)
    prev.iloc[0] = float(s.iloc[0])
    return (year_end / prev.where(prev > 0) - 1.0).astype("float64")


# -- the metrics -----------------------------------------------------------------------------
def _equity_metrics(values: FloatArray) -> dict[str, MetricValue]:
    out: dict[str, MetricValue] = dict.fromkeys(EQUITY_KEYS)
    if len(values) < 2 or values[0] <= 0:
        return out
    r = simple_returns(values)
    n = len(r)
    growth = float(np.prod(1.0 + r))
    out["total_return"] = _clean(growth - 1.0)
    cagr = _growth_rate(growth, n)
    out["cagr"] = cagr

    constant = _is_constant(r)
    if n >= 2:
        std = 0.0 if constant else float(np.std(r, ddof=1))
        out["annual_volatility"] = _clean(std * math.sqrt(PERIODS_PER_YEAR))
        if std > 0:
            out["sharpe"] = _clean(float(np.mean(r)) / std * math.sqrt(PERIODS_PER_YEAR))
        downside = math.sqrt(float(np.mean(np.square(np.minimum(r, 0.0))))) * math.sqrt(
            PERIODS_PER_YEAR
        )
        if downside > 0:
            out["sortino"] = _clean(float(np.mean(r)) * PERIODS_PER_YEAR / downside)

    mdd = float(np.min(_drawdowns(r)))
    out["max_drawdown"] = _clean(mdd)
    out["max_drawdown_duration_days"] = _max_drawdown_duration(r)
    if mdd < 0 and cagr is not None:
        out["calmar"] = _clean(cagr / abs(mdd))

    out["var_95"] = _clean(float(np.percentile(r, 100 * VAR_CUTOFF)))
    k = int((n - 1) * VAR_CUTOFF)
    out["cvar_95"] = _clean(float(np.mean(np.partition(r, k)[: k + 1])))
    return out


def _benchmark_metrics(equity: pd.Series, benchmark: pd.Series) -> dict[str, MetricValue]:
    out: dict[str, MetricValue] = dict.fromkeys(BENCHMARK_KEYS)
    bench = _values(benchmark)
    common = equity.index.intersection(bench.index)
    if len(common) < 2:
        return out
    ev = equity.loc[common].to_numpy(dtype=np.float64)
    bv = bench.loc[common].to_numpy(dtype=np.float64)
    if ev[0] <= 0 or bv[0] <= 0:
        return out
    r = simple_returns(ev)
    b = simple_returns(bv)
    n = len(r)

    strat_growth = float(np.prod(1.0 + r))
    bench_growth = float(np.prod(1.0 + b))
    out["benchmark_total_return"] = _clean(bench_growth - 1.0)
    out["benchmark_cagr"] = _growth_rate(bench_growth, n)
    out["excess_return"] = _clean(strat_growth - bench_growth)

    b_res = b - np.mean(b)
    b_var = float(np.mean(np.square(b_res)))
    if b_var >= 1.0e-30:
        beta = float(np.mean(b_res * r)) / b_var
        out["beta"] = _clean(beta)
        out["alpha"] = _clean((1.0 + float(np.mean(r - beta * b))) ** PERIODS_PER_YEAR - 1.0)

    if n >= 2 and not _is_constant(r) and not _is_constant(b):
        out["correlation"] = _clean(float(np.corrcoef(r, b)[0, 1]))

    active = r - b
    if n >= 2:
        te = 0.0 if _is_constant(active) else float(np.std(active, ddof=1))
        out["tracking_error"] = _clean(te * math.sqrt(PERIODS_PER_YEAR))
        if te > 0:
            out["information_ratio"] = _clean(
                float(np.mean(active)) / te * math.sqrt(PERIODS_PER_YEAR)
            )
    return out


def _trade_metrics(trades: Sequence[Trade]) -> dict[str, MetricValue]:
    closed = [t.pnl for t in trades if not t.is_open]
    wins = [p for p in closed if p > 0]
    losses = [p for p in closed if p < 0]
    gross_profit = sum(wins, Decimal(0))
    gross_loss = sum(losses, Decimal(0))
    out: dict[str, MetricValue] = {
        "win_rate": len(wins) / len(closed) if closed else None,
        "profit_factor": float(gross_profit / -gross_loss) if losses else None,
        "avg_win": float(gross_profit / len(wins)) if wins else None,
        "avg_loss": float(gross_loss / len(losses)) if losses else None,
        "expectancy": float(sum(closed, Decimal(0)) / len(closed)) if closed else None,
        "num_trades": len(trades),
    }
    return out


def compute_metrics(
    equity: pd.Series,
    trades: Sequence[Trade],
    benchmark: pd.Series | None = None,
    exposure: pd.Series | None = None,
    traded_notional: float = 0.0,
) -> dict[str, MetricValue]:
    """All metrics of one backtest; see the module docstring for the exact definitions."""
    eq = _values(equity)
    values = eq.to_numpy(dtype=np.float64)
    out: dict[str, MetricValue] = dict.fromkeys(METRIC_KEYS)
    out.update(_equity_metrics(values))
    out.update(_trade_metrics(trades))

    exp_mean = 0.0
    if exposure is not None:
        ex = np.asarray(exposure, dtype=np.float64)
        ex = ex[np.isfinite(ex)]
        if len(ex):
            exp_mean = float(np.mean(ex))
    out["exposure"] = exp_mean

    if len(values) >= 2 and values[0] > 0:
        years = (len(values) - 1) / PERIODS_PER_YEAR
        mean_equity = float(np.mean(values))
        if mean_equity > 0:
            out["turnover"] = _clean(float(traded_notional) / mean_equity / years)
        if benchmark is not None:
            out.update(_benchmark_metrics(eq, benchmark))
    return {key: out[key] for key in METRIC_KEYS}


# -- formatting ------------------------------------------------------------------------------
_PCT = "pct"
_RATIO = "ratio"
_RATIO3 = "ratio3"
_MONEY = "money"
_INT = "int"
_TURNOVER = "turnover"

METRIC_LABELS: Final[tuple[tuple[str, str, str], ...]] = (
    ("total_return", "Total return", _PCT),
    ("cagr", "CAGR", _PCT),
    ("annual_volatility", "Annual volatility", _PCT),
    ("sharpe", "Sharpe ratio", _RATIO),
    ("sortino", "Sortino ratio", _RATIO),
    ("calmar", "Calmar ratio", _RATIO),
    ("max_drawdown", "Max drawdown", _PCT),
    ("max_drawdown_duration_days", "Max drawdown duration (sessions)", _INT),
    ("var_95", "Daily VaR 95%", _PCT),
    ("cvar_95", "Daily CVaR 95%", _PCT),
    ("num_trades", "Trades", _INT),
    ("win_rate", "Win rate", _PCT),
    ("profit_factor", "Profit factor", _RATIO),
    ("avg_win", "Average win", _MONEY),
    ("avg_loss", "Average loss", _MONEY),
    ("expectancy", "Expectancy per trade", _MONEY),
    ("exposure", "Exposure", _PCT),
    ("turnover", "Turnover", _TURNOVER),
    ("benchmark_total_return", "Benchmark total return", _PCT),
    ("benchmark_cagr", "Benchmark CAGR", _PCT),
    ("excess_return", "Excess return", _PCT),
    ("alpha", "Alpha (annualized)", _PCT),
    ("beta", "Beta", _RATIO3),
    ("correlation", "Correlation", _RATIO3),
    ("tracking_error", "Tracking error", _PCT),
    ("information_ratio", "Information ratio", _RATIO),
)

MISSING: Final = "n/a"


def format_value(value: MetricValue, kind: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if kind == _PCT:
        return f"{value * 100:.2f}%"
    if kind == _RATIO:
        return f"{value:.2f}"
    if kind == _RATIO3:
        return f"{value:.3f}"
    if kind == _MONEY:
        sign = "-" if value < 0 else ""
        return f"{sign}${abs(value):,.2f}"
    if kind == _INT:
        return f"{int(value):,}"
    if kind == _TURNOVER:
        return f"{value:.2f}x / year"
    return str(value)


def format_metrics(metrics: dict[str, MetricValue]) -> list[tuple[str, str]]:
    """(label, formatted value) rows for a table, in a fixed order.

    Percentages have two decimals (`12.34%`), ratios two (beta and correlation three), money
    `$1,234.56`, counts are integers, undefined values are `n/a`. Keys absent from `metrics`
    are skipped, and so are the benchmark rows when no benchmark metric is defined.
    """
    has_benchmark = any(metrics.get(k) is not None for k in BENCHMARK_KEYS)
    rows: list[tuple[str, str]] = []
    for key, label, kind in METRIC_LABELS:
        if key not in metrics:
            continue
        if key in BENCHMARK_KEYS and not has_benchmark:
            continue
        rows.append((label, format_value(metrics[key], kind)))
    return rows
