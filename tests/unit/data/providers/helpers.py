"""Helpers for the provider tests: a fake clock, session lists, providers wired to the fakes.

Every price the fakes serve is synthetic (see `tests.fakes`)."""

from __future__ import annotations

from datetime import date

from alphatrader.data.calendar import sessions
from alphatrader.data.providers.alpaca import AlpacaProvider
from alphatrader.data.providers.alphavantage import AlphaVantageProvider, Backoff
from tests.fakes.alpaca_data import FakeAlpacaData
from tests.fakes.alphavantage import FakeAlphaVantage


class FakeClock:
    """A monotonic clock that only moves when `sleep` is called; records every sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def session_days(start: str, end: str) -> list[date]:
    """The XNYS sessions from start to end inclusive."""
    return [d.date() for d in sessions(date.fromisoformat(start), date.fromisoformat(end))]


def alpaca_for(server: FakeAlpacaData, *, retries: int = 2, timeout: float = 5.0) -> AlpacaProvider:
    """The real alpaca-py client pointed at the fake, with tiny retry waits."""
    return AlpacaProvider(
        server.api_key,
        server.secret_key,
        url=server.url,
        retry_attempts=retries,
        retry_wait_seconds=0.01,
        timeout=timeout,
    )


def alphavantage_for(
    server: FakeAlphaVantage,
    clock: FakeClock,
    *,
    calls_per_minute: int = 5,
    attempts: int = 3,
    timeout: float = 5.0,
) -> AlphaVantageProvider:
    """The real httpx client pointed at the fake; time and jitter are the test's."""
    return AlphaVantageProvider(
        server.api_key,
        url=server.url,
        calls_per_minute=calls_per_minute,
        backoff=Backoff(attempts=attempts, base=2.0, cap=60.0),
        timeout=timeout,
        clock=clock,
        sleep=clock.sleep,
        rand=lambda: 0.5,
    )
