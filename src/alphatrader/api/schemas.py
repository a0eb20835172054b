"""The API's request and response models: explicit allow-lists, separate from domain types.

Money and quantities leave as JSON numbers (money rounded to cents, prices to 6 decimals, as in
the backtest JSON); instants are ISO 8601 UTC; sessions are dates. `of(...)` builds a response
model from what `alphatrader.operations` returns.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from alphatrader import operations as ops
from alphatrader.jobs.runs import RunSummary
from alphatrader.risk.engine import RiskStatus
from alphatrader.strategies.registry import STRATEGIES

T = TypeVar("T")

SYMBOL_PATTERN = r"^\^?[A-Za-z0-9][A-Za-z0-9._-]{0,19}$"
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._^:-]{0,127}$"
JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
STATUS_PATTERN = r"^[a-z_]{1,20}$"


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: object) -> object:
    """Only YYYY-MM-DD: no timestamps, no date-times (pydantic's lax mode takes both)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError("expected a date as YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


def money(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(Decimal("0.01")))


def price(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(Decimal("0.000001")))


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorOut(Out):
    detail: str = Field(description="What was wrong and what to do.")


class ValidationItemOut(Out):
    loc: list[str | int] = Field(description="Where: body, query, path, then the field.")
    msg: str
    type: str


class InvalidOut(Out):
    """422: the request's fields (a list, one item per problem) or its meaning (a sentence)."""

    detail: list[ValidationItemOut] | str


class PageOut(Out, Generic[T]):
    items: list[T]
    total: int = Field(ge=0)
    limit: int
    offset: int


# -- system ------------------------------------------------------------------------------------
class HealthOut(Out):
    status: Literal["ok"] = "ok"


class RiskStateOut(Out):
    state: Literal["ACTIVE", "REDUCING", "HALTED"]
    reason: str
    since: datetime
    peak_equity: float

    @classmethod
    def of(cls, st: RiskStatus) -> RiskStateOut:
        return cls(
            state=st.state.value,
            reason=st.reason,
            since=st.since,
            peak_equity=float(st.peak_equity.quantize(Decimal("0.01"))),
        )


class RunOut(Out):
    job: str
    session: date
    attempt: int
    status: str
    started_at: datetime
    seconds: float | None
    stages: dict[str, float]
    counts: dict[str, int]
    error: str | None

    @classmethod
    def of(cls, run: RunSummary, error: str | None) -> RunOut:
        return cls(
            job=run.job,
            session=run.session,
            attempt=run.attempt,
            status=run.status,
            started_at=run.started_at,
            seconds=run.seconds,
            stages={k: float(v) for k, v in run.stages.items() if _number(v)},
            counts={k: int(v) for k, v in run.counts.items() if _number(v)},
            error=error,
        )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


class DataFreshnessOut(Out):
    last_data_session: date | None
    expected_session: date | None = Field(description="The latest XNYS session that has closed.")
    lag_sessions: int | None
    fresh: bool
    checked_at: datetime
    error: str | None


class BrokerConnectionOut(Out):
    broker: str
    connected: bool | None
    detail: str
    checked_at: datetime


class SystemStatusOut(Out):
    version: str
    environment: str
    mode: Literal["paper", "auto-trade", "approval"]
    dry_run: bool
    broker: str
    risk: RiskStateOut
    last_runs: list[RunOut]
    success_rate: float | None
    data: DataFreshnessOut
    connection: BrokerConnectionOut


# -- portfolio ---------------------------------------------------------------------------------
class PortfolioSummaryOut(Out):
    marked_session: date | None = Field(description="The session of the last mark to market.")
    equity: float
    cash: float
    positions_value: float
    starting_cash: float
    peak_equity: float
    positions: int
    open_orders: int
    planned_orders: int
    day_change: float | None
    total_return: float
    drawdown: float
    risk_state: Literal["ACTIVE", "REDUCING", "HALTED"]

    @classmethod
    def of(cls, p: ops.PortfolioSummary) -> PortfolioSummaryOut:
        return cls(
            marked_session=p.marked_session,
            equity=money(p.equity) or 0.0,
            cash=money(p.cash) or 0.0,
            positions_value=money(p.positions_value) or 0.0,
            starting_cash=money(p.starting_cash) or 0.0,
            peak_equity=money(p.peak_equity) or 0.0,
            positions=p.positions,
            open_orders=p.open_orders,
            planned_orders=p.planned_orders,
            day_change=finite(p.day_change),
            total_return=finite(p.total_return) or 0.0,
            drawdown=finite(p.drawdown) or 0.0,
            risk_state=p.risk_state,
        )


class PositionOut(Out):
    symbol: str
    qty: float
    avg_price: float
    strategy: str
    opened_session: date
    stop_loss: float | None
    take_profit: float | None
    last_price: float | None
    last_session: date | None
    market_value: float
    unrealized_pnl: float | None

    @classmethod
    def of(cls, p: ops.PositionView) -> PositionOut:
        return cls(
            symbol=p.symbol,
            qty=float(p.qty),
            avg_price=price(p.avg_price) or 0.0,
            strategy=p.strategy,
            opened_session=p.opened_session,
            stop_loss=price(p.stop_loss),
            take_profit=price(p.take_profit),
            last_price=price(p.last_price),
            last_session=p.last_session,
            market_value=money(p.market_value) or 0.0,
            unrealized_pnl=money(p.unrealized_pnl),
        )


# -- orders and signals ------------------------------------------------------------------------
class OrderOut(Out):
    client_order_id: str
    session: date
    symbol: str
    side: str
    qty: float
    est_price: float
    order_type: str
    limit_price: float | None
    stop_loss: float | None
    take_profit: float | None
    strategy: str
    reason: str
    status: str
    broker: str
    filled_qty: float
    avg_fill_price: float | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, o: ops.OrderView) -> OrderOut:
        return cls(
            client_order_id=o.client_order_id,
            session=o.session,
            symbol=o.symbol,
            side=o.side,
            qty=float(o.qty),
            est_price=price(o.est_price) or 0.0,
            order_type=o.order_type,
            limit_price=price(o.limit_price),
            stop_loss=price(o.stop_loss),
            take_profit=price(o.take_profit),
            strategy=o.strategy,
            reason=o.reason,
            status=o.status,
            broker=o.broker,
            filled_qty=float(o.filled_qty),
            avg_fill_price=price(o.avg_fill_price),
            created_at=o.created_at,
            updated_at=o.updated_at,
        )


