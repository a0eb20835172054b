"""`SimulatedBroker`: fills orders against historical bars, for backtests and paper trading.

Market orders fill at the next bar's open after submission (at the next close on a close-only
series). A stop sell triggers on the first bar whose low reaches the stop and fills at the stop,
or at the open when the bar gaps through it; a limit sell (take-profit) fills at the target or at
a better open. On a close-only series both trigger on a close and fill at that close. When a
stop and a target trigger in the same bar, the stop is assumed first (the conservative reading).
Orders of one OCO group cancel each other when one fills.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal

import numpy as np
import pandas as pd

from alphatrader.clock import Clock
from alphatrader.data.market import Series
from alphatrader.domain.orders import Fill, Order, OrderRequest, OrderStatus, OrderType, Side
from alphatrader.execution.costs import Commission, Slippage, to_price

_NO_DATE = np.iinfo(np.int64).max


@dataclass(frozen=True, slots=True)
class SymbolBars:
    dates: np.ndarray  # int64 nanoseconds, ascending
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    close_only: bool


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
    close = frame["close"].to_numpy(dtype="float64")
    if series.instrument.close_only:  # no open/high/low: every price is the close
        return SymbolBars(
            pd.DatetimeIndex(frame.index).as_unit("ns").asi8, close, close, close, close, True
        )
    return SymbolBars(
        dates=pd.DatetimeIndex(frame.index).as_unit("ns").asi8,
        open=frame["open"].to_numpy(dtype="float64"),
        high=frame["high"].to_numpy(dtype="float64"),
        low=frame["low"].to_numpy(dtype="float64"),
        close=close,
        close_only=False,
    )


@dataclass(slots=True)
class _Working:
    order: Order
    due_ns: int  # session (ns) on which the order fills; _NO_DATE if it never will


class SimulatedBroker:
    def __init__(
        self,
        market: SimMarket,
        clock: Clock,
        commission: Commission | None = None,
        slippage: Slippage | None = None,
    ) -> None:
        self.market = market
        self.clock = clock
        self.commission = commission or Commission()
        self.slippage = slippage or Slippage()
        self._working: dict[str, _Working] = {}
        self._by_due: dict[int, list[str]] = {}
        self._fill_seq = 0
        self.session_ns = 0  # the session the simulation is at (set by the engine)

    # -- Broker protocol ---------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        now = self.clock.now()
        req = order.request
        if req.symbol not in self.market.bars:
            return order.transition(OrderStatus.REJECTED, now, f"no market data for {req.symbol}")
        due = self._due(order)
        accepted = order.transition(OrderStatus.ACCEPTED, now)
        self._working[order.client_order_id] = _Working(accepted, due)
        if due != _NO_DATE:
            self._by_due.setdefault(due, []).append(order.client_order_id)
        return accepted

    def cancel(self, client_order_id: str) -> bool:
        return self._working.pop(client_order_id, None) is not None

    # -- simulation ----------------------------------------------------------------------
    def due_ns(self, client_order_id: str) -> int | None:
        work = self._working.get(client_order_id)
        return None if work is None or work.due_ns == _NO_DATE else work.due_ns

    def working(self) -> list[Order]:
        return [w.order for w in self._working.values()]

    def fills_for(self, session_ns: int, at: datetime) -> list[tuple[Order, Fill | None, str]]:
        """Execute the orders due on this session, in submission order with stops before
        targets. Returns (order, fill or None, rejection reason)."""
        ids = self._by_due.pop(session_ns, [])
        due = [self._working[i] for i in ids if i in self._working]
        due.sort(key=lambda w: w.order.request.order_type is OrderType.LIMIT)
        out: list[tuple[Order, Fill | None, str]] = []
        for work in due:
            if work.order.client_order_id not in self._working:  # cancelled by an OCO sibling
                continue
            del self._working[work.order.client_order_id]
            fill, why = self._execute(work.order, session_ns, at)
            out.append((work.order, fill, why))
            group = work.order.request.oco_group
            if fill is not None and group is not None:
                for other in [
                    w for w in self._working.values() if w.order.request.oco_group == group
                ]:
                    del self._working[other.order.client_order_id]
        return out

    # -- internals -------------------------------------------------------------------------
    def _due(self, order: Order) -> int:
        req = order.request
        bars = self.market.bars[req.symbol]
        if req.order_type is OrderType.MARKET:
            i = self.market.next_index(req.symbol, self.session_ns)
            return _NO_DATE if i is None else int(bars.dates[i])
        # Resting exit legs watch bars from the current one (OHLCV: the rest of today's bar
        # after the open fill) or from the next close (close-only: today's close is past).
        start = self.market.index_of(req.symbol, self.session_ns)
        if bars.close_only:
            start += 1
        if req.order_type is OrderType.STOP:
            assert req.stop_price is not None
            hits = np.flatnonzero(bars.low[start:] <= float(req.stop_price))
        else:
            assert req.limit_price is not None
            hits = np.flatnonzero(bars.high[start:] >= float(req.limit_price))
        return int(bars.dates[start + hits[0]]) if len(hits) else _NO_DATE

    def _execute(self, order: Order, session_ns: int, at: datetime) -> tuple[Fill | None, str]:
        req = order.request
        bars = self.market.bars[req.symbol]
        i = self.market.index_of(req.symbol, session_ns)
        open_ = None if bars.close_only else float(bars.open[i])
        fill = fill_order(
            order,
            open_,
            float(bars.close[i]),
            self.commission,
            self.slippage,
            pd.Timestamp(session_ns).date(),
            at,
            f"sim-{self._fill_seq + 1}",
        )
        if isinstance(fill, str):
            return None, fill
        self._fill_seq += 1
        return fill, ""


def execution_price(request: OrderRequest, open_: float | None, close: float) -> Decimal:
    """The price a bar gives an order, before slippage: the open (the close when the series
    has no open); a stop fills at the stop or a worse open, a limit at the limit or a better
    open."""
    if open_ is None:
        return to_price(close)
    opening = to_price(open_)
    if request.order_type is OrderType.STOP and request.stop_price is not None:
        return min(opening, request.stop_price)
    if request.order_type is OrderType.LIMIT and request.limit_price is not None:
        return max(opening, request.limit_price)
    return opening


def fill_quantity(request: OrderRequest, price: Decimal, commission: Commission) -> Decimal:
    """Shares for an order at `price`: its qty, or the most whole (or fractional) shares whose
    cost plus commission fits its notional."""
    if request.qty is not None:
        return request.qty
    if request.notional is None or request.side is Side.SELL:
        raise ValueError("a notional order must be a buy")
    step = Decimal("0.000000001") if request.fractional else Decimal(1)
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
