"""Daily bars from Alpha Vantage's `TIME_SERIES_DAILY_ADJUSTED` over HTTP (httpx).

`GET {ALPHAVANTAGE_URL}/query?function=TIME_SERIES_DAILY_ADJUSTED&symbol=S&outputsize=full
&apikey=K` answers, per session, `1. open` `2. high` `3. low` `4. close` `5. adjusted close`
`6. volume` `7. dividend amount` `8. split coefficient` as strings. Open, high and low are
multiplied by adjusted close / close, close becomes the adjusted close, and volume is divided by
the same factor (as `alphatrader.data.market.adjusted` does for the bundled bars).

Alpha Vantage signals trouble inside HTTP 200 bodies:

* `{"Note": "...call frequency..."}` and `{"Information": "...rate limit..."}`: throttled. Retried
  with exponential backoff and jitter, a bounded number of times, then `TemporaryError`. A
  *daily* quota ("... per day") is not retried: it will not clear in minutes.
* `{"Information": "...premium endpoint..."}`: the key's plan lacks the function → `ConfigError`.
* `{"Error Message": "Invalid API call..."}`: an unknown symbol → `DataError` naming it.

HTTP 429 and 5xx, timeouts and connection errors are retried like throttling. A client-side rate
limiter spaces calls to `ALPHAVANTAGE_CALLS_PER_MINUTE` (every attempt counts, as it does for
the vendor). The clock, the sleep and the jitter source are injectable, so tests need not wait.
The API key is never put in a message.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import httpx
import pandas as pd

from alphatrader.config import Settings
from alphatrader.data.providers.base import (
    check_range,
    fetched_instrument,
    finish,
    session_index,
    strict_float,
    validate_bars,
)
from alphatrader.data.store import validate_symbol
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import AlphaTraderError, ConfigError, DataError, TemporaryError

log = logging.getLogger(__name__)
_APIKEY_PARAM = re.compile(r"(apikey=)[^&\s\"']+", re.IGNORECASE)


class _RedactApiKey(logging.Filter):
    """httpx logs every request URL at INFO, and Alpha Vantage takes the key in the query
    string: mask it before any handler sees the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "apikey=" in message.lower():
            record.msg, record.args = _APIKEY_PARAM.sub(r"\1***", message), None
        return True


logging.getLogger("httpx").addFilter(_RedactApiKey())

DATASET = "alphavantage"
FUNCTION = "TIME_SERIES_DAILY_ADJUSTED"
SERIES_KEY = "Time Series (Daily)"
_KEYS = {
    "open": "1. open",
    "high": "2. high",
    "low": "3. low",
    "close": "4. close",
    "adj_close": "5. adjusted close",
    "volume": "6. volume",
}
_THROTTLE_WORDS = ("rate limit", "call frequency", "sparingly", "requests per", "calls per")


