"""The paper account: the simulated broker, persistent in the database.

Orders accepted after a session's close fill on the next session's bar with the same price rules
as the backtest (`fill_order`: the open, or the close on a close-only series). Cash, positions,
orders and fills are rows; every change happens inside the caller's transaction, so a crash
leaves either all of a session's fills booked or none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from alphatrader.domain.orders import Order, OrderRequest, OrderStatus, OrderType, Side
from alphatrader.execution.brokers.simulated import fill_order
from alphatrader.execution.costs import Commission, Slippage
from alphatrader.storage.db import audit
from alphatrader.storage.models import FillRecord, OrderRecord, PaperAccount, PositionRecord

ACCOUNT_ROW = 1
OPEN_STATUSES = ("accepted",)


@dataclass(frozen=True, slots=True)
class Bar:
    open: float | None  # None on a close-only series (and so are high and low)
    close: float
    high: float | None = None
    low: float | None = None

    def reaches_down(self, level: Decimal) -> bool:
        return (self.low if self.low is not None else self.close) <= float(level)

    def reaches_up(self, level: Decimal) -> bool:
        return (self.high if self.high is not None else self.close) >= float(level)


@dataclass(frozen=True, slots=True)
class FillOutcome:
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal | None
    status: str  # filled | rejected | expired
    reason: str


class PaperBroker:
    name = "paper"

    def __init__(
        self,
        starting_cash: Decimal,
        commission: Commission | None = None,
        slippage: Slippage | None = None,
    ) -> None:
        self.starting_cash = starting_cash
        self.commission = commission or Commission()
        self.slippage = slippage or Slippage()

    def account(self, s: Session) -> PaperAccount:
        row = s.get(PaperAccount, ACCOUNT_ROW)
        if row is None:
            now = datetime.now(UTC)
            row = PaperAccount(
                id=ACCOUNT_ROW, cash=self.starting_cash, opened_at=now, updated_at=now
            )
            s.add(row)
            s.flush()
            audit(s, "paper-broker", "paper.open", cash=str(self.starting_cash))
        return row

    def positions(self, s: Session) -> list[PositionRecord]:
        return list(s.scalars(select(PositionRecord).order_by(PositionRecord.symbol)))

    def accept(self, s: Session, order: OrderRecord) -> None:
        """Take a planned order for the next session's bar."""
        if order.status != "planned":
            return  # already sent: a resubmission changes nothing
        order.status = "accepted"
        order.broker = self.name
        order.updated_at = datetime.now(UTC)

    def cancel_open(self, s: Session, reason: str) -> int:
        rows = s.scalars(select(OrderRecord).where(OrderRecord.status.in_(OPEN_STATUSES))).all()
        for row in rows:
            row.status = "cancelled"
            row.reason = f"{row.reason} | cancelled: {reason}"
            row.updated_at = datetime.now(UTC)
        return len(rows)

    def fill_pending(
        self, s: Session, session: date, bars: Mapping[str, Bar], buffer: Decimal
    ) -> list[FillOutcome]:
        """Fill orders accepted before `session` on its bars: sells first, then buys; a buy
        that no longer fits the cash above `buffer` is cut to what fits, or rejected."""
        account = self.account(s)
        pending = s.scalars(
            select(OrderRecord)
            .where(OrderRecord.status.in_(OPEN_STATUSES), OrderRecord.session < session)
            .order_by(OrderRecord.side.desc(), OrderRecord.client_order_id)  # sell < buy
        ).all()
        outcomes = []
        for row in pending:
            bar = bars.get(row.symbol)
            if bar is None:
                outcomes.append(self._close(row, "expired", f"no {row.symbol} bar on {session}"))
                continue
            outcomes.append(self._fill(s, account, row, bar, session, buffer))
        return outcomes

    def fill_exits(self, s: Session, session: date, bars: Mapping[str, Bar]) -> list[FillOutcome]:
        """Stop-losses and take-profits of positions opened before `session`, managed locally:
        the stop when the bar reaches it (at the stop, or a worse open), else the target; the
        stop wins when one bar reaches both."""
        account = self.account(s)
        outcomes = []
        for position in self.positions(s):
            bar = bars.get(position.symbol)
            if bar is None or position.opened_session >= session:
                continue
            if position.stop_loss is not None and bar.reaches_down(position.stop_loss):
                leg, kind, level = "stop", OrderType.STOP, position.stop_loss
            elif position.take_profit is not None and bar.reaches_up(position.take_profit):
                leg, kind, level = "target", OrderType.LIMIT, position.take_profit
            else:
                continue
            now = datetime.now(UTC)
            row = OrderRecord(
                client_order_id=f"daily-{session:%Y%m%d}-{position.strategy}-"
                f"{position.symbol}-{leg}",
                session=session,
                symbol=position.symbol,
                side=Side.SELL.value,
                qty=position.qty,
                est_price=level,
                order_type=kind.value,
                limit_price=level if kind is OrderType.LIMIT else None,
                stop_loss=level if kind is OrderType.STOP else None,
                take_profit=None,
                strategy=position.strategy,
                reason=f"{leg} at {level} reached",
                status="accepted",
                broker=self.name,
                broker_order_id=None,
                filled_qty=Decimal(0),
                avg_fill_price=None,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            outcomes.append(self._fill(s, account, row, bar, session, Decimal(0)))
        return outcomes

    # -- internals --------------------------------------------------------------------------
    def _fill(
        self,
        s: Session,
        account: PaperAccount,
        row: OrderRecord,
        bar: Bar,
        session: date,
        buffer: Decimal,
    ) -> FillOutcome:
        side = Side(row.side)
        qty = row.qty
        position = s.get(PositionRecord, row.symbol)
        if side is Side.SELL:
            if position is None:
                return self._close(row, "rejected", f"no {row.symbol} position to sell")
            qty = min(qty, position.qty)
        now = datetime.now(UTC)
        order = _as_order(row, qty)
        fill = fill_order(
            order,
            bar.open,
            bar.close,
            self.commission,
            self.slippage,
            session,
            now,
            f"paper-{row.client_order_id}",
        )
        if isinstance(fill, str):
            return self._close(row, "rejected", fill)
        if side is Side.BUY:
            affordable = account.cash - buffer
            cost = fill.qty * fill.price + fill.commission
            if cost > affordable:
                fitted = (affordable / fill.price).to_integral_value(rounding="ROUND_FLOOR")
                if fitted <= 0:
                    return self._close(
                        row,
                        "rejected",
                        f"${cost:.2f} at the fill price would breach the ${buffer} buffer",
                    )
                order = _as_order(row, fitted)
                refill = fill_order(
                    order,
                    bar.open,
                    bar.close,
                    self.commission,
                    self.slippage,
                    session,
                    now,
                    fill.execution_id,
                )
                if isinstance(refill, str):
                    return self._close(row, "rejected", refill)
                fill = refill
        s.add(
            FillRecord(
                execution_id=fill.execution_id,
                client_order_id=row.client_order_id,
                symbol=row.symbol,
                side=row.side,
                qty=fill.qty,
                price=fill.price,
                commission=fill.commission,
                session=session,
                at=now,
            )
        )
        self._book(s, account, row, fill.qty, fill.price, fill.commission, session)
        row.status = "filled"
        row.filled_qty = fill.qty
        row.avg_fill_price = fill.price
        row.updated_at = now
        return FillOutcome(
            row.client_order_id, row.symbol, row.side, fill.qty, fill.price, "filled", ""
        )

    @staticmethod
    def _book(
        s: Session,
        account: PaperAccount,
        row: OrderRecord,
        qty: Decimal,
        price: Decimal,
        commission: Decimal,
        session: date,
    ) -> None:
        position = s.get(PositionRecord, row.symbol)
        if row.side == Side.BUY.value:
            account.cash -= qty * price + commission
            if position is None:
                s.add(
                    PositionRecord(
                        symbol=row.symbol,
                        qty=qty,
                        avg_price=price,
                        strategy=row.strategy,
                        opened_session=session,
                        stop_loss=row.stop_loss,
                        take_profit=row.take_profit,
                    )
                )
            else:
                total = position.qty + qty
                position.avg_price = (position.avg_price * position.qty + price * qty) / total
                position.qty = total
        else:
            assert position is not None
            account.cash += qty * price - commission
            position.qty -= qty
            if position.qty == 0:
                s.delete(position)
        account.updated_at = datetime.now(UTC)

    @staticmethod
    def _close(row: OrderRecord, status: str, reason: str) -> FillOutcome:
        row.status = status
        row.reason = f"{row.reason} | {status}: {reason}"
        row.updated_at = datetime.now(UTC)
        return FillOutcome(row.client_order_id, row.symbol, row.side, row.qty, None, status, reason)


def _as_order(row: OrderRecord, qty: Decimal) -> Order:
    request = OrderRequest(
        symbol=row.symbol,
        side=Side(row.side),
        strategy=row.strategy,
        reason=row.reason,
        qty=qty,
        order_type=OrderType(row.order_type),
        limit_price=row.limit_price,
        stop_price=row.stop_loss if row.order_type == OrderType.STOP.value else None,
    )
    return Order(
        row.client_order_id, request, created_at=row.created_at, status=OrderStatus.ACCEPTED
    )
