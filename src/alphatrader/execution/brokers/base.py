"""The broker protocol: a handful of methods taking and returning domain types only."""

from __future__ import annotations

from typing import Protocol

from alphatrader.domain.orders import Order


class Broker(Protocol):
    def submit(self, order: Order) -> Order:
        """Send an order; returns it ACCEPTED or REJECTED (with the reason)."""
        ...

    def cancel(self, client_order_id: str) -> bool:
        """Cancel a working order; False when it is no longer working."""
        ...
