"""A fake of Alpha Vantage's `GET /query?function=TIME_SERIES_DAILY_ADJUSTED`.

Response shapes as the service sends them (Alpha Vantage documentation and recorded answers):
every answer is HTTP 200 JSON, and trouble is reported inside the body:

    {"Meta Data": {"1. Information": "Daily Time Series with Splits and Dividend Events",
                   "2. Symbol": "IBM", "3. Last Refreshed": "2024-01-05",
                   "4. Output Size": "Full size", "5. Time Zone": "US/Eastern"},
     "Time Series (Daily)": {"2024-01-05": {"1. open": "162.4400", "2. high": "162.9000",
         "3. low": "160.3600", "4. close": "160.8600", "5. adjusted close": "155.1243",
         "6. volume": "4130100", "7. dividend amount": "0.0000",
         "8. split coefficient": "1.0"}, ...}}          newest date first, numbers as strings

    {"Error Message": "Invalid API call. Please retry or visit the documentation (...) for
                       TIME_SERIES_DAILY_ADJUSTED."}     unknown symbol
    {"Note": "...API call frequency is 5 calls per minute and 500 calls per day..."}
    {"Information": "...API rate limit is 25 requests per day..."}

The constants below are those bodies, for scripting faults. All series added with
`synthetic_rows` are synthetic (not market data).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from tests.fakes import FakeServer, Recorded, Reply

FUNCTION = "TIME_SERIES_DAILY_ADJUSTED"

NOTE_CALL_FREQUENCY = {
    "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per "
    "minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you "
    "would like to target a higher API call frequency."
}
INFORMATION_DAILY_LIMIT = {
    "Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 "
    "requests per day. Please subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
}
INFORMATION_BURST = {
    "Information": "Thank you for using Alpha Vantage! Please consider spreading out your free "
    "API requests more sparingly (1 request per second). You may subscribe to any of the "
    "premium plans at https://www.alphavantage.co/premium/ to lift the free key rate limit "
    "(25 requests per day), raise the per-minute limit to a higher amount, and remove the "
    "daily rate limit."
}
INFORMATION_PREMIUM = {
    "Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may "
    "subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to "
    "instantly unlock all premium endpoints"
}
ERROR_INVALID_CALL = {
    "Error Message": "Invalid API call. Please retry or visit the documentation "
    "(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY_ADJUSTED."
}
ERROR_BAD_KEY = {
    "Error Message": "the parameter apikey is invalid or missing. Please claim your free API key "
    "on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
}


@dataclass(frozen=True)
class Row:
    day: date
    open: float
    high: float
    low: float
    close: float
    adjusted_close: float
    volume: float
    dividend: float = 0.0
    split: float = 1.0

    def as_json(self) -> dict[str, str]:
        return {
            "1. open": f"{self.open:.4f}",
            "2. high": f"{self.high:.4f}",
            "3. low": f"{self.low:.4f}",
            "4. close": f"{self.close:.4f}",
            "5. adjusted close": f"{self.adjusted_close:.4f}",
            "6. volume": f"{self.volume:.0f}",
            "7. dividend amount": f"{self.dividend:.4f}",
            "8. split coefficient": f"{self.split:.1f}",
        }


def synthetic_rows(days: Iterable[date], base: float = 50.0, factor: float = 1.0) -> list[Row]:
    """A made-up, deterministic series; `adjusted close = close × factor`."""
    rows = []
    for i, day in enumerate(days):
        p = base + i
        rows.append(Row(day, p, p + 1.0, p - 1.0, p + 0.5, (p + 0.5) * factor, 2_000_000.0 + i))
    return rows


class FakeAlphaVantage(FakeServer):
    def __init__(self, api_key: str = "test-av-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.series: dict[str, list[Row]] = {}

    def set_rows(self, symbol: str, rows: list[Row]) -> None:
        self.series[symbol] = list(rows)

    def answer(self, request: Recorded) -> Reply:
        if request.path != "/query":
            return Reply(404, "<html><body>Not Found</body></html>")
        query = request.query
        if query.get("apikey") != self.api_key:
            return Reply(200, ERROR_BAD_KEY)
        if query.get("function") != FUNCTION:
            return Reply(
                200,
                {"Error Message": f"This API function ({query.get('function')}) does not exist."},
            )
        symbol = query.get("symbol", "")
        rows = self.series.get(symbol)
        if not rows:
            return Reply(200, ERROR_INVALID_CALL)
        newest_first = sorted(rows, key=lambda r: r.day, reverse=True)
        if query.get("outputsize") != "full":
            newest_first = newest_first[:100]
        return Reply(
            200,
            {
                "Meta Data": {
                    "1. Information": "Daily Time Series with Splits and Dividend Events",
                    "2. Symbol": symbol,
                    "3. Last Refreshed": newest_first[0].day.isoformat(),
                    "4. Output Size": "Full size",
                    "5. Time Zone": "US/Eastern",
                },
                "Time Series (Daily)": {r.day.isoformat(): r.as_json() for r in newest_first},
            },
        )
