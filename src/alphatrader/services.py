"""Composition root: the only place that wires settings to implementations."""

from __future__ import annotations

from alphatrader.config import Settings, load_settings
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import ConfigError
from alphatrader.execution.brokers.base import LiveBroker
from alphatrader.execution.brokers.paper import PaperBroker
from alphatrader.execution.live import LiveOrderManager
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
    """The paper account (the simulated broker with a persistent ledger)."""
    return PaperBroker(starting_cash=settings.portfolio_size)


def uses_paper(settings: Settings) -> bool:
    """Paper mode (PAPER_TRADING_MODE or DRY_RUN) means the simulated broker, whatever BROKER
    says."""
    return settings.paper_trading_mode or settings.dry_run or settings.broker == "paper"


def live_broker(settings: Settings) -> LiveBroker:
    """The real broker BROKER names (alpaca or ibkr), built from its settings."""
    if settings.broker == "alpaca":
        from alphatrader.execution.brokers.alpaca import AlpacaBroker

        return AlpacaBroker.from_settings(settings)
    if settings.broker == "ibkr":
        from alphatrader.execution.brokers.ibkr import IBKRConfig, ibkr_broker

        config = IBKRConfig(
            host=settings.ibkr_host,
            port=settings.ibkr_port,
            client_id=settings.ibkr_client_id,
            account=settings.ibkr_account or "",
            paper=not settings.production_mode,
            lock_dir=settings.var_dir / "locks",
        )
        ib = ibkr_broker(config)
        ib.connect()
        return ib
    raise ConfigError("BROKER=paper has no live broker; use the paper account")


def order_manager(settings: Settings, db: Database) -> LiveOrderManager:
    return LiveOrderManager(db, live_broker(settings))
