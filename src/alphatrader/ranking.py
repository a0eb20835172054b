"""Strategy performance tracking and multi-strategy signal ranking (the seeds' Phase 3).

`track_performance` runs each strategy alone through the backtest engine over a trailing window
ending at the session being planned, and measures its momentum (the return of that standalone
equity curve over the last MOMENTUM_LOOKBACK_DAYS sessions) and the correlation of the
strategies' daily returns. `rank_signals` turns one session's signals into a ranked list:

* confidence score = confidence × 100 (strategies already give confidence in [0, 1]);
* momentum score = clip((momentum − MOMENTUM_FLOOR) / (MOMENTUM_CAP − MOMENTUM_FLOOR), 0, 1) × 100,
  a fixed mapping (−20% → 0, 0% → 50, +20% → 100) rather than min–max across strategies, so a
  score means the same thing with one strategy or seven and from one day to the next;
* score = CONFIDENCE_WEIGHT × confidence score + MOMENTUM_WEIGHT × momentum score.

docs/daily-plan.md states every rule with its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from alphatrader.backtest.engine import BacktestConfig, BacktestEngine
from alphatrader.backtest.metrics import compute_metrics
from alphatrader.config import Settings
from alphatrader.data.market import Series
from alphatrader.errors import InputError
from alphatrader.execution.costs import to_price
from alphatrader.portfolio.plan import (
    CorrelationWarning,
    PlanRejection,
    RankedSignal,
    StrategyPerformance,
)
from alphatrader.portfolio.sizing import Limits
from alphatrader.strategies.base import ENTRY, EXIT, Strategy

MOMENTUM_FLOOR = -0.20  # a trailing strategy return at or below this scores 0
MOMENTUM_CAP = 0.20  # ... at or above this scores 100; 0% scores 50
NEUTRAL_CONFIDENCE = 0.5  # a held position's confidence for swap comparisons (score 50)
HISTORY_DAYS = 504  # sessions of standalone equity kept per strategy (≈ 2 years)
MIN_WARMUP = 60  # sessions of indicator warm-up loaded before the window, at least
WARMUP_FACTOR = 2  # ... or twice the strategy's longest integer parameter, if more
SCORE_DECIMALS = 6  # scores are rounded so that float noise never breaks a tie


# -- inputs ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SignalInput:
    """One strategy's signal for one symbol on the session being planned."""

    strategy: str
    symbol: str
    action: str  # "entry" | "exit"
    confidence: float  # in [0, 1]
    reason: str
    price: Decimal  # the session's close
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None

    def __post_init__(self) -> None:
        if self.action not in (ENTRY, EXIT):
            raise ValueError(f"action must be {ENTRY!r} or {EXIT!r}, not {self.action!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} outside [0, 1]")


def session_signals(
    generated: Mapping[str, Mapping[str, pd.DataFrame]], session: date
) -> list[SignalInput]:
    """The rows of `{strategy: {symbol: signal frame}}` (what `Strategy.generate` returns, per
    strategy) dated `session`, as inputs for `rank_signals`, sorted by (strategy, symbol)."""
    day = pd.Timestamp(session)
    out: list[SignalInput] = []
    for strategy in sorted(generated):
        frames = generated[strategy]
        for symbol in sorted(frames):
            frame = frames[symbol]
            if frame.empty:
                continue
            rows = frame.loc[frame.index == day]
            for _, row in rows.iterrows():
                price = float(row["price"])
                if not math.isfinite(price):
                    continue  # no close on the session: nothing to size against
                out.append(
                    SignalInput(
                        strategy=strategy,
                        symbol=symbol,
                        action=str(row["action"]),
                        confidence=float(row["confidence"]),
                        reason=str(row["reason"]),
                        price=to_price(price),
                        stop_loss=_price_or_none(row["stop_loss"]),
                        take_profit=_price_or_none(row["take_profit"]),
                    )
                )
    return out


def _price_or_none(value: Any) -> Decimal | None:
    number = float(value)
    return to_price(number) if math.isfinite(number) else None


# -- scores ----------------------------------------------------------------------------------
def confidence_score(confidence: float) -> float:
    """A strategy's confidence in [0, 1] on the 0–100 scale: confidence × 100."""
    return round(min(max(confidence, 0.0), 1.0) * 100.0, SCORE_DECIMALS)


def momentum_score(momentum: float) -> float:
    """A strategy's trailing return on the 0–100 scale, by the fixed linear mapping
    MOMENTUM_FLOOR → 0, MOMENTUM_CAP → 100 (clipped); unknown momentum (NaN) scores 0."""
    if not math.isfinite(momentum):
        return 0.0
    scaled = (momentum - MOMENTUM_FLOOR) / (MOMENTUM_CAP - MOMENTUM_FLOOR)
    return round(min(max(scaled, 0.0), 1.0) * 100.0, SCORE_DECIMALS)


