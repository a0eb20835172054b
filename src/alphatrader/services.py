"""Composition root: the only place that wires settings to implementations."""

from __future__ import annotations

from alphatrader.config import Settings, load_settings
from alphatrader.data.store import MarketDataStore
from alphatrader.execution.brokers.paper import PaperBroker
from alphatrader.storage.db import Database, default_database_url


def market_store(settings: Settings | None = None) -> MarketDataStore:
    settings = settings or load_settings()
    store = MarketDataStore(settings.data_dir / "market")
    store.ensure_seeded()
    return store


def database(settings: Settings) -> Database:
    """The configured database (SQLite under the data dir by default), migrated to head."""
    url = (
        settings.database_url.get_secret_value()
        if settings.database_url is not None
        else default_database_url(settings.data_dir)
    )
    db = Database(url)
    db.migrate()
    return db


def broker(settings: Settings) -> PaperBroker:
    """The broker orders go to. Only the paper broker exists so far; real brokers plug in here."""
    return PaperBroker(starting_cash=settings.portfolio_size)
