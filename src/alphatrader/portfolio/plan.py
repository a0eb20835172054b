"""The daily plan's value types: ranked signals, planned orders, cash analysis, the report.

Produced by ranking and the planner, persisted by the daily job, rendered by the email. Money is
Decimal; scores are floats on a 0–100 scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pandas as pd


@dataclass(frozen=True, slots=True)
class RankedSignal:
    strategy: str  # for a merged signal: the strategy with the best score
    symbol: str
    action: str  # "entry" | "exit"
    confidence: float  # the strategy's own, in [0, 1]
    confidence_score: float  # 0–100
    momentum: float  # the strategy's trailing return over MOMENTUM_LOOKBACK_DAYS
    momentum_score: float  # 0–100
    score: float  # CONFIDENCE_WEIGHT·confidence_score + MOMENTUM_WEIGHT·momentum_score
    reason: str
    price: Decimal  # the session's close
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    merged_from: tuple[str, ...] = ()  # other strategies that gave the same symbol
    rank: int = 0


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    symbol: str
    side: str  # "buy" | "sell"
    qty: Decimal
    est_price: Decimal
    notional: Decimal
    strategy: str
    reason: str
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    limit_price: Decimal | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class PlanRejection:
    symbol: str
    strategy: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class HeldPosition:
    symbol: str
    qty: Decimal
    avg_price: Decimal
    last_price: Decimal
    strategy: str
    opened_session: date
    holding_sessions: int
    strategy_momentum: float

    @property
    def value(self) -> Decimal:
        return self.qty * self.last_price

    @property
    def unrealized_pnl(self) -> Decimal:
        return (self.last_price - self.avg_price) * self.qty

    @property
    def return_pct(self) -> float:
        cost = self.avg_price * self.qty
        return float(self.unrealized_pnl / cost) if cost else 0.0


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    cash: Decimal
    positions: tuple[HeldPosition, ...] = ()

    @property
    def positions_value(self) -> Decimal:
        return sum((p.value for p in self.positions), Decimal(0))

    @property
    def equity(self) -> Decimal:
        return self.cash + self.positions_value


@dataclass(frozen=True, slots=True)
class LiquidationCandidate:
    position: HeldPosition
    rank: int  # 1 = first to sell
    score: float  # the held position's score on the signal scale, for swap comparisons
    reason: str


@dataclass(frozen=True, slots=True)
class SwapRecommendation:
    sell_symbol: str
    buy_symbol: str
    sell_score: float
    buy_score: float
    margin: float
    reason: str


@dataclass(frozen=True, slots=True)
class CashAnalysis:
    cash: Decimal
    buffer: Decimal
    spendable: Decimal  # cash above the buffer, after planned sells
    needed: Decimal  # what the top signals would take at their planned sizes
    shortfall: Decimal
    candidates: tuple[LiquidationCandidate, ...] = ()

    @property
    def depleted(self) -> bool:
        return self.shortfall > 0


@dataclass(frozen=True, slots=True)
class StrategyPerformance:
    name: str
    momentum: float  # trailing return over MOMENTUM_LOOKBACK_DAYS
    total_return: float
    sharpe: float | None
    max_drawdown: float | None
    trades: int
    rank: int
    eligible: bool  # momentum above MIN_MOMENTUM_THRESHOLD
    equity: pd.Series = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class CorrelationWarning:
    first: str
    second: str
    correlation: float


@dataclass(frozen=True, slots=True)
class TradingPlan:
    session: date
    signals: tuple[RankedSignal, ...]  # ranked, top first (entries and exits)
    sells: tuple[PlannedOrder, ...]
    buys: tuple[PlannedOrder, ...]
    rejections: tuple[PlanRejection, ...]
    cash: CashAnalysis
    swaps: tuple[SwapRecommendation, ...]
    before: PortfolioSnapshot
    after: PortfolioSnapshot

    @property
    def orders(self) -> tuple[PlannedOrder, ...]:
        """Sells first, then buys: the order they are sent in."""
        return self.sells + self.buys
