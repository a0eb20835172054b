"""`SimulatedBroker`: fills orders against historical daily bars, for backtests and paper trading.

The rules (docs/execution.md has them with examples):

- **When an order works.** An order submitted at instant *now* becomes active on the symbol's
  first bar whose session opens at or after *now* (a market order placed after a close works
  the next session; an exit leg placed at the open works the rest of that bar). A CLS order
  works the first session that closes after *now*. On a close-only series the close is the
  only price, so an order placed during a session (or after it) works from the next close.
- **Prices on a bar** (o, h, l = open, high, low; a close-only bar has o = h = l = close):
  market at the open (the close on a close-only series); limit buy when l ≤ limit at
  min(o, limit), limit sell when h ≥ limit at max(o, limit); stop buy when h ≥ stop at
  max(o, stop), stop sell when l ≤ stop at min(o, stop); OPG at the open, CLS at the close
  (a limit on either fills only if that price satisfies it).
- **Stop-limit**, the daily-bar approximation: when the open gaps through the stop the whole
  bar is after the trigger, so it fills like a limit (buy when l ≤ limit at min(o, limit));
  when the stop is reached inside the bar it fills at the stop if the stop is within the limit,
  and otherwise not on that bar (a bar does not say whether the limit was reached after the
  trigger). A triggered, unfilled GTC stop-limit works as a plain limit from the next bar.
- **Time in force.** DAY and OPG/CLS orders work one session and expire unfilled at its close;
  GTC orders work until filled or cancelled. Bracket legs (orders of an OCO group) with the
  default DAY are held as GTC, as the engine's stop and target always have been
  (`oco_gtc=False` turns that off).
- **Partial fills.** With `participation` set, the orders in a symbol fill at most that share
  of a bar's volume on the bar, together, first come first served (whole shares unless
  fractional); the rest of an order works on the next bar (GTC; a triggered stop as a
  market order) or expires (DAY, OPG, CLS). A series without volume (close-only) has no such
  limit. A notional order's share count is fixed at its first fill price. Off by default.
- **Ordering.** Orders due on one bar run in submission order, stops before limits (when a
  stop and a target trigger in the same bar, the stop is assumed first); the first fill of an
  order of an OCO group cancels the rest of the group.
- **Costs and timestamps.** Slippage moves every fill price against the order; the commission
  minimum is charged once per order across its partial fills. Fills are stamped with the XNYS
  calendar's instants (early closes included): the session open for a fill at the open, the
  session close for a fill at the close or inside the bar (a daily bar shows that a level was
  reached, not when).

The trigger search for a working GTC order is vectorized over the remaining bars; the engine
wakes up only on the session an order is due (`due_ns`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from alphatrader.clock import Clock
from alphatrader.data import calendar
from alphatrader.data.market import Series
from alphatrader.domain.orders import (
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from alphatrader.execution.costs import CENT, Commission, Slippage, to_price

_NO_DATE = np.iinfo(np.int64).max
_FRACTION_STEP = Decimal("0.000000001")
_NEW_YORK = "America/New_York"
_SINGLE_SESSION = frozenset({TimeInForce.DAY, TimeInForce.OPG, TimeInForce.CLS})


@dataclass(frozen=True, slots=True)
class SymbolBars:
    dates: np.ndarray  # int64 nanoseconds, ascending
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    close_only: bool
    volume: np.ndarray | None  # None when the series has no volume (close-only series)
    opens_ns: np.ndarray  # each bar's session open, int64 ns UTC (from the XNYS calendar)
    closes_ns: np.ndarray  # each bar's session close (early closes included)


class SimMarket:
    """Historical bars as plain arrays, for fast lookups by the broker and the engine."""

    def __init__(self, universe: Mapping[str, Series]) -> None:
        self.bars: dict[str, SymbolBars] = {}
        for symbol, series in universe.items():
            self.bars[symbol] = _arrays(series)

    def next_index(self, symbol: str, after_ns: int) -> int | None:
        """Index of the first bar strictly after `after_ns`, or None past the end."""
        dates = self.bars[symbol].dates
        i = int(np.searchsorted(dates, after_ns, side="right"))
        return i if i < len(dates) else None

    def index_of(self, symbol: str, date_ns: int) -> int:
        return int(np.searchsorted(self.bars[symbol].dates, date_ns, side="left"))


def _arrays(series: Series) -> SymbolBars:
    frame = series.bars
    labels = pd.DatetimeIndex(frame.index).as_unit("ns")
    dates = labels.asi8
    opens_ns, closes_ns = session_instants(labels)
    close = frame["close"].to_numpy(dtype="float64")
    if series.instrument.close_only:  # no open/high/low: every price is the close
        return SymbolBars(dates, close, close, close, close, True, None, opens_ns, closes_ns)
    volume = frame["volume"].to_numpy(dtype="float64") if "volume" in frame.columns else None
    return SymbolBars(
        dates=dates,
        open=frame["open"].to_numpy(dtype="float64"),
        high=frame["high"].to_numpy(dtype="float64"),
        low=frame["low"].to_numpy(dtype="float64"),
        close=close,
        close_only=False,
        volume=volume,
        opens_ns=opens_ns,
        closes_ns=closes_ns,
    )


def session_instants(labels: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """The UTC open and close (int64 ns) of each session label, early closes included; a date
    the calendar does not know as a session gets 09:30 and 16:00 New York time."""
    labels = pd.DatetimeIndex(labels).as_unit("ns")
    schedule = calendar.xnys().schedule.reindex(labels)
    opens = pd.DatetimeIndex(schedule["open"].array).as_unit("ns")
    closes = pd.DatetimeIndex(schedule["close"].array).as_unit("ns")
    missing: np.ndarray = np.asarray(opens.isna()) | np.asarray(closes.isna())
    opens_ns, closes_ns = opens.asi8.copy(), closes.asi8.copy()
    if missing.any():
        local = labels[missing].tz_localize(_NEW_YORK)
        opens_ns[missing] = (local + pd.Timedelta(hours=9, minutes=30)).tz_convert(UTC).asi8
        closes_ns[missing] = (local + pd.Timedelta(hours=16)).tz_convert(UTC).asi8
    return opens_ns, closes_ns


@dataclass(frozen=True, slots=True)
class SimEvent:
    """What happened to an order on a bar: FILLED or PARTIALLY_FILLED (with the fill), EXPIRED
    or REJECTED (with the reason). `order` is the broker's view after the event."""

    order: Order
    fill: Fill | None
    status: OrderStatus
    reason: str = ""


