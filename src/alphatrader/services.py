"""Composition root: the only place that wires settings to implementations."""

from __future__ import annotations

from alphatrader.config import Settings, load_settings
from alphatrader.data.store import MarketDataStore


def market_store(settings: Settings | None = None) -> MarketDataStore:
    settings = settings or load_settings()
    store = MarketDataStore(settings.data_dir / "market")
    store.ensure_seeded()
    return store
