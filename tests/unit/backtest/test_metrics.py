"""`compute_metrics` against empyrical-reloaded (the oracle) on real equity curves, plus
hand-computed trade statistics and degenerate inputs."""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal

import empyrical as ep  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
import pytest

from alphatrader.backtest.metrics import (
    BENCHMARK_KEYS,
    METRIC_KEYS,
    compute_metrics,
    drawdown_series,
    format_metrics,
    monthly_returns,
)
from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.domain.trade import Trade

TOL = 1e-9
START = 10_000.0


def close(store: MarketDataStore, symbol: str) -> pd.Series:
    series: pd.Series = load_series(store, symbol).bars["close"]
    return series


def buy_and_hold(store: MarketDataStore, symbol: str) -> pd.Series:
    c = close(store, symbol)
    equity: pd.Series = START * c / c.iloc[0]
    return equity


def cash_then_invested(store: MarketDataStore) -> pd.Series:
    """MSFT 2000..2012: cash for six months, invested, cash again for 2008, invested again.

    Flat stretches make whole runs of zero returns (zero downside, ties in the percentile)."""
    c = close(store, "MSFT").loc["2000-01-01":"2012-12-31"]
    invested = pd.Series(True, index=c.index)
    invested.loc[:"2000-06-30"] = False
    invested.loc["2008-01-01":"2008-12-31"] = False
    daily = c.pct_change().fillna(0.0)
    # A day's return counts only if the position was held over the previous close.
    held = invested.shift(1, fill_value=False)
    growth = (1.0 + daily.where(held, 0.0)).cumprod()
    return START * growth


def close_enough(ours: float | int | None, ref: float) -> bool:
    assert ours is not None
    return math.isclose(float(ours), float(ref), rel_tol=TOL, abs_tol=TOL)


def empyrical_reference(equity: pd.Series) -> dict[str, float]:
    r = equity.pct_change().iloc[1:]
    return {
        "total_return": ep.cum_returns_final(r),
        "cagr": ep.cagr(r),
        "annual_volatility": ep.annual_volatility(r),
        "sharpe": ep.sharpe_ratio(r),
        "sortino": ep.sortino_ratio(r),
        "calmar": ep.calmar_ratio(r),
        "max_drawdown": ep.max_drawdown(r),
        "var_95": ep.value_at_risk(r),
        "cvar_95": ep.conditional_value_at_risk(r),
    }


def empyrical_benchmark_reference(equity: pd.Series, bench: pd.Series) -> dict[str, float]:
    common = equity.index.intersection(bench.index)
    r = equity.loc[common].pct_change().iloc[1:]
    b = bench.loc[common].pct_change().iloc[1:]
    alpha, beta = ep.alpha_beta(r, b)
    return {
        "benchmark_total_return": ep.cum_returns_final(b),
        "benchmark_cagr": ep.cagr(b),
        "alpha": alpha,
        "beta": beta,
        # empyrical's excess_sharpe is the daily information ratio; ours is annualized.
        "information_ratio": ep.excess_sharpe(r, b) * math.sqrt(252),
        "excess_return": ep.cum_returns_final(r) - ep.cum_returns_final(b),
    }


CASES = [
    ("SPY", "SP500"),  # 2008..2016: the 2008 crash, long recovery
    ("AAPL", "SP500"),  # 1990..2022: 8,000+ sessions, an 80 % drawdown
    ("cash_then_MSFT", "SPY_TR"),  # flat periods
]


def equity_for(store: MarketDataStore, name: str) -> pd.Series:
    return cash_then_invested(store) if name == "cash_then_MSFT" else buy_and_hold(store, name)


@pytest.mark.parametrize(("name", "bench_symbol"), CASES)
def test_equity_metrics_match_empyrical(
    store: MarketDataStore, name: str, bench_symbol: str
) -> None:
    equity = equity_for(store, name)
    ours = compute_metrics(equity, [])
    ref = empyrical_reference(equity)
    for key, value in ref.items():
        assert np.isfinite(value), key
        assert close_enough(ours[key], value), (key, ours[key], value)


