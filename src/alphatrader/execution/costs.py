"""Commission and slippage models. Prices and amounts are Decimal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from alphatrader.domain.orders import Side

CENT = Decimal("0.01")
PRICE_STEP = Decimal("0.000001")  # fills are recorded to a millionth of a dollar


@dataclass(frozen=True, slots=True)
class Commission:
    """`rate` of traded notional plus `per_share`, with a `minimum` per order (when non-zero)."""

    rate: Decimal = Decimal(0)
    per_share: Decimal = Decimal(0)
    minimum: Decimal = Decimal(0)

    def __call__(self, qty: Decimal, price: Decimal) -> Decimal:
        fee = qty * price * self.rate + qty * self.per_share
        if fee == 0:
            return Decimal(0)
        return max(fee, self.minimum).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Slippage:
    """A fixed adverse move in basis points: buys pay more, sells receive less."""

    bps: Decimal = Decimal(0)

    def apply(self, price: Decimal, side: Side) -> Decimal:
        if self.bps == 0:
            return price
        move = price * self.bps / Decimal(10_000)
        adjusted = price + move if side is Side.BUY else price - move
        return adjusted.quantize(PRICE_STEP, rounding=ROUND_HALF_UP)


def to_price(value: float) -> Decimal:
    """A float market price as Decimal, via its shortest repr (what the data file said)."""
    return Decimal(repr(float(value))).quantize(PRICE_STEP, rounding=ROUND_HALF_UP)
