"""Property tests: over random portfolios and signal sets the plan never breaks a limit and
accounts for every signal exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from alphatrader.portfolio.plan import HeldPosition, PortfolioSnapshot, StrategyPerformance
from alphatrader.portfolio.planner import build_plan
from alphatrader.ranking import SignalInput, rank_signals, split_actions
from tests.unit.portfolio.builders import SESSION, make_settings, perf

STRATEGIES = ("s1", "s2", "s3", "s4")
SYMBOLS = tuple("ABCDEFGHIJ")
prices = st.one_of(  # mostly affordable, some below MIN_PRICE or above MAX_POSITION_SIZE
    st.decimals(min_value=Decimal("10"), max_value=Decimal("120"), places=2),
    st.decimals(min_value=Decimal("1"), max_value=Decimal("500"), places=2),
)


@st.composite
def positions(draw: st.DrawFn) -> tuple[HeldPosition, ...]:
    symbols = draw(st.lists(st.sampled_from(SYMBOLS), max_size=6, unique=True))
    return tuple(
        HeldPosition(
            symbol=symbol,
            qty=Decimal(draw(st.integers(1, 50))),
            avg_price=draw(prices),
            last_price=draw(prices),
            strategy=draw(st.sampled_from(STRATEGIES)),
            opened_session=date(2016, 1, 4),
            holding_sessions=draw(st.integers(0, 300)),
            strategy_momentum=draw(st.floats(-0.3, 0.3)),
        )
        for symbol in symbols
    )


@st.composite
def signal_sets(draw: st.DrawFn) -> list[SignalInput]:
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(STRATEGIES), st.sampled_from(SYMBOLS)),
            max_size=15,
            unique=True,  # a strategy gives at most one signal per symbol and session
        )
    )
    return [
        SignalInput(
            strategy=strategy,
            symbol=symbol,
            action=draw(st.sampled_from(("entry", "entry", "entry", "exit"))),
            confidence=draw(st.floats(0.0, 1.0)),
            reason="random",
            price=draw(prices),
        )
        for strategy, symbol in keys
    ]


@st.composite
def performances(draw: st.DrawFn) -> list[StrategyPerformance]:
    names = draw(st.lists(st.sampled_from(STRATEGIES), min_size=2, unique=True))  # some missing
    momenta = st.one_of(st.floats(0.051, 0.3), st.floats(-0.3, 0.3))  # mostly eligible
    return [perf(name, draw(momenta)) for name in names]


@settings(deadline=None, max_examples=300)
@given(
    cash=st.decimals(min_value=0, max_value=5000, places=2),
    held=positions(),
    signals=signal_sets(),
    performance=performances(),
    fractional=st.booleans(),
)
def test_plan_never_breaches_limits_and_accounts_for_every_signal(
    cash: Decimal,
    held: tuple[HeldPosition, ...],
    signals: list[SignalInput],
    performance: list[StrategyPerformance],
    fractional: bool,
) -> None:
    config = make_settings(fractional_shares=fractional)
    before = PortfolioSnapshot(cash, held)
    ranked, prior = rank_signals(signals, performance, config)
    entries, exits = split_actions(ranked)
    plan = build_plan(SESSION, entries, exits, before, performance, config, prior)
    held_symbols = {p.symbol for p in held}

    # cash: never below the buffer after buying; the books balance
    sells_total = sum((o.notional for o in plan.sells), Decimal(0))
    buys_total = sum((o.notional for o in plan.buys), Decimal(0))
    assert plan.after.cash == cash + sells_total - buys_total
    if plan.buys:
        assert plan.after.cash >= config.min_cash_buffer
    if cash < config.min_cash_buffer and not plan.sells:
        assert plan.buys == ()

    # position count
    assert len(plan.after.positions) <= max(config.max_positions, len(held))
    if plan.buys:
        assert len(plan.after.positions) <= config.max_positions
    assert len({p.symbol for p in plan.after.positions}) == len(plan.after.positions)

    # size limits, prices, no re-buying
    for buy in plan.buys:
        assert config.min_position_size <= buy.notional <= config.max_position_size
        assert buy.notional >= config.min_trade_size
        assert buy.qty > 0 and buy.est_price >= config.min_price
        if not fractional:
            assert buy.qty == buy.qty.to_integral_value()
        assert buy.symbol not in held_symbols
    assert len({b.symbol for b in plan.buys}) == len(plan.buys)
    assert {s.symbol for s in plan.sells} <= held_symbols
    assert len({s.symbol for s in plan.sells}) == len(plan.sells)

    # every signal accounted for exactly once: a buy, an exit sell, or a rejection
    swapped = {s.sell_symbol for s in plan.swaps}
    assert len(swapped) == len(plan.swaps) == sum(1 for s in plan.sells if s.symbol in swapped)
    for swap in plan.swaps:
        assert swap.buy_score - swap.sell_score >= config.swap_score_margin
    places = Counter(
        [(o.strategy, o.symbol) for o in plan.buys]
        + [(o.strategy, o.symbol) for o in plan.sells if o.symbol not in swapped]
        + [(r.strategy, r.symbol) for r in plan.rejections]
    )
    assert places == Counter((s.strategy, s.symbol) for s in signals)

    # deterministic: the input order does not matter
    again_ranked, again_prior = rank_signals(signals[::-1], performance[::-1], config)
    again_entries, again_exits = split_actions(again_ranked)
    again = build_plan(
        SESSION, again_entries, again_exits, before, performance, config, again_prior
    )
    assert repr(again) == repr(plan)
