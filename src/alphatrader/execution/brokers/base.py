"""The broker protocols: a handful of methods taking and returning domain types only.

`Broker` is what the backtest engine's in-memory order path uses (`SimulatedBroker`).
`LiveBroker` is what the persistent order manager talks to for paper and real accounts
(the paper account, Alpaca, Interactive Brokers); vendor JSON is translated at the adapter's
edge and never leaves it.

Errors an adapter raises, and what the order manager does with them:
- `BrokerRejected`: the broker refused the order for good (bad symbol, price off the tick,
  quantity under the minimum, PDT, buying power): recorded as REJECTED with the reason.
- `BrokerUnavailable`: the request may or may not have reached the broker (timeout, 5xx,
  dropped connection, 429 after the adapter's own waiting): the order becomes UNKNOWN and is
  looked up by its client order id before anything is sent again. A timeout is never a failure.
- `DuplicateClientOrderId`: the broker already has an order with this client id: the order
  exists; it is looked up, never resent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from alphatrader.domain.orders import Order, OrderRequest, OrderStatus, Side
from alphatrader.errors import AlphaTraderError, TemporaryError


class Broker(Protocol):
    def submit(self, order: Order) -> Order:
        """Send an order; returns it ACCEPTED or REJECTED (with the reason)."""
        ...

    def cancel(self, client_order_id: str) -> bool:
        """Cancel a working order; False when it is no longer working."""
        ...


class BrokerRejected(AlphaTraderError):
    """The broker refused the order for good; `reason` says why, `code` is the vendor's."""

    exit_code = 2

    def __init__(self, reason: str, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class BrokerUnavailable(TemporaryError):
    """The outcome of the request is unknown: look the order up before acting again."""


class DuplicateClientOrderId(AlphaTraderError):
    """The broker already holds an order with this client order id."""


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    qty: Decimal | None  # None for a notional order until it fills
    notional: Decimal | None
    order_type: str  # market | limit | stop | stop_limit
    time_in_force: str  # day | gtc | opg | cls | ioc | fok
    limit_price: Decimal | None
    stop_price: Decimal | None
    status: OrderStatus  # mapped; an unknown vendor status maps to UNKNOWN (needs lookup)
    vendor_status: str  # what the broker said, verbatim
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    submitted_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class BrokerFill:
    execution_id: str
    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    at: datetime
    commission: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    symbol: str
    qty: Decimal  # negative when short
    avg_price: Decimal
    market_value: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    pattern_day_trader: bool = False
    daytrade_count: int = 0
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class MarketClock:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


class LiveBroker(Protocol):
    """A paper or real account, as the persistent order manager sees it."""

    name: str

    def submit(self, request: OrderRequest, client_order_id: str) -> BrokerOrder:
        """Send once. Raises BrokerRejected, BrokerUnavailable or DuplicateClientOrderId;
        never retries a submission by itself."""
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel; the outcome arrives as a status on a later lookup."""
        ...

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client id, or None when the broker has none."""
        ...

    def orders(self, after: datetime | None = None, open_only: bool = False) -> list[BrokerOrder]:
        """Recent orders (all statuses unless `open_only`), newest last."""
        ...

    def fills(self, after: datetime | None = None) -> list[BrokerFill]:
        """Executions since `after`, each with a unique execution id."""
        ...

    def positions(self) -> list[BrokerPosition]: ...

    def account(self) -> BrokerAccount: ...

    def clock(self) -> MarketClock: ...
