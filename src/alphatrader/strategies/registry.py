"""Strategies by name."""

from __future__ import annotations

from typing import Any

from alphatrader.errors import UnknownNameError
from alphatrader.strategies.base import Strategy
from alphatrader.strategies.golden_cross import GoldenCross

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (GoldenCross,)}


def strategy_class(name: str) -> type[Strategy]:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownNameError("strategy", name, STRATEGIES) from None


def build(name: str, **params: Any) -> Strategy:
    return strategy_class(name).with_params(**params)
