"""Helpers for the IBKR adapter tests: settings and order requests."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from alphatrader.domain.orders import OrderRequest, OrderType, Side
from alphatrader.execution.brokers.ibkr import IBKRConfig


def config(
    lock_dir: Path,
    *,
    port: int = 4002,
    client_id: int = 7,
    account: str = "",
    paper: bool = True,
    connect_attempts: int = 5,
    auto_reconnect: bool = True,
) -> IBKRConfig:
    return IBKRConfig(
        host="127.0.0.1",
        port=port,
        client_id=client_id,
        account=account,
        paper=paper,
        lock_dir=lock_dir,
        connect_attempts=connect_attempts,
        auto_reconnect=auto_reconnect,
        ack_timeout=0.25,
    )


def buy(symbol: str = "AAPL", qty: str = "10") -> OrderRequest:
    return OrderRequest(
        symbol=symbol, side=Side.BUY, strategy="golden_cross", reason="test", qty=Decimal(qty)
    )


def limit_buy(price: str = "150", qty: str = "10") -> OrderRequest:
    return OrderRequest(
        symbol="AAPL",
        side=Side.BUY,
        strategy="golden_cross",
        reason="test",
        qty=Decimal(qty),
        order_type=OrderType.LIMIT,
        limit_price=Decimal(price),
    )