def combined_score(conf_score: float, mom_score: float, settings: Settings) -> float:
    """CONFIDENCE_WEIGHT × confidence score + MOMENTUM_WEIGHT × momentum score (0–100 when the
    weights sum to 1, as the defaults 0.5/0.5 do)."""
    value = settings.confidence_weight * conf_score + settings.momentum_weight * mom_score
    return round(value, SCORE_DECIMALS)


def held_score(strategy_momentum: float, settings: Settings) -> float:
    """A held position's score on the signal scale: its strategy's momentum score and a neutral
    confidence (NEUTRAL_CONFIDENCE → 50), so a new signal must beat it on its own merits."""
    return combined_score(
        confidence_score(NEUTRAL_CONFIDENCE), momentum_score(strategy_momentum), settings
    )


# -- performance tracking --------------------------------------------------------------------
def warmup_sessions(strategy: Strategy) -> int:
    """Sessions loaded before the window so indicators are ready when it opens: the strategy's
    declared `warmup` if any, else max(MIN_WARMUP, WARMUP_FACTOR × its longest integer
    parameter) — 2 × 252 for dual momentum, 2 × 200 for the SMA-200 strategies."""
    declared = type(strategy).warmup  # from the class: a plain function of the strategy
    if declared is not None:
        return max(int(declared(strategy)), 0)
    ints = [v for v in strategy.model_dump().values() if isinstance(v, int)]
    ints = [v for v in ints if not isinstance(v, bool)]
    return max(MIN_WARMUP, WARMUP_FACTOR * max(ints, default=0))


def default_limits() -> Limits:
    """The small-account limits with the settings' default values."""
    fields = Settings.model_fields
    return Limits(
        min_position=Decimal(fields["min_position_size"].default),
        max_position=Decimal(fields["max_position_size"].default),
        cash_buffer=Decimal(fields["min_cash_buffer"].default),
        max_positions=int(fields["max_positions"].default),
    )


def track_performance(
    strategies: Sequence[Strategy],
    universe: Mapping[str, Series],
    as_of: date | pd.Timestamp,
    *,
    lookback_days: int,
    min_threshold: float,
    corr_limit: float,
    history_days: int = HISTORY_DAYS,
    initial_cash: Decimal = Decimal(1000),
    limits: Limits | None = None,
) -> tuple[list[StrategyPerformance], list[CorrelationWarning], pd.DataFrame]:
    """Each strategy's standalone equity curve, momentum and rank, and their correlations.

    Each strategy trades the universe alone, from `initial_cash`, through the backtest engine
    with safety sizing under `limits` (default: the small-account defaults) — the way it would
    trade this account. The engine sees the last `history_days` + warm-up sessions up to
    `as_of`; the returned curve is the last `history_days` sessions of it. Momentum is
    equity[-1] / equity[-1 − lookback_days] − 1 (NaN when the curve is shorter); a strategy is
    eligible when its momentum is above `min_threshold`. Ranks: momentum descending (NaN last),
    ties by name. The correlation matrix is of the curves' daily simple returns on the sessions
    they share; a pair whose correlation is above `corr_limit` gets a warning (NaN never does).
    """
    if lookback_days < 1 or history_days < lookback_days:
        raise InputError(
            f"history_days ({history_days}) must cover lookback_days ({lookback_days}) ≥ 1"
        )
    if not strategies:
        raise InputError("no strategy given")
    end = pd.Timestamp(as_of).normalize()
    sessions = _sessions_up_to(universe, end)
    if len(sessions) < 2:
        raise InputError(f"fewer than two sessions of data up to {end.date()}")
    window_start = sessions[max(len(sessions) - history_days, 0)]
    config = BacktestConfig(
        initial_cash=initial_cash,
        sizing="safety",
        limits=limits or default_limits(),
        end=end,
    )
    window = sessions[sessions >= window_start]
    curves: dict[str, pd.Series] = {}
    trades: dict[str, int] = {}
    for strategy in strategies:
        need = history_days + warmup_sessions(strategy)
        first = sessions[max(len(sessions) - need, 0)]
        own = _slice(_universe_for(strategy, universe), first, end)
        traded = [s for s in own.values() if s.instrument.tradable]
        if not traded:  # nothing it can trade (e.g. needs volume on close-only data): flat
            curve = pd.Series(float(initial_cash), index=window, dtype="float64")
            curves[strategy.name] = curve.rename(strategy.name)
            trades[strategy.name] = 0
            continue
        result = BacktestEngine([strategy], own, config).run()
        curve = result.equity.reindex(result.equity.index.union(window)).ffill()
        curve = curve.reindex(window).fillna(float(initial_cash))
        curves[strategy.name] = curve.rename(strategy.name)
        trades[strategy.name] = sum(1 for t in result.trades if t.entry_date >= window_start.date())

    unranked = []
    for name, curve in curves.items():
        values = curve.to_numpy(dtype="float64")
        momentum = float("nan")
        if len(values) > lookback_days and values[-1 - lookback_days] > 0:
            momentum = float(values[-1] / values[-1 - lookback_days] - 1.0)
        metrics = compute_metrics(curve, [])
        unranked.append((name, momentum, curve, metrics))
    unranked.sort(key=lambda item: (_nan_last(-item[1]), item[0]))
    performance = []
    for rank, (name, momentum, curve, metrics) in enumerate(unranked, start=1):
        performance.append(
            StrategyPerformance(
                name=name,
                momentum=momentum,
                total_return=_float(metrics["total_return"], 0.0),
                sharpe=_float_or_none(metrics["sharpe"]),
                max_drawdown=_float_or_none(metrics["max_drawdown"]),
                trades=trades[name],
                rank=rank,
                eligible=math.isfinite(momentum) and momentum > min_threshold,
                equity=curve,
            )
        )
    corr = correlation_matrix(curves)
    return performance, correlation_warnings(corr, corr_limit), corr


