"""The operations an operator performs, shared by the CLI, the API and the dashboard.

Each function takes the settings and the database (or the market store) it needs and returns
plain frozen dataclasses; callers render them (a Rich table, a JSON response model, a page).
State changes are audited with the actor the caller names. Errors are the product's own:

    NotFound   (InputError)      an unknown order, backtest or key id      → HTTP 404
    Conflict   (InputError)      the state forbids it now (not planned...) → HTTP 409
    Busy       (TemporaryError)  too much work queued; retry later         → HTTP 429
"""

from __future__ import annotations

import json
import logging
import math
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from alphatrader import services
from alphatrader.config import Settings
from alphatrader.data import calendar
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import AlphaTraderError, InputError, TemporaryError
from alphatrader.execution import emergency as em
from alphatrader.files import atomic_write
from alphatrader.jobs import runs as job_runs
from alphatrader.risk.engine import RiskEngine, RiskStatus, TradingState
from alphatrader.storage.db import Database, audit
from alphatrader.storage.models import (
    DailyEquity,
    OrderEvent,
    OrderRecord,
    PaperAccount,
    PositionRecord,
    RiskEvent,
    SignalRecord,
)

if TYPE_CHECKING:
    from alphatrader.backtest.runner import BacktestRequest
    from alphatrader.strategies.base import Strategy

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_PAGE = 200  # the most rows one page returns
OPEN_ORDER_STATUSES = (  # sent and still working, on the paper account or a real broker
    "new",
    "submitted",
    "accepted",
    "partially_filled",
    "cancel_pending",
    "unknown",
)


class NotFound(InputError):
    """An unknown id."""


class Conflict(InputError):
    """The request is valid but the current state forbids it."""


