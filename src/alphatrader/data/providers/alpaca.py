"""Daily bars from Alpaca's market data API (`GET /v2/stocks/bars`) through alpaca-py.

* One request for all symbols; alpaca-py follows `next_page_token` itself.
* Prices are split-and-dividend adjusted (`adjustment=all`), volume too, from the free IEX feed
  by default. IEX volume is only IEX's share of the consolidated volume (a few percent), so
  liquidity filters see far less than the market traded; `feed=DataFeed.SIP` gives consolidated
  bars (the free plan serves SIP history older than 15 minutes).
* Retries: alpaca-py's `RESTClient` retries the status codes in `_retry_codes` `_retry` times,
  sleeping `_retry_wait` seconds between tries. `StockHistoricalDataClient` does not take these as
  constructor arguments, so they are set on the instance after construction. Every call here is
  a GET, so retrying is safe; we add 500/502/503 to alpaca-py's default 429/504.
* alpaca-py's `requests.Session` has no timeout: a hung server would hang the daily job. A
  transport adapter with a default timeout is mounted on the client's session.
* Bar timestamps are UTC instants (Alpaca stamps a daily bar at midnight New York time, so 04:00Z
  or 05:00Z depending on DST). Each is converted to the exchange's time zone (the XNYS
  calendar's) and the local date must be an XNYS session — never by truncating the UTC instant.

Errors: 429 and 5xx after the retries, connection errors and timeouts → `TemporaryError`;
401/403 → `ConfigError` (the keys); any other refusal, undecodable JSON, or bars with missing or
non-numeric fields → `DataError`. The API keys never appear in messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from requests.adapters import HTTPAdapter

from alphatrader.config import Settings
from alphatrader.data.calendar import xnys
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

DATASET = "alpaca"
RETRY_CODES = (429, 500, 502, 503, 504)
# Alpaca's short names for the bar fields, and ours.
_FIELDS = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume"}


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request of the session a timeout unless the caller set one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


class AlpacaProvider:
    name = "alpaca"
    dataset: str | None = DATASET

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        url: str | None = None,
        retry_attempts: int = 3,
        retry_wait_seconds: float = 3.0,
        timeout: float = 30.0,
        feed: DataFeed = DataFeed.IEX,
    ) -> None:
        if retry_attempts < 1 or retry_wait_seconds <= 0 or timeout <= 0:
            raise ValueError("retry_attempts >= 1, retry_wait_seconds > 0 and timeout > 0")
        self._client = StockHistoricalDataClient(
            api_key=api_key, secret_key=secret_key, raw_data=True, url_override=url
        )
        # See the module docstring: the data client does not pass these through its constructor.
        self._client._retry = retry_attempts
        self._client._retry_wait = retry_wait_seconds  # type: ignore[assignment]
        self._client._retry_codes = list(RETRY_CODES)
        self._feed = feed
        adapter = _TimeoutAdapter(timeout)
        self._client._session.mount("http://", adapter)
        self._client._session.mount("https://", adapter)

    @classmethod
    def from_settings(cls, settings: Settings) -> AlpacaProvider:
        missing = [
            name
            for name, value in (
                ("ALPACA_API_KEY", settings.alpaca_api_key),
                ("ALPACA_SECRET_KEY", settings.alpaca_secret_key),
            )
            if value is None or not value.get_secret_value()
        ]
        if missing or settings.alpaca_api_key is None or settings.alpaca_secret_key is None:
            raise ConfigError(
                f"data provider 'alpaca' needs {' and '.join(missing)}; set them in .env "
                "or remove 'alpaca' from DATA_PROVIDERS"
            )
        return cls(
            settings.alpaca_api_key.get_secret_value(),
            settings.alpaca_secret_key.get_secret_value(),
            url=settings.alpaca_data_url or None,
        )

    def instrument(self, symbol: str, fields: frozenset[str]) -> Instrument:
        return fetched_instrument(symbol, DATASET, f"alpaca:{self._feed.value}", fields)

    def fetch_daily(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[str, pd.DataFrame]:
        check_range(start, end)
        wanted = list(dict.fromkeys(validate_symbol(s) for s in symbols))
        if not wanted:
            return {}
        tz = xnys().tz
        request = StockBarsRequest(
            symbol_or_symbols=wanted,
            timeframe=TimeFrame(1, TimeFrameUnit.Day),
            # From midnight New York time on `start` to the last second of `end` there.
            start=datetime.combine(start, time(0), tzinfo=tz),
            end=datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
            - timedelta(seconds=1),
            adjustment=Adjustment.ALL,
            feed=self._feed,
        )
        raw = self._get(request, wanted)
        frames: dict[str, pd.DataFrame] = {}
        errors: dict[str, AlphaTraderError] = {}
        for symbol in wanted:
            bars = raw.get(symbol)
            if not bars:
                continue
            try:
                frame = _frame(symbol, bars, start, end)
                if not frame.empty:
                    frames[symbol] = validate_bars(self.name, symbol, frame, start, end)
            except AlphaTraderError as exc:
                errors[symbol] = exc
        return finish(self.name, frames, errors)

    def _get(self, request: StockBarsRequest, wanted: list[str]) -> Mapping[str, Any]:
        what = f"alpaca: daily bars for {', '.join(wanted[:5])}" + (
            f" (+{len(wanted) - 5} more)" if len(wanted) > 5 else ""
        )
        try:
            raw = self._client.get_stock_bars(request)
        except APIError as exc:
            raise _api_error(what, exc) from None
        except requests.exceptions.JSONDecodeError:
            raise DataError(f"{what}: the response is not valid JSON") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TemporaryError(
                f"{what}: cannot reach the data API ({type(exc).__name__}); retry later"
            ) from None
        except requests.RequestException as exc:
            raise ConfigError(
                f"{what}: the request failed ({type(exc).__name__}); check ALPACA_DATA_URL"
            ) from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # alpaca-py raises these on a body without (or with several) known data keys.
            raise DataError(f"{what}: malformed response ({exc})") from None
        if not isinstance(raw, Mapping):
            raise DataError(f"{what}: malformed response (bars are not an object)")
        return raw


def _api_error(what: str, exc: APIError) -> AlphaTraderError:
    status = exc.status_code
    try:
        detail = str(json.loads(str(exc))["message"])
    except (ValueError, TypeError, KeyError):
        detail = str(exc)[:200]
    if status is None:
        return TemporaryError(f"{what}: no response ({detail}); retry later")
    if status == 429:
        return TemporaryError(f"{what}: rate limited (HTTP 429) after retries; retry later")
    if status >= 500:
        return TemporaryError(f"{what}: server error HTTP {status} after retries; retry later")
    if status in (401, 403):
        return ConfigError(
            f"{what}: refused with HTTP {status} ({detail}); check ALPACA_API_KEY and "
            "ALPACA_SECRET_KEY (market data keys)"
        )
    return DataError(f"{what}: refused with HTTP {status} ({detail})")


def _frame(symbol: str, bars: object, start: date, end: date) -> pd.DataFrame:
    """One symbol's raw bars as a frame indexed by session date, within [start, end]."""
    if not isinstance(bars, list):
        raise DataError(f"alpaca: {symbol}: bars are not a list")
    stamps: list[str] = []
    rows: list[list[float]] = []
    for n, bar in enumerate(bars, start=1):
        if not isinstance(bar, Mapping):
            raise DataError(f"alpaca: {symbol}: bar {n} is not an object")
        stamp = bar.get("t")
        if not isinstance(stamp, str):
            raise DataError(f"alpaca: {symbol}: bar {n} has no timestamp 't'")
        try:
            rows.append([strict_float(bar[key]) for key in _FIELDS])
        except KeyError as exc:
            raise DataError(f"alpaca: {symbol}: bar {n} ({stamp}) has no {exc} field") from None
        except ValueError as exc:
            raise DataError(f"alpaca: {symbol}: bar {n} ({stamp}): {exc}") from None
        stamps.append(stamp)
    index = session_index(_session_dates(symbol, stamps))
    frame = pd.DataFrame(rows, index=index, columns=list(_FIELDS.values()), dtype="float64")
    frame = frame.sort_index()
    keep = (frame.index >= pd.Timestamp(start)) & (frame.index <= pd.Timestamp(end))
    return frame[keep]


def _session_dates(symbol: str, stamps: list[str]) -> pd.DatetimeIndex:
    """The XNYS session each UTC bar timestamp belongs to: its date in the exchange's zone."""
    try:
        instants = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        raise DataError(f"alpaca: {symbol}: bad bar timestamp ({exc})") from None
    local = instants.tz_convert(xnys().tz).tz_localize(None).normalize()
    return pd.DatetimeIndex(local, name="date")
