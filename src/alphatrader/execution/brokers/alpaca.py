"""Alpaca (paper or live) behind `LiveBroker`, through alpaca-py's `TradingClient`.

Sending
* `submit` sends one `POST /v2/orders` and never repeats it. alpaca-py's `RESTClient` would
  retry 429 and 504 on *every* method, POST included, and a 504 may mean "accepted but slow": its
  retry is switched off for the whole client (`_retry = 0`, no retry codes; `TradingClient` does
  not take these as constructor arguments, so they are set after construction).
* Reads (GET) have their own bounded retry: 429 waits until `X-Ratelimit-Reset` (epoch seconds;
  or `Retry-After`), 408/5xx, timeouts and dropped connections back off exponentially; every wait
  is capped by `max_wait` and goes through the injectable `sleep`. DELETE (cancel) is not retried.
* alpaca-py sets no timeout; a transport adapter gives every request `timeout` seconds.
* JSON is read raw (`raw_data=True`): a status string alpaca-py's enums do not know must not
  break parsing; it maps to UNKNOWN (see below).

Errors (what the order manager does with them is in `base.py`)
* 422/400 `client_order_id must be unique` (code 40010001) → `DuplicateClientOrderId`.
* 403 pattern-day-trading (code 40310100, or "pattern day" in the message) →
  `BrokerRejected(code="pdt")`; 403 buying power → `BrokerRejected(code="buying_power")`; any
  other 4xx refusal of an order → `BrokerRejected` with Alpaca's message and code.
* 429, 408, 5xx, timeouts, connection errors and unreadable 2xx answers → `BrokerUnavailable`
  (for a submission: the order may exist; look it up by its client id).
* 401 (and 403 on a read) → `ConfigError`: the keys, or paper keys against the live URL.
* The API keys never appear in messages or logs; `repr` shows neither.

Orders
* Market, limit, stop and stop-limit orders with the request's time in force (day, gtc, opg,
  cls). `stop_loss`, `take_profit` and `oco_group` of a request are not sent: exits are orders
  of their own, placed by the order manager.
* Fractional: `qty` or `notional`, never both; a notional order is fractional by nature, so it
  needs `fractional=True`, a market order and time in force day; a fractional `qty` needs
  `fractional=True`, a market order and day; `qty` has at most 9 decimals, `notional` 2. Anything
  else is refused with `BrokerRejected(code="fractional")` before sending.

Pattern day trader
* With `pdt_protection` (the default), a SELL of a symbol bought today (New York date) is refused
  with `BrokerRejected(code="pdt")` before sending when equity < $25,000 and either
  `daytrade_count` >= 3 (the sale would be the 4th day trade in 5 sessions) or the account is
  already flagged `pattern_day_trader`. Alpaca enforces the same rule itself with a 403, which
  maps to the same error; the local check only saves the round trip and the rejection record.
  Buys covering a short opened today are not checked (the product does not sell short).

Status mapping (`vendor_status` keeps Alpaca's string verbatim):

    new, accepted, pending_new, accepted_for_bidding,   ACCEPTED, or PARTIALLY_FILLED once
    held, stopped, suspended, calculated,               filled_qty > 0: the order exists at
    done_for_day, pending_replace, pending_review       Alpaca and may still trade (done_for_day
                                                        resumes next session; suspended may be
                                                        lifted; calculated is still settling)
    partially_filled                                    PARTIALLY_FILLED
    filled                                              FILLED
    pending_cancel                                      CANCEL_PENDING
    canceled                                            CANCELLED
    replaced                                            CANCELLED (final at Alpaca; the order
                                                        that replaced it carries another client
                                                        id and shows up as an orphan)
    expired                                             EXPIRED
    rejected                                            REJECTED
    anything else                                       UNKNOWN (look it up again later)

`pending_new` is ACCEPTED rather than SUBMITTED: Alpaca holds the order (its client id is taken),
and the state table allows UNKNOWN → ACCEPTED but not UNKNOWN → SUBMITTED.

Listing
* `orders(after, open_only)`: `GET /v2/orders?status=all|open&after=&limit=500&direction=asc`,
  paging by moving `after` to the last order's `submitted_at` (less a microsecond; repeats are
  dropped by order id). `after` filters on submission time: an older order updated since is not
  listed.
* `fills(after)`: `GET /v2/account/activities?activity_types=FILL` (alpaca-py has no typed call),
  page_size 100, paged by the last activity's id. An activity names the order id only; the client
  id comes from orders already seen, else `GET /v2/orders/{id}`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
)
from alpaca.trading.requests import OrderRequest as AlpacaOrderRequest
from requests.adapters import HTTPAdapter

from alphatrader.config import Settings
from alphatrader.domain.orders import OrderRequest, OrderStatus, OrderType, Side
from alphatrader.errors import ConfigError
from alphatrader.execution.brokers.base import (
    BrokerAccount,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
    DuplicateClientOrderId,
    MarketClock,
)

log = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
PDT_EQUITY = Decimal(25_000)
PDT_MAX_DAY_TRADES = 3
ORDERS_PAGE = 500
ACTIVITIES_PAGE = 100
MAX_CLIENT_ORDER_ID = 128
DUPLICATE_CODE = 40010001
PDT_CODE = 40310100
NINE_PLACES = Decimal("0.000000001")
CENTS = Decimal("0.01")

_WORKING = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "accepted_for_bidding",
        "held",
        "stopped",
        "suspended",
        "calculated",
        "done_for_day",
        "pending_replace",
        "pending_review",
    }
)
_FIXED: dict[str, OrderStatus] = {
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "pending_cancel": OrderStatus.CANCEL_PENDING,
    "canceled": OrderStatus.CANCELLED,
    "replaced": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
_TIME_IN_FORCE = {tif.value: tif for tif in TimeInForce}


def map_status(vendor_status: str, filled_qty: Decimal = Decimal(0)) -> OrderStatus:
    """Alpaca's order status → ours (see the module docstring); unknown strings → UNKNOWN."""
    status = vendor_status.strip().lower()
    if status in _WORKING:
        return OrderStatus.PARTIALLY_FILLED if filled_qty > 0 else OrderStatus.ACCEPTED
    return _FIXED.get(status, OrderStatus.UNKNOWN)


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request of the session a timeout unless the caller set one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


