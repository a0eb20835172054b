"""The event-driven backtest engine: the truth for every other engine.

It drives the live path — strategies → signals → sizing → risk gate → order manager → broker —
with a `SimClock` and the `SimulatedBroker`. Signals at bar t's close fill at bar t+1's open (the
next close on a close-only series). Work is done only on sessions where something happens (a
signal, a fill, a stop or target); the daily equity curve is computed vectorized afterwards from
the booked fills.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from alphatrader.clock import SimClock
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
from alphatrader.domain.trade import Trade
from alphatrader.errors import DataError, InputError
from alphatrader.execution.brokers.simulated import SimMarket, SimulatedBroker
from alphatrader.execution.costs import Commission, Slippage, to_price
from alphatrader.execution.ledger import Ledger
from alphatrader.execution.order_manager import OrderManager
from alphatrader.portfolio.sizing import AllInSizer, Limits, SafetySizer, Sizer, SizingMode
from alphatrader.risk.gate import AccountView, Rejected, RiskGate
from alphatrader.strategies.base import ENTRY, Strategy

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    initial_cash: Decimal
    sizing: SizingMode = "safety"
    limits: Limits = field(default_factory=Limits.all_in)
    commission: Commission = field(default_factory=Commission)
    slippage: Slippage = field(default_factory=Slippage)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    session: date
    symbol: str
    strategy: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class BacktestResult:
    strategies: list[str]
    symbols: list[str]
    start: date
    end: date
    initial_cash: Decimal
    final_equity: Decimal
    equity: pd.Series  # daily marks (float), indexed by session
    exposure: pd.Series  # market value of positions / equity, daily
    trades: list[Trade]  # closed trades, then open ones marked to the last close
    fills: list[Fill]
    rejections: list[Rejection]
    traded_notional: Decimal
    bars: int  # symbol-bars in the tested range


@dataclass(slots=True)
class _SignalRow:
    strategy: str
    symbol: str
    action: str
    confidence: float
    reason: str
    stop_loss: float
    take_profit: float


class BacktestEngine:
    def __init__(
        self,
        strategies: Sequence[Strategy],
        universe: Mapping[str, Series],
        config: BacktestConfig,
        progress: Progress | None = None,
        targets: Sequence[str] | None = None,
    ) -> None:
        """`universe` holds every loaded series; per-symbol strategies trade `targets` (default:
        all of them) where the series has the fields they need; cross-sectional strategies use
        their own instruments."""
        if not strategies:
            raise InputError("no strategy given")
        self.strategies = list(strategies)
        self.universe = dict(universe)
        self.targets = list(targets) if targets is not None else sorted(self.universe)
        self.config = config
        self.progress = progress or (lambda stage, done, total: None)
        limits = config.limits if config.sizing == "safety" else Limits.all_in()
        self.sizer: Sizer = SafetySizer(limits)
        if config.sizing == "all-in":
            self.sizer = AllInSizer()
        tradable = frozenset(s for s, v in self.universe.items() if v.instrument.tradable)
        self.gate = RiskGate(limits, tradable)

    # -- public ------------------------------------------------------------------------------
    def run(self) -> BacktestResult:
        dates = self._session_index()
        signals = self._signals(dates[0], dates[-1])
        opens_ns, closes_ns = _session_instants(dates)
        clock = SimClock(datetime.fromtimestamp(int(opens_ns[0]) / 1e9, UTC))
        market = SimMarket(self.universe)
        broker = SimulatedBroker(market, clock, self.config.commission, self.config.slippage)
        ledger = Ledger(cash=self.config.initial_cash)
        om = OrderManager(broker, ledger, clock)
        state = _RunState(om, broker, market, self.sizer, self.gate)

        heap = sorted(signals)
        heapq.heapify(heap)
        seen = set(heap)
        date_pos = {int(d): i for i, d in enumerate(dates.asi8)}
        total = len(heap)
        done = 0
        while heap:
            day = heapq.heappop(heap)
            i = date_pos.get(day)
            if i is None:  # a fill on a bar outside the tested range
                continue
            clock.advance_to(_instant(opens_ns[i]))
            broker.session_ns = day
            wake = state.book_fills(day, clock.now())
            clock.advance_to(_instant(closes_ns[i]))
            wake += state.act_on_signals(day, signals.get(day, ()))
            for row_day in wake:
                if row_day not in seen:
                    seen.add(row_day)
                    heapq.heappush(heap, row_day)
                    total += 1
            done += 1
            if done % 256 == 0:
                self.progress("simulating", done, total)
        self.progress("simulating", total, total)
        state.expire_working(end=dates[-1].date())
        return self._result(dates, ledger, state)

    # -- stages --------------------------------------------------------------------------
    def _session_index(self) -> pd.DatetimeIndex:
        """XNYS sessions covered by the data. A tradable series with a bar on a day that is
        not a session cannot be filled honestly, so that fails; signal series (a T-bill index
        priced on bond-market days) may have such bars, and they are simply not sessions."""
        start, end = self.config.start, self.config.end
        union = pd.DatetimeIndex([]).as_unit("ns")
        for series in self.universe.values():
            union = union.union(pd.DatetimeIndex(series.bars.index).as_unit("ns"))
        if start is not None:
            union = union[union >= start]
        if end is not None:
            union = union[union <= end]
        if len(union) < 2:
            raise InputError(
                f"no data between {_fmt(start, 'the start')} and {_fmt(end, 'the end')} "
                "for the chosen symbols; "
                "see `alphatrader data list` for the ranges"
            )
        valid = union.isin(calendar.sessions(union[0], union[-1]))
        for symbol, series in self.universe.items():
            off = series.bars.index[~series.bars.index.isin(union[valid])]
            off = off[(off >= union[0]) & (off <= union[-1])]
            if series.instrument.tradable and len(off):
                raise DataError(
                    f"{symbol} has a bar on {off[0].date()}, which is not an XNYS session; "
                    "run `alphatrader data check` and fix the series"
                )
        return union[valid]

    def _signals(self, first: pd.Timestamp, last: pd.Timestamp) -> dict[int, list[_SignalRow]]:
        by_day: dict[int, list[_SignalRow]] = {}
        for n, strategy in enumerate(self.strategies):
            universe = self._universe_for(strategy)
            for symbol, frame in strategy.generate(universe).items():
                if frame.empty:
                    continue
                window = frame.loc[(frame.index >= first) & (frame.index <= last)]
                days = pd.DatetimeIndex(window.index).as_unit("ns").asi8
                cols = [
                    window[c].to_numpy()
                    for c in ("action", "confidence", "reason", "stop_loss", "take_profit")
                ]
                for j, day in enumerate(days):
                    by_day.setdefault(int(day), []).append(
                        _SignalRow(
                            strategy.name,
                            symbol,
                            str(cols[0][j]),
                            float(cols[1][j]),
                            str(cols[2][j]),
                            float(cols[3][j]),
                            float(cols[4][j]),
                        )
                    )
            self.progress("signals", n + 1, len(self.strategies))
        return by_day

    def _universe_for(self, strategy: Strategy) -> dict[str, Series]:
        if strategy.instruments is not None:
            return {s: self.universe[s] for s in strategy.instruments if s in self.universe}
        return {
            s: self.universe[s]
            for s in self.targets
            if strategy.requires <= self.universe[s].instrument.fields
        }

    def _result(self, dates: pd.DatetimeIndex, ledger: Ledger, state: _RunState) -> BacktestResult:
        cash, values = _equity_parts(dates, ledger.fills, self.universe, self.config.initial_cash)
        equity = cash + values
        with np.errstate(divide="ignore", invalid="ignore"):
            exposure = np.where(equity > 0, values / equity, 0.0)
        marks = {
            sym: to_price(float(self.universe[sym].bars["close"].loc[: dates[-1]].iloc[-1]))
            for sym in ledger.positions
        }
        final = ledger.cash + sum(
            (p.qty * marks[s] for s, p in ledger.positions.items()), Decimal(0)
        )
        bars = sum(
            int(((s.bars.index >= dates[0]) & (s.bars.index <= dates[-1])).sum())
            for s in self.universe.values()
        )
        return BacktestResult(
            strategies=[s.name for s in self.strategies],
            symbols=sorted(self.universe),
            start=dates[0].date(),
            end=dates[-1].date(),
            initial_cash=self.config.initial_cash,
            final_equity=final,
            equity=pd.Series(equity, index=dates, name="equity"),
            exposure=pd.Series(exposure, index=dates, name="exposure"),
            trades=[*ledger.trades, *ledger.open_trades(marks)],
            fills=list(ledger.fills),
            rejections=state.rejections,
            traded_notional=sum((f.qty * f.price for f in ledger.fills), Decimal(0)),
            bars=bars,
        )


class _RunState:
    """What the event loop tracks between sessions: pending entries, exits and exit legs."""

    def __init__(
        self,
        om: OrderManager,
        broker: SimulatedBroker,
        market: SimMarket,
        sizer: Sizer,
        gate: RiskGate,
    ) -> None:
        self.om, self.broker, self.market, self.sizer, self.gate = om, broker, market, sizer, gate
        self.pending_entry: dict[str, str] = {}  # symbol -> client order id
        self.pending_exit: dict[str, str] = {}
        self.legs: dict[str, list[str]] = {}  # symbol -> resting stop/target order ids
        self.entry_plan: dict[str, OrderRequest] = {}  # cid -> request (for stop/target)
        self.reserved = Decimal(0)
        self.rejections: list[Rejection] = []

    def book_fills(self, day: int, at: datetime) -> list[int]:
        """Book the fills due today, including exit legs that trigger on the entry's own bar;
        returns the later sessions that new exit legs wake up on."""
        wake: list[int] = []
        while batch := self.broker.fills_for(day, at):
            for order, fill, why in batch:
                wake += self._book(day, order, fill, why)
        return [d for d in wake if d != day]

    def _book(self, day: int, order: Order, fill: Fill | None, why: str) -> list[int]:
        cid, symbol = order.client_order_id, order.symbol
        if order.side is Side.BUY:
            self.pending_entry.pop(symbol, None)
            self.reserved -= order.request.notional or Decimal(0)
        elif self.pending_exit.get(symbol) == cid:
            del self.pending_exit[symbol]
        if fill is None:
            self.om.reject(cid, why)
            self._reject(day, symbol, order.request.strategy, "no_fill", why)
            return []
        self.om.on_fill(fill)
        if order.side is Side.BUY:
            return self._place_exit_legs(order.request, fill, day)
        self._cancel_legs(symbol, keep=cid)
        return []

    def act_on_signals(self, day: int, rows: Sequence[_SignalRow]) -> list[int]:
        """Exits first, then entries by confidence; returns the sessions to wake up on."""
        session = pd.Timestamp(day).date()
        wake: list[int] = []
        exits = [r for r in rows if r.action != ENTRY]
        entries = sorted(
            (r for r in rows if r.action == ENTRY),
            key=lambda r: (-r.confidence, r.strategy, r.symbol),
        )
        for row in exits:
            wake.extend(self._exit(row, session))
        for row in entries:
            wake.extend(self._enter(row, session, day))
        return wake

    def expire_working(self, end: date) -> None:
        for order in self.broker.working():
            self.broker.cancel(order.client_order_id)
            self.om.expire(order.client_order_id, f"backtest ended on {end}")

    # -- internals -------------------------------------------------------------------------
    def _exit(self, row: _SignalRow, session: date) -> list[int]:
        pos = self.om.ledger.positions.get(row.symbol)
        if pos is None or pos.strategy != row.strategy or row.symbol in self.pending_exit:
            return []  # stateless strategies emit exits while flat: nothing to do
        self._cancel_legs(row.symbol, keep="")  # the bracket goes before the position does
        request = OrderRequest(row.symbol, Side.SELL, row.strategy, row.reason, qty=pos.qty)
        order = self.om.submit(request, session, "exit")
        self.pending_exit[row.symbol] = order.client_order_id
        return self._due(order.client_order_id)

    def _enter(self, row: _SignalRow, session: date, day: int) -> list[int]:
        ledger = self.om.ledger
        available = ledger.cash - self.reserved
        held = frozenset(ledger.positions) | frozenset(self.pending_entry)
        notional = self.sizer.notional(row.confidence, available)
        request = OrderRequest(
            row.symbol,
            Side.BUY,
            row.strategy,
            row.reason,
            notional=notional if notional > 0 else Decimal("0.01"),
            stop_loss=_price_or_none(row.stop_loss),
            take_profit=_price_or_none(row.take_profit),
        )
        view = AccountView(available, held, len(held))
        verdict = self.gate.check(request, view)
        if isinstance(verdict, Rejected):
            self._reject(day, row.symbol, row.strategy, verdict.rule, verdict.reason)
            return []
        order = self.om.submit(request, session, "entry")
        if order.status is OrderStatus.REJECTED:
            self._reject(day, row.symbol, row.strategy, "broker", order.reject_reason)
            return []
        self.pending_entry[row.symbol] = order.client_order_id
        self.reserved += notional
        return self._due(order.client_order_id)

    def _place_exit_legs(self, entry: OrderRequest, fill: Fill, day: int) -> list[int]:
        legs: list[str] = []
        group = f"{fill.client_order_id}-oco"
        session = pd.Timestamp(day).date()
        for leg, price, kind in (
            ("stop", entry.stop_loss, OrderType.STOP),
            ("target", entry.take_profit, OrderType.LIMIT),
        ):
            if price is None:
                continue
            request = OrderRequest(
                entry.symbol,
                Side.SELL,
                entry.strategy,
                f"{leg} at {price}",
                qty=fill.qty,
                order_type=kind,
                time_in_force=TimeInForce.GTC,  # exit legs rest until filled or cancelled
                stop_price=price if kind is OrderType.STOP else None,
                limit_price=price if kind is OrderType.LIMIT else None,
                oco_group=group,
            )
            order = self.om.submit(request, session, leg)
            legs.append(order.client_order_id)
        self.legs[entry.symbol] = legs
        return [due for cid in legs for due in self._due(cid)]

    def _cancel_legs(self, symbol: str, keep: str) -> None:
        for cid in self.legs.pop(symbol, []):
            if cid != keep:
                self.om.cancel(cid)

    def _due(self, cid: str) -> list[int]:
        due = self.broker.due_ns(cid)
        return [] if due is None else [due]

    def _reject(self, day: int, symbol: str, strategy: str, rule: str, reason: str) -> None:
        session = pd.Timestamp(day).date()
        self.rejections.append(Rejection(session, symbol, strategy, rule, reason))


def _price_or_none(value: float) -> Decimal | None:
    return None if np.isnan(value) else to_price(value)


def _instant(ns: np.int64) -> datetime:
    return datetime.fromtimestamp(int(ns) / 1e9, UTC)


def _fmt(stamp: pd.Timestamp | None, default: str) -> str:
    return default if stamp is None else str(stamp.date())


def _session_instants(dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    schedule = calendar.xnys().schedule.reindex(dates)
    opens = pd.DatetimeIndex(schedule["open"].array).as_unit("ns").asi8
    closes = pd.DatetimeIndex(schedule["close"].array).as_unit("ns").asi8
    return opens, closes


def _equity_parts(
    dates: pd.DatetimeIndex,
    fills: Sequence[Fill],
    universe: Mapping[str, Series],
    initial_cash: Decimal,
) -> tuple[np.ndarray, np.ndarray]:
    """Daily cash and market value, vectorized from the fills (positions are step functions)."""
    n = len(dates)
    cash_delta = np.zeros(n)
    qty_delta: dict[str, np.ndarray] = {}
    day_ns = dates.asi8
    for fill in fills:
        i = int(np.searchsorted(day_ns, pd.Timestamp(fill.session).value))
        sign = -1.0 if fill.side is Side.BUY else 1.0
        cash_delta[i] += sign * float(fill.qty * fill.price) - float(fill.commission)
        qty_delta.setdefault(fill.symbol, np.zeros(n))[i] -= sign * float(fill.qty)
    cash = float(initial_cash) + np.cumsum(cash_delta)
    value = np.zeros(n)
    for symbol, delta in qty_delta.items():
        close = universe[symbol].bars["close"].reindex(dates).ffill().to_numpy()
        value += np.nan_to_num(np.cumsum(delta) * close)
    return cash, value
