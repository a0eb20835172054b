"""A fake of Alpaca's Trading API v2 on loopback, with an in-memory account and fault injection.

Paths, JSON shapes and status codes follow the real API (Alpaca's trading-api reference and the
notes in RELIABILITY.md §2.1):

    POST   /v2/orders                                  create; 422 {"code": 40010001,
                                                       "message": "client_order_id must be unique"}
                                                       when the client id was ever used before
    GET    /v2/orders?status=&after=&until=&limit=&direction=&symbols=&side=
                                                       limit default 50, max 500; `after`/`until`
                                                       are exclusive bounds on `submitted_at`
    GET    /v2/orders/{order_id}                        404 when unknown
    GET    /v2/orders:by_client_order_id?client_order_id=   404 when unknown
    DELETE /v2/orders/{order_id}                        204; 422 "order is not cancelable" once
                                                       final (and while pending_replace); 404
    DELETE /v2/orders                                   207, one entry per open order
    GET    /v2/account/activities?activity_types=FILL&after=&until=&date=&direction=&page_size=
           &page_token=  (or /v2/account/activities/FILL)   fills, page_size max 100, the token is
                                                       the id of the last activity of a page
    GET    /v2/positions, /v2/positions/{symbol}       derived from the fills (and seeded ones)
    GET    /v2/account                                  cash, equity, buying power, PDT fields
    GET    /v2/clock                                    weekdays 09:30–16:00 New York (no holidays)

Decimals are strings, timestamps RFC 3339 in UTC (`...Z`); the clock answers in New York time.
Every answer carries `X-Ratelimit-Limit`, `X-Ratelimit-Remaining` and `X-Ratelimit-Reset` (epoch
seconds). Authentication is by the `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` headers (401
otherwise).

Test control (plain Python calls, never faulted):
* orders: `fill(cid, qty=None, price=None)` (the rest of the order, or `qty` of it: a partial
  fill), `fill_in_pieces(cid, pieces, price=None)`, `expire`, `cancel_order` (broker-side
  cancel), `confirm_cancel` (pending_cancel → canceled), `reject`, `activate` (accepted /
  pending_new → new), `set_status(cid, any_string)` (done_for_day, replaced, or a string Alpaca
  never sent), `add_order(...)` (an order placed elsewhere, e.g. from Alpaca's dashboard);
  `initial_status` ("new" by default; "accepted" is what an order placed out of hours shows) and
  `auto_fill` (fill market orders at `prices[symbol]` as soon as they are created).
* account: `set_price`, `set_position`, `set_account(cash=, pattern_day_trader=,
  daytrade_count=, trading_blocked=)`, `set_time` / `advance` (the server's clock, real time
  when unset), `set_clock(is_open=, next_open=, next_close=)`; `allow_short` (False: a sell over
  the held quantity is refused with 403, as in a cash account), `enforce_pdt` (True: a sell that
  would close a position bought today is refused with 403 code 40310100 when equity < $25,000
  and `daytrade_count` >= 3), `rate_limit` (requests per rolling minute before 429; None = off).
* faults: `fail_next(fault, on=..., times=1)` scripts faults for the next matching requests;
  `chaos(rates, seed=..., on=...)` draws one fault per request with the given probabilities
  from a seeded generator (B1's per-call rates). `on` names request kinds: submit, cancel,
  cancel_all, lookup, orders, order, activities, positions, account, clock. Order and activity
  ids come from `seed` too, so a run is reproducible.
* counters: `post_counts[cid]` counts every POST /v2/orders per client order id (faulted ones
  included); `duplicate_posts()` lists ids POSTed more than once; `resent_without_lookup()`
  those POSTed again with no lookup of the order in between; `created[cid]` counts orders made
  (never more than 1). `requests` is every request in arrival order, with `kind` and `body`.

Faults (see `Fault`): a timeout before accept sleeps past the client's timeout and creates
nothing; a timeout after accept does the work and then sleeps; 504 after accept does the work and
answers 504 with an HTML body (as a load balancer would); 500 and 429 do nothing.

All prices are whatever a test sets (not market data).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo

from tests.fakes import FakeServer, Recorded, Reply

NEW_YORK = ZoneInfo("America/New_York")
PDT_EQUITY = Decimal(25_000)
NINE_PLACES = Decimal("0.000000001")
ORDER_TYPES = frozenset({"market", "limit", "stop", "stop_limit", "trailing_stop"})
TIFS = frozenset({"day", "gtc", "opg", "cls", "ioc", "fok"})
FINAL = frozenset({"filled", "canceled", "expired", "replaced", "rejected"})
KINDS = frozenset(
    {
        "submit",
        "cancel",
        "cancel_all",
        "lookup",
        "orders",
        "order",
        "activities",
        "positions",
        "account",
        "clock",
        "other",
    }
)
ORDER_ANSWERS = frozenset({"submit", "lookup", "orders", "order"})


class Fault(StrEnum):
    TIMEOUT_BEFORE_ACCEPT = "timeout_before_accept"  # sleep past the client timeout; no effect
    TIMEOUT_AFTER_ACCEPT = "timeout_after_accept"  # do the work, then sleep past the timeout
    RATE_LIMIT = "rate_limit"  # 429 with X-Ratelimit-Reset; no effect
    GATEWAY_TIMEOUT = "gateway_timeout"  # do the work, then answer 504 (HTML body)
    SERVER_ERROR = "server_error"  # 500; no effect
    PDT = "pdt"  # 403 code 40310100 (POST /v2/orders only)
    BUYING_POWER = "buying_power"  # 403 code 40310000 (POST /v2/orders only)
    UNKNOWN_STATUS = "unknown_status"  # orders in this answer show `unknown_status`


_SUBMIT_ONLY = frozenset({Fault.PDT, Fault.BUYING_POWER})


def applies(fault: Fault, kind: str) -> bool:
    if fault in _SUBMIT_ONLY:
        return kind == "submit"
    if fault is Fault.UNKNOWN_STATUS:
        return kind in ORDER_ANSWERS
    return True


@dataclass(frozen=True)
class TradingRequest(Recorded):
    kind: str = "other"
    body: Any = None
    at: float = 0.0  # time.monotonic() on arrival


@dataclass
class FakeOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    status: str
    created_at: datetime
    extended_hours: bool = False
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    filled_notional: Decimal = Decimal(0)
    updated_at: datetime | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    failed_at: datetime | None = None
    day_trade_counted: bool = False

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    def to_json(self, status: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": _ts(self.created_at),
            "updated_at": _ts(self.updated_at or self.created_at),
            "submitted_at": _ts(self.created_at),
            "filled_at": _ts(self.filled_at),
            "expired_at": _ts(self.expired_at),
            "canceled_at": _ts(self.canceled_at),
            "failed_at": _ts(self.failed_at),
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": _asset_id(self.symbol),
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": _num(self.notional),
            "qty": _num(self.qty),
            "filled_qty": _num(self.filled_qty),
            "filled_avg_price": _num(self.filled_avg_price),
            "order_class": "",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": "buy_to_open" if self.side == "buy" else "sell_to_close",
            "time_in_force": self.time_in_force,
            "limit_price": _num(self.limit_price),
            "stop_price": _num(self.stop_price),
            "status": status or self.status,
            "extended_hours": self.extended_hours,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "subtag": None,
            "source": None,
            "expires_at": None,
        }


@dataclass
class _Position:
    qty: Decimal
    avg_price: Decimal


@dataclass
class _Account:
    cash: Decimal = Decimal(100_000)
    pattern_day_trader: bool = False
    daytrade_count: int = 0
    trading_blocked: bool = False
    account_blocked: bool = False
    multiplier: Decimal = Decimal(1)
    equity_override: Decimal | None = None


@dataclass
class _ScriptedFault:
    fault: Fault
    on: frozenset[str] | None
    remaining: int


@dataclass
class _Clock:
    is_open: bool | None = None
    next_open: datetime | None = None
    next_close: datetime | None = None


class FakeAlpacaTrading(FakeServer):
    """`with FakeAlpacaTrading() as server:` then point `TradingClient(url_override=server.url)`."""

    def __init__(
        self,
        api_key: str = "test-key-id",
        secret_key: str = "test-secret-key",
        *,
        seed: int = 0,
        fault_delay: float = 1.0,
        rate_limit_reset_after: int = 2,
        unknown_status: str = "mystery_status",
    ) -> None:
        super().__init__()
        self.requests: list[Recorded] = []
        self.api_key = api_key
        self.secret_key = secret_key
        self.fault_delay = fault_delay  # seconds slept by the timeout faults
        self.rate_limit_reset_after = rate_limit_reset_after
        self.unknown_status = unknown_status
        self.initial_status = "new"
        self.auto_fill = False
        self.allow_short = False
        self.enforce_pdt = True
        self.rate_limit: int | None = None
        self.assets: set[str] = set()  # when not empty, other symbols get 422 "asset not found"
        self.prices: dict[str, Decimal] = {}
        self.orders: dict[str, FakeOrder] = {}  # by order id, in creation order
        self.by_client_id: dict[str, FakeOrder] = {}
        self.activities: list[dict[str, Any]] = []
        self.positions: dict[str, _Position] = {}
        self.account = _Account()
        self.clock = _Clock()
        self.post_counts: Counter[str] = Counter()
        self.created: Counter[str] = Counter()
        self.fault_log: list[tuple[str, Fault]] = []  # (request kind, fault) as served
        self._state = threading.RLock()
        self._rng = random.Random(seed)
        self._faults: list[_ScriptedFault] = []
        self._chaos: list[tuple[Fault, float]] = []
        self._chaos_on: frozenset[str] | None = None
        self._chaos_rng = random.Random(seed)
        self._fixed_now: datetime | None = None
        self._window: deque[float] = deque()
        self._account_id = self._uuid()

    # -- time ------------------------------------------------------------------------------------
    def now(self) -> datetime:
        with self._state:
            return self._fixed_now if self._fixed_now is not None else datetime.now(UTC)

    def set_time(self, at: datetime) -> None:
        """Freeze the server's clock at `at` (timestamps of new orders and fills)."""
        with self._state:
            self._fixed_now = at.astimezone(UTC)

    def advance(self, seconds: float) -> datetime:
        with self._state:
            self._fixed_now = self.now() + timedelta(seconds=seconds)
            return self._fixed_now

    def set_clock(
        self,
        *,
        is_open: bool | None = None,
        next_open: datetime | None = None,
        next_close: datetime | None = None,
    ) -> None:
        with self._state:
            self.clock = _Clock(is_open, next_open, next_close)

    # -- account ---------------------------------------------------------------------------------
    def set_price(self, symbol: str, price: Decimal | str | float) -> None:
        with self._state:
            self.prices[symbol] = Decimal(str(price))

    def set_position(self, symbol: str, qty: Decimal | str | int, avg_price: Decimal | str) -> None:
        with self._state:
            self.positions[symbol] = _Position(Decimal(str(qty)), Decimal(str(avg_price)))
            self.prices.setdefault(symbol, Decimal(str(avg_price)))

    def set_account(
        self,
        *,
        cash: Decimal | str | None = None,
        equity: Decimal | str | None = None,
        pattern_day_trader: bool | None = None,
        daytrade_count: int | None = None,
        trading_blocked: bool | None = None,
    ) -> None:
        with self._state:
            if cash is not None:
                self.account.cash = Decimal(str(cash))
            if equity is not None:
                self.account.equity_override = Decimal(str(equity))
            if pattern_day_trader is not None:
                self.account.pattern_day_trader = pattern_day_trader
            if daytrade_count is not None:
                self.account.daytrade_count = daytrade_count
            if trading_blocked is not None:
                self.account.trading_blocked = trading_blocked

    # -- orders ----------------------------------------------------------------------------------
    def order(self, client_order_id: str) -> FakeOrder | None:
        with self._state:
            return self.by_client_id.get(client_order_id)

    def _get(self, client_order_id: str) -> FakeOrder:
        found = self.by_client_id.get(client_order_id)
        if found is None:
            raise KeyError(f"no order with client id {client_order_id!r}")
        return found

    def add_order(
        self,
        client_order_id: str,
        symbol: str = "AAPL",
        side: str = "buy",
        qty: Decimal | str | None = "1",
        *,
        notional: Decimal | str | None = None,
        type: str = "market",
        time_in_force: str = "day",
        limit_price: Decimal | str | None = None,
        stop_price: Decimal | str | None = None,
        status: str | None = None,
        at: datetime | None = None,
    ) -> FakeOrder:
        """An order that did not come through this API (a human on Alpaca's dashboard, or a
        test's bulk set-up); it takes up its client id like any other."""
        with self._state:
            if client_order_id in self.by_client_id:
                raise ValueError(f"client order id {client_order_id!r} is taken")
            return self._create(
                client_order_id=client_order_id,
                symbol=symbol,
                side=side,
                type=type,
                time_in_force=time_in_force,
                qty=_dec(qty),
                notional=_dec(notional),
                limit_price=_dec(limit_price),
                stop_price=_dec(stop_price),
                extended_hours=False,
                status=status or self.initial_status,
                at=at,
            )

    def fill(
        self,
        client_order_id: str,
        qty: Decimal | str | None = None,
        price: Decimal | str | None = None,
    ) -> dict[str, Any]:
        """Execute `qty` (default: all that is left) at `price` (default: the limit price, else
        `prices[symbol]`); returns the FILL activity."""
        with self._state:
            return self._fill(self._get(client_order_id), _dec(qty), _dec(price))

    def fill_in_pieces(
        self, client_order_id: str, pieces: int, price: Decimal | str | None = None
    ) -> list[dict[str, Any]]:
        """Fill the rest of a qty order in `pieces` executions (the last takes the remainder)."""
        with self._state:
            order = self._get(client_order_id)
            if order.qty is None:
                raise ValueError("fill_in_pieces needs a qty order")
            left = order.qty - order.filled_qty
            step = (left / pieces).quantize(NINE_PLACES, rounding=ROUND_DOWN)
            out = []
            for i in range(pieces):
                q = step if i < pieces - 1 else order.qty - order.filled_qty
                if q > 0:
                    out.append(self._fill(order, q, _dec(price)))
            return out

    def expire(self, client_order_id: str) -> None:
        with self._state:
            order = self._get(client_order_id)
            self._end(order, "expired")
            order.expired_at = order.updated_at

    def cancel_order(self, client_order_id: str) -> None:
        """Alpaca cancels the order itself (e.g. a day order at the close, an admin action)."""
        with self._state:
            order = self._get(client_order_id)
            self._end(order, "canceled")
            order.canceled_at = order.updated_at

    def confirm_cancel(self, client_order_id: str) -> None:
        with self._state:
            order = self._get(client_order_id)
            if order.status != "pending_cancel":
                raise ValueError(f"{client_order_id} is {order.status}, not pending_cancel")
            self._end(order, "canceled")
            order.canceled_at = order.updated_at

    def reject(self, client_order_id: str) -> None:
        with self._state:
            order = self._get(client_order_id)
            self._end(order, "rejected")
            order.failed_at = order.updated_at

    def activate(self, client_order_id: str) -> None:
        """accepted / pending_new → new (the order reached the market)."""
        self.set_status(client_order_id, "new")

    def set_status(self, client_order_id: str, status: str) -> None:
        """Any status string, even one Alpaca never sent; no other field changes."""
        with self._state:
            order = self._get(client_order_id)
            order.status = status
            order.updated_at = self.now()

    # -- faults ----------------------------------------------------------------------------------
    def fail_next(
        self, fault: Fault, on: str | Iterable[str] | None = None, times: int = 1
    ) -> None:
        """Serve `fault` to the next `times` requests of the kinds in `on` (None: any kind the
        fault applies to)."""
        kinds = _kinds(on)
        with self._state:
            self._faults.append(_ScriptedFault(fault, kinds, times))

    def chaos(
        self,
        rates: Mapping[Fault, float],
        *,
        seed: int,
        on: str | Iterable[str] | None = None,
    ) -> None:
        """Per request (of the kinds in `on`), one draw from a generator seeded with `seed`
        picks at most one fault: fault i with probability rates[i]. A fault drawn for a request
        it does not apply to (PDT on a GET) is not served."""
        total = sum(rates.values())
        if total > 1 or any(p < 0 for p in rates.values()):
            raise ValueError("fault rates must be >= 0 and sum to at most 1")
        with self._state:
            self._chaos = [(f, rates[f]) for f in Fault if rates.get(f)]
            self._chaos_on = _kinds(on)
            self._chaos_rng = random.Random(seed)

    def clear_faults(self) -> None:
        with self._state:
            self._faults.clear()
            self._chaos = []

    # -- counters --------------------------------------------------------------------------------
    def client_orders(self) -> list[FakeOrder]:
        """Every order the account holds, in creation order."""
        with self._state:
            return list(self.orders.values())

    def position_quantities(self) -> dict[str, Decimal]:
        with self._state:
            return {symbol: pos.qty for symbol, pos in self.positions.items()}

    def posts(self, client_order_id: str) -> int:
        with self._state:
            return self.post_counts[client_order_id]

    def duplicate_posts(self) -> dict[str, int]:
        with self._state:
            return {cid: n for cid, n in self.post_counts.items() if n > 1}

    def resent_without_lookup(self) -> list[str]:
        """Client ids POSTed again without any GET of that order (by client id, in an orders
        listing, or by its order id) between the two POSTs."""
        with self._state:
            requests = list(self.requests)
            ids = {o.client_order_id: o.id for o in self.orders.values()}
        posted: set[str] = set()
        looked: set[str] = set()
        bad: list[str] = []
        for r in requests:
            if not isinstance(r, TradingRequest):
                continue
            if r.kind == "submit" and isinstance(r.body, dict):
                cid = str(r.body.get("client_order_id", ""))
                if cid in posted and cid not in looked and cid not in bad:
                    bad.append(cid)
                posted.add(cid)
                looked.discard(cid)
            elif r.kind == "lookup":
                looked.add(r.query.get("client_order_id", ""))
            elif r.kind == "orders":
                looked.update(posted)
            elif r.kind == "order":
                order_id = r.path.rsplit("/", 1)[-1]
                looked.update(c for c, i in ids.items() if i == order_id)
        return bad

    def requests_of(self, kind: str) -> list[TradingRequest]:
        with self._state:
            return [r for r in self.requests if isinstance(r, TradingRequest) and r.kind == kind]

    # -- the HTTP side ---------------------------------------------------------------------------
    def start(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body: Any = None
                bad_json = False
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        bad_json = True
                path = unquote(parts.path)
                request = TradingRequest(
                    method=method,
                    path=path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers={k: v for k, v in self.headers.items()},
                    kind=_kind(method, path),
                    body=body,
                    at=time.monotonic(),
                )
                reply = server._handle(request, bad_json)
                if reply.delay:
                    time.sleep(reply.delay)
                payload, content_type = reply.payload()
                try:
                    self.send_response(reply.status)
                    if reply.status != 204:
                        self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def log_message(self, format: str, *args: object) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def answer(self, request: Recorded) -> Reply:
        """Answer a request made without HTTP (the handler in `start` calls `_handle`)."""
        kind = _kind(request.method, request.path)
        return self._handle(
            TradingRequest(request.method, request.path, request.query, request.headers, kind),
            False,
        )

    def _handle(self, request: TradingRequest, bad_json: bool) -> Reply:
        with self._state:
            self.requests.append(request)
            if request.kind == "submit" and isinstance(request.body, dict):
                self.post_counts[str(request.body.get("client_order_id", ""))] += 1
            with self._lock:
                scripted = self._script.popleft() if self._script else None
            if scripted is not None:
                return scripted
            headers, limited = self._rate_headers()
            if not self._authorized(request):
                return Reply(
                    401, {"code": 40110000, "message": "request is not authorized"}, headers
                )
            if limited:
                return self._fault_reply(Fault.RATE_LIMIT, headers)
            fault = self._pick_fault(request.kind)
            if fault is not None:
                self.fault_log.append((request.kind, fault))
            if fault in (
                Fault.TIMEOUT_BEFORE_ACCEPT,
                Fault.RATE_LIMIT,
                Fault.SERVER_ERROR,
                Fault.PDT,
                Fault.BUYING_POWER,
            ):
                assert fault is not None
                return self._fault_reply(fault, headers)
            if bad_json:
                reply = Reply(400, {"code": 40010000, "message": "request body format is invalid"})
            else:
                reply = self._route(request, fault is Fault.UNKNOWN_STATUS)
            reply = Reply(reply.status, reply.body, {**headers, **reply.headers}, reply.delay)
            if fault is Fault.TIMEOUT_AFTER_ACCEPT:
                return Reply(reply.status, reply.body, reply.headers, self.fault_delay)
            if fault is Fault.GATEWAY_TIMEOUT:
                return self._fault_reply(fault, headers)
            return reply

    def _authorized(self, request: Recorded) -> bool:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return (
            headers.get("apca-api-key-id") == self.api_key
            and headers.get("apca-api-secret-key") == self.secret_key
        )

    def _rate_headers(self) -> tuple[dict[str, str], bool]:
        now = time.monotonic()
        wall = time.time()
        while self._window and self._window[0] <= now - 60:
            self._window.popleft()
        limit = self.rate_limit or 200
        limited = self.rate_limit is not None and len(self._window) >= self.rate_limit
        if not limited:
            self._window.append(now)
        oldest = self._window[0] if self._window else now
        reset = int(wall + (oldest + 60 - now)) + 1
        remaining = max(0, limit - len(self._window))
        headers = {
            "X-Ratelimit-Limit": str(limit),
            "X-Ratelimit-Remaining": str(remaining),
            "X-Ratelimit-Reset": str(reset),
        }
        return headers, limited

    def _pick_fault(self, kind: str) -> Fault | None:
        for scripted in self._faults:
            if (scripted.on is None or kind in scripted.on) and applies(scripted.fault, kind):
                scripted.remaining -= 1
                if scripted.remaining <= 0:
                    self._faults.remove(scripted)
                return scripted.fault
        if self._chaos and (self._chaos_on is None or kind in self._chaos_on):
            u = self._chaos_rng.random()
            acc = 0.0
            for fault, p in self._chaos:
                acc += p
                if u < acc:
                    return fault if applies(fault, kind) else None
        return None

    def _fault_reply(self, fault: Fault, headers: Mapping[str, str]) -> Reply:
        if fault is Fault.TIMEOUT_BEFORE_ACCEPT:
            return Reply(504, "<html>504 Gateway Time-out</html>", headers, self.fault_delay)
        if fault is Fault.RATE_LIMIT:
            reset = int(time.time()) + self.rate_limit_reset_after
            limited = {**headers, "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(reset)}
            return Reply(429, {"code": 42910000, "message": "rate limit exceeded"}, limited)
        if fault is Fault.SERVER_ERROR:
            return Reply(500, {"code": 50010000, "message": "internal server error occurred"})
        if fault is Fault.GATEWAY_TIMEOUT:
            return Reply(504, "<html><body><h1>504 Gateway Time-out</h1></body></html>", headers)
        if fault is Fault.PDT:
            return Reply(
                403,
                {
                    "code": 40310100,
                    "message": "trade denied due to pattern day trading protection",
                },
                headers,
            )
        if fault is Fault.BUYING_POWER:
            return Reply(403, {"code": 40310000, "message": "insufficient buying power"}, headers)
        raise ValueError(f"{fault} has no reply of its own")

    # -- routes ----------------------------------------------------------------------------------
    def _route(self, request: TradingRequest, unknown_status: bool) -> Reply:
        kind = request.kind
        status = self.unknown_status if unknown_status else None
        if kind == "submit":
            return self._submit(request.body, status)
        if kind == "lookup":
            found = self.by_client_id.get(request.query.get("client_order_id", ""))
            if found is None:
                return _not_found("order not found")
            return Reply(200, found.to_json(status))
        if kind == "orders":
            return self._list_orders(request.query, status)
        if kind == "order":
            order = self.orders.get(request.path.rsplit("/", 1)[-1])
            if order is None:
                return _not_found("order not found")
            return Reply(200, order.to_json(status))
        if kind == "cancel":
            return self._cancel(request.path.rsplit("/", 1)[-1])
        if kind == "cancel_all":
            out = []
            for order in self.orders.values():
                if not order.is_final:
                    self._cancel(order.id)
                    out.append({"id": order.id, "status": 200, "body": order.to_json()})
            return Reply(207, out)
        if kind == "activities":
            return self._list_activities(request.path, request.query)
        if kind == "positions":
            symbol = request.path.removeprefix("/v2/positions").strip("/")
            if symbol:
                held = self.positions.get(symbol)
                if held is None or held.qty == 0:
                    return _not_found("position does not exist")
                return Reply(200, self._position_json(symbol, held))
            return Reply(
                200,
                [self._position_json(s, p) for s, p in sorted(self.positions.items()) if p.qty],
            )
        if kind == "account":
            return Reply(200, self._account_json())
        if kind == "clock":
            return Reply(200, self._clock_json())
        return _not_found("endpoint not found")

    def _submit(self, body: Any, status_override: str | None) -> Reply:
        if not isinstance(body, dict):
            return Reply(400, {"code": 40010000, "message": "request body format is invalid"})
        symbol = str(body.get("symbol") or "")
        side = str(body.get("side") or "")
        order_type = str(body.get("type") or "")
        tif = str(body.get("time_in_force") or "")
        if not symbol:
            return _unprocessable("symbol is required")
        if side not in ("buy", "sell"):
            return _unprocessable("invalid side")
        if order_type not in ORDER_TYPES:
            return _unprocessable("invalid order type")
        if tif not in TIFS:
            return _unprocessable("invalid time_in_force")
        try:
            qty = _dec(body.get("qty"))
            notional = _dec(body.get("notional"))
            limit_price = _dec(body.get("limit_price"))
            stop_price = _dec(body.get("stop_price"))
        except (InvalidOperation, ValueError):
            return _unprocessable("invalid number")
        if qty is not None and notional is not None:
            return Reply(
                400, {"code": 40010000, "message": "qty and notional are mutually exclusive"}
            )
        if qty is None and notional is None:
            return _unprocessable("qty or notional is required")
        amount = qty if qty is not None else notional
        assert amount is not None
        if amount <= 0:
            return _unprocessable("qty must be > 0" if qty is not None else "notional must be > 0")
        if qty is not None and qty != qty.quantize(NINE_PLACES):
            return _unprocessable("qty must be limited to 9 decimal places")
        if notional is not None and notional != notional.quantize(Decimal("0.01")):
            return _unprocessable("notional must be limited to 2 decimal places")
        fractional = notional is not None or (qty is not None and qty != qty.to_integral_value())
        if fractional and order_type != "market":
            return _unprocessable("fractional orders must be market orders")
        if fractional and tif != "day":
            return _unprocessable("fractional orders must be DAY orders")
        if order_type in ("limit", "stop_limit") and limit_price is None:
            return _unprocessable("limit_price is required")
        if order_type in ("stop", "stop_limit") and stop_price is None:
            return _unprocessable("stop_price is required")
        for price in (limit_price, stop_price):  # Alpaca's tick: $0.01 from $1, else $0.0001
            tick = Decimal("0.01") if price is not None and price >= 1 else Decimal("0.0001")
            if price is not None and price != price.quantize(tick):
                return _unprocessable(
                    f"invalid limit_price {price}. sub-penny increment does not fulfill "
                    "minimum pricing criteria"
                )
        if notional is not None and notional < 1:
            return Reply(403, {"code": 40310000, "message": "cost basis must be >= 1"})
        cid = str(body.get("client_order_id") or self._uuid())
        if len(cid) > 128:
            return _unprocessable("client_order_id must be no more than 128 characters")
        if cid in self.by_client_id:
            return Reply(422, {"code": 40010001, "message": "client_order_id must be unique"})
        if self.assets and symbol not in self.assets:
            return _unprocessable(f'asset "{symbol}" not found')
        if self.account.trading_blocked or self.account.account_blocked:
            return Reply(403, {"code": 40310000, "message": "account is not authorized to trade"})
        if side == "sell" and self._would_day_trade(symbol) and self._pdt_protected():
            return self._fault_reply(Fault.PDT, {})
        refusal = self._check_funds(symbol, side, qty, notional, limit_price)
        if refusal is not None:
            return refusal
        order = self._create(
            client_order_id=cid,
            symbol=symbol,
            side=side,
            type=order_type,
            time_in_force=tif,
            qty=qty,
            notional=notional,
            limit_price=limit_price,
            stop_price=stop_price,
            extended_hours=bool(body.get("extended_hours")),
            status=self.initial_status,
            at=None,
        )
        answer = order.to_json(status_override)
        if self.auto_fill and order_type == "market" and symbol in self.prices:
            self._fill(order, None, None)
        return Reply(200, answer)

    def _check_funds(
        self,
        symbol: str,
        side: str,
        qty: Decimal | None,
        notional: Decimal | None,
        limit_price: Decimal | None,
    ) -> Reply | None:
        price = limit_price or self.prices.get(symbol)
        if side == "buy":
            cost = notional if notional is not None else (qty or 0) * (price or 0)
            if cost > self._buying_power():
                return self._fault_reply(Fault.BUYING_POWER, {})
            return None
        if self.allow_short:
            return None
        held = self.positions.get(symbol, _Position(Decimal(0), Decimal(0))).qty
        pending = sum(
            (
                (o.qty or Decimal(0)) - o.filled_qty
                for o in self.orders.values()
                if o.symbol == symbol and o.side == "sell" and not o.is_final
            ),
            Decimal(0),
        )
        available = held - pending
        if qty is not None:
            wanted = qty
        elif notional is not None and price:
            wanted = notional / price
        else:
            wanted = Decimal(0)
        if wanted > available:
            return Reply(
                403,
                {
                    "code": 40310000,
                    "message": f"insufficient qty available for order "
                    f"(requested: {_num(wanted)}, available: {_num(max(available, Decimal(0)))})",
                    "symbol": symbol,
                },
            )
        return None

    def _cancel(self, order_id: str) -> Reply:
        order = self.orders.get(order_id)
        if order is None:
            return _not_found("order not found")
        if order.is_final or order.status == "pending_replace":
            return Reply(422, {"code": 42210000, "message": "order is not cancelable"})
        if order.status != "pending_cancel":
            self._end(order, "canceled")
            order.canceled_at = order.updated_at
        return Reply(204, None)

    def _list_orders(self, query: Mapping[str, str], status_override: str | None) -> Reply:
        wanted = query.get("status") or "open"
        if wanted not in ("open", "closed", "all"):
            return _unprocessable("invalid status")
        try:
            limit = int(query.get("limit") or 50)
            after = _parse_instant(query.get("after"))
            until = _parse_instant(query.get("until"))
        except ValueError:
            return _unprocessable("invalid query parameter")
        if not 1 <= limit <= 500:
            return _unprocessable("limit must be between 1 and 500")
        symbols = set(filter(None, (query.get("symbols") or "").split(",")))
        side = query.get("side")
        chosen = [
            o
            for o in self.orders.values()
            if (wanted == "all" or (wanted == "open") != o.is_final)
            and (after is None or o.created_at > after)
            and (until is None or o.created_at < until)
            and (not symbols or o.symbol in symbols)
            and (not side or o.side == side)
        ]
        chosen.sort(key=lambda o: (o.created_at, o.id), reverse=query.get("direction") != "asc")
        return Reply(200, [o.to_json(status_override) for o in chosen[:limit]])

    def _list_activities(self, path: str, query: Mapping[str, str]) -> Reply:
        types = path.removeprefix("/v2/account/activities").strip("/") or query.get(
            "activity_types", ""
        )
        if types and "FILL" not in types.split(","):
            return Reply(200, [])
        try:
            after = _parse_instant(query.get("after"))
            until = _parse_instant(query.get("until"))
            on_day = date.fromisoformat(query["date"]) if query.get("date") else None
            page_size = int(query.get("page_size") or 100)
        except ValueError:
            return _unprocessable("invalid query parameter")
        if not 1 <= page_size <= 100:
            return _unprocessable("page_size must be between 1 and 100")
        items = sorted(self.activities, key=lambda a: str(a["id"]))
        if query.get("direction", "desc") != "asc":
            items.reverse()
        token = query.get("page_token")
        if token:
            ids = [str(a["id"]) for a in items]
            items = items[ids.index(token) + 1 :] if token in ids else []

        def keep(a: Mapping[str, Any]) -> bool:
            at = _parse_instant(str(a["transaction_time"]))
            assert at is not None
            return (
                (after is None or at > after)
                and (until is None or at < until)
                and (on_day is None or at.astimezone(NEW_YORK).date() == on_day)
            )

        return Reply(200, [a for a in items if keep(a)][:page_size])

    # -- state changes ---------------------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _create(
        self,
        *,
        client_order_id: str,
        symbol: str,
        side: str,
        type: str,
        time_in_force: str,
        qty: Decimal | None,
        notional: Decimal | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        extended_hours: bool,
        status: str,
        at: datetime | None,
    ) -> FakeOrder:
        created = (at or self.now()).astimezone(UTC)
        order = FakeOrder(
            id=self._uuid(),
            client_order_id=client_order_id,
            symbol=symbol,
            side=side,
            type=type,
            time_in_force=time_in_force,
            qty=qty,
            notional=notional,
            limit_price=limit_price,
            stop_price=stop_price,
            status=status,
            created_at=created,
            updated_at=created,
            extended_hours=extended_hours,
        )
        self.orders[order.id] = order
        self.by_client_id[client_order_id] = order
        self.created[client_order_id] += 1
        return order

    def _end(self, order: FakeOrder, status: str) -> None:
        if order.is_final:
            raise ValueError(f"order {order.client_order_id} is already {order.status}")
        order.status = status
        order.updated_at = self.now()

    def _fill(self, order: FakeOrder, qty: Decimal | None, price: Decimal | None) -> dict[str, Any]:
        if order.is_final:
            raise ValueError(f"order {order.client_order_id} is {order.status}: cannot fill")
        px = price or order.limit_price or self.prices.get(order.symbol)
        if px is None:
            raise ValueError(f"no price for {order.symbol}: set_price() or pass price=")
        rest = qty is None
        if qty is None:
            if order.qty is not None:
                qty = order.qty - order.filled_qty
            else:
                assert order.notional is not None
                qty = ((order.notional - order.filled_notional) / px).quantize(
                    NINE_PLACES, rounding=ROUND_DOWN
                )
        if qty <= 0:
            raise ValueError("nothing left to fill")
        if order.qty is not None and order.filled_qty + qty > order.qty:
            raise ValueError(f"fill of {qty} exceeds the {order.qty - order.filled_qty} left")
        now = self.now()
        total = order.filled_qty + qty
        order.filled_avg_price = (
            (order.filled_avg_price or Decimal(0)) * order.filled_qty + px * qty
        ) / total
        order.filled_qty = total
        order.filled_notional += qty * px
        if order.qty is not None:
            done = total >= order.qty
        else:
            assert order.notional is not None
            done = rest or order.notional - order.filled_notional < Decimal("0.01")
        order.status = "filled" if done else "partially_filled"
        order.updated_at = now
        if done:
            order.filled_at = now
        if (
            order.side == "sell"
            and not order.day_trade_counted
            and self._would_day_trade(order.symbol)
        ):
            order.day_trade_counted = True
            self.account.daytrade_count += 1
        self._book(order.symbol, order.side, qty, px)
        stamp = now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
        activity = {
            "id": f"{stamp}::{self._uuid()}",
            "activity_type": "FILL",
            "transaction_time": _ts(now),
            "type": "fill" if done else "partial_fill",
            "price": _num(px),
            "qty": _num(qty),
            "side": order.side,
            "symbol": order.symbol,
            "leaves_qty": _num((order.qty - total) if order.qty is not None else Decimal(0)),
            "order_id": order.id,
            "cum_qty": _num(total),
            "order_status": order.status,
        }
        self.activities.append(activity)
        self.prices.setdefault(order.symbol, px)
        return activity

    def _book(self, symbol: str, side: str, qty: Decimal, price: Decimal) -> None:
        held = self.positions.get(symbol, _Position(Decimal(0), Decimal(0)))
        signed = qty if side == "buy" else -qty
        new_qty = held.qty + signed
        if held.qty == 0 or (held.qty > 0) == (signed > 0):
            avg = (held.avg_price * abs(held.qty) + price * qty) / abs(new_qty)
        elif new_qty == 0 or (new_qty > 0) == (held.qty > 0):
            avg = held.avg_price
        else:
            avg = price  # flipped through zero
        self.positions[symbol] = _Position(new_qty, avg)
        self.account.cash += -qty * price if side == "buy" else qty * price

    # -- derived views ---------------------------------------------------------------------------
    def _today(self) -> date:
        return self.now().astimezone(NEW_YORK).date()

    def _would_day_trade(self, symbol: str) -> bool:
        """Was `symbol` bought today (New York date), so that a sell closes a day trade?"""
        today = self._today()
        for a in self.activities:
            if a["symbol"] == symbol and a["side"] == "buy":
                at = _parse_instant(str(a["transaction_time"]))
                if at is not None and at.astimezone(NEW_YORK).date() == today:
                    return True
        return False

    def _pdt_protected(self) -> bool:
        return self.enforce_pdt and self._equity() < PDT_EQUITY and self.account.daytrade_count >= 3

    def _market_value(self, symbol: str, held: _Position) -> Decimal:
        return held.qty * self.prices.get(symbol, held.avg_price)

    def _equity(self) -> Decimal:
        if self.account.equity_override is not None:
            return self.account.equity_override
        return self.account.cash + sum(
            (self._market_value(s, p) for s, p in self.positions.items()), Decimal(0)
        )

    def _buying_power(self) -> Decimal:
        reserved = Decimal(0)
        for o in self.orders.values():
            if o.side == "buy" and not o.is_final:
                if o.notional is not None:
                    reserved += o.notional - o.filled_notional
                else:
                    px = o.limit_price or self.prices.get(o.symbol) or Decimal(0)
                    reserved += ((o.qty or Decimal(0)) - o.filled_qty) * px
        return max(Decimal(0), self.account.cash * self.account.multiplier - reserved)

    def _position_json(self, symbol: str, held: _Position) -> dict[str, Any]:
        price = self.prices.get(symbol, held.avg_price)
        value = held.qty * price
        cost = held.qty * held.avg_price
        return {
            "asset_id": _asset_id(symbol),
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "avg_entry_price": _num(held.avg_price),
            "qty": _num(held.qty),
            "qty_available": _num(held.qty),
            "side": "long" if held.qty > 0 else "short",
            "market_value": _num(value),
            "cost_basis": _num(cost),
            "unrealized_pl": _num(value - cost),
            "unrealized_plpc": _num((value - cost) / cost) if cost else "0",
            "unrealized_intraday_pl": "0",
            "unrealized_intraday_plpc": "0",
            "current_price": _num(price),
            "lastday_price": _num(price),
            "change_today": "0",
        }

    def _account_json(self) -> dict[str, Any]:
        a = self.account
        long_value = sum(
            (self._market_value(s, p) for s, p in self.positions.items() if p.qty > 0), Decimal(0)
        )
        short_value = sum(
            (self._market_value(s, p) for s, p in self.positions.items() if p.qty < 0), Decimal(0)
        )
        equity = self._equity()
        bp = self._buying_power()
        return {
            "id": self._account_id,
            "account_number": "PA3FAKE00001",
            "status": "ACTIVE",
            "crypto_status": "INACTIVE",
            "currency": "USD",
            "buying_power": _num(bp),
            "regt_buying_power": _num(bp),
            "daytrading_buying_power": "0",
            "non_marginable_buying_power": _num(bp),
            "options_buying_power": _num(bp),
            "cash": _num(a.cash),
            "accrued_fees": "0",
            "pending_transfer_in": "0",
            "portfolio_value": _num(equity),
            "pattern_day_trader": a.pattern_day_trader,
            "trading_blocked": a.trading_blocked,
            "transfers_blocked": False,
            "account_blocked": a.account_blocked,
            "created_at": "2024-01-02T14:30:00.000000Z",
            "trade_suspended_by_user": False,
            "multiplier": _num(a.multiplier),
            "shorting_enabled": self.allow_short,
            "equity": _num(equity),
            "last_equity": _num(equity),
            "long_market_value": _num(long_value),
            "short_market_value": _num(short_value),
            "position_market_value": _num(long_value + short_value),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "last_maintenance_margin": "0",
            "sma": "0",
            "daytrade_count": a.daytrade_count,
            "balance_asof": self._today().isoformat(),
            "options_approved_level": 0,
            "options_trading_level": 0,
        }

    def _clock_json(self) -> dict[str, Any]:
        now = self.now().astimezone(NEW_YORK)
        is_open, next_open, next_close = _session_clock(now)
        c = self.clock
        return {
            "timestamp": now.isoformat(),
            "is_open": c.is_open if c.is_open is not None else is_open,
            "next_open": (c.next_open or next_open).astimezone(NEW_YORK).isoformat(),
            "next_close": (c.next_close or next_close).astimezone(NEW_YORK).isoformat(),
        }


# -- helpers -------------------------------------------------------------------------------------
def _asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-alpaca-asset:{symbol}"))


def _kind(method: str, path: str) -> str:
    if path == "/v2/orders":
        return {"POST": "submit", "GET": "orders", "DELETE": "cancel_all"}.get(method, "other")
    if path == "/v2/orders:by_client_order_id" and method == "GET":
        return "lookup"
    if path.startswith("/v2/orders/"):
        return {"GET": "order", "DELETE": "cancel"}.get(method, "other")
    if path.startswith("/v2/account/activities") and method == "GET":
        return "activities"
    if (path == "/v2/positions" or path.startswith("/v2/positions/")) and method == "GET":
        return "positions"
    if path == "/v2/account" and method == "GET":
        return "account"
    if path == "/v2/clock" and method == "GET":
        return "clock"
    return "other"


def _kinds(on: str | Iterable[str] | None) -> frozenset[str] | None:
    if on is None:
        return None
    kinds = frozenset({on} if isinstance(on, str) else on)
    unknown = kinds - KINDS
    if unknown:
        raise ValueError(f"unknown request kinds {sorted(unknown)}; known: {sorted(KINDS)}")
    return kinds


def _session_clock(now: datetime) -> tuple[bool, datetime, datetime]:
    """Weekdays 09:30–16:00 New York; holidays are not modelled."""

    def at(day: date, hm: dtime) -> datetime:
        return datetime.combine(day, hm, tzinfo=NEW_YORK)

    def next_weekday(day: date) -> date:
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day

    open_t, close_t = dtime(9, 30), dtime(16, 0)
    today = now.date()
    weekday = today.weekday() < 5
    is_open = weekday and at(today, open_t) <= now < at(today, close_t)
    if weekday and now < at(today, open_t):
        next_open = at(today, open_t)
    else:
        next_open = at(next_weekday(today), open_t)
    if weekday and now < at(today, close_t):
        next_close = at(today, close_t)
    else:
        next_close = at(next_weekday(today), close_t)
    return is_open, next_open, next_close


def _dec(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    result = Decimal(str(value))
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def _num(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_instant(text: str | None) -> datetime | None:
    if not text:
        return None
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), dtime(0), tzinfo=NEW_YORK)
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _not_found(message: str) -> Reply:
    return Reply(404, {"code": 40410000, "message": message})


def _unprocessable(message: str) -> Reply:
    return Reply(422, {"code": 40010000, "message": message})


__all__ = [
    "FakeAlpacaTrading",
    "FakeOrder",
    "Fault",
    "TradingRequest",
    "applies",
]
