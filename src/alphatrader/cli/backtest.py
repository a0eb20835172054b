"""`alphatrader backtest` (filled in with the engine)."""

from __future__ import annotations


def backtest() -> None:
    """Backtest strategies on bundled or your own data."""
