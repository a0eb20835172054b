"""The only source of "now": a live wall clock or a simulated one that a backtest moves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class LiveClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimClock:
    """A clock that only moves forward, when the engine says so."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance_to(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("SimClock needs timezone-aware instants")
        if instant < self._now:
            raise ValueError(f"SimClock cannot move back from {self._now} to {instant}")
        self._now = instant