class OrderEventOut(Out):
    at: datetime
    from_status: str
    to_status: str
    source: str
    reason: str


class OrderDetailOut(Out):
    order: OrderOut
    events: list[OrderEventOut]


class SignalOut(Out):
    id: int
    session: date
    strategy: str
    symbol: str
    action: str
    confidence: float
    momentum: float | None
    score: float | None
    rank: int | None
    status: str
    rule: str | None
    reason: str

    @classmethod
    def of(cls, s: ops.SignalView) -> SignalOut:
        return cls(
            id=s.id,
            session=s.session,
            strategy=s.strategy,
            symbol=s.symbol,
            action=s.action,
            confidence=finite(s.confidence) or 0.0,
            momentum=finite(s.momentum),
            score=finite(s.score),
            rank=s.rank,
            status=s.status,
            rule=s.rule,
            reason=s.reason,
        )


Reason = Annotated[
    str, Field(min_length=1, max_length=500, description="Why (kept in the audit log).")
]


class ReasonIn(In):
    reason: Reason


class RunsOut(Out):
    job: str
    runs: list[RunOut]
    success_rate: float | None = Field(description="Completed over finished attempts.")
    missed: list[date] = Field(description="Recent sessions with no completed run.")


class RiskEventOut(Out):
    id: int
    at: datetime
    session: date | None
    kind: str
    from_state: str
    to_state: str
    reason: str


class EmergencyOut(Out):
    action: Literal["cancel-all", "flatten"]
    cancelled: int
    exit_orders: list[str]
    snapshot: str = Field(description="The account snapshot, relative to the var folder.")
    risk_state: Literal["ACTIVE", "REDUCING", "HALTED"]


