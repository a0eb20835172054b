"""Interactive Brokers (TWS / IB Gateway) behind `LiveBroker`, over an `ib_async.IB` object.

The `IB` object is passed in (tests pass an in-process stand-in); `ibkr_broker(config)` builds the
real one. Everything here is blocking: ib_async's blocking calls run its event loop, and
`ib.sleep` lets TWS's messages in while the adapter waits for an acknowledgement.

What IB does not give us, and what this adapter does about it (RELIABILITY.md §2.2):
- **No client-id dedupe.** Our client order id goes into `orderRef`. Before anything is placed, the
  order is looked for by `orderRef` in the session's trades and, when it is not there, in a fresh
  `reqAllOpenOrders` + `reqCompletedOrders`; an order found is returned instead of sent again.
  A lookup that cannot be made refuses the submission (`BrokerUnavailable`): nothing is sent blind.
- **Order ids per clientId.** ib_async numbers orders (`placeOrder` takes `client.getReqId()`);
  a lock file per clientId (`flock`) keeps a second process off the same sequence. A duplicate id
  (103) or a message refused for pacing (100) should mean the order was not created: the ids
  are re-read from TWS by reconnecting, and only a lookup that confirms the absence answers "no
  such order", so the order manager may send it again under the same client id.
- **ib_async marks an order `Cancelled` on any non-warning error, though it may still be live.**
  Such an order maps to UNKNOWN; `get_order` then looks it up: found open → its live status;
  found completed → that status; found nowhere and never acknowledged (no permId) → REJECTED
  (or absent, for 100/103). Only error 201 (order rejected) is trusted as final.
- **Connectivity messages.** 1100 (TWS lost IB's servers): every call refuses with
  `BrokerUnavailable` until 1101/1102. 1101 (restored, data lost): positions, account, orders
  and executions are asked for again before the next call proceeds. 1102 (restored, data kept):
  calls proceed. Farm messages (2100–2199: 2103–2108, 2158, ...) are logged, never errors.
  100 (pacing) pauses the next request, doubling while it repeats.
- **Startup sync fails closed**: `connect(..., raiseSyncErrors=True)`; a failed sync is retried
  with exponential backoff, then `BrokerUnavailable`, and nothing is submitted until a connect
  succeeds. Blocking requests time out (`RequestTimeout`) and raise on errors
  (`RaiseRequestErrors`), so an empty answer always means "TWS has none".
- **No clock endpoint**: the market clock comes from the XNYS calendar.

Status mapping: PendingSubmit/ApiPending → SUBMITTED; PreSubmitted/Submitted → ACCEPTED
(PARTIALLY_FILLED once something filled); Filled → FILLED; PendingCancel → CANCEL_PENDING;
Cancelled/ApiCancelled → CANCELLED (unless an error set it, above); Inactive and anything else →
UNKNOWN. `broker_order_id` is IB's permanent id (`permId`) once TWS has acknowledged the order,
`"<clientId>.<orderId>"` before. Not sent: `stop_loss`/`take_profit` (the order manager places
exits itself) and notional orders (IB takes share quantities: `BrokerRejected`).
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from ib_async import AccountValue, Contract, ExecutionFilter, Fill, Position, Stock, Trade
from ib_async import Order as IBOrder
from ib_async.objects import TradeLogEntry
from ib_async.util import UNSET_DOUBLE
from ib_async.wrapper import RequestError

from alphatrader.clock import Clock, LiveClock
from alphatrader.data.calendar import xnys
from alphatrader.domain.orders import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from alphatrader.errors import ConfigError
from alphatrader.execution.brokers.base import (
    BrokerAccount,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
    MarketClock,
)

log = logging.getLogger(__name__)

PAPER_PORTS = frozenset({7497, 4002})  # TWS paper, IB Gateway paper
LIVE_PORTS = frozenset({7496, 4001})  # TWS live, IB Gateway live

CONNECTIVITY_LOST = 1100
RESTORED_DATA_LOST = 1101
RESTORED_DATA_KEPT = 1102
SOCKET_PORT_RESET = 1300
PACING = 100
DUPLICATE_ORDER_ID = 103
ORDER_REJECTED = 201
# Errors that mean TWS refused the message itself: no order was created.
NOT_CREATED = frozenset({PACING, DUPLICATE_ORDER_ID})
# ib_async's warnings (wrapper.py): they never touch an order's status except as ValidationError.
WARNING_CODES = frozenset({105, 110, 165, 321, 329, 399, 404, 434, 492, 10167})
FARM_BROKEN = frozenset({2103, 2105, 2110, 2157})  # logged as warnings; the others as info

ACK_POLL = 0.05  # seconds between looks at an order waiting for TWS's acknowledgement
_PENDING = frozenset({"PendingSubmit", "ApiPending"})
_CANCELLED = "Cancelled"
_S = OrderStatus
_STATUS: dict[str, OrderStatus] = {
    "PendingSubmit": _S.SUBMITTED,
    "ApiPending": _S.SUBMITTED,
    "PreSubmitted": _S.ACCEPTED,
    "Submitted": _S.ACCEPTED,
    "Filled": _S.FILLED,
    "PendingCancel": _S.CANCEL_PENDING,
    "Cancelled": _S.CANCELLED,
    "ApiCancelled": _S.CANCELLED,
}
_ORDER_TYPES = {"MKT": "market", "LMT": "limit", "STP": "stop", "STP LMT": "stop_limit"}
_ORDER_TYPES.update({"MOC": "market", "LOC": "limit"})
_TIFS = {"DAY": "day", "GTC": "gtc", "OPG": "opg", "IOC": "ioc", "FOK": "fok"}
_IB_FAILURES: tuple[type[BaseException], ...] = (OSError, TimeoutError, RequestError)


class IBApi(Protocol):
    """The part of `ib_async.IB` this adapter uses (the stand-in in tests has the same)."""

    RequestTimeout: float
    RaiseRequestErrors: bool
    errorEvent: Any
    disconnectedEvent: Any

    def connect(
        self,
        host: str = ...,
        port: int = ...,
        clientId: int = ...,
        timeout: float = ...,
        readonly: bool = ...,
        account: str = ...,
        raiseSyncErrors: bool = ...,
    ) -> Any: ...

    def disconnect(self) -> Any: ...

    def isConnected(self) -> bool: ...

    def managedAccounts(self) -> list[str]: ...

    def placeOrder(self, contract: Contract, order: IBOrder) -> Trade: ...

    def cancelOrder(self, order: IBOrder, manualCancelOrderTime: str = ...) -> Trade | None: ...

    def trades(self) -> list[Trade]: ...

    def fills(self) -> list[Fill]: ...

    def positions(self, account: str = ...) -> list[Position]: ...

    def accountValues(self, account: str = ...) -> list[AccountValue]: ...

    def reqAllOpenOrders(self) -> list[Trade]: ...

    def reqCompletedOrders(self, apiOnly: bool) -> list[Trade]: ...

    def reqExecutions(self, execFilter: ExecutionFilter | None = ...) -> list[Fill]: ...

    def reqPositions(self) -> list[Position]: ...

    def reqAccountUpdates(self, account: str = ...) -> Any: ...

    def sleep(self, secs: float = ...) -> Any: ...


@dataclass(frozen=True, slots=True)
class IBKRConfig:
    """How to reach TWS / IB Gateway (IBKR_HOST, IBKR_PORT, IBKR_CLIENT_ID, IBKR_ACCOUNT)."""

    host: str = "127.0.0.1"
    port: int = 4002  # IB Gateway, paper
    client_id: int = 1
    account: str = ""  # required when the login manages several accounts
    paper: bool = True  # a paper port and a paper account (DU...) are required, else live ones
    lock_dir: Path = Path("var/locks")
    connect_timeout: float = 10.0  # seconds for the socket and for each startup sync request
    request_timeout: float = 30.0  # seconds for a blocking request (lookups, resync)
    connect_attempts: int = 5
    backoff_base: float = 1.0  # seconds before the second attempt; doubles, up to backoff_max
    backoff_max: float = 30.0
    ack_timeout: float = 5.0  # seconds to wait for TWS to acknowledge a placed order
    pacing_pause: float = 1.0  # first pause after error 100; doubles while it repeats
    auto_reconnect: bool = True  # a call made while disconnected connects first


class ClientIdLocked(BrokerUnavailable):
    """Another process holds this clientId: two processes must never share an order id sequence."""


class ClientIdLock:
    """An exclusive `flock` on `<dir>/ibkr-client-<id>.lock`, held while the broker is open."""

    def __init__(self, lock_dir: Path, client_id: int) -> None:
        self.path = lock_dir / f"ibkr-client-{client_id}.lock"
        self.client_id = client_id
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ClientIdLocked(
                f"IBKR clientId {self.client_id} is in use by another process (pid {holder}, "
                f"lock {self.path}); give each process its own IBKR_CLIENT_ID"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)  # no stale pid for the next reader
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


class IBKRBroker:
    """A TWS / IB Gateway account as `LiveBroker`. Call `connect()` (or let the first call do it)
    and `close()` when done; it is also a context manager."""

    name = "ibkr"

    def __init__(
        self,
        ib: IBApi,
        config: IBKRConfig | None = None,
        *,
        sleep: Callable[[float], object] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or IBKRConfig()
        if self.config.connect_attempts < 1:
            raise ConfigError("IBKR connect attempts must be at least 1")
        self._ib = ib
        self._wait = sleep if sleep is not None else ib.sleep  # backoff and pacing pauses
        self._clock = clock or LiveClock()
        self._lock = ClientIdLock(self.config.lock_dir, self.config.client_id)
        self._account = self.config.account
        self._synced = False  # a connect with a complete startup sync has succeeded
        self._link_lost = False  # 1100 seen, no 1101/1102 yet
        self._needs_resync = False  # 1101 seen: ask for everything again
        self._reconnect_needed = False  # ids are stale (103) or TWS reset the socket (1300)
        self._pause = 0.0  # pacing pause owed before the next request
        self._pace_level = 0.0
        self._errors: dict[int, tuple[int, str]] = {}  # orderId -> last (code, text)
        self._completed: dict[str, Trade] = {}  # orderRef -> trade, from the last lookup
        self._absent: set[tuple[int, int]] = set()  # (clientId, orderId) the last lookup missed
        self._exec_fills: dict[str, Fill] = {}  # execId -> fill, from reqExecutions
        ib.RequestTimeout = self.config.request_timeout
        ib.RaiseRequestErrors = True
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnected

    # -- connection ----------------------------------------------------------------------------
    def connect(self) -> None:
        """Take the clientId lock, connect and sync, retrying with exponential backoff.

        Raises `ClientIdLocked`, `ConfigError` (port/account mismatch: not retried) or
        `BrokerUnavailable` after the last attempt; until a connect succeeds nothing is sent,
        and a failed connect releases the lock."""
        self._check_port()
        self._lock.acquire()
        self._synced = False
        try:
            self._connect_with_backoff()
        except BaseException:
            self._lock.release()
            raise

    def _connect_with_backoff(self) -> None:
        cfg = self.config
        delay = cfg.backoff_base
        last: BaseException | None = None
        for attempt in range(1, cfg.connect_attempts + 1):
            if self._ib.isConnected():
                self._ib.disconnect()
            try:
                self._ib.connect(
                    cfg.host,
                    cfg.port,
                    clientId=cfg.client_id,
                    timeout=cfg.connect_timeout,
                    readonly=False,
                    account=cfg.account,
                    raiseSyncErrors=True,
                )
            except _IB_FAILURES as exc:
                last = exc
                log.warning(
                    "IBKR connect %d/%d to %s:%d clientId %d failed: %s",
                    *(attempt, cfg.connect_attempts, cfg.host, cfg.port, cfg.client_id, exc),
                )
                if attempt < cfg.connect_attempts:
                    self._wait(min(delay, cfg.backoff_max))
                    delay *= 2
                continue
            self._after_connect()
            return
        raise BrokerUnavailable(
            f"IBKR: no synchronised connection to {cfg.host}:{cfg.port} (clientId "
            f"{cfg.client_id}) after {cfg.connect_attempts} attempts: {last}; is TWS / IB Gateway "
            "running with the API enabled on that port?"
        )

    def close(self) -> None:
        """Disconnect and release the clientId lock."""
        try:
            if self._ib.isConnected():
                self._ib.disconnect()
        finally:
            self._synced = False
            self._lock.release()

    def __enter__(self) -> IBKRBroker:
        self.connect()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def ready(self) -> bool:
        """Connected, synchronised, and TWS connected to IB: submissions are allowed."""
        return (
            self._synced
            and self._ib.isConnected()
            and not (self._link_lost or self._needs_resync or self._reconnect_needed)
        )

    def resync(self) -> None:
        """Ask TWS again for positions, account values, all open and completed orders, and the
        executions (what 1101 calls for)."""
        if self._link_lost:
            raise BrokerUnavailable(self._link_lost_message())
        if not self._ib.isConnected():
            raise BrokerUnavailable("IBKR: not connected; cannot resync")
        try:
            self._pace()
            self._ib.reqPositions()
            if self._account:
                self._pace()
                self._ib.reqAccountUpdates(self._account)
            self._lookup()
            self._pace()
            fills = self._ib.reqExecutions()
        except _IB_FAILURES as exc:
            raise BrokerUnavailable(f"IBKR: resync failed: {exc}") from exc
        for fill in fills:
            self._exec_fills.setdefault(fill.execution.execId, fill)
        self._needs_resync = False
        log.info("IBKR: resynchronised after a connectivity loss")

    # -- LiveBroker ----------------------------------------------------------------------------
    def submit(self, request: OrderRequest, client_order_id: str) -> BrokerOrder:
        self._ready()
        existing = self._locate(client_order_id)
        if existing is not None:
            log.info("IBKR: order %s already exists; not sent again", client_order_id)
            return existing
        contract, order = _ib_order(request, client_order_id, self._account)
        self._pace()
        try:
            trade = self._ib.placeOrder(contract, order)
        except _IB_FAILURES as exc:
            raise BrokerUnavailable(f"IBKR: placing {client_order_id} failed: {exc}") from exc
        return self._acknowledged(trade, client_order_id)

    def cancel(self, client_order_id: str) -> None:
        self._ready()
        trade = self._find(client_order_id)
        if trade is None or self._needs_lookup(trade):
            self._lookup()
            trade = self._find(client_order_id)
        if trade is None:
            log.warning("IBKR: no order %s to cancel", client_order_id)
            return
        view = self._view(trade)
        if view is None or view.status.is_terminal:
            return
        self._pace()
        try:
            self._ib.cancelOrder(trade.order)
        except _IB_FAILURES as exc:
            raise BrokerUnavailable(f"IBKR: cancel of {client_order_id} failed: {exc}") from exc

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        self._ready()
        return self._locate(client_order_id)

    def orders(self, after: datetime | None = None, open_only: bool = False) -> list[BrokerOrder]:
        self._ready()
        self._lookup()
        refs = dict.fromkeys(r for r in map(_ref, self._ib.trades()) if r)
        views = [v for v in map(self._current, refs) if v is not None]
        since = _utc(after) if after is not None else None
        return sorted(
            (
                v
                for v in views
                if not (open_only and v.status.is_terminal)
                and (since is None or v.submitted_at is None or v.submitted_at >= since)
            ),
            key=lambda v: v.submitted_at or datetime.min.replace(tzinfo=UTC),
        )

    def fills(self, after: datetime | None = None) -> list[BrokerFill]:
        self._ready()
        by_id: dict[str, Fill] = {}
        for fill in [*self._ib.fills(), *self._exec_fills.values()]:
            by_id.setdefault(fill.execution.execId, fill)
        refs = {t.order.permId: _ref(t) for t in self._ib.trades() if t.order.permId}
        since = _utc(after) if after is not None else None
        out = [_fill(f, refs) for f in by_id.values()]
        return sorted(
            (f for f in out if since is None or f.at >= since),
            key=lambda f: (f.at, f.execution_id),
        )

    def positions(self) -> list[BrokerPosition]:
        self._ready()
        return [
            BrokerPosition(
                symbol=_symbol(p.contract),
                qty=_dec(p.position) or Decimal(0),
                avg_price=_dec(p.avgCost) or Decimal(0),
            )
            for p in self._ib.positions(self._account)
            if p.position
        ]

    def account(self) -> BrokerAccount:
        self._ready()
        values = self._ib.accountValues(self._account)
        return BrokerAccount(
            cash=_account_value(values, "TotalCashValue"),
            equity=_account_value(values, "NetLiquidation"),
            buying_power=_account_value(values, "BuyingPower"),
        )

    def clock(self) -> MarketClock:
        """IB has no clock endpoint: the XNYS calendar answers (early closes included)."""
        now = _utc(self._clock.now())
        ts = pd.Timestamp(now)
        schedule = xnys().schedule  # UTC open and close of every session
        i = int(schedule["close"].searchsorted(ts, side="right"))  # the first close after now
        opens, close = schedule["open"], pd.Timestamp(schedule["close"].iloc[i])
        is_open = bool(opens.iloc[i] <= ts)
        next_open = pd.Timestamp(opens.iloc[i + 1] if is_open else opens.iloc[i])
        return MarketClock(
            timestamp=now,
            is_open=is_open,
            next_open=_utc(next_open.to_pydatetime()),
            next_close=_utc(close.to_pydatetime()),
        )

    # -- events (called by ib_async's loop: record, never raise, never request) -----------------
    def _on_error(self, reqId: int, errorCode: int, errorString: str, contract: Any = None) -> None:
        code = errorCode
        if code == CONNECTIVITY_LOST:
            self._link_lost = True
            log.error("IBKR 1100: TWS lost its connection to IB; submissions stop: %s", errorString)
        elif code == RESTORED_DATA_LOST:
            self._link_lost = False
            self._needs_resync = True
            log.warning("IBKR 1101: connection restored, data lost; resyncing: %s", errorString)
        elif code == RESTORED_DATA_KEPT:
            self._link_lost = False
            log.warning("IBKR 1102: connection restored, data kept: %s", errorString)
        elif code == SOCKET_PORT_RESET:
            self._reconnect_needed = True
            log.warning("IBKR 1300: TWS reset the socket port; reconnecting: %s", errorString)
        elif 2100 <= code < 2200:
            level = logging.WARNING if code in FARM_BROKEN else logging.INFO
            log.log(level, "IBKR %d: %s", code, errorString)
            return
        elif code == PACING:
            self._pace_level = min(
                max(self._pace_level * 2, self.config.pacing_pause), self.config.backoff_max
            )
            self._pause = self._pace_level
            log.warning("IBKR 100 (pacing): pausing %.1fs: %s", self._pause, errorString)
        elif code == DUPLICATE_ORDER_ID:
            self._reconnect_needed = True
            log.error("IBKR 103 on order id %d: ids resync on reconnect: %s", reqId, errorString)
        elif code in WARNING_CODES:
            log.info("IBKR warning %d (request %d): %s", code, reqId, errorString)
            return
        else:
            log.warning("IBKR error %d (request %d): %s", code, reqId, errorString)
        if reqId > 0:
            self._errors[reqId] = (code, errorString)

    def _on_disconnected(self) -> None:
        if self._synced:
            log.warning("IBKR: disconnected from TWS")
        self._synced = False

    # -- internals -----------------------------------------------------------------------------
    def _check_port(self) -> None:
        cfg = self.config
        if cfg.paper and cfg.port in LIVE_PORTS:
            raise ConfigError(
                f"IBKR_PORT {cfg.port} is a live-trading port but paper trading is on; "
                "use 7497 (TWS) or 4002 (IB Gateway)"
            )
        if not cfg.paper and cfg.port in PAPER_PORTS:
            raise ConfigError(
                f"IBKR_PORT {cfg.port} is a paper-trading port but paper trading is off; "
                "use 7496 (TWS) or 4001 (IB Gateway)"
            )

    def _after_connect(self) -> None:
        cfg = self.config
        accounts = self._ib.managedAccounts()
        if cfg.account and cfg.account not in accounts:
            self._ib.disconnect()
            raise ConfigError(
                f"IBKR_ACCOUNT {cfg.account} is not managed by this login ({', '.join(accounts)})"
            )
        if not cfg.account and len(accounts) != 1:
            self._ib.disconnect()
            raise ConfigError(
                f"this IBKR login manages {len(accounts)} accounts ({', '.join(accounts)}); "
                "set IBKR_ACCOUNT"
            )
        account = cfg.account or accounts[0]
        if account.startswith("D") != cfg.paper:
            self._ib.disconnect()
            kind = "a live" if cfg.paper else "a paper"
            raise ConfigError(
                f"IBKR account {account} is {kind} account (paper ids start with D) but paper "
                f"trading is {'on' if cfg.paper else 'off'}; check IBKR_PORT and the login"
            )
        self._account = account
        self._synced = True
        self._link_lost = self._needs_resync = self._reconnect_needed = False
        self._pause = self._pace_level = 0.0
        self._errors.clear()
        self._completed.clear()
        self._absent.clear()
        log.info("IBKR: connected to %s:%d as clientId %d", cfg.host, cfg.port, cfg.client_id)

    def _link_lost_message(self) -> str:
        return (
            "IBKR: TWS has lost its connection to IB (1100); nothing is sent or read until it "
            "is restored (1101/1102)"
        )

    def _ready(self) -> None:
        """Fail closed: refuse unless connected, synchronised and TWS connected to IB."""
        if self._link_lost:
            raise BrokerUnavailable(self._link_lost_message())
        if self._reconnect_needed or not self._synced or not self._ib.isConnected():
            if not self.config.auto_reconnect:
                raise BrokerUnavailable("IBKR: not connected and synchronised; call connect()")
            self.connect()
        if self._needs_resync:
            self.resync()

    def _pace(self) -> None:
        if self._pause > 0:
            pause, self._pause = self._pause, 0.0
            self._wait(pause)
        elif self._pace_level:  # a request without a pause owed: the pacing level decays
            level = self._pace_level / 2
            self._pace_level = level if level >= self.config.pacing_pause else 0.0

    def _acknowledged(self, trade: Trade, client_order_id: str) -> BrokerOrder:
        polls = max(1, math.ceil(self.config.ack_timeout / ACK_POLL))
        for _ in range(polls):
            self._ib.sleep(ACK_POLL)
            if trade.orderStatus.status not in _PENDING:
                break
            if self._link_lost or not self._ib.isConnected():
                raise BrokerUnavailable(
                    f"IBKR: connection lost before TWS acknowledged {client_order_id}; "
                    "look it up before sending again"
                )
        entry = _error_entry(trade)
        if entry is not None:
            code, text = self._errors.get(trade.order.orderId, (entry.errorCode, entry.message))
            if code == ORDER_REJECTED:
                raise BrokerRejected(f"IBKR error 201: {text}", str(code))
            if code in NOT_CREATED:
                self._reconnect_needed = self._reconnect_needed or code == DUPLICATE_ORDER_ID
                raise BrokerUnavailable(
                    f"IBKR error {code} on {client_order_id}: {text}; TWS refused the message, "
                    "so the order should not exist: look it up before sending again"
                )
        view = self._view(trade)
        if view is None:  # defensive: only a lookup can find an order absent
            raise BrokerUnavailable(f"IBKR: {client_order_id} is not at the broker")
        return view

    def _locate(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client id: from the session's trades, or a fresh lookup when it
        is not there or its state cannot be trusted. None only after TWS said it has none."""
        trade = self._find(client_order_id)
        if trade is None or self._needs_lookup(trade):
            self._lookup()
        return self._current(client_order_id)

    def _current(self, client_order_id: str) -> BrokerOrder | None:
        trade = self._find(client_order_id)
        return self._view(trade) if trade is not None else None

    def _find(self, client_order_id: str) -> Trade | None:
        """The newest trade with this orderRef that was created at TWS (as far as we know)."""
        found = None
        for trade in self._ib.trades():
            if _ref(trade) == client_order_id and not self._not_created(trade):
                found = trade
        return found

    def _not_created(self, trade: Trade) -> bool:
        entry = _error_entry(trade)
        if entry is None or entry.errorCode not in NOT_CREATED:
            return False
        return (trade.order.clientId, trade.order.orderId) in self._absent

    def _needs_lookup(self, trade: Trade) -> bool:
        """Unknown, or still waiting for TWS's acknowledgement: ask TWS."""
        view = self._view(trade)
        return view is None or view.status in (OrderStatus.UNKNOWN, OrderStatus.SUBMITTED)

    def _lookup(self) -> None:
        """Ask TWS for every open order (all clients) and every completed one."""
        try:
            self._pace()
            open_trades = self._ib.reqAllOpenOrders()
            self._pace()
            completed = self._ib.reqCompletedOrders(apiOnly=False)
        except _IB_FAILURES as exc:
            raise BrokerUnavailable(f"IBKR: order lookup failed: {exc}") from exc
        self._completed = {ref: t for t in completed if (ref := _ref(t))}
        live = {(t.order.clientId, t.order.orderId) for t in open_trades}
        self._absent = {  # never acknowledged (no permId), and TWS has it neither open nor done
            (t.order.clientId, t.order.orderId)
            for t in self._ib.trades()
            if t.order.permId == 0
            and t.order.orderId > 0
            and (t.order.clientId, t.order.orderId) not in live
            and _ref(t) not in self._completed
        }

    def _view(self, trade: Trade) -> BrokerOrder | None:
        """The order as the order manager sees it; None when TWS never created it."""
        raw = trade.orderStatus.status
        entry = _error_entry(trade)
        key = (trade.order.clientId, trade.order.orderId)
        if entry is None and raw in _PENDING and key in self._absent:
            # never acknowledged, and not at TWS: in flight, held by TWS, or lost; not resent
            vendor = f"{raw} (not found at TWS)"
            return _broker_order(trade, OrderStatus.UNKNOWN, vendor, self._fills_of(trade))
        if entry is None:
            return _broker_order(trade, _map_status(trade), raw, self._fills_of(trade))
        code, text = self._errors.get(trade.order.orderId, (entry.errorCode, entry.message))
        vendor = f"{raw} (error {code}: {text})"
        if code == ORDER_REJECTED:
            return _broker_order(trade, OrderStatus.REJECTED, vendor, self._fills_of(trade))
        done = self._completed.get(_ref(trade))
        if done is not None and done is not trade:  # TWS's word on a completed order
            fills = self._fills_of(trade) + self._fills_of(done)
            return _broker_order(done, _map_status(done), done.orderStatus.status, fills)
        if key in self._absent:
            if code in NOT_CREATED:
                return None
            return _broker_order(trade, OrderStatus.REJECTED, vendor, self._fills_of(trade))
        return _broker_order(trade, OrderStatus.UNKNOWN, vendor, self._fills_of(trade))

    def _fills_of(self, trade: Trade) -> list[Fill]:
        perm, ref = trade.order.permId, trade.order.orderRef
        found = {f.execution.execId: f for f in trade.fills}
        for fill in [*self._ib.fills(), *self._exec_fills.values()]:
            ex = fill.execution
            if (perm and ex.permId == perm) or (ref and ex.orderRef == ref):
                found.setdefault(ex.execId, fill)
        return list(found.values())


