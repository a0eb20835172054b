"""AlphaTrader: algorithmic trading for a small retail account, end to end.

The public surface is what `__all__` lists; everything else is internal and may change.
"""

from alphatrader.backtest.engine import BacktestConfig, BacktestEngine, BacktestResult
from alphatrader.config import Settings, load_settings
from alphatrader.data.market import Series, load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import (
    AlphaTraderError,
    ConfigError,
    DataError,
    InputError,
    StrategyError,
)
from alphatrader.strategies import STRATEGIES, Strategy, build, make_signals

__version__ = "0.1.0"

__all__ = [
    "STRATEGIES",
    "AlphaTraderError",
    "BacktestConfig",
    "BacktestEngine",
    "BacktestResult",
    "ConfigError",
    "DataError",
    "InputError",
    "MarketDataStore",
    "Series",
    "Settings",
    "Strategy",
    "StrategyError",
    "__version__",
    "build",
    "load_series",
    "load_settings",
    "make_signals",
]
