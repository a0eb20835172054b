"""Strategies by name."""

from __future__ import annotations

from typing import Any

from alphatrader.errors import UnknownNameError
from alphatrader.strategies.base import Strategy
from alphatrader.strategies.dual_momentum import DualMomentum
from alphatrader.strategies.ema_crossover import EmaCrossover
from alphatrader.strategies.golden_cross import GoldenCross
from alphatrader.strategies.macd_momentum import MacdMomentum
from alphatrader.strategies.mean_reversion import MeanReversion
from alphatrader.strategies.sector_rotation import SectorRotation
from alphatrader.strategies.trend_following import TrendFollowing

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        GoldenCross,
        MeanReversion,
        DualMomentum,
        SectorRotation,
        EmaCrossover,
        MacdMomentum,
        TrendFollowing,
    )
}


def strategy_class(name: str) -> type[Strategy]:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownNameError("strategy", name, STRATEGIES) from None


def build(name: str, **params: Any) -> Strategy:
    return strategy_class(name).with_params(**params)