# -- strategies --------------------------------------------------------------------------------
class StrategyOut(Out):
    name: str
    rank: int
    momentum: float | None = Field(description="Trailing return over MOMENTUM_LOOKBACK_DAYS.")
    total_return: float | None
    sharpe: float | None
    max_drawdown: float | None
    trades: int
    eligible: bool = Field(description="Momentum above MIN_MOMENTUM_THRESHOLD.")


class CorrelationWarningOut(Out):
    first: str
    second: str
    correlation: float


class StrategiesOut(Out):
    session: date
    strategies: list[StrategyOut]
    correlation: dict[str, dict[str, float | None]]
    warnings: list[CorrelationWarningOut]
    skipped: list[str]

    @classmethod
    def of(cls, r: ops.StrategiesReport) -> StrategiesOut:
        return cls(
            session=r.session,
            strategies=[
                StrategyOut(
                    name=p.name,
                    rank=p.rank,
                    momentum=finite(p.momentum),
                    total_return=finite(p.total_return),
                    sharpe=finite(p.sharpe),
                    max_drawdown=finite(p.max_drawdown),
                    trades=p.trades,
                    eligible=p.eligible,
                )
                for p in r.performance
            ],
            correlation=r.correlation,
            warnings=[
                CorrelationWarningOut(first=w.first, second=w.second, correlation=w.correlation)
                for w in r.warnings
                if math.isfinite(w.correlation)
            ],
            skipped=r.skipped,
        )


# -- backtests ---------------------------------------------------------------------------------
def _known_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}")
    return name


StrategyName = Annotated[
    str,
    AfterValidator(_known_strategy),
    WithJsonSchema({"type": "string", "enum": sorted(STRATEGIES)}),
]
Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN)]
ParamValue = Annotated[str, Field(max_length=40)] | int | float | bool


class BacktestIn(In):
    strategies: list[StrategyName] = Field(
        default_factory=list, max_length=len(STRATEGIES), description="Empty: every strategy."
    )
    symbols: list[Symbol] = Field(
        default_factory=list, max_length=60, description="Empty: the bundled daily universe."
    )
    start: IsoDate | None = Field(None, ge=date(1900, 1, 1), le=date(2100, 1, 1))
    end: IsoDate | None = Field(None, ge=date(1900, 1, 1), le=date(2100, 1, 1))
    cash: float | None = Field(
        None, ge=1, le=10_000_000, strict=True, description="Starting cash; default PORTFOLIO_SIZE."
    )
    commission: float = Field(
        0.0, ge=0, le=0.1, strict=True, description="Fraction of traded value."
    )
    slippage_bps: float = Field(0.0, ge=0, le=1000, strict=True)
    sizing: Literal["safety", "all-in"] = "safety"
    params: dict[StrategyName, dict[Annotated[str, Field(max_length=40)], ParamValue]] = Field(
        default_factory=dict,
        max_length=len(STRATEGIES),
        description="Strategy parameters: {strategy: {name: value}}.",
    )


class BacktestJobOut(Out):
    id: str
    status: Literal["queued", "running", "completed", "failed"]
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    request: dict[str, Any]
    summary: dict[str, Any]
    notes: list[str]
    links: dict[str, str]


class TradeOut(Out):
    symbol: str
    strategy: str
    entry_date: date
    entry_price: float
    exit_date: date | None
    exit_price: float
    qty: float
    pnl: float


class BacktestResultOut(Out):
    """The documented backtest JSON (README, "Backtest JSON")."""

    strategies: list[str]
    symbols: list[str]
    start: date
    end: date
    initial_cash: float
    final_equity: float
    metrics: dict[str, float | int | None]
    trades: list[TradeOut]
    equity: list[tuple[date, float]]


# -- reports -----------------------------------------------------------------------------------
class EodReportOut(Out):
    session: date
    report_path: str = Field(description="The HTML report, relative to the var folder.")
    risk_state: str
    orders: int
    signals: int
    message: str
