"""What the API holds for its lifetime: settings, database, limiters, caches, backtest runner.

One `ApiContext` per app (on `app.state.api`); routers reach it through `context` and pass its
parts to the service functions in `alphatrader.operations`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

from fastapi import FastAPI, Request

from alphatrader import operations as ops
from alphatrader import services
from alphatrader.api.keys import Principal
from alphatrader.api.ratelimit import RateLimiter
from alphatrader.config import Settings
from alphatrader.data.store import MarketDataStore
from alphatrader.storage.db import Database

T = TypeVar("T")
log = logging.getLogger(__name__)


class Cached(Generic[T]):
    """A value computed on first use and kept `ttl` seconds; a stale value is served while one
    background thread recomputes it, so only the very first caller waits."""

    def __init__(self, compute: Callable[[], T], ttl: float) -> None:
        self._compute = compute
        self._ttl = ttl
        self._value: tuple[T, float] | None = None
        self._lock = threading.Lock()
        self._computing = threading.Lock()
        self._refreshing = False

    def get(self) -> T:
        with self._lock:
            held = self._value
            stale = held is not None and time.monotonic() - held[1] >= self._ttl
            if stale and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="cache-refresh").start()
        if held is not None:
            return held[0]
        with self._computing:  # one computation, however many first callers
            if self._value is None:
                self._store(self._compute())
            assert self._value is not None
            return self._value[0]

    def invalidate(self) -> None:
        with self._lock:
            self._value = None

    def _store(self, value: T) -> None:
        with self._lock:
            self._value = (value, time.monotonic())

    def _refresh(self) -> None:
        try:
            with self._computing:
                self._store(self._compute())
        except Exception:
            log.exception("background refresh failed; the previous value is served")
        finally:
            with self._lock:
                self._refreshing = False


class Verified:
    """Recently verified credentials (by key hash or session name): principal and expiry."""

    def __init__(self, seconds: float, max_entries: int = 1024) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._items: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, default: object = None) -> Principal | object:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[1] < time.monotonic():
                return default
            return item[0]

    def put(self, key: str, principal: Principal) -> None:
        with self._lock:
            if len(self._items) >= self.max_entries:
                self._items.clear()
            self._items[key] = (principal, time.monotonic() + self.seconds)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


VERIFIED_SECONDS = 1.0


class ApiContext:
    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or services.database(settings)
        limit = settings.api_rate_limit_per_min
        self.key_limiter = RateLimiter(limit)
        self.address_limiter = RateLimiter(limit)
        self.auth_failures = RateLimiter(settings.api_auth_fail_limit_per_min)
        self.verified = Verified(VERIFIED_SECONDS)
        self.backtests = ops.BacktestJobs(settings, settings.var_dir / "backtests", self.store)
        self.freshness = Cached(lambda: ops.data_freshness(self.store()), ttl=60)
        self.connection = Cached(lambda: ops.broker_connection(settings), ttl=60)
        self.strategies = Cached(lambda: ops.strategies_report(settings, self.store()), ttl=600)
        self._store: MarketDataStore | None = None
        self._store_lock = threading.Lock()
        self._closes: dict[tuple[str, ...], Cached[dict[str, tuple[date, Decimal]]]] = {}

    def store(self) -> MarketDataStore:
        with self._store_lock:
            if self._store is None:
                self._store = services.market_store(self.settings)
            return self._store

    def closes(self, symbols: Sequence[str]) -> dict[str, tuple[date, Decimal]]:
        """The last stored close of each symbol, kept a minute."""
        key = tuple(symbols)
        cache = self._closes.get(key)
        if cache is None:
            if len(self._closes) > 64:
                self._closes.clear()
            cache = Cached(lambda: ops.last_closes(self.store(), key), ttl=60)
            self._closes[key] = cache
        return cache.get()

    def warm(self) -> None:
        """Compute the status caches now (in a background thread at start-up)."""
        try:
            self.freshness.get()
            self.connection.get()
        except Exception:
            log.exception("warming the status caches failed")

    def close(self) -> None:
        self.backtests.shutdown()
        self.db.dispose()


def actor(principal: Principal) -> str:
    """The audit trail's name for an API caller."""
    return f"api:{principal.name}"


def context_of(app: FastAPI) -> ApiContext:
    ctx: ApiContext = app.state.api
    return ctx


async def context(request: Request) -> ApiContext:
    """FastAPI dependency: the app's context."""
    return context_of(request.app)
