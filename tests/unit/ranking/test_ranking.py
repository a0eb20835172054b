"""Signal ranking: normalization, the momentum filter, merging, the top-N cut, exits."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from alphatrader.portfolio.plan import PlanRejection, RankedSignal
from alphatrader.ranking import (
    SignalInput,
    confidence_score,
    correlation_matrix,
    correlation_warnings,
    held_score,
    momentum_score,
    rank_signals,
    session_signals,
    split_actions,
    warmup_sessions,
)
from alphatrader.strategies.registry import build
from tests.unit.portfolio.builders import DEFAULTS, make_settings, perf


def sig(
    symbol: str,
    strategy: str = "alpha",
    confidence: float = 0.5,
    action: str = "entry",
    price: str = "20",
) -> SignalInput:
    return SignalInput(strategy, symbol, action, confidence, "why", Decimal(price))


def by_rule(rejections: list[PlanRejection], rule: str) -> list[PlanRejection]:
    return [r for r in rejections if r.rule == rule]


def test_confidence_score_is_confidence_times_100() -> None:
    assert confidence_score(0.0) == 0.0
    assert confidence_score(0.735) == 73.5
    assert confidence_score(1.0) == 100.0


def test_momentum_score_is_a_fixed_linear_map_clipped() -> None:
    assert momentum_score(-0.20) == 0.0
    assert momentum_score(-0.50) == 0.0
    assert momentum_score(0.0) == 50.0
    assert momentum_score(0.10) == 75.0
    assert momentum_score(0.20) == 100.0
    assert momentum_score(0.35) == 100.0
    assert momentum_score(math.nan) == 0.0


def test_score_is_weighted_sum_of_the_two_scores() -> None:
    ranked, _ = rank_signals([sig("SPY", confidence=0.8)], [perf("alpha", 0.10)], DEFAULTS)
    top = ranked[0]
    assert (top.confidence_score, top.momentum_score, top.score) == (80.0, 75.0, 77.5)
    weighted = make_settings(confidence_weight=0.7, momentum_weight=0.3)
    ranked, _ = rank_signals([sig("SPY", confidence=0.8)], [perf("alpha", 0.10)], weighted)
    assert ranked[0].score == pytest.approx(0.7 * 80 + 0.3 * 75)


def test_held_score_uses_neutral_confidence() -> None:
    assert held_score(0.10, DEFAULTS) == 0.5 * 50 + 0.5 * 75


def test_rejects_entry_when_strategy_momentum_not_above_threshold() -> None:
    signals = [sig("SPY", "flat"), sig("XLK", "hot")]
    ranked, rejections = rank_signals(signals, [perf("flat", 0.05), perf("hot", 0.0501)], DEFAULTS)
    assert [r.symbol for r in ranked] == ["XLK"]
    (rej,) = rejections
    assert (rej.symbol, rej.strategy, rej.rule) == ("SPY", "flat", "strategy_momentum")
    assert "+5.00%" in rej.reason and "MIN_MOMENTUM_THRESHOLD +5.00%" in rej.reason


def test_rejects_entry_of_strategy_without_performance_record() -> None:
    ranked, rejections = rank_signals([sig("SPY", "ghost")], [], DEFAULTS)
    assert ranked == [] and rejections[0].rule == "strategy_momentum"


def test_exits_pass_through_whatever_the_momentum() -> None:
    signals = [sig("SPY", "cold", action="exit"), sig("XLK", action="exit", strategy="ghost")]
    ranked, rejections = rank_signals(signals, [perf("cold", -0.30)], DEFAULTS)
    assert rejections == []
    assert [(r.symbol, r.rank) for r in ranked] == [("SPY", 0), ("XLK", 0)]
    entries, exits = split_actions(ranked)
    assert entries == [] and len(exits) == 2


def test_merges_same_symbol_keeping_best_score() -> None:
    signals = [sig("SPY", "a", 0.6), sig("SPY", "b", 0.9), sig("SPY", "c", 0.7)]
    performance = [perf("a", 0.10), perf("b", 0.10), perf("c", 0.10)]
    ranked, rejections = rank_signals(signals, performance, DEFAULTS)
    (best,) = ranked
    assert (best.strategy, best.merged_from, best.rank) == ("b", ("c", "a"), 1)
    merged = by_rule(rejections, "merged")
    assert sorted(r.strategy for r in merged) == ["a", "c"]
    assert all("merged into b's SPY entry" in r.reason for r in merged)


def test_merge_tie_goes_to_the_first_strategy_name() -> None:
    performance = [perf("zeta", 0.10), perf("beta", 0.10)]
    ranked, _ = rank_signals([sig("SPY", "zeta"), sig("SPY", "beta")], performance, DEFAULTS)
    assert ranked[0].strategy == "beta" and ranked[0].merged_from == ("zeta",)


def test_ranks_by_score_then_strategy_then_symbol() -> None:
    signals = [
        sig("AAA", "b", 0.5),
        sig("BBB", "a", 0.5),
        sig("AAB", "a", 0.5),
        sig("CCC", "a", 0.9),
    ]
    ranked, _ = rank_signals(signals, [perf("a", 0.10), perf("b", 0.10)], DEFAULTS)
    assert [(r.rank, r.symbol) for r in ranked] == [(1, "CCC"), (2, "AAB"), (3, "BBB"), (4, "AAA")]


def test_keeps_top_max_positions_and_rejects_the_rest_with_their_rank() -> None:
    confidences = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    signals = [sig(f"S{i}", confidence=c) for i, c in enumerate(confidences)]
    exit_signal = sig("OLD", action="exit")
    ranked, rejections = rank_signals([*signals, exit_signal], [perf("alpha", 0.1)], DEFAULTS)
    assert [r.symbol for r in ranked] == ["S0", "S1", "S2", "S3", "OLD"]
    cut = by_rule(rejections, "rank")
    assert [(r.symbol, r.reason.split(" (")[0]) for r in cut] == [
        ("S4", "ranked 5 of 6"),
        ("S5", "ranked 6 of 6"),
    ]


def test_signal_input_validates_action_and_confidence() -> None:
    with pytest.raises(ValueError, match="action"):
        sig("SPY", action="hold")
    with pytest.raises(ValueError, match="confidence"):
        sig("SPY", confidence=1.5)


def test_session_signals_take_the_rows_of_the_session() -> None:
    index = pd.DatetimeIndex(["2016-06-30", "2016-07-01"], name="date")
    frame = pd.DataFrame(
        {
            "action": ["exit", "entry"],
            "confidence": [0.5, 0.75],
            "reason": ["old", "new"],
            "price": [10.0, 11.125],
            "stop_loss": [np.nan, 10.0],
            "take_profit": [np.nan, np.nan],
        },
        index=index,
    )
    got = session_signals({"s": {"SPY": frame, "XLK": frame.iloc[:0]}}, date(2016, 7, 1))
    assert got == [
        SignalInput("s", "SPY", "entry", 0.75, "new", Decimal("11.125"), Decimal(10), None)
    ]


def test_warmup_is_twice_the_longest_integer_parameter() -> None:
    assert warmup_sessions(build("golden_cross")) == 400
    assert warmup_sessions(build("dual_momentum")) == 504
    assert warmup_sessions(build("mean_reversion")) == 60  # the floor


def test_correlation_warnings_are_pairs_above_the_limit() -> None:
    index = pd.bdate_range("2020-01-01", periods=6)
    base = pd.Series([100.0, 101.0, 99.0, 102.0, 103.0, 101.0], index=index)
    curves = {
        "b": base * 2,  # the same returns as "a": correlation 1
        "a": base,
        "c": pd.Series([100.0, 99.0, 101.0, 98.0, 97.0, 99.0], index=index),
        "flat": pd.Series(100.0, index=index),
    }
    corr = correlation_matrix(curves)
    assert list(corr.columns) == ["a", "b", "c", "flat"]
    warnings = correlation_warnings(corr, 0.8)
    assert [(w.first, w.second) for w in warnings] == [("a", "b")]
    assert warnings[0].correlation == pytest.approx(1.0)
    assert np.isnan(corr.to_numpy()[0, 3])  # a flat curve (a vs flat) never warns


def test_ranked_signals_are_plain_values() -> None:
    ranked, _ = rank_signals([sig("SPY")], [perf("alpha", 0.1)], DEFAULTS)
    assert isinstance(ranked[0], RankedSignal) and ranked[0].price == Decimal(20)
