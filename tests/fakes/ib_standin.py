"""An in-process stand-in for `ib_async.IB`, simulating TWS / IB Gateway, with fault injection.

`TWS` is what IB knows across API sessions: orders (by permId, with the placing clientId and
orderId), executions, positions, the account, the highest order id used by each clientId.
`IBStandIn` is one API session: the subset of `ib_async.IB` the adapter uses, with the same method
names and signatures, ib_async's own `Trade`, `Order`, `OrderStatus`, `TradeLogEntry`, `Fill`,
`Execution`, `CommissionReport`, `Contract`, `Position` and `AccountValue` objects, and
`eventkit.Event` events. Its local state follows `ib_async.wrapper.Wrapper`:

* `placeOrder` numbers the order from the session's id sequence (`client.getReqId()`), records a
  `Trade` in `PendingSubmit` and sends it to TWS; TWS's answers (openOrder, orderStatus, errors,
  executions, commission reports) are queued and delivered when the loop runs: `sleep()`, any
  blocking request, or a test-control call below.
* Errors are handled as `Wrapper.error` does: warnings (105, 110, 165, 321, 329, 399, 404, 434,
  492, 10167 and 2100–2199) set a trade `ValidationError`; any other error tied to an order sets
  it `Cancelled` locally, with a log entry carrying the code, whatever TWS did with the order.
  Then `errorEvent(reqId, errorCode, errorString, contract)` fires.
* `connect` sets the id sequence to TWS's next valid id for the clientId and runs the startup
  sync (positions, this client's open orders, completed orders, account values, executions);
  `raiseSyncErrors=True` turns a failed sync into `ConnectionError`, as ib_async does.
* `disconnect` (or a dropped connection) fires `disconnectedEvent` and clears the session state.
* `reqAllOpenOrders` refreshes matching local trades (openOrder + orderStatus, as TWS answers) and
  adds the others; `reqCompletedOrders` returns new trades (orderId 0, with permId, orderRef and
  filledQuantity) and keeps those whose permId is new, as ib_async does.

Test control (never faulted): `fill(order_ref, qty=None, price=None)` (all that is left, or a
partial fill), `cancel_at_tws(order_ref)`, `set_status(order_ref, status)`, `order_error(order_ref,
code=10349)`, `send_error(code, text, req_id=-1)` (1100/1101/1102,
2104, ... or an order error), `drop_connection()`, `redeliver_executions()` (the same execIds
again, as after a reconnect), `set_price`. `auto_fill` fills market orders on acknowledgement in
the given fractions (`(0.5, 0.5)`: two partial fills).

Faults: `fail_next(fault, times=1)` scripts the next connects / placements / requests; `chaos(rates,
seed=...)` draws a placement fault per `placeOrder` from a seeded generator. Placement faults:
`reject` (201), `duplicate_id` (103), `pacing` (100), `spurious_error` (acknowledged, then error
10349 sets it Cancelled locally while TWS keeps working it), `lost_ack` (TWS takes the order, the
connection drops before any answer), `lost_order` (the order never reaches TWS, the connection
drops), `no_ack` (no answer). Connect faults: `connect_refused`, `sync_timeout`. Request faults:
`request_timeout` (the next blocking request raises `TimeoutError`). `clear_faults()` drops them.

Counters: `place_counts[order_ref]` (every `placeOrder`), `injected[fault]` (placement faults
drawn), `tws_orders_by_ref(order_ref)` (orders TWS created), `request_counts[method]`,
`connect_calls`.
"""

from __future__ import annotations

import copy
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from eventkit import Event
from ib_async import (
    AccountValue,
    CommissionReport,
    Contract,
    Execution,
    ExecutionFilter,
    Fill,
    Order,
    OrderStatus,
    Position,
    Trade,
)
from ib_async.objects import TradeLogEntry

WARNING_CODES = frozenset({105, 110, 165, 321, 329, 399, 404, 434, 492, 10167})
DONE = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})
PLACEMENT_FAULTS = (
    "reject",
    "duplicate_id",
    "pacing",
    "spurious_error",
    "lost_ack",
    "lost_order",
    "no_ack",
)
CONNECT_FAULTS = ("connect_refused", "sync_timeout")
REQUEST_FAULTS = ("request_timeout",)