@pytest.mark.parametrize(("name", "bench_symbol"), CASES)
def test_benchmark_metrics_match_empyrical(
    store: MarketDataStore, name: str, bench_symbol: str
) -> None:
    equity = equity_for(store, name)
    bench = close(store, bench_symbol)
    ours = compute_metrics(equity, [], benchmark=bench)
    for key, value in empyrical_benchmark_reference(equity, bench).items():
        assert np.isfinite(value), key
        assert close_enough(ours[key], value), (key, ours[key], value)

    # The rest, independently with pandas.
    common = equity.index.intersection(bench.index)
    r = equity.loc[common].pct_change().iloc[1:]
    b = bench.loc[common].pct_change().iloc[1:]
    assert close_enough(ours["correlation"], r.corr(b))
    assert close_enough(ours["tracking_error"], (r - b).std(ddof=1) * math.sqrt(252))


def test_equity_and_benchmark_on_different_calendars(store: MarketDataStore) -> None:
    """SPY_TR stops in 2018 while AAPL runs to 2022: only shared dates count."""
    equity = buy_and_hold(store, "AAPL")
    bench = close(store, "SPY_TR")
    ours = compute_metrics(equity, [], benchmark=bench)
    ref = empyrical_benchmark_reference(equity, bench)
    assert close_enough(ours["beta"], ref["beta"])
    assert close_enough(ours["alpha"], ref["alpha"])
    # ... and the strategy's own metrics still cover its whole history.
    assert close_enough(ours["total_return"], empyrical_reference(equity)["total_return"])


def test_cagr_follows_empyrical_year_convention(store: MarketDataStore) -> None:
    """cagr = G ** (252 / N) - 1 with N daily returns (not calendar days)."""
    equity = buy_and_hold(store, "SPY")
    n = len(equity) - 1
    growth = equity.iloc[-1] / equity.iloc[0]
    ours = compute_metrics(equity, [])
    assert close_enough(ours["cagr"], growth ** (252 / n) - 1)