def ibkr_broker(config: IBKRConfig, **kwargs: Any) -> IBKRBroker:
    """An `IBKRBroker` over a real `ib_async.IB` (not connected yet)."""
    from ib_async import IB

    return IBKRBroker(IB(), config, **kwargs)


# -- translation at the edge -------------------------------------------------------------------
def _ib_order(request: OrderRequest, client_order_id: str, account: str) -> tuple[Stock, IBOrder]:
    if request.qty is None:
        raise BrokerRejected(
            "IBKR takes share quantities; a notional order cannot be sent", "unsupported"
        )
    if request.qty != request.qty.to_integral_value() and not request.fractional:
        raise BrokerRejected(f"fractional quantity {request.qty} for a whole-share order", "qty")
    cls = request.time_in_force is TimeInForce.CLS
    types = {
        OrderType.MARKET: "MOC" if cls else "MKT",
        OrderType.LIMIT: "LOC" if cls else "LMT",
        OrderType.STOP: "STP",
        OrderType.STOP_LIMIT: "STP LMT",
    }
    if cls and request.order_type not in (OrderType.MARKET, OrderType.LIMIT):
        raise BrokerRejected("a closing-auction order must be market or limit", "tif")
    order = IBOrder(
        action="BUY" if request.side is Side.BUY else "SELL",
        totalQuantity=float(request.qty),
        orderType=types[request.order_type],
        tif="DAY" if cls else request.time_in_force.value.upper(),
        orderRef=client_order_id,
        account=account,
        transmit=True,
    )
    if request.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        if request.limit_price is None:
            raise BrokerRejected("a limit order needs a limit price", "price")
        order.lmtPrice = float(request.limit_price)
    if request.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        if request.stop_price is None:
            raise BrokerRejected("a stop order needs a stop price", "price")
        order.auxPrice = float(request.stop_price)
    if request.oco_group:
        order.ocaGroup = request.oco_group
        order.ocaType = 1  # cancel the rest of the group, with block
    return Stock(request.symbol, "SMART", "USD"), order