@dataclass(slots=True)
class _Working:
    order: Order
    seq: int  # submission order
    tif: TimeInForce  # the time in force the simulation applies
    start: int  # index of the first bar the order works on
    due_ns: int  # session (ns) on which the order is next looked at; _NO_DATE if never
    qty: Decimal | None = None  # total shares (a notional order: set at its first fill)
    triggered: bool = False  # a stop (stop-limit) whose stop was reached: now market (limit)
    raw_fees: Decimal = Decimal(0)  # commission before the minimum, over the order's fills
    charged: Decimal = Decimal(0)  # commission charged so far


class SimulatedBroker:
    def __init__(
        self,
        market: SimMarket,
        clock: Clock,
        commission: Commission | None = None,
        slippage: Slippage | None = None,
        participation: Decimal | None = None,
        oco_gtc: bool = True,
    ) -> None:
        """`participation`: the largest share of a bar's volume that the orders in a symbol may
        fill on that bar, together (e.g. Decimal("0.1")); None (the default): no limit.
        `oco_gtc`: hold bracket legs (orders of an OCO group) with the default DAY as GTC."""
        if participation is not None and not Decimal(0) < participation <= Decimal(1):
            raise ValueError(f"participation must be in (0, 1], got {participation}")
        self.market = market
        self.clock = clock
        self.commission = commission or Commission()
        self.slippage = slippage or Slippage()
        self.participation = participation
        self.oco_gtc = oco_gtc
        self._working: dict[str, _Working] = {}
        self._by_due: dict[int, list[str]] = {}
        self._fill_seq = 0
        self._seq = 0
        self._used: dict[tuple[str, int], Decimal] = {}  # shares filled per (symbol, bar)
        self.session_ns = 0  # the session the engine is at (informational: timing uses the clock)

    # -- Broker protocol ---------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        now = self.clock.now()
        req = order.request
        problem = self._invalid(req)
        if problem:
            return order.transition(OrderStatus.REJECTED, now, problem)
        bars = self.market.bars[req.symbol]
        tif = self.time_in_force(req)
        start = _start_index(bars, tif, pd.Timestamp(now).value)
        accepted = order.transition(OrderStatus.ACCEPTED, now)
        self._seq += 1
        work = _Working(accepted, self._seq, tif, start, _NO_DATE)
        self._working[order.client_order_id] = work
        self._schedule(work, start)
        return accepted

    def cancel(self, client_order_id: str) -> bool:
        return self._working.pop(client_order_id, None) is not None

    # -- simulation ----------------------------------------------------------------------
    def time_in_force(self, request: OrderRequest) -> TimeInForce:
        """The time in force the simulation applies (bracket legs with the default DAY: GTC)."""
        if (
            self.oco_gtc
            and request.oco_group is not None
            and request.time_in_force is TimeInForce.DAY
            and request.order_type is not OrderType.MARKET
        ):
            return TimeInForce.GTC
        return request.time_in_force

    def due_ns(self, client_order_id: str) -> int | None:
        work = self._working.get(client_order_id)
        return None if work is None or work.due_ns == _NO_DATE else work.due_ns

    def working(self) -> list[Order]:
        return [w.order for w in self._working.values()]

    def fills_for(self, session_ns: int, at: datetime) -> list[tuple[Order, Fill | None, str]]:
        """`events_for` as (order, fill or None, reason) rows: a fill, or a rejection or expiry
        with its reason. `at` is kept for compatibility: fill instants come from the calendar."""
        return [(e.order, e.fill, e.reason) for e in self.events_for(session_ns, at)]

    def events_for(self, session_ns: int, at: datetime | None = None) -> list[SimEvent]:
        """Run the orders due on this session, in submission order with stops before limits."""
        ids = self._by_due.pop(session_ns, [])
        due = [
            self._working[i]
            for i in ids
            if i in self._working and self._working[i].due_ns == session_ns
        ]
        due.sort(key=lambda w: (_kind(w) is OrderType.LIMIT, w.seq))
        out: list[SimEvent] = []
        for work in due:
            cid = work.order.client_order_id
            if cid not in self._working:  # cancelled by an OCO sibling
                continue
            events = self._run(work, session_ns)
            out.extend(events)
            group = work.order.request.oco_group
            if group is not None and any(e.fill is not None for e in events):
                for other in [
                    w
                    for w in self._working.values()
                    if w.order.request.oco_group == group and w is not work
                ]:
                    del self._working[other.order.client_order_id]
        return out

    # -- internals -------------------------------------------------------------------------
    def _invalid(self, req: OrderRequest) -> str:
        if req.symbol not in self.market.bars:
            return f"no market data for {req.symbol}"
        kind, tif = req.order_type, req.time_in_force
        if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) and req.limit_price is None:
            return f"a {kind} order needs a limit price"
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and req.stop_price is None:
            return f"a {kind} order needs a stop price"
        if tif in (TimeInForce.OPG, TimeInForce.CLS) and kind not in (
            OrderType.MARKET,
            OrderType.LIMIT,
        ):
            return f"a {kind} order cannot be {tif}: opg and cls orders are market or limit orders"
        if tif is TimeInForce.OPG and self.market.bars[req.symbol].close_only:
            return f"{req.symbol} is a close-only series: no opening price for an opg order"
        return ""

    def _schedule(self, work: _Working, start: int) -> None:
        """Set the session the order is next looked at: its only session (DAY, OPG, CLS), or
        the first bar from `start` on which it can fill or (a stop-limit) trigger."""
        bars = self.market.bars[work.order.request.symbol]
        n = len(bars.dates)
        if start >= n:
            work.due_ns = _NO_DATE
            return
        if work.tif in _SINGLE_SESSION:
            work.due_ns = int(bars.dates[start])
        else:
            hits = np.flatnonzero(_reachable(work, bars, start, n))
            work.due_ns = int(bars.dates[start + hits[0]]) if len(hits) else _NO_DATE
        if work.due_ns != _NO_DATE:
            self._by_due.setdefault(work.due_ns, []).append(work.order.client_order_id)

    def _run(self, work: _Working, session_ns: int) -> list[SimEvent]:
        req = work.order.request
        bars = self.market.bars[req.symbol]
        i = int(np.searchsorted(bars.dates, session_ns, side="left"))
        single = work.tif in _SINGLE_SESSION
        if not _fillable(work, bars, i, i + 1)[0]:
            if req.order_type is OrderType.STOP_LIMIT and _triggers(req, bars, i, i + 1)[0]:
                work.triggered = True
            if single:
                return [self._expire(work, bars, i, _not_reached(work, bars, i))]
            self._schedule(work, i + 1)
            return []
        price, at_open = bar_price(work, bars, i)
        price = self.slippage.apply(price, req.side)
        if work.qty is None:
            work.qty = fill_quantity(req, price, self.commission)
            if work.qty <= 0:
                why = f"${req.notional} buys no whole share at ${price}"
                return [self._reject(work, bars, i, why)]
        remaining = work.qty - work.order.filled_qty
        cap = self._cap(req.symbol, bars, i, req.fractional)
        qty = remaining if cap is None else min(remaining, cap)
        work.triggered = True
        if qty <= 0:
            if single:
                return [self._expire(work, bars, i, "no volume left on the bar to fill")]
            self._schedule(work, i + 1)
            return []
        at = _instant(bars.opens_ns[i] if at_open else bars.closes_ns[i])
        fill = Fill(
            execution_id=f"sim-{self._fill_seq + 1}",
            client_order_id=work.order.client_order_id,
            symbol=req.symbol,
            side=req.side,
            qty=qty,
            price=price,
            commission=self._commission(work, qty, price),
            session=_session(bars, i),
            at=at,
        )
        self._fill_seq += 1
        if cap is not None:
            self._used[(req.symbol, i)] = self._used.get((req.symbol, i), Decimal(0)) + qty
        done = qty == remaining
        status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        work.order = work.order.with_fill(fill).transition(status, at)
        events = [SimEvent(work.order, fill, status)]
        if done:
            del self._working[work.order.client_order_id]
        elif single:
            left = remaining - qty
            events.append(
                self._expire(work, bars, i, f"{left} unfilled at the participation limit")
            )
        else:
            self._schedule(work, i + 1)
        return events

    def _cap(self, symbol: str, bars: SymbolBars, i: int, fractional: bool) -> Decimal | None:
        """The most shares an order may fill on bar i: the participation share of the bar's
        volume less what other orders in the symbol filled on it; None when there is no limit."""
        if self.participation is None or bars.volume is None:
            return None
        volume = float(bars.volume[i])
        if not np.isfinite(volume):
            return None
        step = _FRACTION_STEP if fractional else Decimal(1)
        room = Decimal(repr(volume)) * self.participation - self._used.get((symbol, i), Decimal(0))
        return max(room.quantize(step, rounding=ROUND_FLOOR), Decimal(0))

    def _commission(self, work: _Working, qty: Decimal, price: Decimal) -> Decimal:
        """This fill's share of the order's commission: the minimum is charged once per order."""
        c = self.commission
        work.raw_fees += qty * price * c.rate + qty * c.per_share
        if work.raw_fees == 0:
            return Decimal(0)
        total = max(work.raw_fees, c.minimum).quantize(CENT, rounding=ROUND_HALF_UP)
        fee = total - work.charged
        work.charged = total
        return fee

    def _expire(self, work: _Working, bars: SymbolBars, i: int, why: str) -> SimEvent:
        reason = f"{work.tif} order expired on {_session(bars, i)}: {why}"
        return self._close(work, bars, i, OrderStatus.EXPIRED, reason)

    def _reject(self, work: _Working, bars: SymbolBars, i: int, why: str) -> SimEvent:
        return self._close(work, bars, i, OrderStatus.REJECTED, why)

    def _close(
        self, work: _Working, bars: SymbolBars, i: int, status: OrderStatus, reason: str
    ) -> SimEvent:
        self._working.pop(work.order.client_order_id, None)
        work.order = work.order.transition(status, _instant(bars.closes_ns[i]), reason)
        return SimEvent(work.order, None, status, reason)


