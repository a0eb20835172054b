"""Live events for the dashboard: an in-process bus and a database change detector.

Design (one path for every change, whoever made it):

- The database is the source of truth. The daily job, the scheduler, the CLI and this server
  all write to it, often from other processes, so an in-process hook alone would miss most
  changes. Each WebSocket connection therefore checks a cheap *fingerprint* of every topic
  (`fingerprints`: counts, newest ids and timestamps, read-only aggregates) every
  `POLL_SECONDS` (0.5 s). When a topic's fingerprint moves, the connection loads that topic's
  snapshot through `alphatrader.operations` and pushes it as one message
  `{"type": topic, "data": ..., "at": ISO-8601 UTC}`. A change reaches the browser within
  half a second: at least 2 Hz while anything changes, nothing at all while nothing does.
- `publish(event_type, data)` is the in-process side: the dashboard's own actions (approve,
  reject, halt, resume, launch a backtest) call it right after the service function returns.
  For a database topic (`DB_TOPICS`) the event only wakes every connection at once, which
  re-checks the fingerprints immediately; the message the browser gets is still the fresh
  snapshot, exactly once per change, never a duplicate of the poll. Other event types (for
  example `backtest` progress, which lives in memory) are forwarded as published.

The bus is thread-safe: publishers may run in the thread pool (FastAPI's sync endpoints) or on
any event loop; each subscriber's queue is fed on its own loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alphatrader.storage.db import Database
from alphatrader.storage.models import (
    DailyEquity,
    FillRecord,
    OrderEvent,
    OrderRecord,
    PaperAccount,
    PositionRecord,
    RiskEvent,
    RiskState,
    SignalRecord,
)

POLL_SECONDS: Final = 0.5
DB_TOPICS: Final = ("portfolio", "order", "signal", "risk")
QUEUE_LIMIT: Final = 256  # a subscriber this far behind loses the oldest events, not memory


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: Any
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def message(self) -> dict[str, Any]:
        return {"type": self.type, "data": jsonable(self.data), "at": self.at.isoformat()}


class Subscription:
    """One subscriber's queue, fed on the subscriber's own event loop."""

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop) -> None:
        self._bus = bus
        self._loop = loop
        self._queue: asyncio.Queue[Event] = asyncio.Queue()

    def deliver(self, event: Event) -> None:
        """Called from any thread."""
        try:
            self._loop.call_soon_threadsafe(self._put, event)
        except RuntimeError:  # the subscriber's loop is closed: it is gone
            self.close()

    def _put(self, event: Event) -> None:
        if self._queue.qsize() >= QUEUE_LIMIT:
            self._queue.get_nowait()
        self._queue.put_nowait(event)

    async def next(self, timeout: float) -> Event | None:
        """The next event, or None after `timeout` seconds without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def drain(self) -> list[Event]:
        events: list[Event] = []
        while not self._queue.empty():
            events.append(self._queue.get_nowait())
        return events

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()

    def subscribe(self) -> Subscription:
        """A new subscription on the running event loop; `close()` it when done."""
        sub = Subscription(self, asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def publish(self, event_type: str, data: Any = None) -> None:
        event = Event(event_type, data)
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub.deliver(event)


bus: Final = EventBus()


def publish(event_type: str, data: Any = None) -> None:
    """Tell every live dashboard that `event_type` changed (see the module docstring)."""
    bus.publish(event_type, data)


# -- change detection ----------------------------------------------------------------------


def fingerprints(db: Database) -> dict[str, tuple[Any, ...]]:
    """A cheap, comparable summary of every database topic; equal means unchanged."""
    with db.session() as s:
        return {
            "portfolio": _portfolio(s),
            "order": _orders(s),
            "signal": _signals(s),
            "risk": _risk(s),
        }


def _portfolio(s: Session) -> tuple[Any, ...]:
    marks = s.execute(select(func.count(), func.max(DailyEquity.session))).one()
    latest = s.execute(
        select(DailyEquity.equity, DailyEquity.cash).order_by(DailyEquity.session.desc()).limit(1)
    ).first()
    account = s.execute(select(PaperAccount.cash, PaperAccount.updated_at)).first()
    held = s.execute(
        select(func.count(), func.max(PositionRecord.opened_session), func.sum(PositionRecord.qty))
    ).one()
    fills = s.execute(select(func.count(), func.max(FillRecord.at))).one()
    return (
        *marks,
        tuple(latest) if latest else None,
        tuple(account) if account else None,
        *held,
        *fills,
    )


def _orders(s: Session) -> tuple[Any, ...]:
    orders = s.execute(select(func.count(), func.max(OrderRecord.updated_at))).one()
    events = s.scalar(select(func.max(OrderEvent.id)))
    return (*orders, events)


def _signals(s: Session) -> tuple[Any, ...]:
    newest = s.scalar(select(func.max(SignalRecord.id)))
    pending = s.execute(
        select(func.count(), func.max(OrderRecord.updated_at)).where(
            OrderRecord.status == "planned"
        )
    ).one()
    decided = s.scalar(select(func.max(OrderRecord.updated_at)))
    return (newest, *pending, decided)


def _risk(s: Session) -> tuple[Any, ...]:
    state = s.execute(
        select(RiskState.state, RiskState.reason, RiskState.since, RiskState.peak_equity)
    ).first()
    newest = s.scalar(select(func.max(RiskEvent.id)))
    return (tuple(state) if state is not None else None, newest)


def changed_topics(
    before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]
) -> list[str]:
    return [t for t in DB_TOPICS if before.get(t) != after.get(t)]


# -- JSON ----------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Plain JSON types from what the service functions return (dataclasses, pydantic models,
    Decimal, dates, enums). Money stays exact: a Decimal becomes its string."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # date, time
        return value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return jsonable(dump(mode="json"))
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
        return {name: jsonable(getattr(value, name)) for name in fields}
    return str(value)
