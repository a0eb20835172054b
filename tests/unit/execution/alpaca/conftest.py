"""An `AlpacaBroker` (alpaca-py's real `TradingClient`) against the local fake trading API."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from alphatrader.domain.orders import OrderRequest, OrderType, Side, TimeInForce
from alphatrader.execution.brokers.alpaca import AlpacaBroker
from tests.fakes.alpaca_trading import FakeAlpacaTrading

KEY = "test-key-id"
SECRET = "test-secret-canary-7f3a"
CLIENT_TIMEOUT = 0.3


@pytest.fixture
def server() -> Iterator[FakeAlpacaTrading]:
    # The timeout faults sleep well past the client's timeout.
    with FakeAlpacaTrading(KEY, SECRET, seed=11, fault_delay=1.0) as fake:
        fake.set_price("AAPL", "100")
        fake.set_price("MSFT", "400")
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def broker(server: FakeAlpacaTrading, sleeps: list[float]) -> AlpacaBroker:
    return AlpacaBroker(
        KEY,
        SECRET,
        url_override=server.url,
        timeout=CLIENT_TIMEOUT,
        sleep=sleeps.append,
        backoff=0.5,
        max_wait=10.0,
    )


def buy(
    qty: str | None = "2",
    *,
    symbol: str = "AAPL",
    notional: str | None = None,
    order_type: OrderType = OrderType.MARKET,
    limit: str | None = None,
    stop: str | None = None,
    fractional: bool = False,
    side: Side = Side.BUY,
    tif: TimeInForce = TimeInForce.DAY,
) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=side,
        strategy="momentum",
        reason="test",
        qty=Decimal(qty) if qty is not None else None,
        notional=Decimal(notional) if notional is not None else None,
        order_type=order_type,
        limit_price=Decimal(limit) if limit is not None else None,
        stop_price=Decimal(stop) if stop is not None else None,
        fractional=fractional,
        time_in_force=tif,
    )


def sell(qty: str = "2", symbol: str = "AAPL", tif: TimeInForce = TimeInForce.DAY) -> OrderRequest:
    return buy(qty, symbol=symbol, side=Side.SELL, tif=tif)