# -- the bar rules (pure) -------------------------------------------------------------------
def _start_index(bars: SymbolBars, tif: TimeInForce, now_ns: int) -> int:
    """The first bar an order submitted at `now_ns` works on (see the module docstring)."""
    if bars.close_only:
        return int(np.searchsorted(bars.opens_ns, now_ns, side="right"))
    if tif is TimeInForce.CLS:
        return int(np.searchsorted(bars.closes_ns, now_ns, side="right"))
    return int(np.searchsorted(bars.opens_ns, now_ns, side="left"))


def _kind(work: _Working) -> OrderType:
    """The order type in force: a triggered stop is a market order, a triggered stop-limit a
    limit order."""
    kind = work.order.request.order_type
    if work.triggered and kind is OrderType.STOP:
        return OrderType.MARKET
    if work.triggered and kind is OrderType.STOP_LIMIT:
        return OrderType.LIMIT
    return kind


def _reachable(work: _Working, bars: SymbolBars, lo: int, hi: int) -> np.ndarray:
    """Bars in [lo, hi) on which the order fills or (a stop-limit) triggers."""
    fills = _fillable(work, bars, lo, hi)
    if _kind(work) is OrderType.STOP_LIMIT:
        return np.asarray(fills | _triggers(work.order.request, bars, lo, hi))
    return fills


