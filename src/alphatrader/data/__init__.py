"""Market data: the Parquet store, the bundled real data, CSV import, quality checks, calendar."""

from alphatrader.data.store import MarketDataStore

__all__ = ["MarketDataStore"]