class RateLimiter:
    """At most `calls` calls in any `period` seconds: before a call that would exceed it,
    sleep until the oldest call in the window is `period` seconds old."""

    def __init__(
        self,
        calls: int,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls < 1 or period <= 0:
            raise ValueError("a rate limit needs calls >= 1 and period > 0")
        self.calls = calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._recent: deque[float] = deque()

    def acquire(self) -> None:
        now = self._clock()
        self._forget(now)
        if len(self._recent) >= self.calls:
            wait = self._recent[0] + self.period - now
            if wait > 0:
                self._sleep(wait)
            now = self._clock()
            self._forget(now)
        self._recent.append(now)

    def _forget(self, now: float) -> None:
        while self._recent and self._recent[0] <= now - self.period:
            self._recent.popleft()


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with "equal jitter": attempt n waits between half and all of
    min(cap, base × 2ⁿ)."""

    attempts: int = 4
    base: float = 10.0
    cap: float = 60.0

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        full = min(self.cap, self.base * 2.0**attempt)
        return full / 2.0 + rand() * full / 2.0


class _Retry(Exception):
    """A fault worth another attempt; `after` is the server's Retry-After, when it gave one."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after


class AlphaVantageProvider:
    name = "alphavantage"
    dataset: str | None = DATASET

    def __init__(
        self,
        api_key: str,
        *,
        url: str = "https://www.alphavantage.co",
        calls_per_minute: int = 5,
        backoff: Backoff | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not api_key:
            raise ConfigError("data provider 'alphavantage' needs ALPHAVANTAGE_API_KEY")
        self._key = api_key
        self._url = url.rstrip("/")
        self._timeout = timeout
        self.backoff = backoff or Backoff()
        self.limiter = RateLimiter(calls_per_minute, 60.0, clock, sleep)
        self._sleep = sleep
        self._rand = rand

    @classmethod
    def from_settings(cls, settings: Settings) -> AlphaVantageProvider:
        key = settings.alphavantage_api_key
        if key is None or not key.get_secret_value():
            raise ConfigError(
                "data provider 'alphavantage' needs ALPHAVANTAGE_API_KEY; set it in .env "
                "or remove 'alphavantage' from DATA_PROVIDERS"
            )
        return cls(
            key.get_secret_value(),
            url=settings.alphavantage_url,
            calls_per_minute=settings.alphavantage_calls_per_minute,
        )

    def instrument(self, symbol: str, fields: frozenset[str]) -> Instrument:
        return fetched_instrument(symbol, DATASET, f"alphavantage:{FUNCTION}", fields)

    def fetch_daily(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[str, pd.DataFrame]:
        check_range(start, end)
        wanted = list(dict.fromkeys(validate_symbol(s) for s in symbols))
        frames: dict[str, pd.DataFrame] = {}
        errors: dict[str, AlphaTraderError] = {}
        with httpx.Client(base_url=self._url, timeout=self._timeout) as client:
            for n, symbol in enumerate(wanted):
                try:
                    payload = self._query(client, symbol)
                    frame = _frame(symbol, payload, start, end)
                    if not frame.empty:
                        frames[symbol] = validate_bars(self.name, symbol, frame, start, end)
                except (TemporaryError, ConfigError) as exc:
                    # The vendor is down, throttling past our patience, or refusing the key:
                    # the remaining symbols would fare no better.
                    errors[symbol] = exc
                    for rest in wanted[n + 1 :]:
                        errors[rest] = type(exc)(f"alphavantage: {rest}: not fetched: {exc}")
                    break
                except AlphaTraderError as exc:
                    errors[symbol] = exc
        return finish(self.name, frames, errors)

    def _query(self, client: httpx.Client, symbol: str) -> Mapping[str, object]:
        params = {"function": FUNCTION, "symbol": symbol, "outputsize": "full"}
        reason = ""
        for attempt in range(self.backoff.attempts):
            self.limiter.acquire()
            try:
                return self._once(client, symbol, params)
            except _Retry as retry:
                reason = retry.reason
                if attempt + 1 == self.backoff.attempts:
                    break
                delay = self.backoff.delay(attempt, self._rand)
                if retry.after is not None:
                    delay = max(delay, retry.after)
                log.warning(
                    "alphavantage %s: %s; retry %d of %d in %.1fs",
                    symbol,
                    reason,
                    attempt + 1,
                    self.backoff.attempts - 1,
                    delay,
                )
                self._sleep(delay)
        raise TemporaryError(
            f"alphavantage: {symbol}: {reason} ({self.backoff.attempts} attempts); retry later"
        )

    def _once(
        self, client: httpx.Client, symbol: str, params: dict[str, str]
    ) -> Mapping[str, object]:
        try:
            response = client.get("/query", params={**params, "apikey": self._key})
        except httpx.TimeoutException as exc:
            raise _Retry(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Retry(
                f"cannot connect ({self._redact(str(exc)) or type(exc).__name__})"
            ) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}", _retry_after(response))
        if status in (401, 403):
            raise ConfigError(
                f"alphavantage: {symbol}: refused with HTTP {status}; check ALPHAVANTAGE_API_KEY"
            )
        if status != 200:
            raise DataError(f"alphavantage: {symbol}: unexpected HTTP {status}")
        try:
            payload = response.json()
        except ValueError:
            raise DataError(f"alphavantage: {symbol}: the response is not valid JSON") from None
        if not isinstance(payload, Mapping):
            raise DataError(f"alphavantage: {symbol}: the response is not a JSON object")
        if SERIES_KEY in payload:
            return payload
        if "Error Message" in payload:
            detail = self._redact(str(payload["Error Message"]))[:200]
            raise DataError(f"alphavantage: {symbol}: unknown symbol or invalid call ({detail})")
        note = payload.get("Note") or payload.get("Information")
        if note is not None:
            text = self._redact(str(note))
            lowered = text.lower()
            short_term = "per minute" in lowered or "per second" in lowered
            if "per day" in lowered and not short_term:
                raise TemporaryError(
                    f"alphavantage: {symbol}: the daily request quota is used up; retry "
                    f"tomorrow ({text[:160]})"
                )
            if "Note" in payload or short_term or any(w in lowered for w in _THROTTLE_WORDS):
                raise _Retry(f"throttled ({text[:120]})")
            if "premium" in lowered:
                raise ConfigError(
                    f"alphavantage: {symbol}: {FUNCTION} needs a premium plan for this "
                    "ALPHAVANTAGE_API_KEY"
                )
            raise DataError(f"alphavantage: {symbol}: {text[:200]}")
        keys = ", ".join(sorted(map(str, payload))) or "none"
        raise DataError(f"alphavantage: {symbol}: no '{SERIES_KEY}' in the response (keys: {keys})")

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _frame(symbol: str, payload: Mapping[str, object], start: date, end: date) -> pd.DataFrame:
    """The adjusted bars within [start, end], sorted by date."""
    series = payload[SERIES_KEY]
    if not isinstance(series, Mapping):
        raise DataError(f"alphavantage: {symbol}: '{SERIES_KEY}' is not an object")
    days: list[date] = []
    rows: list[list[float]] = []
    for key, bar in series.items():
        try:
            day = date.fromisoformat(str(key))
        except ValueError:
            raise DataError(f"alphavantage: {symbol}: {key!r} is not a YYYY-MM-DD date") from None
        if not start <= day <= end:
            continue
        if not isinstance(bar, Mapping):
            raise DataError(f"alphavantage: {symbol}: the bar of {day} is not an object")
        try:
            raw = {name: strict_float(bar[field]) for name, field in _KEYS.items()}
        except KeyError as exc:
            raise DataError(f"alphavantage: {symbol}: the bar of {day} has no {exc}") from None
        except ValueError as exc:
            raise DataError(f"alphavantage: {symbol}: the bar of {day}: {exc}") from None
        if raw["close"] <= 0 or raw["adj_close"] <= 0:
            raise DataError(f"alphavantage: {symbol}: the bar of {day} has a price <= 0")
        factor = raw["adj_close"] / raw["close"]
        rows.append(
            [
                raw["open"] * factor,
                raw["high"] * factor,
                raw["low"] * factor,
                # Not `adj_close` itself: scaling all four prices alike keeps low <= close <= high
                # exact in floating point (they differ from adj_close by at most an ulp).
                raw["close"] * factor,
                raw["volume"] / factor,
            ]
        )
        days.append(day)
    frame = pd.DataFrame(
        rows,
        index=session_index(days),
        columns=["open", "high", "low", "close", "volume"],
        dtype="float64",
    )
    return frame.sort_index()