def _triggers(req: OrderRequest, bars: SymbolBars, lo: int, hi: int) -> np.ndarray:
    assert req.stop_price is not None
    stop = float(req.stop_price)
    if req.side is Side.BUY:
        return np.asarray(bars.high[lo:hi] >= stop)
    return np.asarray(bars.low[lo:hi] <= stop)


def _fillable(work: _Working, bars: SymbolBars, lo: int, hi: int) -> np.ndarray:
    """Bars in [lo, hi) on which the order fills (vectorized)."""
    req, kind, tif = work.order.request, _kind(work), work.tif
    buy = req.side is Side.BUY
    o, h, low = bars.open[lo:hi], bars.high[lo:hi], bars.low[lo:hi]
    if tif in (TimeInForce.OPG, TimeInForce.CLS):
        fixed = o if tif is TimeInForce.OPG else bars.close[lo:hi]
        if kind is OrderType.MARKET:
            return np.ones(len(fixed), dtype=bool)
        assert req.limit_price is not None
        limit = float(req.limit_price)
        return np.asarray(fixed <= limit if buy else fixed >= limit)
    if kind is OrderType.MARKET:
        return np.ones(len(o), dtype=bool)
    if kind is OrderType.LIMIT:
        assert req.limit_price is not None
        limit = float(req.limit_price)
        return np.asarray(low <= limit if buy else h >= limit)
    assert req.stop_price is not None
    stop = float(req.stop_price)
    if kind is OrderType.STOP:
        return np.asarray(h >= stop if buy else low <= stop)
    assert req.limit_price is not None
    limit = float(req.limit_price)
    if buy:
        gap = o >= stop
        return np.asarray((gap & (low <= limit)) | (~gap & (h >= stop) & (stop <= limit)))
    gap = o <= stop
    return np.asarray((gap & (h >= limit)) | (~gap & (low <= stop) & (stop >= limit)))