@pytest.mark.parametrize("name", ["SPY", "cash_then_MSFT"])
def test_drawdown_series_matches_empyrical(store: MarketDataStore, name: str) -> None:
    equity = equity_for(store, name)
    ours = drawdown_series(equity)
    ref = ep.stats.drawdown_series(equity.pct_change().iloc[1:])
    assert ours.iloc[0] == 0.0
    np.testing.assert_allclose(ours.iloc[1:].to_numpy(), ref.to_numpy(), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name", ["SPY", "AAPL", "cash_then_MSFT"])
def test_monthly_returns_match_empyrical_aggregation(store: MarketDataStore, name: str) -> None:
    equity = equity_for(store, name)
    table = monthly_returns(equity)
    ref = ep.aggregate_returns(equity.pct_change().iloc[1:], "monthly")
    ours = table.stack().dropna()
    assert len(ours) == len(ref)
    for (year, month), value in ref.items():
        assert close_enough(ours.loc[(year, month)], value), (year, month)


def max_underwater_sessions(values: list[float]) -> int:
    """Brute force: for every peak, walk forward to the first session at or above it."""
    longest = 0
    peak_value = -math.inf
    for i, v in enumerate(values):
        if v < peak_value:
            continue
        peak_value = v
        j = i + 1
        while j < len(values) and values[j] < v:
            j += 1
        if j > i + 1:  # underwater for at least one session
            longest = max(longest, min(j, len(values) - 1) - i)
    return longest


@pytest.mark.parametrize("name", ["SPY", "AAPL", "cash_then_MSFT"])
def test_max_drawdown_duration_brute_force(store: MarketDataStore, name: str) -> None:
    equity = equity_for(store, name)
    ours = compute_metrics(equity, [])["max_drawdown_duration_days"]
    assert ours == max_underwater_sessions(equity.tolist())


def test_max_drawdown_duration_by_hand() -> None:
    idx = pd.bdate_range("2024-01-01", periods=8)
    # peak at 0 (100), back above it at 3 -> 3 sessions; peak at 5 (120), never back -> 2.
    equity = pd.Series([100, 90, 95, 101, 110, 120, 119, 118], index=idx, dtype=float)
    m = compute_metrics(equity, [])
    assert m["max_drawdown_duration_days"] == 3
    assert close_enough(m["max_drawdown"], 90 / 100 - 1)
    rising = pd.Series([100, 101, 102], index=idx[:3], dtype=float)
    assert compute_metrics(rising, [])["max_drawdown_duration_days"] == 0
    assert compute_metrics(rising, [])["max_drawdown"] == 0.0
    assert compute_metrics(rising, [])["calmar"] is None


# -- trade statistics, by hand -----------------------------------------------------------------
def trade(pnl: str, *, open_: bool = False, strategy: str = "s") -> Trade:
    return Trade(
        symbol="SPY",
        strategy=strategy,
        entry_date=date(2020, 1, 2),
        entry_price=Decimal("100"),
        qty=Decimal("10"),
        exit_date=None if open_ else date(2020, 2, 3),
        exit_price=Decimal("100") + Decimal(pnl) / 10,
        pnl=Decimal(pnl),
    )


def flat_equity(n: int = 253, value: float = 10_000.0) -> pd.Series:
    return pd.Series(value, index=pd.bdate_range("2020-01-01", periods=n), dtype=float)


def test_trade_statistics_by_hand() -> None:
    trades = [
        trade("300"),
        trade("-100"),
        trade("150.50"),
        trade("-50.50"),
        trade("0"),  # breakeven: neither a win nor a loss, but a closed trade
        trade("999", open_=True),  # open: counted in num_trades only
    ]
    m = compute_metrics(flat_equity(), trades)
    # closed: 300, -100, 150.50, -50.50, 0 -> 5 trades, 2 winners, 2 losers
    assert m["num_trades"] == 6
    assert m["win_rate"] == 2 / 5
    # gross profit 450.50, gross loss 150.50
    assert close_enough(m["profit_factor"], 450.50 / 150.50)
    assert close_enough(m["avg_win"], 450.50 / 2)
    assert close_enough(m["avg_loss"], -150.50 / 2)
    # net 300.00 over 5 closed trades
    assert close_enough(m["expectancy"], 300.0 / 5)


def test_trade_statistics_without_losers_or_trades() -> None:
    m = compute_metrics(flat_equity(), [trade("10"), trade("30")])
    assert m["win_rate"] == 1.0
    assert m["profit_factor"] is None  # no losing trade: undefined, not infinite
    assert m["avg_loss"] is None
    assert close_enough(m["avg_win"], 20.0)
    assert close_enough(m["expectancy"], 20.0)

    losers = compute_metrics(flat_equity(), [trade("-10")])
    assert losers["profit_factor"] == 0.0
    assert losers["win_rate"] == 0.0
    assert losers["avg_win"] is None

    none = compute_metrics(flat_equity(), [])
    assert none["num_trades"] == 0
    for key in ("win_rate", "profit_factor", "avg_win", "avg_loss", "expectancy"):
        assert none[key] is None, key

    only_open = compute_metrics(flat_equity(), [trade("50", open_=True)])
    assert only_open["num_trades"] == 1
    assert only_open["win_rate"] is None


def test_exposure_and_turnover_by_hand() -> None:
    equity = flat_equity(253)  # 252 returns = exactly one year
    exposure = pd.Series([0.0, 1.0] * 126 + [0.5], index=equity.index)
    m = compute_metrics(equity, [], exposure=exposure, traded_notional=20_000.0)
    assert close_enough(m["exposure"], (126 + 0.5) / 253)
    # bought and sold the whole 10,000 book once in one year
    assert close_enough(m["turnover"], 2.0)
    assert compute_metrics(equity, [])["exposure"] == 0.0
    assert compute_metrics(equity, [])["turnover"] == 0.0


# -- degenerate inputs -------------------------------------------------------------------------
def assert_json_safe(metrics: dict[str, float | int | None]) -> None:
    assert list(metrics) == list(METRIC_KEYS)
    for key, value in metrics.items():
        assert value is None or isinstance(value, int | float), key
        if isinstance(value, float):
            assert math.isfinite(value), key
    json.dumps(metrics, allow_nan=False)


def test_constant_equity() -> None:
    m = compute_metrics(flat_equity(), [], benchmark=flat_equity())
    assert_json_safe(m)
    assert m["total_return"] == 0.0
    assert m["cagr"] == 0.0
    assert m["annual_volatility"] == 0.0
    assert m["sharpe"] is None
    assert m["sortino"] is None
    assert m["calmar"] is None
    assert m["max_drawdown"] == 0.0
    assert m["max_drawdown_duration_days"] == 0
    assert m["var_95"] == 0.0
    assert m["cvar_95"] == 0.0
    assert m["beta"] is None
    assert m["alpha"] is None
    assert m["correlation"] is None
    assert m["tracking_error"] == 0.0
    assert m["information_ratio"] is None
    assert m["benchmark_total_return"] == 0.0


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_points(n: int) -> None:
    equity = flat_equity(n)
    m = compute_metrics(equity, [trade("5")], benchmark=flat_equity(10), traded_notional=1e4)
    assert_json_safe(m)
    for key in (
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
        "turnover",
        *BENCHMARK_KEYS,
    ):
        assert m[key] is None, key
    assert m["num_trades"] == 1
    assert m["win_rate"] == 1.0
    assert m["exposure"] == 0.0


def test_two_points_and_nan_and_bankruptcy() -> None:
    idx = pd.bdate_range("2024-01-01", periods=5)
    two = compute_metrics(pd.Series([100.0, 110.0], index=idx[:2]), [])
    assert_json_safe(two)
    assert close_enough(two["total_return"], 0.1)
    assert two["annual_volatility"] is None  # one return: no sample deviation
    assert close_enough(two["var_95"], 0.1)

    with_nan = pd.Series([100.0, np.nan, 110.0, 99.0, np.inf], index=idx)
    assert_json_safe(compute_metrics(with_nan, []))

    bust = pd.Series([100.0, 50.0, 0.0, 0.0, 0.0], index=idx)
    m = compute_metrics(bust, [], benchmark=pd.Series([1.0, 2, 3, 4, 5], index=idx))
    assert_json_safe(m)
    assert m["total_return"] == -1.0
    assert m["cagr"] == -1.0
    assert m["max_drawdown"] == -1.0

    starts_at_zero = compute_metrics(pd.Series([0.0, 1.0, 2.0], index=idx[:3]), [])
    assert_json_safe(starts_at_zero)
    assert starts_at_zero["total_return"] is None


def test_benchmark_without_shared_dates() -> None:
    equity = flat_equity(10)
    other = pd.Series(1.0, index=pd.bdate_range("1999-01-01", periods=10))
    m = compute_metrics(equity * np.linspace(1, 1.1, 10), [], benchmark=other)
    assert_json_safe(m)
    assert all(m[k] is None for k in BENCHMARK_KEYS)


def test_real_curve_is_json_safe(store: MarketDataStore) -> None:
    equity = cash_then_invested(store)
    m = compute_metrics(
        equity, [trade("1"), trade("-2")], benchmark=close(store, "SP500"), traded_notional=5e5
    )
    assert_json_safe(m)
    assert all(m[k] is not None for k in METRIC_KEYS)


# -- formatting --------------------------------------------------------------------------------
def test_format_metrics() -> None:
    m = compute_metrics(flat_equity(), [trade("300"), trade("-100.5")])
    rows = dict(format_metrics(m))
    assert rows["Total return"] == "0.00%"
    assert rows["Win rate"] == "50.00%"
    assert rows["Sharpe ratio"] == "n/a"
    assert rows["Average loss"] == "-$100.50"
    assert rows["Expectancy per trade"] == "$99.75"
    assert rows["Trades"] == "2"
    assert "Beta" not in rows  # no benchmark: no benchmark rows

    spy = compute_metrics(
        pd.Series([100.0, 101.0, 100.5], index=pd.bdate_range("2024-01-01", periods=3)),
        [],
        benchmark=pd.Series([1.0, 1.02, 1.0], index=pd.bdate_range("2024-01-01", periods=3)),
    )
    rows = dict(format_metrics(spy))
    assert rows["Total return"] == "0.50%"
    assert rows["Max drawdown"] == "-0.50%"
    assert "Beta" in rows
