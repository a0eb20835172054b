"""The order manager: every order goes through here, whatever the broker.

It gives each order a deterministic client order id, refuses to send the same id twice, moves
orders only along the state table, books fills in the ledger exactly once (by execution id),
and keeps every rejection with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from alphatrader.clock import Clock
from alphatrader.domain.orders import Fill, Order, OrderRequest, OrderStatus
from alphatrader.domain.trade import Trade
from alphatrader.execution.brokers.base import Broker
from alphatrader.execution.ledger import Ledger


def client_order_id(prefix: str, request: OrderRequest, session: date, leg: str) -> str:
    return f"{prefix}-{request.strategy}-{request.symbol}-{session:%Y%m%d}-{leg}"


@dataclass(slots=True)
class OrderManager:
    broker: Broker
    ledger: Ledger
    clock: Clock
    prefix: str = "bt"
    orders: dict[str, Order] = field(default_factory=dict)
    _seen_executions: set[str] = field(default_factory=set)

    def submit(self, request: OrderRequest, session: date, leg: str) -> Order:
        """Send a request; a resubmission with the same id returns the existing order."""
        cid = client_order_id(self.prefix, request, session, leg)
        existing = self.orders.get(cid)
        if existing is not None:
            return existing
        now = self.clock.now()
        order = Order(cid, request, created_at=now, history=((OrderStatus.NEW, now),))
        order = order.transition(OrderStatus.SUBMITTED, now)
        self.orders[cid] = order  # recorded before the broker sees it
        order = self.broker.submit(order)
        self.orders[cid] = order
        return order

    def cancel(self, cid: str) -> None:
        order = self.orders[cid]
        if order.status.is_terminal:
            return
        if self.broker.cancel(cid):
            self.orders[cid] = order.transition(OrderStatus.CANCELLED, self.clock.now())

    def expire(self, cid: str, reason: str) -> None:
        order = self.orders[cid]
        if not order.status.is_terminal:
            self.orders[cid] = order.transition(OrderStatus.EXPIRED, self.clock.now(), reason)

    def reject(self, cid: str, reason: str) -> None:
        order = self.orders[cid]
        self.orders[cid] = order.transition(OrderStatus.REJECTED, self.clock.now(), reason)

    def on_fill(self, fill: Fill) -> Trade | None:
        """Book a fill once; a repeated execution id is ignored."""
        if fill.execution_id in self._seen_executions:
            return None
        self._seen_executions.add(fill.execution_id)
        order = self.orders[fill.client_order_id].with_fill(fill)
        requested = order.request.qty
        done = requested is None or order.filled_qty >= requested
        status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        self.orders[fill.client_order_id] = order.transition(status, fill.at)
        return self.ledger.apply(fill, order.request.strategy)