def bar_price(work: _Working, bars: SymbolBars, i: int) -> tuple[Decimal, bool]:
    """The price, before slippage, at which the order fills on bar i (which it reaches), and
    whether that is a fill at the open."""
    req, tif = work.order.request, work.tif
    if bars.close_only or tif is TimeInForce.CLS:
        return to_price(float(bars.close[i])), False
    opening = to_price(float(bars.open[i]))
    if tif is TimeInForce.OPG:
        return opening, True
    price = execution_price(req, float(bars.open[i]), float(bars.close[i]), work.triggered)
    return price, price == opening


def _not_reached(work: _Working, bars: SymbolBars, i: int) -> str:
    req = work.order.request
    if work.tif is TimeInForce.OPG:
        return f"the open {_plain(bars.open[i])} is beyond the limit {req.limit_price}"
    if work.tif is TimeInForce.CLS:
        return f"the close {_plain(bars.close[i])} is beyond the limit {req.limit_price}"
    if work.triggered and req.order_type is OrderType.STOP_LIMIT:
        return f"stop {req.stop_price} triggered but the limit {req.limit_price} was not reached"
    level = req.limit_price if _kind(work) is OrderType.LIMIT else req.stop_price
    return f"{_kind(work)} {level} not reached"


def _plain(price: float) -> str:
    return format(to_price(float(price)).normalize(), "f")


