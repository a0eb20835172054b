"""The public surface is deliberate: this test changes only when the API does."""

from __future__ import annotations

import alphatrader


def test_public_names_are_pinned() -> None:
    assert sorted(alphatrader.__all__) == sorted(
        [
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
    )
    for name in alphatrader.__all__:
        assert hasattr(alphatrader, name), name


def test_bundled_strategies_are_registered() -> None:
    assert set(alphatrader.STRATEGIES) == {
        "golden_cross",
        "mean_reversion",
        "dual_momentum",
        "sector_rotation",
        "ema_crossover",
        "macd_momentum",
        "trend_following",
    }