def _ref(trade: Trade) -> str:
    """Our client order id (orderRef); an order placed elsewhere gets one from its permId."""
    if trade.order.orderRef:
        return trade.order.orderRef
    return f"ibkr-perm-{trade.order.permId}" if trade.order.permId else ""


def _error_entry(trade: Trade) -> TradeLogEntry | None:
    """The log entry of the non-warning error that set the trade `Cancelled` (ib_async does so
    on any order error, though TWS may still be working the order), or None."""
    if trade.orderStatus.status != _CANCELLED:
        return None
    first = None
    for entry in reversed(trade.log):  # the entry that started the current run of Cancelled
        if entry.status != _CANCELLED:
            break
        first = entry
    if first is None or not first.errorCode or first.errorCode in WARNING_CODES:
        return None
    return first


def _map_status(trade: Trade) -> OrderStatus:
    status = _STATUS.get(trade.orderStatus.status, OrderStatus.UNKNOWN)
    if status is OrderStatus.ACCEPTED and (trade.orderStatus.filled or 0) > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def _broker_order(
    trade: Trade, status: OrderStatus, vendor_status: str, fills: Iterable[Fill]
) -> BrokerOrder:
    order, st = trade.order, trade.orderStatus
    by_fills = [(_dec(f.execution.shares), _dec(f.execution.price)) for f in fills]
    fill_qty = sum((q for q, _ in by_fills if q is not None), Decimal(0))
    filled = max(_dec(st.filled) or Decimal(0), _dec(order.filledQuantity) or Decimal(0), fill_qty)
    avg = _dec(st.avgFillPrice) if st.avgFillPrice else None
    if avg is None and fill_qty > 0:
        avg = sum((q * p for q, p in by_fills if q and p), Decimal(0)) / fill_qty
    first = trade.log[0] if trade.log else None
    placed_here = first is not None and first.status in _PENDING
    action = order.action.upper()
    if status is OrderStatus.PARTIALLY_FILLED and filled == 0:
        status = OrderStatus.ACCEPTED
    return BrokerOrder(
        client_order_id=_ref(trade),
        broker_order_id=_broker_id(trade),
        symbol=_symbol(trade.contract),
        side=Side.BUY if action == "BUY" else Side.SELL,
        qty=_dec(order.totalQuantity),
        notional=None,
        order_type=_ORDER_TYPES.get(order.orderType, order.orderType.lower()),
        time_in_force=_TIFS.get(order.tif.upper(), order.tif.lower() or "day"),
        limit_price=_price(order.lmtPrice),
        stop_price=_price(order.auxPrice),
        status=status,
        vendor_status=vendor_status,
        filled_qty=filled,
        avg_fill_price=avg if filled > 0 else None,
        submitted_at=_utc(first.time) if placed_here and first is not None else None,
        updated_at=_utc(trade.log[-1].time) if trade.log else None,
    )


