"""Value types shared by every layer: instruments, signals, orders, fills, positions, trades.

Pure data and pure functions; nothing here imports the rest of the project.
"""

from alphatrader.domain.instrument import Instrument
from alphatrader.domain.orders import (
    Fill,
    InvalidTransition,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from alphatrader.domain.signal import Action, Signal
from alphatrader.domain.trade import Trade

__all__ = [
    "Action",
    "Fill",
    "Instrument",
    "InvalidTransition",
    "Order",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Side",
    "Signal",
    "Trade",
]