def _session(bars: SymbolBars, i: int) -> date:
    return pd.Timestamp(int(bars.dates[i])).date()


def _instant(ns: np.int64 | int) -> datetime:
    return pd.Timestamp(int(ns), tz=UTC).to_pydatetime()


# -- shared with the paper account ---------------------------------------------------------------
def execution_price(
    request: OrderRequest, open_: float | None, close: float, triggered: bool = False
) -> Decimal:
    """The price a bar gives an order that it fills, before slippage: the open (the close when
    the series has no open). A limit fills at the limit or a better open (buy: min(open, limit),
    sell: max), a stop at the stop or a worse open (buy: max(open, stop), sell: min); a
    stop-limit at the stop, or as a limit when the open gaps through the stop. A CLS order
    fills at the close. `triggered`: the stop of this stop (stop-limit) order was reached
    earlier, so it is now a market (limit) order."""
    if open_ is None or request.time_in_force is TimeInForce.CLS:
        return to_price(close)
    opening = to_price(open_)
    if request.time_in_force is TimeInForce.OPG:
        return opening
    buy = request.side is Side.BUY
    kind, stop, limit = request.order_type, request.stop_price, request.limit_price
    if kind is OrderType.STOP_LIMIT and stop is not None and limit is not None:
        if triggered or (open_ >= float(stop) if buy else open_ <= float(stop)):
            kind = OrderType.LIMIT
        else:
            return stop
    if kind is OrderType.STOP and stop is not None and not triggered:
        return max(opening, stop) if buy else min(opening, stop)
    if kind is OrderType.LIMIT and limit is not None:
        return min(opening, limit) if buy else max(opening, limit)
    return opening


def fill_quantity(request: OrderRequest, price: Decimal, commission: Commission) -> Decimal:
    """Shares for an order at `price`: its qty, or the most whole (or fractional) shares whose
    cost plus commission fits its notional."""
    if request.qty is not None:
        return request.qty
    if request.notional is None or request.side is Side.SELL:
        raise ValueError("a notional order must be a buy")
    step = _FRACTION_STEP if request.fractional else Decimal(1)
    qty = (request.notional / price).quantize(step, rounding=ROUND_FLOOR)
    while qty > 0 and qty * price + commission(qty, price) > request.notional:
        qty -= step
    return qty


def fill_order(
    order: Order,
    open_: float | None,
    close: float,
    commission: Commission,
    slippage: Slippage,
    session: date,
    at: datetime,
    execution_id: str,
) -> Fill | str:
    """Fill an order on one bar; returns the fill, or why it cannot fill."""
    req = order.request
    price = slippage.apply(execution_price(req, open_, close), req.side)
    qty = fill_quantity(req, price, commission)
    if qty <= 0:
        return f"${req.notional} buys no whole share at ${price}"
    return Fill(
        execution_id=execution_id,
        client_order_id=order.client_order_id,
        symbol=req.symbol,
        side=req.side,
        qty=qty,
        price=price,
        commission=commission(qty, price),
        session=session,
        at=at,
    )