def _broker_id(trade: Trade) -> str:
    if trade.order.permId:
        return str(trade.order.permId)
    return f"{trade.order.clientId}.{trade.order.orderId}"


def _fill(fill: Fill, refs: dict[int, str]) -> BrokerFill:
    ex = fill.execution
    commission = fill.commissionReport.commission  # UNSET until the report arrives
    paid = _dec(commission) if 0 <= commission < UNSET_DOUBLE else None
    at = _utc(ex.time) if ex.time.year > 1970 else _utc(fill.time)
    return BrokerFill(
        execution_id=ex.execId,
        client_order_id=ex.orderRef or refs.get(ex.permId, f"ibkr-perm-{ex.permId}"),
        broker_order_id=str(ex.permId) if ex.permId else f"{ex.clientId}.{ex.orderId}",
        symbol=_symbol(fill.contract),
        side=Side.BUY if ex.side.upper() in ("BOT", "BUY") else Side.SELL,
        qty=_dec(ex.shares) or Decimal(0),
        price=_dec(ex.price) or Decimal(0),
        at=at,
        commission=paid or Decimal(0),
    )


def _account_value(values: list[AccountValue], tag: str) -> Decimal:
    for currency in ("USD", "BASE"):
        for v in values:
            if v.tag == tag and v.currency == currency:
                amount = _dec(v.value)
                if amount is not None:
                    return amount
    raise BrokerUnavailable(f"IBKR: account value {tag} not received yet")


def _symbol(contract: Contract) -> str:
    if contract.secType in ("", "STK"):
        return contract.symbol
    return contract.localSymbol or contract.symbol


def _dec(value: float | Decimal | str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) >= Decimal(UNSET_DOUBLE) / 2:
        return None
    return number


def _price(value: float | Decimal | None) -> Decimal | None:
    number = _dec(value)
    return number if number is not None and number > 0 else None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