MESSAGES = {
    100: "Max rate of messages per second has been exceeded:max=50 rec=55 (1)",
    103: "Duplicate order id",
    201: "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED "
    "POSITION YOUR EQUITY WITH LOAN VALUE [1000.00 USD] MUST EXCEED THE INITIAL MARGIN",
    202: "Order Canceled - reason:",
    10349: "Order TIF was set to DAY based on order preset.",
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2104: "Market data farm connection is OK:usfarm",
    2106: "HMDS data farm connection is OK:ushmds",
    2158: "Sec-def data farm connection is OK:secdefnj",
    2103: "Market data farm connection is broken:usfarm",
}


def is_warning(code: int) -> bool:
    return code in WARNING_CODES or 2100 <= code < 2200


@dataclass
class TWSOrder:
    perm_id: int
    client_id: int
    order_id: int
    contract: Contract
    order: Order
    status: str
    filled: float = 0.0
    avg_price: float = 0.0

    @property
    def remaining(self) -> float:
        return float(self.order.totalQuantity) - self.filled

    @property
    def done(self) -> bool:
        return self.status in DONE


@dataclass
class TWS:
    """IB's side: survives API sessions. `sessions` maps a connected clientId to its session."""

    accounts: tuple[str, ...] = ("DU1234567",)
    cash: float = 100_000.0
    prices: dict[str, float] = field(default_factory=lambda: {"AAPL": 190.0, "MSFT": 410.0})
    commission: float = 1.0
    ack_status: str = "Submitted"
    auto_fill: tuple[float, ...] = ()
    start: datetime = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
    orders: dict[int, TWSOrder] = field(default_factory=dict)
    max_order_id: dict[int, int] = field(default_factory=dict)
    executions: list[tuple[Contract, Execution, CommissionReport]] = field(default_factory=list)
    positions: dict[str, tuple[Contract, float, float]] = field(default_factory=dict)
    sessions: dict[int, IBStandIn] = field(default_factory=dict)
    _ticks: int = 0
    _next_perm: int = 1_000_001

    def now(self) -> datetime:
        self._ticks += 1
        return self.start + timedelta(seconds=self._ticks)

    def next_valid_id(self, client_id: int) -> int:
        return self.max_order_id.get(client_id, 0) + 1

    def new_perm_id(self) -> int:
        self._next_perm += 1
        return self._next_perm

    def by_ref(self, order_ref: str) -> list[TWSOrder]:
        return [o for o in self.orders.values() if o.order.orderRef == order_ref]

    def account_values(self, account: str) -> list[AccountValue]:
        held = sum(qty * self.prices.get(sym, avg) for sym, (_, qty, avg) in self.positions.items())
        values = {
            "NetLiquidation": self.cash + held,
            "TotalCashValue": self.cash,
            "BuyingPower": self.cash,
        }
        return [AccountValue(account, tag, f"{v:.2f}", "USD", "") for tag, v in values.items()]


class _Client:
    """`ib_async.Client`'s id sequence."""

    def __init__(self) -> None:
        self._reqIdSeq = 0
        self.clientId = -1
        self.connected = False

    def isReady(self) -> bool:
        return self.connected

    def getReqId(self) -> int:
        if not self.connected:
            raise ConnectionError("Not connected")
        new_id = self._reqIdSeq
        self._reqIdSeq += 1
        return new_id

    def updateReqId(self, minReqId: int) -> None:
        self._reqIdSeq = max(self._reqIdSeq, minReqId)


