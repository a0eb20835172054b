"""The strategy API: typed parameters, "did you mean", and errors that name who and where."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
import pytest

from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import InputError, StrategyError
from alphatrader.strategies import Strategy, build


class Exploding(Strategy):
    name: ClassVar[str] = "exploding"

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        return bars["close"] / 0 + bars["nonexistent"]  # type: ignore[no-any-return]


class BadConfidence(Strategy):
    name: ClassVar[str] = "bad_confidence"

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "action": ["entry"],
                "confidence": [1.5],
                "reason": ["x"],
                "price": [1.0],
                "stop_loss": [None],
                "take_profit": [None],
            },
            index=bars.index[:1],
        )


def test_parameters_are_typed_and_coerced_from_text() -> None:
    strategy = build("golden_cross", fast="20", slow="100")
    assert strategy.describe() == "golden_cross(fast=20, slow=100)"


def test_unknown_parameter_suggests_the_closest() -> None:
    with pytest.raises(InputError, match="did you mean 'slow'"):
        build("golden_cross", slwo=3)


def test_exception_in_strategy_names_strategy_and_symbol(store: MarketDataStore) -> None:
    series = load_series(store, "KO")
    with pytest.raises(StrategyError, match="exploding on KO: KeyError"):
        Exploding().generate({"KO": series})


def test_out_of_range_confidence_names_the_date(store: MarketDataStore) -> None:
    series = load_series(store, "KO")
    with pytest.raises(StrategyError, match="bad_confidence on KO at 1990-01-02"):
        BadConfidence().generate({"KO": series})
