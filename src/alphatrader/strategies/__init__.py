"""The strategy library and the API to write your own."""

from alphatrader.strategies.base import Strategy, make_signals
from alphatrader.strategies.registry import STRATEGIES, build, strategy_class

__all__ = ["STRATEGIES", "Strategy", "build", "make_signals", "strategy_class"]