class _Malformed(ValueError):
    """Alpaca's answer could not be read."""


class _Failure:
    """One failed request, reduced to what the mapping needs."""

    def __init__(
        self,
        status: int | None,
        code: int | None,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status  # None: no HTTP answer (timeout, connection, unreadable body)
        self.code = code
        self.message = message
        self.headers = headers or {}

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in (408, 429) or self.status >= 500

    def describe(self) -> str:
        if self.status is None:
            return self.message
        code = f" (code {self.code})" if self.code is not None else ""
        return f"HTTP {self.status}{code}: {self.message}"

    @classmethod
    def of(cls, exc: Exception) -> _Failure:
        if isinstance(exc, APIError):
            response = exc.response
            status = exc.status_code if isinstance(exc.status_code, int) else None
            headers = dict(response.headers) if response is not None else {}
            code, message = _error_body(str(exc))
            return cls(status, code, message, headers)
        if isinstance(exc, requests.exceptions.JSONDecodeError):
            return cls(None, None, "unreadable answer (not JSON)")
        if isinstance(exc, requests.Timeout):
            return cls(None, None, f"no answer within the timeout ({type(exc).__name__})")
        if isinstance(exc, requests.ConnectionError):
            return cls(None, None, f"connection failed ({type(exc).__name__})")
        return cls(None, None, f"request failed ({type(exc).__name__})")


def _error_body(text: str) -> tuple[int | None, str]:
    """(code, message) from Alpaca's error JSON; a non-JSON body (a proxy's HTML) is cut short."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw_code = body.get("code")
        code = raw_code if isinstance(raw_code, int) else None
        if isinstance(raw_code, str) and raw_code.isdigit():
            code = int(raw_code)
        return code, str(body.get("message") or text)[:300]
    return None, " ".join(text.split())[:120] or "empty body"


# An unreadable 2xx body surfaces as requests' JSONDecodeError, a RequestException.
_TRANSPORT_ERRORS = (APIError, requests.RequestException)
_T = TypeVar("_T")


class AlpacaBroker:
    """A paper or live Alpaca account as a `LiveBroker`."""

    name = "alpaca"

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        paper: bool = True,
        url_override: str | None = None,
        timeout: float = 15.0,
        pdt_protection: bool = True,
        read_retries: int = 3,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not api_key or not secret_key:
            raise ConfigError("the Alpaca broker needs ALPACA_API_KEY and ALPACA_SECRET_KEY")
        if timeout <= 0 or read_retries < 0 or backoff < 0 or max_wait < 0:
            raise ValueError("timeout > 0, read_retries >= 0, backoff >= 0 and max_wait >= 0")
        self.paper = paper
        self.url = url_override
        self.pdt_protection = pdt_protection
        self._read_retries = read_retries
        self._backoff = backoff
        self._max_wait = max_wait
        self._sleep = sleep
        self._wall = wall
        self._now = now
        self._client = TradingClient(
            api_key=api_key,
            secret_key=secret_key,
            paper=paper,
            raw_data=True,
            url_override=url_override,
        )
        # Never let alpaca-py resend anything (a POST above all): see the module docstring.
        self._client._retry = 0
        self._client._retry_codes = []
        adapter = _TimeoutAdapter(timeout)
        self._client._session.mount("http://", adapter)
        self._client._session.mount("https://", adapter)
        self._client_ids: dict[str, str] = {}  # Alpaca order id → client order id

    def __repr__(self) -> str:
        where = self.url or ("paper" if self.paper else "live")
        return f"AlpacaBroker({where})"

    @classmethod
    def from_settings(
        cls, settings: Settings, *, url_override: str | None = None, **options: Any
    ) -> AlpacaBroker:
        key, secret = settings.alpaca_api_key, settings.alpaca_secret_key
        missing = [
            name
            for name, value in (("ALPACA_API_KEY", key), ("ALPACA_SECRET_KEY", secret))
            if value is None or not value.get_secret_value()
        ]
        if missing or key is None or secret is None:
            raise ConfigError(f"the Alpaca broker needs {' and '.join(missing)}; set them in .env")
        url = url_override or getattr(settings, "alpaca_trading_url", None) or None
        return cls(
            key.get_secret_value(),
            secret.get_secret_value(),
            paper=settings.alpaca_paper,
            url_override=url,
            **options,
        )

    # -- orders ----------------------------------------------------------------------------------
    def submit(self, request: OrderRequest, client_order_id: str) -> BrokerOrder:
        if not client_order_id or len(client_order_id) > MAX_CLIENT_ORDER_ID:
            raise BrokerRejected(
                f"client order id must be 1–{MAX_CLIENT_ORDER_ID} characters", code="client_id"
            )
        order_data = self._order_request(request, client_order_id)
        if self.pdt_protection and request.side is Side.SELL:
            self._pdt_guard(request.symbol)
        try:
            raw = self._client.submit_order(order_data)
        except _TRANSPORT_ERRORS as exc:
            raise self._submit_error(_Failure.of(exc), client_order_id) from None
        try:
            order = self._order(raw)
        except _Malformed as exc:
            log.warning("alpaca: unreadable answer to order %s: %s", client_order_id, exc)
            raise BrokerUnavailable(
                f"Alpaca's answer to order {client_order_id} was unreadable; look it up"
            ) from None
        log.info(
            "alpaca: order %s sent: %s %s %s → %s",
            client_order_id,
            request.side,
            request.qty if request.qty is not None else f"${request.notional}",
            request.symbol,
            order.vendor_status,
        )
        return order

    def _submit_error(self, failure: _Failure, client_order_id: str) -> Exception:
        status, message = failure.status, failure.message
        lowered = message.lower()
        if status in (400, 422) and (
            failure.code == DUPLICATE_CODE or "client_order_id must be unique" in lowered
        ):
            return DuplicateClientOrderId(
                f"Alpaca already has an order with client id {client_order_id}"
            )
        if failure.retryable:
            log.warning("alpaca: order %s outcome unknown: %s", client_order_id, failure.describe())
            return BrokerUnavailable(
                f"order {client_order_id} may or may not have reached Alpaca "
                f"({failure.describe()}); look it up before sending again"
            )
        if status == 401:
            return ConfigError(
                "Alpaca refused the API keys (HTTP 401); check ALPACA_API_KEY, ALPACA_SECRET_KEY "
                "and ALPACA_PAPER (paper and live keys differ)"
            )
        if status == 403 and (failure.code == PDT_CODE or "pattern day" in lowered):
            return BrokerRejected(f"Alpaca refused the order: {message}", code="pdt")
        if status == 403 and "buying power" in lowered:
            return BrokerRejected(f"Alpaca refused the order: {message}", code="buying_power")
        code = str(failure.code) if failure.code is not None else f"http_{status}"
        return BrokerRejected(f"Alpaca refused the order: {message}", code=code)

    def _order_request(self, request: OrderRequest, client_order_id: str) -> AlpacaOrderRequest:
        """The alpaca-py request; refuses what Alpaca would refuse or we could not express."""
        tif = _TIME_IN_FORCE.get(request.time_in_force.value)
        if tif is None:
            raise BrokerRejected(
                f"Alpaca has no time in force {request.time_in_force!r}", code="order"
            )
        amount: dict[str, float] = {}
        if request.notional is not None:
            if not request.fractional:
                raise BrokerRejected(
                    "Alpaca fills a notional order in fractional shares; set fractional or send "
                    "a whole-share qty",
                    code="fractional",
                )
            if request.order_type is not OrderType.MARKET or tif is not TimeInForce.DAY:
                raise BrokerRejected(
                    "a notional order must be a market order with time in force day "
                    f"(got {request.order_type}, {tif.value})",
                    code="fractional",
                )
            if request.notional != request.notional.quantize(CENTS):
                raise BrokerRejected(
                    f"notional {request.notional} has more than 2 decimals", code="fractional"
                )
            amount["notional"] = _exact_float(request.notional, "notional")
        else:
            qty = request.qty
            assert qty is not None  # OrderRequest holds exactly one of qty and notional
            if qty != qty.to_integral_value():
                if not request.fractional:
                    raise BrokerRejected(
                        f"qty {qty} is fractional but the request is not", code="fractional"
                    )
                if request.order_type is not OrderType.MARKET or tif is not TimeInForce.DAY:
                    raise BrokerRejected(
                        "a fractional qty must be a market order with time in force day "
                        f"(got {request.order_type}, {tif.value})",
                        code="fractional",
                    )
                if qty != qty.quantize(NINE_PLACES):
                    raise BrokerRejected(f"qty {qty} has more than 9 decimals", code="fractional")
            amount["qty"] = _exact_float(qty, "qty")
        common: dict[str, Any] = {
            "symbol": request.symbol,
            "side": OrderSide.BUY if request.side is Side.BUY else OrderSide.SELL,
            "time_in_force": tif,
            "client_order_id": client_order_id,
            **amount,
        }
        limit, stop = request.limit_price, request.stop_price
        try:
            if request.order_type is OrderType.MARKET:
                if limit is not None or stop is not None:
                    raise BrokerRejected("a market order has no limit or stop price", "order")
                return MarketOrderRequest(**common)
            if request.order_type is OrderType.LIMIT:
                if limit is None or stop is not None:
                    raise BrokerRejected("a limit order needs a limit price only", "order")
                return LimitOrderRequest(**common, limit_price=_exact_float(limit, "limit"))
            if request.order_type is OrderType.STOP:
                if stop is None or limit is not None:
                    raise BrokerRejected("a stop order needs a stop price only", "order")
                return StopOrderRequest(**common, stop_price=_exact_float(stop, "stop"))
            if request.order_type is OrderType.STOP_LIMIT:
                if stop is None or limit is None:
                    raise BrokerRejected("a stop-limit order needs a stop and a limit", "order")
                return StopLimitOrderRequest(
                    **common,
                    stop_price=_exact_float(stop, "stop"),
                    limit_price=_exact_float(limit, "limit"),
                )
            raise BrokerRejected(f"unsupported order type {request.order_type}", "order")
        except ValueError as exc:  # pydantic's validation of the alpaca-py request
            raise BrokerRejected(f"invalid order: {exc}", code="order") from None

    def _pdt_guard(self, symbol: str) -> None:
        account = self.account()
        if account.equity >= PDT_EQUITY:
            return
        if account.daytrade_count < PDT_MAX_DAY_TRADES and not account.pattern_day_trader:
            return
        today = self._now().astimezone(NEW_YORK).date()
        midnight = datetime.combine(today, dtime(0), tzinfo=NEW_YORK)
        bought_today = any(
            f.symbol == symbol and f.side is Side.BUY and f.at.astimezone(NEW_YORK).date() == today
            for f in self._fills(midnight, resolve=False)
        )
        if bought_today:
            raise BrokerRejected(
                f"selling {symbol} today would be a day trade (day trades: "
                f"{account.daytrade_count}, equity ${account.equity} < ${PDT_EQUITY}); "
                "hold it to the next session",
                code="pdt",
            )

    def cancel(self, client_order_id: str) -> None:
        order = self.get_order(client_order_id)
        if order is None:
            log.info("alpaca: cancel %s: Alpaca has no such order", client_order_id)
            return
        if order.status.is_terminal:
            return
        try:
            self._client.cancel_order_by_id(order.broker_order_id)
        except _TRANSPORT_ERRORS as exc:
            failure = _Failure.of(exc)
            if failure.status in (404, 422):  # already final, or not cancelable now
                log.info("alpaca: cancel %s: %s", client_order_id, failure.describe())
                return
            if failure.status in (401, 403):
                raise ConfigError(
                    f"Alpaca refused to cancel {client_order_id}: {failure.describe()}; "
                    "check the API keys"
                ) from None
            if failure.retryable:
                raise BrokerUnavailable(
                    f"cancel of {client_order_id} may not have reached Alpaca "
                    f"({failure.describe()})"
                ) from None
            log.warning("alpaca: cancel %s refused: %s", client_order_id, failure.describe())

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        raw = self._read(
            f"order {client_order_id}",
            lambda: self._client.get_order_by_client_id(client_order_id),
            missing_ok=True,
        )
        if raw is None:
            return None
        return self._parsed(f"order {client_order_id}", self._order, raw)

    def orders(self, after: datetime | None = None, open_only: bool = False) -> list[BrokerOrder]:
        seen: dict[str, BrokerOrder] = {}
        cursor = after
        while True:
            query = GetOrdersRequest(
                status=QueryOrderStatus.OPEN if open_only else QueryOrderStatus.ALL,
                after=cursor,
                limit=ORDERS_PAGE,
                direction=Sort.ASC,
            )
            raw = self._read("orders", partial(self._client.get_orders, query))
            page = self._parsed("orders", self._order_list, raw)
            fresh = [o for o in page if o.broker_order_id not in seen]
            seen.update((o.broker_order_id, o) for o in page)
            if len(page) < ORDERS_PAGE:
                break
            stamps = [o.submitted_at for o in page if o.submitted_at is not None]
            if not fresh or not stamps:
                log.warning("alpaca: order listing stopped at %s: the page did not advance", cursor)
                break
            cursor = max(stamps) - timedelta(microseconds=1)
        return sorted(seen.values(), key=_submitted_key)

    # -- executions and account ------------------------------------------------------------------
    def fills(self, after: datetime | None = None) -> list[BrokerFill]:
        return self._fills(after, resolve=True)

    def _fills(self, after: datetime | None, *, resolve: bool) -> list[BrokerFill]:
        params: dict[str, Any] = {
            "activity_types": "FILL",
            "direction": "asc",
            "page_size": ACTIVITIES_PAGE,
        }
        if after is not None:
            params["after"] = _utc(after).isoformat()
        found: dict[str, BrokerFill] = {}
        token: str | None = None
        while True:
            page_params = {**params, **({"page_token": token} if token else {})}
            raw = self._read("fills", partial(self._client.get, "/account/activities", page_params))
            items = self._parsed("fills", _activity_list, raw)
            for item in items:
                if str(item.get("activity_type", "FILL")).upper() != "FILL":
                    continue
                fill = self._parsed("a fill", self._fill, item)
                found.setdefault(fill.execution_id, fill)
            if len(items) < ACTIVITIES_PAGE:
                break
            last = items[-1].get("id")
            if not isinstance(last, str) or last == token:
                break
            token = last
        fills = list(found.values())
        if resolve:
            fills = [self._with_client_id(f) for f in fills]
        return sorted(fills, key=lambda f: (f.at, f.execution_id))

    def _with_client_id(self, fill: BrokerFill) -> BrokerFill:
        if fill.client_order_id:
            return fill
        order_id = fill.broker_order_id
        if order_id not in self._client_ids:
            raw = self._read(
                f"order {order_id}", lambda: self._client.get_order_by_id(order_id), missing_ok=True
            )
            if raw is None:
                log.warning(
                    "alpaca: fill %s names an unknown order %s", fill.execution_id, order_id
                )
                return fill
            self._parsed(f"order {order_id}", self._order, raw)
        return _replace_client_id(fill, self._client_ids.get(order_id, ""))

    def positions(self) -> list[BrokerPosition]:
        raw = self._read("positions", self._client.get_all_positions)
        return self._parsed("positions", _positions, raw)

    def account(self) -> BrokerAccount:
        raw = self._read("the account", self._client.get_account)
        return self._parsed("the account", _account, raw)

    def clock(self) -> MarketClock:
        raw = self._read("the clock", self._client.get_clock)
        return self._parsed("the clock", _clock, raw)

    # -- reading with retries --------------------------------------------------------------------
    def _read(self, what: str, call: Callable[[], object], missing_ok: bool = False) -> object:
        attempt = 0
        while True:
            try:
                return call()
            except _TRANSPORT_ERRORS as exc:
                failure = _Failure.of(exc)
            if failure.status == 404 and missing_ok:
                return None
            if failure.status in (401, 403):
                raise ConfigError(
                    f"Alpaca refused to show {what} ({failure.describe()}); check "
                    "ALPACA_API_KEY, ALPACA_SECRET_KEY and ALPACA_PAPER"
                )
            if not failure.retryable:
                raise BrokerUnavailable(f"Alpaca could not show {what}: {failure.describe()}")
            if attempt >= self._read_retries:
                raise BrokerUnavailable(
                    f"Alpaca did not show {what} after {attempt + 1} tries: {failure.describe()}"
                )
            wait = self._wait(failure, attempt)
            log.info(
                "alpaca: reading %s failed (%s); retry in %.2fs", what, failure.describe(), wait
            )
            self._sleep(wait)
            attempt += 1

    def _wait(self, failure: _Failure, attempt: int) -> float:
        wait = self._backoff * float(2**attempt)
        if failure.status == 429:
            headers = {k.lower(): v for k, v in failure.headers.items()}
            retry_after = _number(headers.get("retry-after"))
            reset = _number(headers.get("x-ratelimit-reset"))
            if retry_after is not None:
                wait = retry_after
            elif reset is not None:
                # Epoch seconds (Alpaca); a small number is read as seconds from now.
                wait = reset - self._wall() if reset > 1e9 else reset
            wait = max(wait, self._backoff)
        return min(max(wait, 0.0), self._max_wait)

    def _parsed(self, what: str, parse: Callable[[Any], _T], raw: object) -> _T:
        try:
            return parse(raw)
        except (_Malformed, KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise BrokerUnavailable(f"Alpaca's answer for {what} was unreadable: {exc}") from None

    # -- parsing ---------------------------------------------------------------------------------
    def _order(self, raw: object) -> BrokerOrder:
        if not isinstance(raw, dict):
            raise _Malformed(f"an order must be an object, got {type(raw).__name__}")
        try:
            filled = _decimal(raw.get("filled_qty")) or Decimal(0)
            vendor_status = str(raw["status"])
            order = BrokerOrder(
                client_order_id=str(raw["client_order_id"]),
                broker_order_id=str(raw["id"]),
                symbol=str(raw["symbol"]),
                side=_side(raw["side"]),
                qty=_decimal(raw.get("qty")),
                notional=_decimal(raw.get("notional")),
                order_type=str(raw.get("type") or raw.get("order_type") or ""),
                time_in_force=str(raw.get("time_in_force") or ""),
                limit_price=_decimal(raw.get("limit_price")),
                stop_price=_decimal(raw.get("stop_price")),
                status=map_status(vendor_status, filled),
                vendor_status=vendor_status,
                filled_qty=filled,
                avg_fill_price=_decimal(raw.get("filled_avg_price")),
                submitted_at=_instant(raw.get("submitted_at") or raw.get("created_at")),
                updated_at=_instant(raw.get("updated_at")),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise _Malformed(f"order {raw.get('client_order_id')!r}: {exc!r}") from None
        self._client_ids[order.broker_order_id] = order.client_order_id
        return order

    def _order_list(self, raw: object) -> list[BrokerOrder]:
        if not isinstance(raw, list):
            raise _Malformed(f"orders must be a list, got {type(raw).__name__}")
        return [self._order(item) for item in raw]

    def _fill(self, raw: Mapping[str, Any]) -> BrokerFill:
        order_id = str(raw["order_id"])
        at = _instant(raw["transaction_time"])
        if at is None:
            raise _Malformed(f"fill {raw.get('id')!r} has no transaction time")
        qty, price = _decimal(raw["qty"]), _decimal(raw["price"])
        if qty is None or price is None:
            raise _Malformed(f"fill {raw.get('id')!r} has no qty or price")
        return BrokerFill(
            execution_id=str(raw["id"]),
            client_order_id=self._client_ids.get(order_id, ""),
            broker_order_id=order_id,
            symbol=str(raw["symbol"]),
            side=_side(raw["side"]),
            qty=abs(qty),
            price=price,
            at=at,
        )


# -- module helpers ------------------------------------------------------------------------------
def _exact_float(value: Decimal, what: str) -> float:
    """alpaca-py's request models hold floats: refuse a value a float would change."""
    as_float = float(value)
    if not math.isfinite(as_float) or Decimal(repr(as_float)) != value:
        raise BrokerRejected(f"{what} {value} cannot be sent exactly", code="order")
    return as_float


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    result = Decimal(str(value))
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _instant(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _side(value: object) -> Side:
    text = str(value).lower()
    if text == "buy":
        return Side.BUY
    if text in ("sell", "sell_short"):
        return Side.SELL
    raise ValueError(f"unknown side {value!r}")


def _submitted_key(order: BrokerOrder) -> tuple[datetime, str]:
    return (order.submitted_at or datetime.min.replace(tzinfo=UTC), order.broker_order_id)


def _replace_client_id(fill: BrokerFill, client_order_id: str) -> BrokerFill:
    return BrokerFill(
        execution_id=fill.execution_id,
        client_order_id=client_order_id,
        broker_order_id=fill.broker_order_id,
        symbol=fill.symbol,
        side=fill.side,
        qty=fill.qty,
        price=fill.price,
        at=fill.at,
        commission=fill.commission,
    )


def _activity_list(raw: object) -> list[Mapping[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise _Malformed("activities must be a list of objects")
    return raw


def _positions(raw: object) -> list[BrokerPosition]:
    if not isinstance(raw, list):
        raise _Malformed("positions must be a list")
    out = []
    for item in raw:
        qty = _decimal(item["qty"]) or Decimal(0)
        if str(item.get("side", "")).lower() == "short" and qty > 0:
            qty = -qty
        out.append(
            BrokerPosition(
                symbol=str(item["symbol"]),
                qty=qty,
                avg_price=_decimal(item["avg_entry_price"]) or Decimal(0),
                market_value=_decimal(item.get("market_value")),
            )
        )
    return sorted(out, key=lambda p: p.symbol)


def _account(raw: object) -> BrokerAccount:
    if not isinstance(raw, dict):
        raise _Malformed("the account must be an object")

    def money(name: str) -> Decimal:
        value = _decimal(raw[name])
        if value is None:
            raise _Malformed(f"account field {name} is empty")
        return value

    status = str(raw.get("status") or "ACTIVE").upper()
    blocked = status != "ACTIVE" or any(
        bool(raw.get(flag))
        for flag in ("trading_blocked", "account_blocked", "trade_suspended_by_user")
    )
    return BrokerAccount(
        cash=money("cash"),
        equity=money("equity"),
        buying_power=money("buying_power"),
        pattern_day_trader=bool(raw.get("pattern_day_trader")),
        daytrade_count=int(raw.get("daytrade_count") or 0),
        blocked=blocked,
    )


def _clock(raw: object) -> MarketClock:
    if not isinstance(raw, dict):
        raise _Malformed("the clock must be an object")
    timestamp = _instant(raw["timestamp"])
    next_open = _instant(raw["next_open"])
    next_close = _instant(raw["next_close"])
    if timestamp is None or next_open is None or next_close is None:
        raise _Malformed("the clock lacks a timestamp")
    if not isinstance(raw["is_open"], bool):
        raise _Malformed("the clock's is_open is not a boolean")
    return MarketClock(
        timestamp=timestamp, is_open=raw["is_open"], next_open=next_open, next_close=next_close
    )
