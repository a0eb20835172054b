from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Trade:
    """A round trip. An open trade has no exit date and is marked to the last close."""

    symbol: str
    strategy: str
    entry_date: date
    entry_price: Decimal
    qty: Decimal
    exit_date: date | None
    exit_price: Decimal
    pnl: Decimal
    commission: Decimal = Decimal(0)

    @property
    def is_open(self) -> bool:
        return self.exit_date is None

    @property
    def return_pct(self) -> float:
        cost = self.entry_price * self.qty
        return float(self.pnl / cost) if cost else 0.0
