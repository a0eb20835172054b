"""`InstantBroker`: an in-memory `LiveBroker` that fills market orders at once at a given price.

For measuring the order path without a network, and as the simplest honest broker in tests: it
deduplicates client order ids like a real broker (a reused id is refused), keeps positions from
its fills, and reports fills with unique execution ids. Limit and stop orders rest until
`trade(symbol, price)` reaches them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from alphatrader.domain.orders import OrderRequest, OrderStatus, OrderType, Side
from alphatrader.execution.brokers.base import (
    BrokerAccount,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    DuplicateClientOrderId,
    MarketClock,
)


class InstantBroker:
    name = "instant"

    def __init__(self, prices: Mapping[str, Decimal], cash: Decimal = Decimal(100_000)) -> None:
        self.prices = dict(prices)
        self.cash = cash
        self._orders: dict[str, BrokerOrder] = {}
        self._fills: list[BrokerFill] = []
        self._positions: dict[str, Decimal] = {}
        self._seq = 0

    def submit(self, request: OrderRequest, client_order_id: str) -> BrokerOrder:
        if client_order_id in self._orders:
            raise DuplicateClientOrderId(client_order_id)
        price = self.prices.get(request.symbol)
        if price is None:
            raise BrokerRejected(f"unknown symbol {request.symbol}", code="symbol")
        now = datetime.now(UTC)
        qty = request.qty
        if qty is None:
            assert request.notional is not None
            qty = (request.notional / price).quantize(Decimal(1), rounding=ROUND_FLOOR)
            if qty <= 0:
                raise BrokerRejected(f"notional {request.notional} buys no share at {price}")
        self._seq += 1
        order = BrokerOrder(
            client_order_id=client_order_id,
            broker_order_id=f"i-{self._seq}",
            symbol=request.symbol,
            side=request.side,
            qty=qty,
            notional=request.notional,
            order_type=request.order_type.value,
            time_in_force=request.time_in_force.value,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            status=OrderStatus.ACCEPTED,
            vendor_status="accepted",
            filled_qty=Decimal(0),
            avg_fill_price=None,
            submitted_at=now,
            updated_at=now,
        )
        self._orders[client_order_id] = order
        if request.order_type is OrderType.MARKET:
            self._fill(client_order_id, price)
        return self._orders[client_order_id]

    def trade(self, symbol: str, price: Decimal) -> None:
        """A print at `price`: resting limit and stop orders that it reaches fill."""
        self.prices[symbol] = price
        for cid, order in list(self._orders.items()):
            if order.symbol != symbol or order.status.is_terminal:
                continue
            buy = order.side is Side.BUY
            limit_hit = order.limit_price is not None and (
                price <= order.limit_price if buy else price >= order.limit_price
            )
            stop_hit = order.stop_price is not None and (
                price >= order.stop_price if buy else price <= order.stop_price
            )
            if limit_hit or stop_hit:
                self._fill(cid, price)

    def _fill(self, cid: str, price: Decimal) -> None:
        order = self._orders[cid]
        assert order.qty is not None
        now = datetime.now(UTC) + timedelta(microseconds=len(self._fills))
        self._fills.append(
            BrokerFill(
                execution_id=f"x-{len(self._fills) + 1}",
                client_order_id=cid,
                broker_order_id=order.broker_order_id,
                symbol=order.symbol,
                side=order.side,
                qty=order.qty,
                price=price,
                at=now,
            )
        )
        signed = order.qty if order.side is Side.BUY else -order.qty
        self._positions[order.symbol] = self._positions.get(order.symbol, Decimal(0)) + signed
        self.cash -= signed * price
        self._orders[cid] = replace(
            order,
            status=OrderStatus.FILLED,
            vendor_status="filled",
            filled_qty=order.qty,
            avg_fill_price=price,
            updated_at=now,
        )

    def cancel(self, client_order_id: str) -> None:
        order = self._orders.get(client_order_id)
        if order is not None and not order.status.is_terminal:
            self._orders[client_order_id] = replace(
                order, status=OrderStatus.CANCELLED, vendor_status="canceled"
            )

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        return self._orders.get(client_order_id)

    def orders(self, after: datetime | None = None, open_only: bool = False) -> list[BrokerOrder]:
        return [o for o in self._orders.values() if not (open_only and o.status.is_terminal)]

    def fills(self, after: datetime | None = None) -> list[BrokerFill]:
        return [f for f in self._fills if after is None or f.at > after]

    def positions(self) -> list[BrokerPosition]:
        return [
            BrokerPosition(symbol, qty, self.prices.get(symbol, Decimal(0)))
            for symbol, qty in sorted(self._positions.items())
            if qty != 0
        ]

    def account(self) -> BrokerAccount:
        value = sum(
            (q * self.prices.get(s, Decimal(0)) for s, q in self._positions.items()), Decimal(0)
        )
        return BrokerAccount(self.cash, self.cash + value, self.cash)

    def clock(self) -> MarketClock:
        now = datetime.now(UTC)
        return MarketClock(now, True, now, now)
