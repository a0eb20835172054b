"""The next-session trading plan: exits, sized entries, cash-depletion analysis and swaps.

`build_plan` is a pure function of the ranked signals, the portfolio and the settings:

1. Exits first (they free cash): an exit sells the whole held position when the signal comes
   from the strategy that opened it (the backtest engine's rule); otherwise `no_position` or
   `not_owner`.
2. Entries in rank order: a symbol held at the start of the session is not bought again
   (`already_held`, even when it is sold today: no same-day round trips); a position slot must
   be free (`max_positions`; held positions count); then `size_entry` (MIN_PRICE, cash buffer,
   size limits, share rounding).
3. Cash depletion: when cash above the buffer cannot fund the entries that passed every other
   rule, or an entry found no free slot, held positions become liquidation candidates, ranked
   by (unrealized return ascending, holding sessions descending, strategy momentum ascending,
   symbol). An unfunded entry is first retried with the cash and slots then available; failing
   that it is swapped against the first candidate (in liquidation order) whose score it beats
   by at least SWAP_SCORE_MARGIN points — the candidate's sell and the entry's buy go into the
   plan and a `SwapRecommendation` records the pair. A candidate with a fresh entry signal
   today is never sold for a swap.

Every signal ends in exactly one place: a sell, a buy, or a rejection (rank-stage rejections
are passed in as `prior_rejections` and come first).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from alphatrader.config import Settings
from alphatrader.execution.costs import CENT
from alphatrader.portfolio.plan import (
    CashAnalysis,
    HeldPosition,
    LiquidationCandidate,
    PlannedOrder,
    PlanRejection,
    PortfolioSnapshot,
    RankedSignal,
    StrategyPerformance,
    SwapRecommendation,
    TradingPlan,
)
from alphatrader.portfolio.safety import size_entry, spendable_cash, target_notional
from alphatrader.ranking import held_score
from alphatrader.strategies.base import ENTRY, EXIT

CASH_RULES = frozenset({"cash_buffer", "max_positions"})  # refusals a swap can fix


def build_plan(
    session: date,
    ranked: Sequence[RankedSignal],
    exits: Sequence[RankedSignal],
    portfolio: PortfolioSnapshot,
    performance: Sequence[StrategyPerformance],
    settings: Settings,
    prior_rejections: Sequence[PlanRejection] = (),
) -> TradingPlan:
    """The plan for the session after `session`; see the module docstring for the rules.

    `ranked` holds entries (in rank order, as `rank_signals` returns them), `exits` the exits.
    """
    if any(r.action != ENTRY for r in ranked):
        raise ValueError("`ranked` must hold entries only; pass exits as `exits`")
    if any(r.action != EXIT for r in exits):
        raise ValueError("`exits` must hold exits only")
    momenta = {p.name: p.momentum for p in performance}
    held = {p.symbol: p for p in portfolio.positions}
    entries = sorted(ranked, key=_rank_key)
    state = _State(cash=portfolio.cash, open_count=len(held))
    rejections = list(prior_rejections)

    # 1. exits
    for signal in sorted(exits, key=lambda r: (r.symbol, r.strategy)):
        rejection = _exit(signal, held, state)
        if rejection is not None:
            rejections.append(rejection)
    remaining = [p for p in portfolio.positions if p.symbol not in state.sold]
    spendable_after_exits = spendable_cash(state.cash, settings)

    # 2. entries
    unfunded: list[tuple[RankedSignal, PlanRejection]] = []
    for signal in entries:
        if signal.symbol in held:
            pos = held[signal.symbol]
            rejections.append(
                _reject(
                    signal,
                    "already_held",
                    f"{signal.symbol} is held ({_qty(pos.qty)} shares since "
                    f"{pos.opened_session}, {pos.strategy}); not bought again",
                )
            )
            continue
        if signal.symbol in state.bought:
            rejections.append(
                _reject(signal, "duplicate", f"{signal.symbol} is already bought in this plan")
            )
            continue
        outcome = _try_buy(signal, state, settings)
        if isinstance(outcome, PlanRejection):
            if outcome.rule in CASH_RULES:
                unfunded.append((signal, outcome))
            else:
                rejections.append(outcome)

    # 3. cash depletion: needed, shortfall, liquidation candidates, swaps
    free_slots = max(settings.max_positions - len(remaining), 0)
    fundable = [
        s for s in entries if s.symbol not in held and s.price >= settings.min_price and s.price > 0
    ]
    needed = sum(
        (target_notional(s.confidence, settings) for s in fundable[:free_slots]), Decimal(0)
    )
    shortfall = max(Decimal(0), needed - spendable_after_exits)
    candidates: tuple[LiquidationCandidate, ...] = ()
    swaps: list[SwapRecommendation] = []
    if shortfall > 0 or unfunded:
        candidates = rank_liquidation_candidates(remaining, momenta, settings)
        wanted_today = frozenset(s.symbol for s in entries)
        for signal, refusal in unfunded:
            if signal.symbol in state.bought:  # only when `ranked` repeats a symbol
                rejections.append(
                    _reject(signal, "duplicate", f"{signal.symbol} is already bought in this plan")
                )
                continue
            outcome = _try_buy(signal, state, settings)
            if isinstance(outcome, PlannedOrder):
                continue
            swap, note = _try_swap(signal, candidates, wanted_today, state, settings)
            if swap is None:
                final = outcome if outcome.rule in CASH_RULES else refusal
                rejections.append(replace(final, reason=f"{final.reason}; {note}"))
            else:
                swaps.append(swap)

    cash = CashAnalysis(
        cash=portfolio.cash,
        buffer=settings.min_cash_buffer,
        spendable=spendable_after_exits,
        needed=needed,
        shortfall=shortfall,
        candidates=candidates,
    )
    buys = tuple(sorted(state.buys, key=lambda o: _rank_key(state.bought[o.symbol])))
    after = _after(session, portfolio, tuple(state.sells), buys, momenta)
    return TradingPlan(
        session=session,
        signals=tuple(entries) + tuple(sorted(exits, key=lambda r: (r.symbol, r.strategy))),
        sells=tuple(state.sells),
        buys=buys,
        rejections=tuple(rejections),
        cash=cash,
        swaps=tuple(swaps),
        before=portfolio,
        after=after,
    )


def rank_liquidation_candidates(
    positions: Sequence[HeldPosition], momenta: Mapping[str, float], settings: Settings
) -> tuple[LiquidationCandidate, ...]:
    """Held positions in the order they would be sold: worst unrealized return first, then the
    longer holding period, then the lower strategy momentum, then the symbol. Momentum is the
    strategy's current one from `momenta`, else the position's recorded `strategy_momentum`;
    unknown momentum sorts first (sold first). Each gets its score on the signal scale
    (`held_score`: neutral confidence 50 and its strategy's momentum score)."""

    def momentum_of(p: HeldPosition) -> float:
        return momenta.get(p.strategy, p.strategy_momentum)

    def key(p: HeldPosition) -> tuple[float, int, float, str]:
        m = momentum_of(p)
        return (p.return_pct, -p.holding_sessions, m if math.isfinite(m) else -math.inf, p.symbol)

    out = []
    for rank, pos in enumerate(sorted(positions, key=key), start=1):
        m = momentum_of(pos)
        score = held_score(m, settings)
        shown = f"{m:+.1%}" if math.isfinite(m) else "unknown"
        out.append(
            LiquidationCandidate(
                position=pos,
                rank=rank,
                score=score,
                reason=(
                    f"unrealized {pos.return_pct:+.1%}, held {pos.holding_sessions} sessions, "
                    f"{pos.strategy} momentum {shown}; score {score:.1f}"
                ),
            )
        )
    return tuple(out)


# -- internals -------------------------------------------------------------------------------
@dataclass(slots=True)
class _State:
    """What the plan has committed so far: cash after its orders, positions held or planned."""

    cash: Decimal
    open_count: int
    sells: list[PlannedOrder] = field(default_factory=list)
    buys: list[PlannedOrder] = field(default_factory=list)
    sold: set[str] = field(default_factory=set)
    bought: dict[str, RankedSignal] = field(default_factory=dict)


def _rank_key(signal: RankedSignal) -> tuple[float, float, str, str]:
    rank = signal.rank if signal.rank > 0 else math.inf
    return (rank, -signal.score, signal.strategy, signal.symbol)


def _exit(
    signal: RankedSignal, held: Mapping[str, HeldPosition], state: _State
) -> PlanRejection | None:
    pos = held.get(signal.symbol)
    if pos is None:
        return _reject(signal, "no_position", f"no {signal.symbol} position to sell")
    if signal.symbol in state.sold:
        return _reject(signal, "no_position", f"{signal.symbol} is already sold in this plan")
    if pos.strategy != signal.strategy:
        return _reject(
            signal,
            "not_owner",
            f"{signal.symbol} was opened by {pos.strategy}; an exit from {signal.strategy} "
            "does not close it",
        )
    order = PlannedOrder(
        symbol=pos.symbol,
        side="sell",
        qty=pos.qty,
        est_price=signal.price,
        notional=_money(pos.qty * signal.price),
        strategy=signal.strategy,
        reason=signal.reason,
        score=signal.score,
    )
    state.sells.append(order)
    state.sold.add(pos.symbol)
    state.cash += order.notional
    state.open_count -= 1
    return None


def _try_buy(
    signal: RankedSignal, state: _State, settings: Settings
) -> PlannedOrder | PlanRejection:
    """Buy if a slot is free and `size_entry` agrees; books the order into `state`."""
    if state.open_count >= settings.max_positions:
        return _reject(
            signal,
            "max_positions",
            f"{state.open_count} positions held or planned, limit {settings.max_positions} "
            "(MAX_POSITIONS)",
        )
    outcome = size_entry(signal, spendable_cash(state.cash, settings), settings)
    if isinstance(outcome, PlannedOrder):
        _book_buy(outcome, signal, state)
    return outcome


def _book_buy(order: PlannedOrder, signal: RankedSignal, state: _State) -> None:
    state.buys.append(order)
    state.bought[order.symbol] = signal
    state.cash -= order.notional
    state.open_count += 1


def _try_swap(
    signal: RankedSignal,
    candidates: Sequence[LiquidationCandidate],
    wanted_today: frozenset[str],
    state: _State,
    settings: Settings,
) -> tuple[SwapRecommendation | None, str]:
    """Sell the first candidate the signal beats by SWAP_SCORE_MARGIN and whose sale makes the
    buy fit; returns the swap, or None and why there is none."""
    margin = settings.swap_score_margin
    note = "no swap: no held position can be sold for it"
    for cand in candidates:
        pos = cand.position
        if pos.symbol in state.sold or pos.symbol in wanted_today:
            continue
        lead = round(signal.score - cand.score, 6)
        if lead <= 0 or lead < margin:
            note = (
                f"no swap: score {signal.score:.1f} does not beat any held position by "
                f"SWAP_SCORE_MARGIN {margin:g} (e.g. {pos.symbol} {cand.score:.1f})"
            )
            continue
        if state.open_count - 1 >= settings.max_positions:
            note = "no swap: more positions than MAX_POSITIONS; one sale cannot make room"
            return None, note
        proceeds = _money(pos.qty * pos.last_price)
        trial = size_entry(signal, spendable_cash(state.cash + proceeds, settings), settings)
        if not isinstance(trial, PlannedOrder):
            note = f"no swap: selling {pos.symbol} (${proceeds}) would not fund it"
            continue  # this sale does not free enough cash; a larger one may
        reason = (
            f"swap: sell {pos.symbol} (score {cand.score:.1f}) for {signal.symbol} "
            f"(score {signal.score:.1f}, +{lead:.1f} ≥ SWAP_SCORE_MARGIN {margin:g})"
        )
        sell = PlannedOrder(
            symbol=pos.symbol,
            side="sell",
            qty=pos.qty,
            est_price=pos.last_price,
            notional=proceeds,
            strategy=pos.strategy,
            reason=reason,
            score=cand.score,
        )
        state.sells.append(sell)
        state.sold.add(pos.symbol)
        state.cash += proceeds
        state.open_count -= 1
        _book_buy(replace(trial, reason=f"{trial.reason}; {reason}"), signal, state)
        swap = SwapRecommendation(
            sell_symbol=pos.symbol,
            buy_symbol=signal.symbol,
            sell_score=cand.score,
            buy_score=signal.score,
            margin=lead,
            reason=reason,
        )
        return swap, reason
    return None, note


def _after(
    session: date,
    before: PortfolioSnapshot,
    sells: tuple[PlannedOrder, ...],
    buys: tuple[PlannedOrder, ...],
    momenta: Mapping[str, float],
) -> PortfolioSnapshot:
    """Before minus sells plus buys, at the plan's estimated prices."""
    sold = {o.symbol for o in sells}
    cash = before.cash + sum((o.notional for o in sells), Decimal(0))
    cash -= sum((o.notional for o in buys), Decimal(0))
    kept = tuple(p for p in before.positions if p.symbol not in sold)
    new = tuple(
        HeldPosition(
            symbol=o.symbol,
            qty=o.qty,
            avg_price=o.est_price,
            last_price=o.est_price,
            strategy=o.strategy,
            opened_session=session,
            holding_sessions=0,
            strategy_momentum=momenta.get(o.strategy, math.nan),
        )
        for o in buys
    )
    return PortfolioSnapshot(cash=cash, positions=kept + new)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _qty(qty: Decimal) -> str:
    return f"{qty.normalize():f}"


def _reject(signal: RankedSignal, rule: str, reason: str) -> PlanRejection:
    return PlanRejection(signal.symbol, signal.strategy, rule, reason)
