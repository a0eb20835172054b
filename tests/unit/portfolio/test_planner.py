"""build_plan: exits, entries, limits, cash depletion and swaps, with hand-made numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from alphatrader.portfolio.plan import (
    HeldPosition,
    PlanRejection,
    PortfolioSnapshot,
    RankedSignal,
    TradingPlan,
)
from alphatrader.portfolio.planner import build_plan, rank_liquidation_candidates
from tests.unit.portfolio.builders import DEFAULTS, SESSION, held, perf, ranked

PERFORMANCE = [perf("alpha", 0.10), perf("beta", 0.10), perf("old", 0.0)]


def plan(
    cash: str,
    positions: tuple[HeldPosition, ...] = (),
    entries: tuple[RankedSignal, ...] = (),
    exits: tuple[RankedSignal, ...] = (),
) -> TradingPlan:
    portfolio = PortfolioSnapshot(Decimal(cash), tuple(positions))
    return build_plan(SESSION, list(entries), list(exits), portfolio, PERFORMANCE, DEFAULTS)


def only(rejections: tuple[PlanRejection, ...], rule: str) -> PlanRejection:
    (found,) = [r for r in rejections if r.rule == rule]
    return found


def four_old_positions() -> tuple[HeldPosition, ...]:
    # $100 each; returns -20%, -5%, 0%, +10%; strategy "old" has 0% momentum: held score 50.
    return (
        held("WWW", last="16", strategy="old", momentum=0.0),
        held("XXX", last="19", strategy="old", momentum=0.0),
        held("YYY", last="20", strategy="old", momentum=0.0),
        held("ZZZ", last="22", strategy="old", momentum=0.0),
    )


def test_exit_sells_held_position_first_and_frees_cash() -> None:
    result = plan(
        "100",
        positions=(held("SPY", qty="2", avg="200", last="200"),),
        entries=(ranked("XLK", confidence=0.5, price="25"),),
        exits=(ranked("SPY", action="exit", price="210"),),
    )
    (sell,) = result.sells
    (buy,) = result.buys
    assert (sell.symbol, sell.qty, sell.notional) == ("SPY", Decimal(2), Decimal("420.00"))
    assert (buy.symbol, buy.qty, buy.notional) == ("XLK", Decimal(7), Decimal("175.00"))
    assert result.orders == (sell, buy)
    assert result.cash.spendable == Decimal("420.00")  # $520 after the sale, less the buffer
    assert result.after.cash == Decimal("345.00")
    assert [p.symbol for p in result.after.positions] == ["XLK"]


def test_exit_from_another_strategy_does_not_close_the_position() -> None:
    result = plan("500", positions=(held("SPY"),), exits=(ranked("SPY", "beta", action="exit"),))
    assert result.sells == ()
    assert "opened by alpha" in only(result.rejections, "not_owner").reason


def test_exit_without_a_position_is_rejected() -> None:
    result = plan("500", exits=(ranked("SPY", action="exit"),))
    assert result.sells == () and only(result.rejections, "no_position").symbol == "SPY"


def test_rejects_already_held_symbol_even_when_sold_today() -> None:
    result = plan(
        "500",
        positions=(held("SPY"),),
        entries=(ranked("SPY", "beta"),),
        exits=(ranked("SPY", action="exit"),),
    )
    assert [o.side for o in result.orders] == ["sell"]
    assert only(result.rejections, "already_held").strategy == "beta"


def test_rejects_fifth_position_without_a_worthwhile_swap() -> None:
    # score 0.5·50 + 0.5·65 = 57.5 against held 50: a 7.5-point lead is below the margin of 10.
    signal = ranked("NEW", confidence=0.5, momentum=0.06)
    result = plan("1000", positions=four_old_positions(), entries=(signal,))
    assert result.buys == () and result.swaps == ()
    rejection = only(result.rejections, "max_positions")
    assert "limit 4" in rejection.reason and "no swap" in rejection.reason
    assert [c.position.symbol for c in result.cash.candidates] == ["WWW", "XXX", "YYY", "ZZZ"]


def test_rejects_order_when_cash_buffer_breached() -> None:
    result = plan("140", entries=(ranked("SPY", confidence=0.5),))
    assert result.buys == ()
    assert "$40.00 spendable" in only(result.rejections, "cash_buffer").reason
    cash = result.cash
    assert (cash.spendable, cash.needed, cash.shortfall) == (
        Decimal("40.00"),
        Decimal("175.00"),
        Decimal("135.00"),
    )
    assert cash.depleted and cash.candidates == ()
    assert result.after.cash == Decimal(140)


def test_needed_counts_targets_of_fundable_entries_in_free_slots() -> None:
    entries = (
        ranked("AAA", confidence=1.0, price="10", rank=1),
        ranked("BBB", confidence=0.5, price="10", rank=2),
        ranked("CHEAP", confidence=0.5, price="5", rank=3),  # below MIN_PRICE: not counted
    )
    result = plan("300", entries=entries)
    assert result.cash.needed == Decimal("475.00") and result.cash.shortfall == Decimal("275.00")
    (buy,) = result.buys
    assert (buy.symbol, buy.notional) == ("AAA", Decimal("200.00"))
    assert "resized[cash_buffer]" in buy.reason
    assert only(result.rejections, "cash_buffer").symbol == "BBB"
    assert only(result.rejections, "min_price").symbol == "CHEAP"


def test_liquidation_order_is_return_then_holding_period_then_momentum() -> None:
    positions = [
        held("AAA", last="18", sessions=5, momentum=0.1),
        held("BBB", last="18", sessions=20, momentum=0.1),
        held("CCC", last="21", sessions=50, momentum=-0.1),
        held("DDD", last="18", sessions=20, momentum=0.0, strategy="dstrat"),
    ]
    ranked_out = rank_liquidation_candidates(positions, {}, DEFAULTS)
    assert [c.position.symbol for c in ranked_out] == ["DDD", "BBB", "AAA", "CCC"]
    assert [c.rank for c in ranked_out] == [1, 2, 3, 4]
    assert ranked_out[0].score == 50.0 and ranked_out[1].score == 62.5
    # The strategy's current momentum, when known, replaces the recorded one.
    again = rank_liquidation_candidates(positions, {"dstrat": 0.2}, DEFAULTS)
    assert [c.position.symbol for c in again][:2] == ["BBB", "DDD"]


def test_swaps_worst_position_when_margin_is_met() -> None:
    # score 0.5·90 + 0.5·75 = 82.5 beats the held 50 by 32.5 ≥ 10.
    signal = ranked("NEW", confidence=0.9, price="20", stop_loss="18", take_profit="26")
    result = plan("150", positions=four_old_positions(), entries=(signal,))
    (swap,) = result.swaps
    assert (swap.sell_symbol, swap.buy_symbol) == ("WWW", "NEW")
    assert (swap.sell_score, swap.buy_score, swap.margin) == (50.0, 82.5, 32.5)
    (sell,) = result.sells
    (buy,) = result.buys
    assert (sell.symbol, sell.notional, sell.strategy) == ("WWW", Decimal("80.00"), "old")
    # $150 + $80 = $230; $130 above the buffer buys 6 shares at $20.
    assert (buy.qty, buy.notional) == (Decimal(6), Decimal("120.00"))
    assert (buy.stop_loss, buy.take_profit) == (Decimal(18), Decimal(26))
    assert result.after.cash == Decimal("110.00")
    assert sorted(p.symbol for p in result.after.positions) == ["NEW", "XXX", "YYY", "ZZZ"]
    assert not any(r.symbol == "NEW" for r in result.rejections)


def test_swap_never_sells_a_position_with_a_fresh_entry_signal() -> None:
    entries = (ranked("NEW", confidence=0.9, rank=1), ranked("WWW", "beta", rank=2))
    result = plan("150", positions=four_old_positions(), entries=entries)
    assert [s.sell_symbol for s in result.swaps] == ["XXX"]
    assert only(result.rejections, "already_held").symbol == "WWW"


def test_no_swap_when_over_the_position_limit() -> None:
    positions = (*four_old_positions(), held("VVV", last="10", strategy="old", momentum=0.0))
    result = plan("1000", positions=positions, entries=(ranked("NEW", confidence=1.0),))
    assert result.swaps == () and result.buys == ()
    assert "one sale cannot make room" in only(result.rejections, "max_positions").reason


def test_slots_fill_in_rank_order() -> None:
    entries = (ranked("NEW", confidence=0.9, rank=1), ranked("TWO", confidence=0.0, rank=2))
    result = plan("400", positions=four_old_positions()[:3], entries=entries)
    assert [b.symbol for b in result.buys] == ["NEW"]
    assert only(result.rejections, "max_positions").symbol == "TWO"


def test_cash_freed_by_a_swap_funds_later_signals() -> None:
    positions = (
        held("WWW", qty="20", last="16", strategy="old", momentum=0.0),  # $320, -20%
        held("XXX", last="19", strategy="old", momentum=0.0),
    )
    entries = (
        ranked("NEW", confidence=0.9, price="20", rank=1),
        ranked("TWO", confidence=0.0, price="10", rank=2),  # score 37.5: no swap of its own
    )
    result = plan("100", positions=positions, entries=entries)
    assert [s.sell_symbol for s in result.swaps] == ["WWW"]
    # $100 + $320 = $420; NEW takes 13 × $20 = $260; $60 above the buffer buys TWO's $50.
    assert [(b.symbol, b.notional) for b in result.buys] == [
        ("NEW", Decimal("260.00")),
        ("TWO", Decimal("50.00")),
    ]
    assert result.rejections == ()
    assert result.after.cash == Decimal("110.00")


def test_build_plan_rejects_mixed_inputs() -> None:
    with pytest.raises(ValueError, match="entries only"):
        plan("500", entries=(ranked("SPY", action="exit"),))
    with pytest.raises(ValueError, match="exits only"):
        plan("500", exits=(ranked("SPY"),))


def test_prior_rejections_come_first() -> None:
    prior = PlanRejection("OLD", "alpha", "rank", "ranked 5 of 5")
    portfolio = PortfolioSnapshot(Decimal(500))
    result = build_plan(SESSION, [], [], portfolio, PERFORMANCE, DEFAULTS, prior_rejections=[prior])
    assert result.rejections == (prior,)
    assert result.after == portfolio


def test_a_repeated_symbol_is_bought_once() -> None:
    # rank_signals merges symbols; build_plan still refuses a repeat when given one.
    entries = (ranked("SPY", "alpha", confidence=1.0, rank=1), ranked("SPY", "beta", rank=2))
    result = plan("260", entries=entries)  # $160 spendable: alpha's $300 target is cut
    assert [(b.symbol, b.strategy) for b in result.buys] == [("SPY", "alpha")]
    assert only(result.rejections, "duplicate").strategy == "beta"
    # alpha cannot afford one $60 share with $55 spendable; beta buys; alpha's retry is refused.
    entries = (
        ranked("SPY", "alpha", price="60", rank=1),
        ranked("SPY", "beta", confidence=0.0, price="50", rank=2),
    )
    result = plan("155", entries=entries)
    assert [(b.symbol, b.strategy) for b in result.buys] == [("SPY", "beta")]
    assert only(result.rejections, "duplicate").strategy == "alpha"
