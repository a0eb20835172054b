"""Market data providers: bundled data, a CSV drop folder, Alpaca and Alpha Vantage, tried in the
order DATA_PROVIDERS names them, and the freshness check on what the store holds."""

from alphatrader.data.providers.alpaca import AlpacaProvider
from alphatrader.data.providers.alphavantage import AlphaVantageProvider, Backoff, RateLimiter
from alphatrader.data.providers.base import Provider, SymbolErrors, validate_bars
from alphatrader.data.providers.bundled import BundledProvider
from alphatrader.data.providers.chain import (
    PROVIDER_NAMES,
    ChainResult,
    Failure,
    ProviderChain,
    UpdateReport,
    Written,
    build_chain,
    update_store,
)
from alphatrader.data.providers.csv_folder import CsvFolderProvider
from alphatrader.data.providers.freshness import (
    FreshnessReport,
    SymbolFreshness,
    check_freshness,
    last_complete_session,
)

__all__ = [
    "PROVIDER_NAMES",
    "AlpacaProvider",
    "AlphaVantageProvider",
    "Backoff",
    "BundledProvider",
    "ChainResult",
    "CsvFolderProvider",
    "Failure",
    "FreshnessReport",
    "Provider",
    "ProviderChain",
    "RateLimiter",
    "SymbolErrors",
    "SymbolFreshness",
    "UpdateReport",
    "Written",
    "build_chain",
    "check_freshness",
    "last_complete_session",
    "update_store",
    "validate_bars",
]
