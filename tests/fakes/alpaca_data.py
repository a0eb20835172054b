"""A fake of Alpaca's market data API v2, daily bars only: `GET /v2/stocks/bars`.

Response shape as the real API sends it (alpaca-py's raw data and the Alpaca docs):

    {"bars": {"AAPL": [{"t": "2024-01-02T05:00:00Z", "o": 187.15, "h": 188.44, "l": 183.885,
                        "c": 185.64, "v": 82496943, "n": 1008871, "vw": 185.943563}, ...], ...},
     "next_page_token": "QUFQTHxEfDIwMjQtMDEtMDNUMDU6MDA6MDAuMDAwMDAwMDAwWg=="}

A daily bar is stamped at midnight New York time, in UTC: 05:00Z in winter, 04:00Z in summer.
Pages hold at most `min(limit, page_size)` bars over all symbols (symbols in alphabetical order,
then by time); `next_page_token` is opaque to clients and null on the last page. Authentication
is by the `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` headers; a mismatch gets HTTP 401
`{"message": "unauthorized."}`.

All prices made by `synthetic_bars` are synthetic (not market data).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from tests.fakes import FakeServer, Recorded, Reply

NEW_YORK = ZoneInfo("America/New_York")
BARS_PATH = "/v2/stocks/bars"


def bar_timestamp(day: date) -> str:
    """Alpaca's stamp for the daily bar of `day`: midnight New York time, as UTC."""
    instant = datetime.combine(day, time(0), tzinfo=NEW_YORK).astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def daily_bar(
    day: date, o: float, h: float, low: float, c: float, v: float, n: int = 1000
) -> dict[str, object]:
    return {
        "t": bar_timestamp(day),
        "o": o,
        "h": h,
        "l": low,
        "c": c,
        "v": v,
        "n": n,
        "vw": round((h + low + c) / 3, 6),
    }


def synthetic_bars(days: Iterable[date], base: float = 100.0) -> list[dict[str, object]]:
    """A made-up, deterministic series: one bar per day, rising by 1 a day."""
    bars = []
    for i, day in enumerate(days):
        p = base + i
        bars.append(daily_bar(day, p, p + 1.0, p - 1.0, p + 0.5, 1_000_000.0 + i))
    return bars


class FakeAlpacaData(FakeServer):
    def __init__(
        self,
        api_key: str = "test-key-id",
        secret_key: str = "test-secret-key",
        page_size: int = 10_000,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.secret_key = secret_key
        self.page_size = page_size
        self.bars: dict[str, list[dict[str, object]]] = {}

    def set_bars(self, symbol: str, bars: list[dict[str, object]]) -> None:
        self.bars[symbol] = list(bars)

    def bar_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == BARS_PATH]

    def answer(self, request: Recorded) -> Reply:
        if request.path != BARS_PATH:
            return Reply(404, {"message": "Not Found"})
        headers = {k.lower(): v for k, v in request.headers.items()}
        if (
            headers.get("apca-api-key-id") != self.api_key
            or headers.get("apca-api-secret-key") != self.secret_key
        ):
            return Reply(401, {"message": "unauthorized."})
        query = request.query
        if not query.get("symbols"):
            return Reply(400, {"code": 42210000, "message": "missing symbols"})
        if query.get("timeframe") != "1Day":
            return Reply(400, {"code": 42210000, "message": "invalid timeframe"})
        try:
            start = _instant(query.get("start"), datetime.min.replace(tzinfo=UTC))
            end = _instant(query.get("end"), datetime.max.replace(tzinfo=UTC))
        except ValueError:
            return Reply(400, {"code": 42210000, "message": "invalid start or end"})
        items = [
            (symbol, bar)
            for symbol in sorted(set(query["symbols"].split(",")))
            for bar in self.bars.get(symbol, [])
            if _within(bar, start, end)
        ]
        offset = _decode(query.get("page_token"))
        limit = min(int(query.get("limit") or 1000), self.page_size)
        page = items[offset : offset + limit]
        token = _encode(offset + limit) if offset + limit < len(items) else None
        grouped: dict[str, list[dict[str, object]]] = {}
        for symbol, bar in page:
            grouped.setdefault(symbol, []).append(bar)
        return Reply(200, {"bars": grouped, "next_page_token": token})


def _within(bar: dict[str, object], start: datetime, end: datetime) -> bool:
    """Is the bar in [start, end]? A bar a test broke on purpose is served as it is."""
    try:
        return start <= _instant(str(bar["t"]), start) <= end
    except (KeyError, ValueError):
        return True


def _instant(text: str | None, default: datetime) -> datetime:
    if not text:
        return default
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _encode(offset: int) -> str:
    return base64.b64encode(f"offset|{offset}".encode()).decode()


def _decode(token: str | None) -> int:
    if not token:
        return 0
    return int(base64.b64decode(token).decode().split("|")[1])
