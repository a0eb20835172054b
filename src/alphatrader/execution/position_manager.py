"""Position management: the exits of one open position, pure and deterministic.

A `ManagedPosition` carries its exit rules — a stop-loss, scale-out targets and a final
take-profit, a trailing stop (a percent or an ATR multiple from the best price since entry), a
time limit in sessions — and its state: open quantity, the stop in force, the best price seen,
sessions held, realized P&L. `step(position, bar)` moves it across one daily bar and returns the
new position with the exits the bar caused; nothing else changes it, so the same bars give the
same exits in a backtest, on paper and live.

Where the exits are executed:

- **At the broker** when it supports it (`BrokerCapabilities.oco` or `.bracket`):
  `protective_orders` gives the stop and the next target as one OCO group of GTC orders;
  after a fill (`record_exit`) or a stop move, the caller cancels the group and sends the new
  one (`protective_orders` again; `needs_replace` says when). `step(..., local=False)` then only
  moves the trailing stop, counts sessions and makes the time exit.
- **Locally** otherwise: `evaluate(position, bar)` lists the exits the bar triggers, priced by
  the simulated broker's rules, and `step` books them.

The rules on one bar, for a long (a short is the mirror image):

1. Time exit: after `max_sessions` sessions held (the entry's included), everything is sold at
   the next session's open, as a market order placed after the close would be.
2. Stop: when the low reaches the stop in force, everything is sold at min(open, stop). When a
   bar reaches both the stop and a target, the stop is assumed first (the conservative reading).
3. Targets, nearest first: when the high reaches one, its fraction of the initial quantity is
   sold at max(open, target) (whole shares unless fractional; the last target, or the
   take-profit, sells what is left); a target may move the stop to break-even (the entry
   price), from the next bar on: a daily bar does not say whether it came back after the target.
4. After the bar: the best price becomes the highest high since entry, and a trailing stop
   moves to best × (1 − percent) or best − multiple × ATR (the tighter when both are set),
   only ever upwards; it is in force from the next bar.

P&L is in Decimal: realized from the exits booked (less the commissions given), unrealized
marked to a price.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

from alphatrader.domain.orders import OrderRequest, OrderType, Side, TimeInForce
from alphatrader.execution.costs import PRICE_STEP, to_price

_FRACTION_STEP = Decimal("0.000000001")


class ExitKind(StrEnum):
    STOP = "stop"
    BREAK_EVEN = "break_even"  # the stop, after a target moved it to the entry price
    TRAILING_STOP = "trailing_stop"
    SCALE_OUT = "scale_out"
    TAKE_PROFIT = "take_profit"
    TIME = "time"


@dataclass(frozen=True, slots=True)
class Target:
    """Sell `fraction` of the initial quantity at `price`; optionally move the stop to the
    entry price afterwards."""

    price: Decimal
    fraction: Decimal
    stop_to_break_even: bool = False

    def __post_init__(self) -> None:
        if not Decimal(0) < self.fraction <= Decimal(1):
            raise ValueError(f"a target's fraction must be in (0, 1], got {self.fraction}")


@dataclass(frozen=True, slots=True)
class ExitRules:
    stop_loss: Decimal | None = None
    targets: tuple[Target, ...] = ()  # scale-outs, nearest first
    take_profit: Decimal | None = None  # a final target that sells everything left
    trail_percent: Decimal | None = None  # e.g. 0.05: 5% from the best price since entry
    trail_atr: Decimal | None = None  # a multiple of the bar's ATR from the best price
    max_sessions: int | None = None

    def all_targets(self) -> tuple[Target, ...]:
        final = () if self.take_profit is None else (Target(self.take_profit, Decimal(1)),)
        return (*self.targets, *final)


@dataclass(frozen=True, slots=True)
class PriceBar:
    """One session's bar. `atr`: the ATR known at this bar's close (for the trailing stop)."""

    session: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    atr: Decimal | None = None

    @classmethod
    def of(
        cls,
        session: date,
        open_: float | None,
        high: float | None,
        low: float | None,
        close: float,
        atr: float | None = None,
    ) -> PriceBar:
        """From float market data; a close-only bar (no open/high/low) is all close."""
        c = to_price(close)
        return cls(
            session,
            c if open_ is None else to_price(open_),
            c if high is None else to_price(high),
            c if low is None else to_price(low),
            c,
            None if atr is None else to_price(atr),
        )


@dataclass(frozen=True, slots=True)
class ExitIntent:
    symbol: str
    side: Side  # SELL to close a long, BUY to close a short
    qty: Decimal
    kind: ExitKind
    order_type: OrderType  # STOP for stops, LIMIT for targets, MARKET for the time exit
    level: Decimal | None  # the stop or target level (None for the time exit)
    price: Decimal  # the price the bar gives it, before slippage
    session: date
    reason: str

    def request(self, strategy: str) -> OrderRequest:
        """The exit as an order request (a DAY order for this bar)."""
        return OrderRequest(
            self.symbol,
            self.side,
            strategy,
            self.reason,
            qty=self.qty,
            order_type=self.order_type,
            stop_price=self.level if self.order_type is OrderType.STOP else None,
            limit_price=self.level if self.order_type is OrderType.LIMIT else None,
        )


@dataclass(frozen=True, slots=True)
class ManagedPosition:
    symbol: str
    strategy: str
    long: bool
    qty: Decimal  # open quantity, positive
    initial_qty: Decimal
    entry_price: Decimal
    entry_session: date
    rules: ExitRules
    fractional: bool = False
    stop: Decimal | None = None  # the stop in force
    stop_kind: ExitKind = ExitKind.STOP
    best: Decimal = Decimal(0)  # best price since entry: highest high (long), lowest low
    sessions: int = 0  # sessions held so far, the entry's included
    targets_hit: int = 0
    realized: Decimal = Decimal(0)
    exits: tuple[ExitIntent, ...] = field(default=())  # booked so far

    @classmethod
    def open(
        cls,
        symbol: str,
        strategy: str,
        qty: Decimal,
        entry_price: Decimal,
        entry_session: date,
        rules: ExitRules,
        long: bool = True,
        fractional: bool = False,
    ) -> ManagedPosition:
        """A position just filled at `entry_price` at the open of `entry_session`."""
        if qty <= 0 or entry_price <= 0:
            raise ValueError(
                f"a position needs a positive qty and price, got {qty} @ {entry_price}"
            )
        prices = [t.price for t in rules.all_targets()]
        if prices != sorted(prices, reverse=not long):
            raise ValueError(f"targets must be nearest first, got {prices}")
        return cls(
            symbol,
            strategy,
            long,
            qty,
            qty,
            entry_price,
            entry_session,
            rules,
            fractional,
            stop=rules.stop_loss,
            best=entry_price,
        )

    @property
    def is_open(self) -> bool:
        return self.qty > 0

    @property
    def exit_side(self) -> Side:
        return Side.SELL if self.long else Side.BUY

    def unrealized(self, mark: Decimal) -> Decimal:
        return (mark - self.entry_price) * self.qty * (1 if self.long else -1)

    def pnl(self, mark: Decimal) -> Decimal:
        return self.realized + self.unrealized(mark)

    def next_target(self) -> Target | None:
        targets = self.rules.all_targets()
        return targets[self.targets_hit] if self.targets_hit < len(targets) else None


@dataclass(frozen=True, slots=True)
class Step:
    position: ManagedPosition
    exits: tuple[ExitIntent, ...]


@dataclass(frozen=True, slots=True)
class BrokerCapabilities:
    oco: bool = False  # one-cancels-other groups of resting orders
    bracket: bool = False  # stop and target attached to an entry

    @property
    def protective_orders(self) -> bool:
        return self.oco or self.bracket


# -- one bar ------------------------------------------------------------------------------------
def evaluate(position: ManagedPosition, bar: PriceBar) -> list[ExitIntent]:
    """The exits `bar` triggers for a locally managed position."""
    return list(step(position, bar).exits)


def step(position: ManagedPosition, bar: PriceBar, local: bool = True) -> Step:
    """The position after `bar`, with the exits the bar caused (booked in it). With
    `local=False` the stop and targets are the broker's (booked with `record_exit`): only the
    time exit, the trailing stop and the session count move here."""
    if not position.is_open:
        return Step(position, ())
    pos = position
    exits: list[ExitIntent] = []
    max_sessions = pos.rules.max_sessions
    if max_sessions is not None and pos.sessions >= max_sessions:
        intent = _intent(
            pos,
            bar,
            pos.qty,
            ExitKind.TIME,
            OrderType.MARKET,
            None,
            bar.open,
            f"held {pos.sessions} sessions (limit {max_sessions})",
        )
        return Step(record_exit(pos, intent), (intent,))
    if local and pos.stop is not None and _reaches_stop(pos.long, bar, pos.stop):
        price = min(bar.open, pos.stop) if pos.long else max(bar.open, pos.stop)
        intent = _intent(
            pos,
            bar,
            pos.qty,
            pos.stop_kind,
            OrderType.STOP,
            pos.stop,
            price,
            f"{pos.stop_kind} {pos.stop} reached",
        )
        return Step(record_exit(pos, intent), (intent,))
    if local:
        while pos.is_open and (target := pos.next_target()) is not None:
            if not _reaches_target(pos.long, bar, target.price):
                break
            scale = _target_intent(pos, bar, target)
            if scale is None:  # the fraction rounds to no share: the target is passed
                pos = replace(pos, targets_hit=pos.targets_hit + 1)
                continue
            exits.append(scale)
            pos = record_exit(pos, scale)
    if pos.is_open:
        pos = _trail(pos, bar)
    return Step(replace(pos, sessions=pos.sessions + 1), tuple(exits))


def record_exit(
    position: ManagedPosition, intent: ExitIntent, commission: Decimal = Decimal(0)
) -> ManagedPosition:
    """Book an exit (decided here or filled at the broker): less quantity, realized P&L, and
    for a target the next target and maybe a break-even stop."""
    if intent.qty > position.qty:
        raise ValueError(f"exit of {intent.qty} exceeds the {position.qty} held")
    sign = 1 if position.long else -1
    pos = replace(
        position,
        qty=position.qty - intent.qty,
        realized=position.realized
        + (intent.price - position.entry_price) * intent.qty * sign
        - commission,
        exits=(*position.exits, intent),
    )
    if intent.kind in (ExitKind.SCALE_OUT, ExitKind.TAKE_PROFIT):
        target = position.next_target()
        pos = replace(pos, targets_hit=pos.targets_hit + 1)
        if target is not None and target.stop_to_break_even and pos.is_open:
            pos = _move_stop(pos, pos.entry_price, ExitKind.BREAK_EVEN)
    return pos


# -- broker-side protection -----------------------------------------------------------------------
def protective_orders(position: ManagedPosition, group: str) -> list[OrderRequest]:
    """The stop (for the whole open quantity) and the next target, as one OCO group of GTC
    orders, for a broker that holds them (`BrokerCapabilities.protective_orders`)."""
    if not position.is_open:
        return []
    out: list[OrderRequest] = []
    common = {
        "symbol": position.symbol,
        "side": position.exit_side,
        "strategy": position.strategy,
        "time_in_force": TimeInForce.GTC,
        "oco_group": group,
    }
    if position.stop is not None:
        out.append(
            OrderRequest(
                reason=f"{position.stop_kind} at {position.stop}",
                qty=position.qty,
                order_type=OrderType.STOP,
                stop_price=position.stop,
                **common,  # type: ignore[arg-type]
            )
        )
    target = position.next_target()
    if target is not None:
        qty, kind = _target_qty(position, target)
        if qty > 0:
            out.append(
                OrderRequest(
                    reason=f"{kind} at {target.price}",
                    qty=qty,
                    order_type=OrderType.LIMIT,
                    limit_price=target.price,
                    **common,  # type: ignore[arg-type]
                )
            )
    return out


def needs_replace(before: ManagedPosition, after: ManagedPosition) -> bool:
    """Whether the broker's protective orders for `before` no longer fit `after`."""
    return (before.qty, before.stop, before.targets_hit) != (
        after.qty,
        after.stop,
        after.targets_hit,
    )


