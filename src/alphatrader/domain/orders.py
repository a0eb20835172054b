"""Order requests, orders with an explicit state table, and fills.

An order moves only along `TRANSITIONS`; anything else raises `InvalidTransition`. Money and
quantities are `Decimal`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"  # a stop that, once triggered, works as a limit at `limit_price`


class TimeInForce(StrEnum):
    """How long an order works. DAY: the session it becomes active (a market order placed after
    the close is active the next session); GTC: until filled or cancelled; OPG: the next opening
    auction only; CLS: that session's closing auction only."""

    DAY = "day"
    GTC = "gtc"
    OPG = "opg"
    CLS = "cls"


class OrderStatus(StrEnum):
    NEW = "new"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCEL_PENDING = "cancel_pending"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # the broker's answer was lost: resolved by looking the order up

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

_S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.NEW: frozenset({_S.SUBMITTED, _S.REJECTED}),
    _S.SUBMITTED: frozenset(
        {
            _S.ACCEPTED,
            _S.REJECTED,
            _S.UNKNOWN,
            _S.PARTIALLY_FILLED,
            _S.FILLED,
            _S.CANCELLED,
            _S.EXPIRED,
        }
    ),
    _S.ACCEPTED: frozenset(
        {
            _S.PARTIALLY_FILLED,
            _S.FILLED,
            _S.CANCEL_PENDING,
            _S.CANCELLED,
            _S.EXPIRED,
            _S.REJECTED,
            _S.UNKNOWN,
        }
    ),
    _S.PARTIALLY_FILLED: frozenset(
        {_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCEL_PENDING, _S.CANCELLED, _S.EXPIRED, _S.UNKNOWN}
    ),
    _S.CANCEL_PENDING: frozenset(
        {_S.CANCELLED, _S.FILLED, _S.PARTIALLY_FILLED, _S.EXPIRED, _S.UNKNOWN}
    ),
    _S.UNKNOWN: frozenset(
        {_S.ACCEPTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}
    ),
    _S.FILLED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.EXPIRED: frozenset(),
}


class InvalidTransition(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the plan wants. Exactly one of `qty` and `notional` is set.

    A notional order is converted to shares by the broker at the fill price (whole shares unless
    `fractional`), the way a broker's notional market order works.
    """

    symbol: str
    side: Side
    strategy: str
    reason: str
    qty: Decimal | None = None
    notional: Decimal | None = None
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    fractional: bool = False
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    oco_group: str | None = None  # orders of one group cancel each other when one fills
    time_in_force: TimeInForce = TimeInForce.DAY

    def __post_init__(self) -> None:
        if (self.qty is None) == (self.notional is None):
            raise ValueError("an order request needs exactly one of qty and notional")
        amount = self.qty if self.qty is not None else self.notional
        if amount is not None and amount <= 0:
            raise ValueError(f"order amount must be positive, got {amount}")


@dataclass(frozen=True, slots=True)
class Order:
    client_order_id: str
    request: OrderRequest
    created_at: datetime
    status: OrderStatus = OrderStatus.NEW
    filled_qty: Decimal = Decimal(0)
    avg_fill_price: Decimal = Decimal(0)
    reject_reason: str = ""
    history: tuple[tuple[OrderStatus, datetime], ...] = field(default=())

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def side(self) -> Side:
        return self.request.side

    def transition(self, to: OrderStatus, at: datetime, reason: str = "") -> Order:
        if to not in TRANSITIONS[self.status]:
            raise InvalidTransition(f"order {self.client_order_id}: {self.status} -> {to}")
        return replace(
            self,
            status=to,
            reject_reason=reason or self.reject_reason,
            history=(*self.history, (to, at)),
        )

    def with_fill(self, fill: Fill) -> Order:
        total = self.filled_qty + fill.qty
        avg = (self.avg_fill_price * self.filled_qty + fill.price * fill.qty) / total
        return replace(self, filled_qty=total, avg_fill_price=avg)


@dataclass(frozen=True, slots=True)
class Fill:
    execution_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    commission: Decimal
    session: date
    at: datetime
