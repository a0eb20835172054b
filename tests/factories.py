"""Test factories in one place: scripted strategies and engine runs on the real bundled data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import ClassVar

import pandas as pd
from pydantic import Field

from alphatrader.backtest.engine import BacktestConfig, BacktestEngine, BacktestResult
from alphatrader.data.market import Series, load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.portfolio.sizing import Limits
from alphatrader.strategies.base import Strategy, empty_signals

SMALL_ACCOUNT = Limits(
    min_position=Decimal(50), max_position=Decimal(300), cash_buffer=Decimal(100), max_positions=4
)


class Scripted(Strategy):
    """Emits exactly the signals it is given: {symbol: [(date, action, confidence, stop, tp)]}."""

    name: ClassVar[str] = "scripted"
    script: dict[str, list[tuple[str, str, float, float, float]]] = Field(default_factory=dict)

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:  # pragma: no cover - unused
        raise NotImplementedError

    def generate(self, universe: Mapping[str, Series]) -> dict[str, pd.DataFrame]:
        out: dict[str, pd.DataFrame] = {}
        for symbol, rows in self.script.items():
            if symbol not in universe or not rows:
                out[symbol] = empty_signals()
                continue
            index = pd.DatetimeIndex([pd.Timestamp(r[0]) for r in rows], name="date")
            close = universe[symbol].bars["close"].reindex(index)
            out[symbol] = pd.DataFrame(
                {
                    "action": [r[1] for r in rows],
                    "confidence": [r[2] for r in rows],
                    "reason": [f"scripted {r[1]}" for r in rows],
                    "price": close.to_numpy(),
                    "stop_loss": [r[3] for r in rows],
                    "take_profit": [r[4] for r in rows],
                },
                index=index,
            )
        return out


def run(
    store: MarketDataStore,
    symbols: Sequence[str],
    script: dict[str, list[tuple[str, str, float, float, float]]],
    cash: Decimal = Decimal(10_000),
    sizing: str = "all-in",
    limits: Limits = SMALL_ACCOUNT,
    **config: object,
) -> BacktestResult:
    universe = {s: load_series(store, s, require=frozenset({"close"})) for s in symbols}
    cfg = BacktestConfig(
        initial_cash=cash,
        sizing="all-in" if sizing == "all-in" else "safety",
        limits=limits,
        **config,  # type: ignore[arg-type]
    )
    return BacktestEngine([Scripted(script=script)], universe, cfg).run()