class IBStandIn:
    """One API session against `tws` (a fresh `TWS` when none is given)."""

    RequestTimeout: float = 0
    RaiseRequestErrors: bool = False

    def __init__(self, tws: TWS | None = None, *, seed: int = 0) -> None:
        self.tws = tws if tws is not None else TWS()
        self.client = _Client()
        for name in (
            "connectedEvent",
            "disconnectedEvent",
            "newOrderEvent",
            "cancelOrderEvent",
            "openOrderEvent",
            "orderStatusEvent",
            "execDetailsEvent",
            "commissionReportEvent",
            "positionEvent",
            "accountValueEvent",
            "errorEvent",
        ):
            setattr(self, name, Event(name))
        self.connectedEvent: Event
        self.disconnectedEvent: Event
        self.newOrderEvent: Event
        self.cancelOrderEvent: Event
        self.openOrderEvent: Event
        self.orderStatusEvent: Event
        self.execDetailsEvent: Event
        self.commissionReportEvent: Event
        self.positionEvent: Event
        self.accountValueEvent: Event
        self.errorEvent: Event
        self._reset()
        self._inbox: deque[Callable[[], None]] = deque()
        self._script: Counter[str] = Counter()
        self._rates: dict[str, float] = {}
        self._rng = random.Random(seed)
        self.place_counts: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.request_counts: Counter[str] = Counter()
        self.connect_calls = 0
        self.connect_kwargs: list[dict[str, Any]] = []
        self.slept = 0.0

    # -- fault injection -------------------------------------------------------------------------
    def fail_next(self, fault: str, times: int = 1) -> None:
        known = PLACEMENT_FAULTS + CONNECT_FAULTS + REQUEST_FAULTS
        if fault not in known:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(known)}")
        self._script[fault] += times

    def chaos(self, rates: dict[str, float], seed: int = 0) -> None:
        """Each placeOrder draws at most one placement fault with these probabilities."""
        unknown = set(rates) - set(PLACEMENT_FAULTS)
        if unknown:
            raise ValueError(f"not placement faults: {sorted(unknown)}")
        self._rates = dict(rates)
        self._rng = random.Random(seed)

    def clear_faults(self) -> None:
        self._script.clear()
        self._rates = {}

    def _take(self, fault: str) -> bool:
        if self._script[fault] > 0:
            self._script[fault] -= 1
            return True
        return False

    def _placement_fault(self) -> str | None:
        chosen = next((f for f in PLACEMENT_FAULTS if self._take(f)), None)
        draw, edge = self._rng.random(), 0.0
        for fault, rate in self._rates.items():
            edge += rate
            if chosen is None and draw < edge:
                chosen = fault
        if chosen is not None:
            self.injected[chosen] += 1
        return chosen

    # -- the ib_async.IB surface -------------------------------------------------------------------
    def connect(
        self,
        host: str = "127.0.0.1",
        port: int = 7497,
        clientId: int = 1,
        timeout: float = 4,
        readonly: bool = False,
        account: str = "",
        raiseSyncErrors: bool = False,
        fetchFields: Any = None,
    ) -> IBStandIn:
        self.connect_calls += 1
        self.connect_kwargs.append(
            dict(host=host, port=port, clientId=clientId, timeout=timeout, readonly=readonly)
            | dict(account=account, raiseSyncErrors=raiseSyncErrors)
        )
        if self._take("connect_refused"):
            raise ConnectionRefusedError(111, f"Connect call failed ('{host}', {port})")
        if self.tws.sessions.get(clientId, self) is not self:  # TWS error 326, then a close
            raise ConnectionError("Socket connection broken while connecting")
        self.client.connected = True
        self.client.clientId = clientId
        self.client._reqIdSeq = self.tws.next_valid_id(clientId)
        self.tws.sessions[clientId] = self
        self._accounts = list(self.tws.accounts)
        failed = self._take("sync_timeout")
        self._startup_sync(account, orders=not failed and not readonly)
        if failed and raiseSyncErrors:
            self.disconnect()
            raise ConnectionError(["open orders request timed out"])
        self.connectedEvent.emit()
        return self

    def disconnect(self) -> str | None:
        if not self.client.connected:
            return None
        self.tws.sessions.pop(self.client.clientId, None)
        self.client.connected = False
        self._inbox.clear()
        self.disconnectedEvent.emit()
        self._reset()
        return "Disconnecting"

    def isConnected(self) -> bool:
        return self.client.isReady()

    def managedAccounts(self) -> list[str]:
        return list(self._accounts)

    def sleep(self, secs: float = 0.02) -> bool:
        self.slept += secs
        self._deliver()
        return True

    def trades(self) -> list[Trade]:
        return list(self._trades.values())

    def openTrades(self) -> list[Trade]:
        return [t for t in self._trades.values() if t.orderStatus.status not in DONE]

    def fills(self) -> list[Fill]:
        return list(self._fills.values())

    def executions(self) -> list[Execution]:
        return [f.execution for f in self._fills.values()]

    def positions(self, account: str = "") -> list[Position]:
        return [p for p in self._positions.values() if not account or p.account == account]

    def accountValues(self, account: str = "") -> list[AccountValue]:
        return [v for v in self._account_values if not account or v.account == account]

    def placeOrder(self, contract: Contract, order: Order) -> Trade:
        order_id = order.orderId or self.client.getReqId()
        key = (self.client.clientId, order_id)
        if key in self._trades:
            raise NotImplementedError("the stand-in does not modify orders")
        order.clientId = self.client.clientId
        order.orderId = order_id
        status = OrderStatus(orderId=order_id, status="PendingSubmit")
        now = self.tws.now()
        trade = Trade(contract, order, status, [], [TradeLogEntry(now, "PendingSubmit")])
        self._trades[key] = trade
        self.place_counts[order.orderRef] += 1
        self.newOrderEvent.emit(trade)
        self._tws_receive(copy.deepcopy(contract), copy.deepcopy(order), self._placement_fault())
        return trade

    def cancelOrder(self, order: Order, manualCancelOrderTime: str = "") -> Trade | None:
        if not self.client.connected:
            raise ConnectionError("Not connected")
        key = self._key(order.clientId, order.orderId, order.permId)
        trade = self._trades.get(key)
        if trade is not None and trade.orderStatus.status not in DONE:
            new = "Cancelled" if trade.orderStatus.status == "Inactive" else "PendingCancel"
            trade.orderStatus.status = new
            trade.log.append(TradeLogEntry(self.tws.now(), new))
            self.cancelOrderEvent.emit(trade)
            self.orderStatusEvent.emit(trade)
        tws_order = self._tws_order(order.clientId, order.orderId, order.permId)
        if tws_order is not None and not tws_order.done:
            tws_order.status = "Cancelled"
            self._send(lambda: self._w_order_status(tws_order))
            self._send(lambda: self._w_error(tws_order.order_id, 202, MESSAGES[202]))
        elif tws_order is not None:
            text = f"OrderId {order.orderId} that needs to be cancelled cannot be cancelled"
            self._send(lambda: self._w_error(order.orderId, 10148, f"{text}, state: Filled."))
        return trade

    def reqAllOpenOrders(self) -> list[Trade]:
        self._request("reqAllOpenOrders")
        out = []
        for tws_order in self.tws.orders.values():
            if not tws_order.done:
                out.append(self._w_open_order(tws_order, emit=False))
                self._w_order_status(tws_order)
        return out

    def reqOpenOrders(self) -> list[Trade]:
        self._request("reqOpenOrders")
        return self._open_orders_of_client()

    def reqCompletedOrders(self, apiOnly: bool) -> list[Trade]:
        self._request("reqCompletedOrders")
        return self._completed_orders()

    def reqExecutions(self, execFilter: ExecutionFilter | None = None) -> list[Fill]:
        self._request("reqExecutions")
        return [self._w_exec(c, e, r, live=False) for c, e, r in self.tws.executions]

    def reqPositions(self) -> list[Position]:
        self._request("reqPositions")
        self._load_positions()
        return self.positions()

    def reqAccountUpdates(self, account: str = "") -> None:
        self._request("reqAccountUpdates")
        self._account_values = self.tws.account_values(account or self.tws.accounts[0])

    # -- test control: TWS's side ------------------------------------------------------------------
    def fill(self, order_ref: str, qty: float | None = None, price: float | None = None) -> None:
        tws_order = self._live_by_ref(order_ref)
        self._execute(tws_order, qty if qty is not None else tws_order.remaining, price)
        self._deliver()

    def cancel_at_tws(self, order_ref: str) -> None:
        tws_order = self._live_by_ref(order_ref)
        tws_order.status = "Cancelled"
        self._send(lambda: self._w_order_status(tws_order))
        self._deliver()

    def set_status(self, order_ref: str, status: str) -> None:
        """TWS reports a new status for the order (any string, even one IB never sends)."""
        tws_order = self.tws.by_ref(order_ref)[-1]
        tws_order.status = status
        self._send(lambda: self._w_order_status(tws_order))
        self._deliver()

    def send_error(self, code: int, text: str = "", req_id: int = -1) -> None:
        self._send(lambda: self._w_error(req_id, code, text or MESSAGES.get(code, "error")))
        self._deliver()

    def order_error(self, order_ref: str, code: int = 10349, text: str = "") -> None:
        """An error tied to a live order: ib_async marks it Cancelled, TWS keeps working it."""
        tws_order = self._live_by_ref(order_ref)
        self.send_error(code, text, req_id=tws_order.order_id)

    def drop_connection(self) -> None:
        self.disconnect()

    def redeliver_executions(self) -> list[Fill]:
        """The executions again, as `reqExecutions` answers after a reconnect."""
        return self.reqExecutions()

    def set_price(self, symbol: str, price: float) -> None:
        self.tws.prices[symbol] = price

    def tws_orders_by_ref(self, order_ref: str) -> list[TWSOrder]:
        return self.tws.by_ref(order_ref)

    # -- TWS's reactions ---------------------------------------------------------------------------
    def _tws_receive(self, contract: Contract, order: Order, fault: str | None) -> None:
        client_id, order_id = self.client.clientId, order.orderId
        if fault == "lost_order":
            self._send(self.drop_connection)
            return
        if fault == "no_ack":
            return
        if fault == "pacing":
            self._send(lambda: self._w_error(order_id, 100, MESSAGES[100]))
            return
        if fault == "duplicate_id" or order_id <= self.tws.max_order_id.get(client_id, 0):
            self._send(lambda: self._w_error(order_id, 103, MESSAGES[103]))
            return
        self.tws.max_order_id[client_id] = order_id
        if fault == "reject":
            self._send(lambda: self._w_error(order_id, 201, MESSAGES[201]))
            return
        order.permId = self.tws.new_perm_id()
        tws_order = TWSOrder(
            order.permId, client_id, order_id, contract, order, status=self.tws.ack_status
        )
        self.tws.orders[order.permId] = tws_order
        if fault == "lost_ack":
            self._send(self.drop_connection)
            return
        self._send(lambda: self._w_open_order(tws_order))
        self._send(lambda: self._w_order_status(tws_order))
        if fault == "spurious_error":
            self._send(lambda: self._w_error(order_id, 10349, MESSAGES[10349]))
        if order.orderType == "MKT":
            for part in self.tws.auto_fill:
                qty = round(float(order.totalQuantity) * part, 6)
                self._send(lambda q=qty: self._execute(tws_order, min(q, tws_order.remaining)))

    def _execute(self, tws_order: TWSOrder, qty: float, price: float | None = None) -> None:
        if qty <= 0 or tws_order.done:
            return
        contract, order = tws_order.contract, tws_order.order
        px = price if price is not None else self.tws.prices.get(contract.symbol, 100.0)
        total = tws_order.filled + qty
        tws_order.avg_price = (tws_order.avg_price * tws_order.filled + px * qty) / total
        tws_order.filled = total
        if tws_order.remaining <= 1e-9:
            tws_order.status = "Filled"
        n = len(self.tws.executions) + 1
        exec_id = f"0000e0d5.{tws_order.perm_id:08x}.{n:02d}.01"
        buy = order.action == "BUY"
        execution = Execution(
            execId=exec_id,
            time=self.tws.now(),
            acctNumber=order.account or self.tws.accounts[0],
            exchange="ISLAND",
            side="BOT" if buy else "SLD",
            shares=qty,
            price=px,
            permId=tws_order.perm_id,
            clientId=tws_order.client_id,
            orderId=tws_order.order_id,
            cumQty=total,
            avgPrice=tws_order.avg_price,
            orderRef=order.orderRef,
        )
        report = CommissionReport(execId=exec_id, commission=self.tws.commission, currency="USD")
        self.tws.executions.append((contract, execution, report))
        self.tws.cash -= (qty * px if buy else -qty * px) + self.tws.commission
        _, held, avg = self.tws.positions.get(contract.symbol, (contract, 0.0, 0.0))
        new_qty = held + (qty if buy else -qty)
        new_avg = (avg * held + px * qty) / new_qty if buy and new_qty else avg
        self.tws.positions[contract.symbol] = (contract, new_qty, new_avg)
        session = self.tws.sessions.get(tws_order.client_id)
        if session is not None:
            session._send(lambda: session._w_exec(contract, execution, report, live=True))
            session._send(lambda: session._w_commission(report))
            session._send(lambda: session._w_order_status(tws_order))
            session._send(session._load_positions)
            session._send(session._load_account)

    # -- the loop ----------------------------------------------------------------------------------
    def _send(self, message: Callable[[], None]) -> None:
        self._inbox.append(message)

    def _deliver(self) -> None:
        while self._inbox and self.client.connected:
            self._inbox.popleft()()

    def _request(self, name: str) -> None:
        self.request_counts[name] += 1
        if not self.client.connected:
            raise ConnectionError("Not connected")
        self._deliver()
        if self._take("request_timeout"):
            raise TimeoutError(f"{name} timed out")

    # -- ib_async.Wrapper, as far as the stand-in needs it -----------------------------------------
    def _reset(self) -> None:
        self._trades: dict[Any, Trade] = {}
        self._perm_trades: dict[int, Trade] = {}
        self._fills: dict[str, Fill] = {}
        self._positions: dict[tuple[str, int], Position] = {}
        self._account_values: list[AccountValue] = []
        self._accounts: list[str] = []
        self.client._reqIdSeq = 0

    @staticmethod
    def _key(client_id: int, order_id: int, perm_id: int) -> Any:
        return perm_id if order_id <= 0 else (client_id, order_id)

    def _tws_order(self, client_id: int, order_id: int, perm_id: int) -> TWSOrder | None:
        if perm_id and perm_id in self.tws.orders:
            return self.tws.orders[perm_id]
        for tws_order in self.tws.orders.values():
            if (tws_order.client_id, tws_order.order_id) == (client_id, order_id):
                return tws_order
        return None

    def _live_by_ref(self, order_ref: str) -> TWSOrder:
        found = [o for o in self.tws.by_ref(order_ref) if not o.done]
        if not found:
            raise LookupError(f"TWS has no working order {order_ref!r}")
        return found[-1]

    def _startup_sync(self, account: str, *, orders: bool) -> None:
        self._load_positions()
        if orders:
            self._open_orders_of_client()
            self._completed_orders()
        self._load_account(account)
        for contract, execution, report in self.tws.executions:
            self._w_exec(contract, execution, report, live=False)

    def _open_orders_of_client(self) -> list[Trade]:
        out = []
        for tws_order in self.tws.orders.values():
            if not tws_order.done and tws_order.client_id == self.client.clientId:
                out.append(self._w_open_order(tws_order, emit=False))
                self._w_order_status(tws_order)
        return out

    def _completed_orders(self) -> list[Trade]:
        out = []
        for tws_order in self.tws.orders.values():
            if not tws_order.done:
                continue
            src = tws_order.order
            order = Order(
                permId=tws_order.perm_id,
                action=src.action,
                totalQuantity=src.totalQuantity,
                orderType=src.orderType,
                lmtPrice=src.lmtPrice,
                auxPrice=src.auxPrice,
                tif=src.tif,
                orderRef=src.orderRef,
                account=src.account,
                filledQuantity=tws_order.filled,
            )
            status = OrderStatus(orderId=0, status=tws_order.status)
            trade = Trade(Contract.recreate(tws_order.contract), order, status, [], [])
            out.append(trade)
            if tws_order.perm_id not in self._perm_trades:
                self._trades[tws_order.perm_id] = trade
                self._perm_trades[tws_order.perm_id] = trade
        return out

    def _load_positions(self) -> None:
        account = self.tws.accounts[0]
        self._positions = {
            (account, i): Position(account, contract, qty, avg)
            for i, (contract, qty, avg) in enumerate(self.tws.positions.values())
        }

    def _load_account(self, account: str = "") -> None:
        self._account_values = self.tws.account_values(account or self.tws.accounts[0])

    def _w_open_order(self, tws_order: TWSOrder, emit: bool = True) -> Trade:
        key = self._key(tws_order.client_id, tws_order.order_id, tws_order.perm_id)
        trade = self._trades.get(key)
        src = tws_order.order
        if trade is not None:
            trade.order.permId = src.permId
            trade.order.totalQuantity = src.totalQuantity
            trade.order.lmtPrice = src.lmtPrice
            trade.order.auxPrice = src.auxPrice
            trade.order.orderType = src.orderType
            trade.order.orderRef = src.orderRef
        else:
            order = copy.deepcopy(src)
            status = OrderStatus(orderId=tws_order.order_id, status=tws_order.status)
            trade = Trade(Contract.recreate(tws_order.contract), order, status, [], [])
            self._trades[key] = trade
        self._perm_trades.setdefault(tws_order.perm_id, trade)
        if emit:
            self.openOrderEvent.emit(trade)
        self.client.updateReqId(tws_order.order_id + 1)
        return trade

    def _w_order_status(self, tws_order: TWSOrder) -> None:
        key = self._key(tws_order.client_id, tws_order.order_id, tws_order.perm_id)
        trade = self._trades.get(key)
        if trade is None:
            return
        st = trade.orderStatus
        new = dict(
            status=tws_order.status,
            filled=tws_order.filled,
            remaining=tws_order.remaining,
            avgFillPrice=tws_order.avg_price,
            permId=tws_order.perm_id,
            clientId=tws_order.client_id,
        )
        if all(getattr(st, k) == v for k, v in new.items()):
            return
        old = st.status
        for k, v in new.items():
            setattr(st, k, v)
        trade.log.append(TradeLogEntry(self.tws.now(), st.status, ""))
        self.orderStatusEvent.emit(trade)
        trade.statusEvent.emit(trade)
        if st.status != old and st.status == "Filled":
            trade.filledEvent.emit(trade)
        elif st.status != old and st.status == "Cancelled":
            trade.cancelledEvent.emit(trade)

    def _w_error(self, req_id: int, code: int, text: str) -> None:
        trade = self._trades.get((self.client.clientId, req_id)) if req_id != -1 else None
        msg = f"{'Warning' if is_warning(code) else 'Error'} {code}, reqId {req_id}: {text}"
        if trade is not None and is_warning(code):
            trade.orderStatus.status = "ValidationError"
            trade.log.append(TradeLogEntry(self.tws.now(), "ValidationError", msg, code))
            self.orderStatusEvent.emit(trade)
            trade.statusEvent.emit(trade)
        elif trade is not None and trade.orderStatus.status not in DONE:
            trade.orderStatus.status = "Cancelled"
            trade.log.append(TradeLogEntry(self.tws.now(), "Cancelled", msg, code))
            self.orderStatusEvent.emit(trade)
            trade.statusEvent.emit(trade)
            trade.cancelledEvent.emit(trade)
        self.errorEvent.emit(req_id, code, text, None)

    def _w_exec(
        self, contract: Contract, execution: Execution, report: CommissionReport, live: bool
    ) -> Fill:
        trade = self._perm_trades.get(execution.permId) or self._trades.get(
            self._key(execution.clientId, execution.orderId, execution.permId)
        )
        time = self.tws.now() if live else execution.time
        fill = Fill(contract, execution, CommissionReport(), time)
        if execution.execId not in self._fills:
            self._fills[execution.execId] = fill
            if trade is not None:
                trade.fills.append(fill)
                note = f"Fill {execution.shares}@{execution.price}"
                trade.log.append(TradeLogEntry(time, trade.orderStatus.status, note))
                if live:
                    self.execDetailsEvent.emit(trade, fill)
                    trade.fillEvent.emit(trade, fill)
        if not live:
            self._w_commission(report)
        return fill

    def _w_commission(self, report: CommissionReport) -> None:
        fill = self._fills.get(report.execId)
        if fill is not None:
            fill.commissionReport.execId = report.execId
            fill.commissionReport.commission = report.commission
            fill.commissionReport.currency = report.currency
