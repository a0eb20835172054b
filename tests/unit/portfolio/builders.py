"""Hand-made plan inputs: settings without the environment, signals, positions, performance."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from alphatrader.config import Settings
from alphatrader.portfolio.plan import HeldPosition, RankedSignal, StrategyPerformance
from alphatrader.ranking import combined_score, confidence_score, momentum_score

SESSION = date(2016, 7, 1)


def make_settings(**overrides: Any) -> Settings:
    """The seed defaults, never read from the environment or a .env file."""
    values = {name: field.default for name, field in Settings.model_fields.items()}
    values.update(overrides)
    return Settings.model_construct(**values)


DEFAULTS = make_settings()


def perf(name: str, momentum: float) -> StrategyPerformance:
    return StrategyPerformance(
        name=name,
        momentum=momentum,
        total_return=momentum,
        sharpe=None,
        max_drawdown=None,
        trades=0,
        rank=0,
        eligible=momentum > DEFAULTS.min_momentum_threshold,
        equity=pd.Series(dtype="float64"),
    )


def ranked(
    symbol: str,
    strategy: str = "alpha",
    confidence: float = 0.5,
    price: str = "20",
    momentum: float = 0.10,
    action: str = "entry",
    rank: int = 1,
    stop_loss: str | None = None,
    take_profit: str | None = None,
    settings: Settings = DEFAULTS,
) -> RankedSignal:
    conf, mom = confidence_score(confidence), momentum_score(momentum)
    return RankedSignal(
        strategy=strategy,
        symbol=symbol,
        action=action,
        confidence=confidence,
        confidence_score=conf,
        momentum=momentum,
        momentum_score=mom,
        score=combined_score(conf, mom, settings),
        reason=f"{strategy} says {action} {symbol}",
        price=Decimal(price),
        stop_loss=Decimal(stop_loss) if stop_loss else None,
        take_profit=Decimal(take_profit) if take_profit else None,
        rank=rank if action == "entry" else 0,
    )


def held(
    symbol: str,
    qty: str = "5",
    avg: str = "20",
    last: str = "20",
    strategy: str = "alpha",
    sessions: int = 10,
    momentum: float = 0.10,
) -> HeldPosition:
    return HeldPosition(
        symbol=symbol,
        qty=Decimal(qty),
        avg_price=Decimal(avg),
        last_price=Decimal(last),
        strategy=strategy,
        opened_session=date(2016, 6, 1),
        holding_sessions=sessions,
        strategy_momentum=momentum,
    )
