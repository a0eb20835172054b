"""track_performance on the real bundled universe, checked by independent recomputation."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphatrader.backtest.runner import default_universe
from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.portfolio.plan import CorrelationWarning, StrategyPerformance
from alphatrader.ranking import correlation_warnings, track_performance
from alphatrader.strategies.registry import STRATEGIES, build

AS_OF = pd.Timestamp("2016-07-01")
LOOKBACK = 90
HISTORY = 504


Tracked = tuple[list[StrategyPerformance], list[CorrelationWarning], pd.DataFrame, float]


@pytest.fixture(scope="module")
def tracked(seeded_store_root: Path) -> Tracked:
    store = MarketDataStore(seeded_store_root)
    universe = {s: load_series(store, s, dataset="daily") for s in default_universe(store)}
    strategies = [build(name) for name in STRATEGIES]
    started = time.perf_counter()
    out = track_performance(
        strategies,
        universe,
        AS_OF,
        lookback_days=LOOKBACK,
        min_threshold=0.05,
        corr_limit=0.5,  # low enough that the bundled data gives warnings to compare
        history_days=HISTORY,
        initial_cash=Decimal(1000),
    )
    elapsed = time.perf_counter() - started
    print(f"track_performance: {len(strategies)} strategies, {len(universe)} series {elapsed:.2f}s")
    return (*out, elapsed)


def test_every_strategy_has_a_curve_over_the_window(tracked: Tracked) -> None:
    performance, _, _, _ = tracked
    assert sorted(p.name for p in performance) == sorted(STRATEGIES)
    for p in performance:
        assert len(p.equity) == HISTORY
        assert p.equity.index[-1] == AS_OF
        assert bool(np.isfinite(p.equity.to_numpy()).all())


def test_momentum_matches_an_independent_recomputation(tracked: Tracked) -> None:
    performance, _, _, _ = tracked
    for p in performance:
        equity = p.equity
        start = equity.index[-1 - LOOKBACK]
        expected = float(equity.iloc[-1]) / float(equity.loc[start]) - 1.0
        assert p.momentum == pytest.approx(expected, rel=1e-12, abs=1e-15), p.name
        assert p.total_return == pytest.approx(float(equity.iloc[-1] / equity.iloc[0] - 1.0))
        assert p.eligible == (p.momentum > 0.05)


def test_ranked_by_momentum_then_name(tracked: Tracked) -> None:
    performance, _, _, _ = tracked
    assert [p.rank for p in performance] == list(range(1, len(performance) + 1))
    expected = sorted(performance, key=lambda p: (-p.momentum, p.name))
    assert [p.name for p in performance] == [p.name for p in expected]


def test_correlation_warnings_match_pandas_corr(tracked: Tracked) -> None:
    performance, warnings, corr, _ = tracked
    curves = pd.DataFrame({p.name: p.equity for p in performance})
    returns = curves.pct_change().dropna(how="all")
    values = returns.corr().to_numpy(dtype="float64")
    names = [str(c) for c in returns.columns]
    mine = {
        (a, b): float(values[i, j])
        for (i, a), (j, b) in itertools.permutations(enumerate(names), 2)
    }
    expected = {pair for pair, c in mine.items() if pair[0] < pair[1] and c > 0.5}  # NaN: never
    assert expected  # the bundled data has correlated strategies at this limit
    assert {(w.first, w.second) for w in warnings} == expected
    for w in warnings:
        assert w.correlation == pytest.approx(mine[w.first, w.second])
        i, j = list(corr.columns).index(w.first), list(corr.columns).index(w.second)
        assert w.correlation == pytest.approx(corr.to_numpy()[i, j])
    at_default = {(w.first, w.second) for w in correlation_warnings(corr, 0.8)}
    assert at_default == {pair for pair in expected if mine[pair] > 0.8}


def test_runs_fast_enough_for_the_daily_job(tracked: Tracked) -> None:
    *_, elapsed = tracked
    assert elapsed < 10.0  # about 0.6 s on a laptop; generous for shared CI machines