class PositionManager:
    """Chooses between broker-side and local exits by the broker's capabilities."""

    def __init__(self, capabilities: BrokerCapabilities) -> None:
        self.capabilities = capabilities

    @property
    def broker_side(self) -> bool:
        return self.capabilities.protective_orders

    def on_bar(self, position: ManagedPosition, bar: PriceBar) -> Step:
        return step(position, bar, local=not self.broker_side)

    def orders(self, position: ManagedPosition, group: str) -> list[OrderRequest]:
        """The resting protective orders to keep at the broker (none when managed locally)."""
        return protective_orders(position, group) if self.broker_side else []


# -- internals ----------------------------------------------------------------------------------
def _reaches_stop(long: bool, bar: PriceBar, stop: Decimal) -> bool:
    return bar.low <= stop if long else bar.high >= stop


def _reaches_target(long: bool, bar: PriceBar, level: Decimal) -> bool:
    return bar.high >= level if long else bar.low <= level


def _target_qty(pos: ManagedPosition, target: Target) -> tuple[Decimal, ExitKind]:
    last = pos.targets_hit == len(pos.rules.all_targets()) - 1
    if last or target.fraction == 1:
        return pos.qty, ExitKind.TAKE_PROFIT
    step_ = _FRACTION_STEP if pos.fractional else Decimal(1)
    qty = (pos.initial_qty * target.fraction).quantize(step_, rounding=ROUND_FLOOR)
    return min(qty, pos.qty), ExitKind.SCALE_OUT