def track_with_settings(
    strategies: Sequence[Strategy],
    universe: Mapping[str, Series],
    as_of: date | pd.Timestamp,
    settings: Settings,
    history_days: int = HISTORY_DAYS,
) -> tuple[list[StrategyPerformance], list[CorrelationWarning], pd.DataFrame]:
    """`track_performance` with MOMENTUM_LOOKBACK_DAYS, MIN_MOMENTUM_THRESHOLD,
    CORRELATION_WARNING, PORTFOLIO_SIZE and the account limits taken from `settings`."""
    return track_performance(
        strategies,
        universe,
        as_of,
        lookback_days=settings.momentum_lookback_days,
        min_threshold=settings.min_momentum_threshold,
        corr_limit=settings.correlation_warning,
        history_days=max(history_days, settings.momentum_lookback_days),
        initial_cash=settings.portfolio_size,
        limits=Limits(
            min_position=settings.min_position_size,
            max_position=settings.max_position_size,
            cash_buffer=settings.min_cash_buffer,
            max_positions=settings.max_positions,
        ),
    )


def correlation_matrix(curves: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Pearson correlation of the curves' daily simple returns, on the sessions all share,
    strategies in name order. A flat curve (no trades) has NaN correlations."""
    names = sorted(curves)
    if not names:
        return pd.DataFrame(dtype="float64")
    frame = pd.concat([curves[n].rename(n) for n in names], axis=1, join="inner")
    returns = frame.pct_change().iloc[1:]
    return returns.corr()


def correlation_warnings(corr: pd.DataFrame, limit: float) -> list[CorrelationWarning]:
    """Pairs (first < second by name) whose correlation is above `limit`, most correlated
    first, ties by the pair's names."""
    names = [str(c) for c in corr.columns]
    values = corr.to_numpy(dtype="float64")
    out = [
        CorrelationWarning(names[i], names[j], float(values[i, j]))
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if math.isfinite(values[i, j]) and values[i, j] > limit
    ]
    out.sort(key=lambda w: (-w.correlation, w.first, w.second))
    return out


def _sessions_up_to(universe: Mapping[str, Series], end: pd.Timestamp) -> pd.DatetimeIndex:
    tradable = [s for s in universe.values() if s.instrument.tradable] or list(universe.values())
    union = pd.DatetimeIndex([]).as_unit("ns")
    for series in tradable:
        index = pd.DatetimeIndex(series.bars.index).as_unit("ns")
        union = union.union(index[index <= end])
    return union


def _universe_for(strategy: Strategy, universe: Mapping[str, Series]) -> dict[str, Series]:
    """What the engine would let the strategy see: its own instruments, or the tradable series
    that have the fields it needs (indexes and signal series are never traded)."""
    if strategy.instruments is not None:
        return {s: universe[s] for s in strategy.instruments if s in universe}
    return {
        s: v
        for s, v in universe.items()
        if v.instrument.tradable and strategy.requires <= v.instrument.fields
    }


def _slice(
    universe: Mapping[str, Series], first: pd.Timestamp, end: pd.Timestamp
) -> dict[str, Series]:
    out: dict[str, Series] = {}
    for symbol, series in universe.items():
        bars = series.bars
        index = pd.DatetimeIndex(bars.index)
        lo, hi = index.searchsorted(first, side="left"), index.searchsorted(end, side="right")
        if hi > lo:
            out[symbol] = Series(series.instrument, bars.iloc[lo:hi])
    return out


def _nan_last(value: float) -> float:
    return math.inf if not math.isfinite(value) else value


def _float(value: object, default: float) -> float:
    out = _float_or_none(value)
    return default if out is None else out


def _float_or_none(value: object) -> float | None:
    if isinstance(value, int | float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


# -- ranking ---------------------------------------------------------------------------------
def rank_signals(
    signals: Sequence[SignalInput],
    performance: Sequence[StrategyPerformance],
    settings: Settings,
) -> tuple[list[RankedSignal], list[PlanRejection]]:
    """Score, filter, merge and rank one session's signals.

    Returns the ranked list — the kept entries (rank 1 = best, at most MAX_POSITIONS), then
    every exit (rank 0, by symbol then strategy) — and a rejection for every other signal:
    `strategy_momentum` (the strategy's momentum is not above MIN_MOMENTUM_THRESHOLD, or it has
    no performance record), `merged` (another strategy's entry for the same symbol scored
    higher; the winner lists it in `merged_from`) and `rank` (below the top MAX_POSITIONS).
    Exits are never filtered: they reduce risk. Entries are ordered by score descending, ties by
    strategy then symbol; within a symbol the best score wins, ties by strategy name.
    """
    momenta = {p.name: p.momentum for p in performance}
    threshold = settings.min_momentum_threshold
    rejections: list[PlanRejection] = []
    entries: list[RankedSignal] = []
    exits: list[RankedSignal] = []
    for signal in sorted(signals, key=lambda s: (s.strategy, s.symbol, s.action)):
        momentum = momenta.get(signal.strategy, float("nan"))
        ranked = _score(signal, momentum, settings)
        if signal.action == EXIT:
            exits.append(ranked)
        elif signal.strategy not in momenta:
            rejections.append(
                PlanRejection(
                    signal.symbol,
                    signal.strategy,
                    "strategy_momentum",
                    f"no performance record for {signal.strategy}; its momentum is unknown",
                )
            )
        elif not (math.isfinite(momentum) and momentum > threshold):
            shown = f"{momentum:+.2%}" if math.isfinite(momentum) else "unknown"
            rejections.append(
                PlanRejection(
                    signal.symbol,
                    signal.strategy,
                    "strategy_momentum",
                    f"{signal.strategy} {settings.momentum_lookback_days}-session momentum "
                    f"{shown} is not above MIN_MOMENTUM_THRESHOLD {threshold:+.2%}",
                )
            )
        else:
            entries.append(ranked)

    merged = _merge(entries, rejections)
    merged.sort(key=lambda r: (-r.score, r.strategy, r.symbol))
    keep = settings.max_positions
    ranked_entries: list[RankedSignal] = []
    for position, entry in enumerate(merged, start=1):
        if position <= keep:
            ranked_entries.append(replace(entry, rank=position))
            continue
        rejections.append(
            PlanRejection(
                entry.symbol,
                entry.strategy,
                "rank",
                f"ranked {position} of {len(merged)} (score {entry.score:.1f}); only the top "
                f"{keep} (MAX_POSITIONS) are kept",
            )
        )
    exits.sort(key=lambda r: (r.symbol, r.strategy))
    return ranked_entries + exits, rejections


def split_actions(ranked: Sequence[RankedSignal]) -> tuple[list[RankedSignal], list[RankedSignal]]:
    """(entries, exits) of a ranked list, each in its given order."""
    entries = [r for r in ranked if r.action == ENTRY]
    exits = [r for r in ranked if r.action == EXIT]
    return entries, exits


def _score(signal: SignalInput, momentum: float, settings: Settings) -> RankedSignal:
    conf = confidence_score(signal.confidence)
    mom = momentum_score(momentum)
    return RankedSignal(
        strategy=signal.strategy,
        symbol=signal.symbol,
        action=signal.action,
        confidence=signal.confidence,
        confidence_score=conf,
        momentum=momentum,
        momentum_score=mom,
        score=combined_score(conf, mom, settings),
        reason=signal.reason,
        price=signal.price,
        stop_loss=signal.stop_loss,
        take_profit=signal.take_profit,
    )


def _merge(entries: list[RankedSignal], rejections: list[PlanRejection]) -> list[RankedSignal]:
    """One signal per symbol: the best score (ties: strategy name) with `merged_from` naming the
    others, each of which gets a `merged` note."""
    by_symbol: dict[str, list[RankedSignal]] = {}
    for signal in entries:
        by_symbol.setdefault(signal.symbol, []).append(signal)
    out: list[RankedSignal] = []
    for symbol in sorted(by_symbol):
        group = sorted(by_symbol[symbol], key=lambda r: (-r.score, r.strategy))
        best, others = group[0], group[1:]
        if others:
            best = replace(best, merged_from=tuple(o.strategy for o in others))
            for other in others:
                rejections.append(
                    PlanRejection(
                        symbol,
                        other.strategy,
                        "merged",
                        f"merged into {best.strategy}'s {symbol} entry (score {best.score:.1f}); "
                        f"this one scored {other.score:.1f}",
                    )
                )
        out.append(best)
    return out
