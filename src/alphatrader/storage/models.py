"""The ledger and the job's state, as SQLAlchemy 2 models.

Money columns are `Money` (exact Decimal), instants `UtcDateTime` (aware UTC), sessions `Date`.
`audit_log` is append-only: the migration installs triggers that refuse UPDATE and DELETE.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from alphatrader.storage.types import Money, UtcDateTime


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        Decimal: Money,
        datetime: UtcDateTime,
    }


class JobRun(Base):
    """One attempt of a job for a session; `(job, session)` with status `completed` is done."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "session", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    session: Mapped[date] = mapped_column(Date)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # running | completed | failed | skipped
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    stages: Mapped[dict[str, Any]] = mapped_column(default=dict)  # stage -> seconds
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class JobStep(Base):
    """A side effect a job has completed, so a rerun after a crash does not repeat it."""

    __tablename__ = "job_steps"
    __table_args__ = (UniqueConstraint("job", "session", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    session: Mapped[date] = mapped_column(Date)
    step: Mapped[str] = mapped_column(String(40))
    completed_at: Mapped[datetime]
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SignalRecord(Base):
    """Every signal of a session and what became of it (selected, merged, rejected, resized)."""

    __tablename__ = "signals"
    __table_args__ = (Index("ix_signals_session", "session"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session: Mapped[date] = mapped_column(Date)
    strategy: Mapped[str] = mapped_column(String(40))
    symbol: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(8))
    confidence: Mapped[float]
    momentum: Mapped[float | None]
    score: Mapped[float | None]
    rank: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)


class OrderRecord(Base):
    """Planned and submitted orders, keyed by their deterministic client order id."""

    __tablename__ = "orders"

    client_order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    session: Mapped[date] = mapped_column(Date)
    symbol: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    qty: Mapped[Decimal]
    est_price: Mapped[Decimal]
    order_type: Mapped[str] = mapped_column(String(12), default="market")
    time_in_force: Mapped[str] = mapped_column(String(4), default="day", server_default="day")
    notional: Mapped[Decimal | None]
    stop_price: Mapped[Decimal | None]
    limit_price: Mapped[Decimal | None]
    stop_loss: Mapped[Decimal | None]
    take_profit: Mapped[Decimal | None]
    strategy: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # planned | submitted | accepted | filled ...
    broker: Mapped[str] = mapped_column(String(20), default="paper")
    broker_order_id: Mapped[str | None] = mapped_column(String(64))
    filled_qty: Mapped[Decimal] = mapped_column(default=Decimal(0))
    avg_fill_price: Mapped[Decimal | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderEvent(Base):
    """Every state change of an order, written before it is acted on (append-only)."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "client_order_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))  # manager | broker | reconcile | operator
    reason: Mapped[str] = mapped_column(Text)


class LocalPosition(Base):
    """Positions as the order manager's own fills say they are, per broker account."""

    __tablename__ = "local_positions"

    broker: Mapped[str] = mapped_column(String(20), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(20), primary_key=True)
    qty: Mapped[Decimal]
    avg_price: Mapped[Decimal]
    realized_pnl: Mapped[Decimal]


class FillRecord(Base):
    __tablename__ = "fills"

    execution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_order_id: Mapped[str] = mapped_column(ForeignKey("orders.client_order_id"))
    symbol: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    qty: Mapped[Decimal]
    price: Mapped[Decimal]
    commission: Mapped[Decimal]
    session: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime]


class PositionRecord(Base):
    __tablename__ = "positions"

    symbol: Mapped[str] = mapped_column(String(20), primary_key=True)
    qty: Mapped[Decimal]
    avg_price: Mapped[Decimal]
    strategy: Mapped[str] = mapped_column(String(40))
    opened_session: Mapped[date] = mapped_column(Date)
    stop_loss: Mapped[Decimal | None]
    take_profit: Mapped[Decimal | None]


class PaperAccount(Base):
    """The simulated broker's persistent account (one row)."""

    __tablename__ = "paper_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    cash: Mapped[Decimal]
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DailyEquity(Base):
    __tablename__ = "daily_equity"

    session: Mapped[date] = mapped_column(Date, primary_key=True)
    equity: Mapped[Decimal]
    cash: Mapped[Decimal]
    positions_value: Mapped[Decimal]


class RiskState(Base):
    """The persistent trading state (one row): ACTIVE, REDUCING or HALTED."""

    __tablename__ = "risk_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime]
    peak_equity: Mapped[Decimal]


class RiskEvent(Base):
    __tablename__ = "risk_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    session: Mapped[date | None] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Notification(Base):
    """Outbox: one row per message, deduplicated by key, so a rerun never sends twice."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12))  # pending | sent | written | failed
    path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Append-only audit trail (UPDATE/DELETE refused by triggers)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(80))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ApiKey(Base):
    """An API key of the dashboard/API: only its SHA-256 is stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # the key's public part
    key_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the whole key
    scope: Mapped[str] = mapped_column(String(8))  # read | trade | admin
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