def _target_intent(pos: ManagedPosition, bar: PriceBar, target: Target) -> ExitIntent | None:
    qty, kind = _target_qty(pos, target)
    if qty <= 0:
        return None
    price = max(bar.open, target.price) if pos.long else min(bar.open, target.price)
    n = pos.targets_hit + 1
    return _intent(
        pos,
        bar,
        qty,
        kind,
        OrderType.LIMIT,
        target.price,
        price,
        f"target {n} at {target.price} reached",
    )


def _intent(
    pos: ManagedPosition,
    bar: PriceBar,
    qty: Decimal,
    kind: ExitKind,
    order_type: OrderType,
    level: Decimal | None,
    price: Decimal,
    reason: str,
) -> ExitIntent:
    return ExitIntent(
        pos.symbol, pos.exit_side, qty, kind, order_type, level, price, bar.session, reason
    )


def _trail(pos: ManagedPosition, bar: PriceBar) -> ManagedPosition:
    best = max(pos.best, bar.high) if pos.long else min(pos.best, bar.low)
    pos = replace(pos, best=best)
    rules = pos.rules
    sign = -1 if pos.long else 1
    candidates: list[Decimal] = []
    if rules.trail_percent is not None:
        candidates.append(best * (1 + sign * rules.trail_percent))
    if rules.trail_atr is not None and bar.atr is not None:
        candidates.append(best + sign * rules.trail_atr * bar.atr)
    if not candidates:
        return pos
    level = max(candidates) if pos.long else min(candidates)
    return _move_stop(
        pos, level.quantize(PRICE_STEP, rounding=ROUND_HALF_UP), ExitKind.TRAILING_STOP
    )


def _move_stop(pos: ManagedPosition, level: Decimal, kind: ExitKind) -> ManagedPosition:
    """Move the stop to `level` only if that tightens it (up for a long, down for a short)."""
    if pos.stop is not None and (level <= pos.stop if pos.long else level >= pos.stop):
        return pos
    return replace(pos, stop=level, stop_kind=kind)