class Busy(TemporaryError):
    """Too much work is queued; `retry_after` seconds is a fair wait."""

    def __init__(self, message: str, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def _page(s: Session, query: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    if offset < 0:
        raise InputError(f"offset must not be negative, not {offset}")
    total = s.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return list(s.scalars(query.limit(limit).offset(offset))), total


def mode_of(settings: Settings) -> str:
    """How orders reach a broker: paper, auto-trade or approval (the daily report's words)."""
    if settings.paper_trading_mode:
        return "paper"
    return "auto-trade" if settings.auto_trade else "approval"


# -- portfolio ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PortfolioSummary:
    marked_session: date | None  # the session of the last mark to market (None: never marked)
    equity: Decimal
    cash: Decimal
    positions_value: Decimal
    starting_cash: Decimal
    peak_equity: Decimal
    positions: int
    open_orders: int
    planned_orders: int
    day_change: float | None  # fraction, last mark vs the one before
    total_return: float  # fraction, vs PORTFOLIO_SIZE
    drawdown: float  # fraction below the peak equity
    risk_state: str


def portfolio_summary(settings: Settings, db: Database) -> PortfolioSummary:
    """The account as of its last mark to market (the daily job marks it after each session)."""
    with db.session() as s:
        marks = s.scalars(select(DailyEquity).order_by(DailyEquity.session.desc()).limit(2)).all()
        positions = s.scalars(select(PositionRecord)).all()
        counts: dict[str, int] = dict(
            s.execute(
                select(OrderRecord.status, func.count())
                .where(OrderRecord.status.in_(("planned", *OPEN_ORDER_STATUSES)))
                .group_by(OrderRecord.status)
            ).all()
        )
        risk = RiskEngine(db, settings).current(s)
        if marks:
            equity, cash, value = marks[0].equity, marks[0].cash, marks[0].positions_value
        else:  # never marked: cash now, positions at cost
            account = s.get(PaperAccount, 1)
            cash = account.cash if account is not None else settings.portfolio_size
            value = sum((p.qty * p.avg_price for p in positions), Decimal(0))
            equity = cash + value
    peak = max(risk.peak_equity, equity)
    return PortfolioSummary(
        marked_session=marks[0].session if marks else None,
        equity=equity,
        cash=cash,
        positions_value=value,
        starting_cash=settings.portfolio_size,
        peak_equity=peak,
        positions=len(positions),
        open_orders=sum(counts.get(status, 0) for status in OPEN_ORDER_STATUSES),
        planned_orders=counts.get("planned", 0),
        day_change=float(marks[0].equity / marks[1].equity - 1)
        if len(marks) == 2 and marks[1].equity
        else None,
        total_return=float(equity / settings.portfolio_size - 1),
        drawdown=float(1 - equity / peak) if peak > 0 else 0.0,
        risk_state=risk.state.value,
    )


@dataclass(frozen=True, slots=True)
class PositionView:
    symbol: str
    qty: Decimal
    avg_price: Decimal
    strategy: str
    opened_session: date
    stop_loss: Decimal | None
    take_profit: Decimal | None
    last_price: Decimal | None
    last_session: date | None

    @property
    def market_value(self) -> Decimal:
        return self.qty * (self.last_price if self.last_price is not None else self.avg_price)

    @property
    def unrealized_pnl(self) -> Decimal | None:
        return None if self.last_price is None else self.qty * (self.last_price - self.avg_price)


def last_closes(store: MarketDataStore, symbols: Sequence[str]) -> dict[str, tuple[date, Decimal]]:
    """The last stored close of each symbol (symbols without data are left out)."""
    from alphatrader.data.market import load_series

    out: dict[str, tuple[date, Decimal]] = {}
    for symbol in symbols:
        try:
            close = load_series(store, symbol).bars["close"].dropna()
        except AlphaTraderError:
            continue
        if len(close):
            day = pd.Timestamp(close.index[-1]).date()
            out[symbol] = (day, Decimal(str(round(float(close.iloc[-1]), 6))))
    return out


def held_symbols(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(PositionRecord.symbol).order_by(PositionRecord.symbol)))


def positions(db: Database, closes: Mapping[str, tuple[date, Decimal]]) -> list[PositionView]:
    with db.session() as s:
        rows = s.scalars(select(PositionRecord).order_by(PositionRecord.symbol)).all()
    return [
        PositionView(
            r.symbol,
            r.qty,
            r.avg_price,
            r.strategy,
            r.opened_session,
            r.stop_loss,
            r.take_profit,
            closes[r.symbol][1] if r.symbol in closes else None,
            closes[r.symbol][0] if r.symbol in closes else None,
        )
        for r in rows
    ]


# -- orders and approval -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderView:
    client_order_id: str
    session: date
    symbol: str
    side: str
    qty: Decimal
    est_price: Decimal
    order_type: str
    limit_price: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    strategy: str
    reason: str
    status: str
    broker: str
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OrderEventView:
    at: datetime
    from_status: str
    to_status: str
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class OrderFilter:
    status: str | None = None
    symbol: str | None = None
    strategy: str | None = None
    session_from: date | None = None
    session_to: date | None = None


def _order_view(r: OrderRecord) -> OrderView:
    return OrderView(
        r.client_order_id,
        r.session,
        r.symbol,
        r.side,
        r.qty,
        r.est_price,
        r.order_type,
        r.limit_price,
        r.stop_loss,
        r.take_profit,
        r.strategy,
        r.reason,
        r.status,
        r.broker,
        r.filled_qty,
        r.avg_fill_price,
        r.created_at,
        r.updated_at,
    )


def orders_page(
    db: Database, where: OrderFilter = OrderFilter(), limit: int = 50, offset: int = 0
) -> Page[OrderView]:
    """Orders, newest session first, then by id."""
    query = select(OrderRecord).order_by(OrderRecord.session.desc(), OrderRecord.client_order_id)
    if where.status:
        query = query.where(OrderRecord.status == where.status)
    if where.symbol:
        query = query.where(OrderRecord.symbol == where.symbol.upper())
    if where.strategy:
        query = query.where(OrderRecord.strategy == where.strategy)
    if where.session_from:
        query = query.where(OrderRecord.session >= where.session_from)
    if where.session_to:
        query = query.where(OrderRecord.session <= where.session_to)
    with db.session() as s:
        rows, total = _page(s, query, limit, offset)
        return Page([_order_view(r) for r in rows], total, limit, offset)


def order_detail(db: Database, client_order_id: str) -> tuple[OrderView, list[OrderEventView]]:
    with db.session() as s:
        row = s.get(OrderRecord, client_order_id)
        if row is None:
            raise NotFound(f"no order {client_order_id!r}")
        events = s.scalars(
            select(OrderEvent)
            .where(OrderEvent.client_order_id == client_order_id)
            .order_by(OrderEvent.id)
        ).all()
        return _order_view(row), [
            OrderEventView(e.at, e.from_status, e.to_status, e.source, e.reason) for e in events
        ]


def pending_orders(db: Database, limit: int = 50, offset: int = 0) -> Page[OrderView]:
    """Planned orders waiting for approval (approval mode), newest session first."""
    return orders_page(db, OrderFilter(status="planned"), limit, offset)


def _planned(s: Session, order_id: str) -> OrderRecord:
    row = s.get(OrderRecord, order_id)
    if row is None:
        raise NotFound(f"no order {order_id!r}; pending orders are listed by `signals list`")
    if row.status != "planned":
        raise Conflict(f"order {order_id} is {row.status}, not waiting for approval")
    return row


def approve_order(settings: Settings, db: Database, order_id: str, actor: str) -> OrderView:
    """Send a planned order to the broker: the paper account takes it for the next session; a
    real broker gets it through the live order manager. Refused while trading is HALTED, and
    for buys while it is REDUCING (exits only)."""
    from alphatrader.jobs.daily import live_intents

    paper = services.uses_paper(settings)
    with db.session() as s:
        row = _planned(s, order_id)
        risk = RiskEngine(db, settings).current(s)
        if risk.state is TradingState.HALTED or (
            risk.state is TradingState.REDUCING and row.side == "buy"
        ):
            raise Conflict(f"trading is {risk.state} ({risk.reason}): order {order_id} not sent")
        if paper:
            services.broker(settings).accept(s, row)
        audit(s, actor, "order.approve", client_order_id=row.client_order_id)
    if not paper:
        services.order_manager(settings, db).submit_many(live_intents(db, [order_id]))
    return order_detail(db, order_id)[0]


def reject_order(
    settings: Settings, db: Database, order_id: str, actor: str, reason: str
) -> OrderView:
    """Refuse a planned order; it is never sent."""
    reason = _reason(reason)
    with db.session() as s:
        row = _planned(s, order_id)
        row.status = "rejected"
        row.reason = f"{row.reason} | rejected by {actor}: {reason}"
        row.updated_at = datetime.now(UTC)
        audit(s, actor, "order.reject", client_order_id=row.client_order_id, reason=reason)
    return order_detail(db, order_id)[0]


@dataclass(frozen=True, slots=True)
class SignalView:
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


@dataclass(frozen=True, slots=True)
class SignalFilter:
    session: date | None = None
    status: str | None = None
    strategy: str | None = None
    symbol: str | None = None


def signals_page(
    db: Database, where: SignalFilter = SignalFilter(), limit: int = 50, offset: int = 0
) -> Page[SignalView]:
    """Every recorded signal and what became of it, newest session first, by rank."""
    query = select(SignalRecord).order_by(
        SignalRecord.session.desc(), SignalRecord.rank.is_(None), SignalRecord.rank, SignalRecord.id
    )
    if where.session:
        query = query.where(SignalRecord.session == where.session)
    if where.status:
        query = query.where(SignalRecord.status == where.status)
    if where.strategy:
        query = query.where(SignalRecord.strategy == where.strategy)
    if where.symbol:
        query = query.where(SignalRecord.symbol == where.symbol.upper())
    with db.session() as s:
        rows, total = _page(s, query, limit, offset)
        items = [
            SignalView(
                r.id,
                r.session,
                r.strategy,
                r.symbol,
                r.action,
                r.confidence,
                r.momentum,
                r.score,
                r.rank,
                r.status,
                r.rule,
                r.reason,
            )
            for r in rows
        ]
    return Page(items, total, limit, offset)


# -- runs, risk, emergency -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RunsOverview:
    job: str
    runs: list[job_runs.RunSummary]
    success_rate: float | None
    missed: list[date]


def runs_overview(
    settings: Settings,
    db: Database,
    job: str = "daily",
    limit: int = 20,
    now: datetime | None = None,
) -> RunsOverview:
    from alphatrader.jobs.monitor import missed_runs

    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    missed = missed_runs(
        db, now or datetime.now(UTC), job, execution_time=settings.daily_execution_time
    )
    return RunsOverview(
        job,
        job_runs.recent_runs(db, limit=limit, job=job),
        job_runs.success_rate(db, job=job),
        missed,
    )


def risk_status(settings: Settings, db: Database) -> RiskStatus:
    return RiskEngine(db, settings).status()


@dataclass(frozen=True, slots=True)
class RiskEventView:
    id: int
    at: datetime
    session: date | None
    kind: str
    from_state: str
    to_state: str
    reason: str


def risk_events(db: Database, limit: int = 50, offset: int = 0) -> Page[RiskEventView]:
    query = select(RiskEvent).order_by(RiskEvent.id.desc())
    with db.session() as s:
        rows, total = _page(s, query, limit, offset)
        items = [
            RiskEventView(r.id, r.at, r.session, r.kind, r.from_state, r.to_state, r.reason)
            for r in rows
        ]
    return Page(items, total, limit, offset)


def _reason(reason: str) -> str:
    cleaned = " ".join(reason.split())
    if not cleaned:
        raise InputError("a reason is required (it is audited)")
    if len(cleaned) > 500:
        raise InputError(f"the reason is {len(cleaned)} characters; at most 500")
    return cleaned


def halt(settings: Settings, db: Database, reason: str, actor: str) -> RiskStatus:
    """Stop all new orders now (audited)."""
    return RiskEngine(db, settings).halt(_reason(reason), actor=actor)


def resume(settings: Settings, db: Database, reason: str, actor: str) -> RiskStatus:
    """Leave HALTED, the only way out (audited with who and why)."""
    engine = RiskEngine(db, settings)
    state = engine.status().state
    if state is not TradingState.HALTED:
        raise Conflict(f"trading is {state}, not HALTED: nothing to resume")
    return engine.resume(_reason(reason), actor=actor)


def emergency_cancel_all(
    settings: Settings, db: Database, reason: str, actor: str
) -> em.EmergencyResult:
    """Cancel every open order and halt trading (snapshot first, audited, alerted)."""
    return em.cancel_all(settings, db, services.broker(settings), actor, _reason(reason))


def emergency_flatten(
    settings: Settings, db: Database, reason: str, actor: str, session: date | None = None
) -> em.EmergencyResult:
    """Cancel everything, sell every position at the next session, halt trading."""
    with db.session() as s:
        prices = {p.symbol: p.avg_price for p in s.scalars(select(PositionRecord))}
    day = session or datetime.now(UTC).date()
    return em.flatten(settings, db, services.broker(settings), actor, _reason(reason), day, prices)


# -- system status ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DataFreshness:
    last_data_session: date | None
    expected_session: date | None  # the latest XNYS session that has closed
    lag_sessions: int | None
    checked_at: datetime
    error: str | None = None

    @property
    def fresh(self) -> bool:
        return self.lag_sessions == 0


def data_freshness(store: MarketDataStore, now: datetime | None = None) -> DataFreshness:
    """How far the stored universe lags the last closed XNYS session."""
    from alphatrader.data.providers.freshness import last_complete_session
    from alphatrader.jobs.market_view import last_data_session, universe_symbols

    now = now or datetime.now(UTC)
    try:
        last = last_data_session(store, universe_symbols(store))
        expected = last_complete_session(now)
    except (AlphaTraderError, ValueError) as exc:
        return DataFreshness(None, None, None, now, _first_line(str(exc)))
    lag = max(len(calendar.sessions(last, expected)) - 1, 0) if last < expected else 0
    return DataFreshness(last, expected, lag, now)


@dataclass(frozen=True, slots=True)
class BrokerConnection:
    broker: str
    connected: bool | None  # None: not checked
    detail: str
    checked_at: datetime


def broker_connection(settings: Settings) -> BrokerConnection:
    """Is the broker orders go to reachable? The paper account always is; a real broker is asked
    for its clock (errors are reduced to their type and first line: no secrets)."""
    now = datetime.now(UTC)
    if services.uses_paper(settings):
        return BrokerConnection("paper", True, "the simulated paper account", now)
    try:
        live = services.live_broker(settings)
        try:
            clock = live.clock()
        finally:
            close = getattr(live, "disconnect", None)
            if callable(close):
                close()
    except Exception as exc:
        return BrokerConnection(
            settings.broker, False, f"{type(exc).__name__}: {_first_line(str(exc))}", now
        )
    return BrokerConnection(settings.broker, True, f"market open: {clock.is_open}", now)


@dataclass(frozen=True, slots=True)
class SystemStatus:
    version: str
    environment: str
    mode: str
    dry_run: bool
    broker: str
    risk: RiskStatus
    last_runs: list[job_runs.RunSummary]
    success_rate: float | None
    data: DataFreshness
    connection: BrokerConnection


def system_status(
    settings: Settings, db: Database, data: DataFreshness, connection: BrokerConnection
) -> SystemStatus:
    from alphatrader import __version__

    return SystemStatus(
        version=__version__,
        environment=settings.environment,
        mode=mode_of(settings),
        dry_run=settings.dry_run,
        broker="paper" if services.uses_paper(settings) else settings.broker,
        risk=RiskEngine(db, settings).status(),
        last_runs=job_runs.recent_runs(db, limit=3),
        success_rate=job_runs.success_rate(db),
        data=data,
        connection=connection,
    )


# -- strategies --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StrategiesReport:
    session: date
    performance: list[Any]  # portfolio.plan.StrategyPerformance, ranked
    correlation: dict[str, dict[str, float | None]]
    warnings: list[Any]  # portfolio.plan.CorrelationWarning
    skipped: list[str]


def strategies_report(settings: Settings, store: MarketDataStore) -> StrategiesReport:
    """Each strategy's standalone momentum, return, drawdown and rank, and how their returns
    correlate, over the trailing window ending at the last stored session (as the daily job
    ranks them)."""
    from alphatrader.jobs.market_view import last_data_session, load_view, universe_symbols
    from alphatrader.ranking import track_with_settings
    from alphatrader.strategies.registry import STRATEGIES, build

    symbols = universe_symbols(store)
    session = last_data_session(store, symbols)
    view = load_view(store, session, symbols)
    tradable = {
        s: v for s, v in view.universe.items() if s in view.fresh or not v.instrument.tradable
    }
    runnable: list[Strategy] = []
    skipped: list[str] = []
    for strategy in (build(name) for name in STRATEGIES):
        own = {s: v for s, v in tradable.items() if strategy.requires <= v.instrument.fields}
        if strategy.instruments is not None:
            ok = all(i in own for i in strategy.instruments)
        else:
            ok = any(v.instrument.tradable for v in own.values())
        if ok:
            runnable.append(strategy)
        else:
            skipped.append(strategy.name)
    performance, warnings, corr = track_with_settings(runnable, tradable, session, settings)
    matrix = {
        str(row): {str(col): _finite(corr.loc[row, col]) for col in corr.columns}
        for row in corr.index
    }
    return StrategiesReport(session, performance, matrix, warnings, skipped)


# -- daily report -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EodReport:
    session: date
    report_path: Path
    risk_state: str
    orders: int
    signals: int
    message: str


def generate_eod_report(settings: Settings, now: datetime | None = None) -> EodReport:
    """A dry run of the daily job for the last completed session: the same code path, nothing
    recorded, sent or emailed; returns the HTML report it wrote."""
    from alphatrader.jobs.daily import DailyOptions, run_daily

    outcome = run_daily(settings, DailyOptions(dry_run=True, no_email=True), now)
    if outcome.report_path is None or outcome.session is None:
        raise Conflict(f"no report: {outcome.message}")
    plan = outcome.plan
    return EodReport(
        outcome.session,
        outcome.report_path,
        outcome.risk_state,
        len(plan.orders) if plan else 0,
        len(plan.signals) if plan else 0,
        outcome.message,
    )


# -- backtests in the background --------------------------------------------------------------
JobStatus = Literal["queued", "running", "completed", "failed"]


@dataclass(frozen=True, slots=True)
class BacktestJob:
    id: str
    status: JobStatus
    submitted_at: datetime
    actor: str
    request: dict[str, Any]
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "submitted_at": self.submitted_at.isoformat(),
            "actor": self.actor,
            "request": self.request,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
            "summary": self.summary,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BacktestJob:
        def instant(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value) if value else None

        submitted = instant("submitted_at")
        assert submitted is not None
        return cls(
            id=str(data["id"]),
            status=data["status"],
            submitted_at=submitted,
            actor=str(data.get("actor", "")),
            request=dict(data.get("request", {})),
            started_at=instant("started_at"),
            finished_at=instant("finished_at"),
            error=data.get("error"),
            summary=dict(data.get("summary", {})),
            notes=list(data.get("notes", [])),
        )


class BacktestJobs:
    """A small in-process runner: one backtest at a time, a short queue, results on disk under
    `<root>/<id>/` (status.json, result.json, tearsheet.html) so they outlive the process."""

    def __init__(
        self,
        settings: Settings,
        root: Path,
        store: Callable[[], MarketDataStore],
        max_pending: int = 3,
    ) -> None:
        self.settings = settings
        self.root = root
        self._store = store
        self.max_pending = max_pending
        self._jobs: dict[str, BacktestJob] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backtest")

    def submit(self, request: BacktestRequest, actor: str) -> BacktestJob:
        """Validate the request now (unknown strategy, parameter or symbol: an InputError), run
        it later; the caller's actor is kept in the job record."""
        from alphatrader.backtest.runner import build_strategies

        build_strategies(request)  # unknown strategy or parameter: an InputError now
        store = self._store()
        for symbol in request.symbols:
            store.resolve(symbol)
        if request.start is not None and request.end is not None and request.start > request.end:
            raise InputError(f"start {request.start.date()} is after end {request.end.date()}")
        with self._lock:
            pending = [j for j in self._jobs.values() if j.status in ("queued", "running")]
            if len(pending) >= self.max_pending:
                raise Busy(f"{len(pending)} backtest(s) already queued or running; retry later")
            job = BacktestJob(
                id=uuid.uuid4().hex,
                status="queued",
                submitted_at=datetime.now(UTC),
                actor=actor,
                request=_request_json(request),
            )
            self._save(job)
        self._executor.submit(self._run, job.id, request)
        return job

    def get(self, job_id: str) -> BacktestJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            return job
        path = self._dir(job_id) / "status.json"
        if not path.is_file():
            raise NotFound(f"no backtest {job_id!r}")
        job = BacktestJob.from_json(json.loads(path.read_text()))
        if job.status in ("queued", "running"):  # its process is gone
            job = replace(job, status="failed", error="interrupted: the server stopped")
        return job

    def recent(self, limit: int = 20) -> list[BacktestJob]:
        ids = (
            {p.parent.name for p in self.root.glob("*/status.json")}
            if self.root.is_dir()
            else set()
        )
        with self._lock:
            ids |= set(self._jobs)
        jobs = [self.get(i) for i in ids if _is_job_id(i)]
        jobs.sort(key=lambda j: j.submitted_at, reverse=True)
        return jobs[:limit]

    def artifact(self, job_id: str, name: Literal["result.json", "tearsheet.html"]) -> Path:
        job = self.get(job_id)
        if job.status != "completed":
            raise Conflict(f"backtest {job_id} is {job.status}: no {name} (yet)")
        return self._dir(job_id) / name

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    # -- internals ----------------------------------------------------------------------------
    def _dir(self, job_id: str) -> Path:
        if not _is_job_id(job_id):
            raise NotFound(f"no backtest {job_id!r}")
        return self.root / job_id

    def _save(self, job: BacktestJob) -> None:
        self._jobs[job.id] = job
        atomic_write(self._dir(job.id) / "status.json", json.dumps(job.to_json(), indent=1))

    def _update(self, job_id: str, **changes: Any) -> BacktestJob:
        with self._lock:
            job = replace(self._jobs[job_id], **changes)
            self._save(job)
            return job

    def _run(self, job_id: str, request: BacktestRequest) -> None:
        from alphatrader.backtest.metrics import compute_metrics
        from alphatrader.backtest.report import result_json, write_json
        from alphatrader.backtest.runner import run_backtest
        from alphatrader.backtest.tearsheet import render_tearsheet, write_tearsheet

        self._update(job_id, status="running", started_at=datetime.now(UTC))
        try:
            run = run_backtest(request, self._store(), self.settings)
            result = run.result
            metrics = compute_metrics(
                result.equity,
                result.trades,
                benchmark=run.benchmark,
                exposure=result.exposure,
                traded_notional=float(result.traded_notional),
            )
            write_json(self._dir(job_id) / "result.json", result_json(result, metrics))
            html = render_tearsheet(
                "Backtest: " + ", ".join(result.strategies),
                result.equity,
                metrics,
                result.trades,
                benchmark_equity=run.benchmark,
                subtitle=f"{len(result.symbols)} symbol(s), {result.start} to {result.end}",
                benchmark_label=run.benchmark_symbol or "Benchmark",
            )
            write_tearsheet(self._dir(job_id) / "tearsheet.html", html)
            summary = {
                "start": result.start.isoformat(),
                "end": result.end.isoformat(),
                "initial_cash": float(result.initial_cash),
                "final_equity": float(result.final_equity.quantize(Decimal("0.01"))),
                "trades": len(result.trades),
            }
            self._update(
                job_id,
                status="completed",
                finished_at=datetime.now(UTC),
                summary=summary,
                notes=list(run.notes),
            )
        except Exception as exc:
            if not isinstance(exc, AlphaTraderError):
                log.exception("backtest %s failed", job_id)
            self._update(
                job_id,
                status="failed",
                finished_at=datetime.now(UTC),
                error=f"{type(exc).__name__}: {_first_line(str(exc))}",
            )


def _is_job_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def _request_json(request: BacktestRequest) -> dict[str, Any]:
    return {
        "strategies": list(request.strategies),
        "symbols": list(request.symbols),
        "start": request.start.date().isoformat() if request.start is not None else None,
        "end": request.end.date().isoformat() if request.end is not None else None,
        "cash": str(request.cash) if request.cash is not None else None,
        "commission": str(request.commission),
        "slippage_bps": str(request.slippage_bps),
        "sizing": request.sizing,
        "params": request.params,
    }


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 200 else line[:197] + "..."


# -- equity history (added for the dashboard's overview) ----------------------------------------
@dataclass(frozen=True, slots=True)
class EquityPoint:
    session: date
    equity: Decimal
    cash: Decimal
    positions_value: Decimal


@dataclass(frozen=True, slots=True)
class EquityHistory:
    points: list[EquityPoint]  # the daily job's marks, oldest first
    benchmark_symbol: str | None
    benchmark: dict[date, Decimal]  # the benchmark's close on the marked sessions it has


def equity_history(
    db: Database, store: MarketDataStore | None = None, limit: int = 2520
) -> EquityHistory:
    """The account's marks to market (the last `limit` sessions) and, when a store is given,
    the close of the backtests' benchmark (the first of SPY, ^GSPC, SP500 with data) on the same
    sessions."""
    from alphatrader.backtest.runner import BENCHMARKS
    from alphatrader.data.market import load_series

    if limit < 1:
        raise InputError(f"limit must be at least 1, not {limit}")
    with db.session() as s:
        rows = s.scalars(select(DailyEquity).order_by(DailyEquity.session.desc()).limit(limit))
        points = [EquityPoint(r.session, r.equity, r.cash, r.positions_value) for r in rows]
    points.reverse()
    if store is None or not points:
        return EquityHistory(points, None, {})
    for symbol in BENCHMARKS:
        try:
            close = load_series(store, symbol).bars["close"].dropna()
        except AlphaTraderError:
            continue
        index = pd.DatetimeIndex(close.index)
        by_day = {t.date(): v for t, v in zip(index, close.to_numpy(), strict=True)}
        marks = {p.session: Decimal(str(by_day[p.session])) for p in points if p.session in by_day}
        if marks:
            return EquityHistory(points, symbol, marks)
    return EquityHistory(points, None, {})
