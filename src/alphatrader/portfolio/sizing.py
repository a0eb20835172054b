"""Turn an entry signal into an order amount.

`safety` (the default) applies the small-account limits: a position between MIN_POSITION_SIZE
and MAX_POSITION_SIZE dollars, scaled linearly by the signal's confidence, never spending the
MIN_CASH_BUFFER. `all-in` spends all available cash on one position, in whole shares — the rule
other engines use, kept for comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

from alphatrader.execution.costs import CENT

SizingMode = Literal["safety", "all-in"]


@dataclass(frozen=True, slots=True)
class Limits:
    """The account limits the sizer and the risk gate enforce together."""

    min_position: Decimal
    max_position: Decimal
    cash_buffer: Decimal
    max_positions: int

    @classmethod
    def all_in(cls) -> Limits:
        return cls(Decimal(0), Decimal("Infinity"), Decimal(0), 1)


class Sizer(Protocol):
    @property
    def limits(self) -> Limits: ...

    def notional(self, confidence: float, available_cash: Decimal) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class SafetySizer:
    limits: Limits

    def notional(self, confidence: float, available_cash: Decimal) -> Decimal:
        span = self.limits.max_position - self.limits.min_position
        wanted = self.limits.min_position + span * Decimal(repr(round(confidence, 6)))
        spendable = available_cash - self.limits.cash_buffer
        return max(Decimal(0), min(wanted, spendable)).quantize(CENT)


@dataclass(frozen=True, slots=True)
class AllInSizer:
    limits: Limits = field(default_factory=Limits.all_in)

    def notional(self, confidence: float, available_cash: Decimal) -> Decimal:
        return max(Decimal(0), available_cash)
