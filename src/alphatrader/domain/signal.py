from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Action(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's decision at one session's close, with why and how sure it is."""

    strategy: str
    symbol: str
    session: date
    action: Action
    confidence: float
    reason: str
    price: float
    stop_loss: float | None = None
    take_profit: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} is outside [0, 1]")
