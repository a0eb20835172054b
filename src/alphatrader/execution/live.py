"""The persistent order manager: intents to broker orders, exactly once, whatever happens.

Rules it keeps, in the order they matter:
- An intent is written (NEW) before anything is sent, and every state change is written, with an
  `order_events` row, before it is acted on. Orders move only along the state table
  (`domain.orders.TRANSITIONS`); a repeated state is a no-op.
- The client order id is deterministic (job, session, strategy, symbol, leg). Submitting the same
  intent again returns the recorded order; nothing is sent twice for one id.
- A timeout or a 5xx is never a failure: the order becomes UNKNOWN and is looked up by its client
  id; only when the broker has no such order is it sent again — under the same id, which every
  broker deduplicates (Alpaca refuses a reused id, IB's orderRef is looked up first).
- Fills are booked once, by execution id; an order's filled quantity and average price are the
  exact Decimal sum of its fills; local positions move only with fills.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from alphatrader.clock import Clock, LiveClock
from alphatrader.domain.orders import (
    TRANSITIONS,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from alphatrader.execution.brokers.base import (
    BrokerFill,
    BrokerOrder,
    BrokerRejected,
    BrokerUnavailable,
    DuplicateClientOrderId,
    LiveBroker,
)
from alphatrader.risk.gate import Rejected, Verdict
from alphatrader.storage.db import Database
from alphatrader.storage.models import FillRecord, LocalPosition, OrderEvent, OrderRecord

log = logging.getLogger(__name__)

NEW, SUBMITTED, UNKNOWN = OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN
TERMINAL = {s.value for s in OrderStatus if s.is_terminal}
UNRESOLVED = (SUBMITTED.value, UNKNOWN.value)
# Orders are listed from a little before the oldest working one was recorded: the broker's
# submission time comes after ours, and clocks differ.
LISTING_MARGIN = timedelta(minutes=10)

Gate = Callable[[OrderRequest], Verdict]


@dataclass(frozen=True, slots=True)
class OrderIntent:
    client_order_id: str
    request: OrderRequest
    session: date
    est_price: Decimal


@dataclass(slots=True)
class SyncReport:
    fills_booked: int = 0
    duplicate_fills: int = 0
    orphan_fills: list[str] = field(default_factory=list)  # executions of orders we never sent
    status_changes: int = 0
    resent: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)


class LiveOrderManager:
    def __init__(
        self,
        db: Database,
        broker: LiveBroker,
        gate: Gate | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.broker = broker
        self.gate = gate
        self.clock = clock or LiveClock()

    # -- submission ----------------------------------------------------------------------------
    def submit(self, intent: OrderIntent) -> OrderStatus:
        """Record the intent and send it once; returns the order's state afterwards."""
        return self.submit_many([intent])[intent.client_order_id]

    def submit_many(self, intents: Iterable[OrderIntent]) -> dict[str, OrderStatus]:
        """Send a batch (a plan's orders): one transaction records the intents and their
        SUBMITTED state before anything is sent, one records the broker's answers. Intents
        already sent are not sent again; their current state is returned."""
        batch = list(intents)
        results: dict[str, OrderStatus] = {}
        to_resolve: list[str] = []
        to_send: list[tuple[str, OrderRequest]] = []
        with self.db.session() as s:
            ids = [i.client_order_id for i in batch]
            rows = {
                r.client_order_id: r
                for r in s.scalars(select(OrderRecord).where(OrderRecord.client_order_id.in_(ids)))
            }
            for intent in batch:
                cid = intent.client_order_id
                row = rows.get(cid)
                if row is None:
                    row = rows[cid] = self._record(s, intent)
                elif row.status in UNRESOLVED:
                    to_resolve.append(cid)
                    continue
                elif row.status not in (NEW.value, "planned"):
                    results[cid] = OrderStatus(row.status)
                    continue
                if row.status == "planned":
                    row.broker = self.broker.name
                    self._move(s, row, NEW, "approved for sending", "manager")
                verdict = self.gate(intent.request) if self.gate else None
                if isinstance(verdict, Rejected):
                    reason = f"{verdict.rule}: {verdict.reason}"
                    self._move(s, row, OrderStatus.REJECTED, reason, "risk")
                    results[cid] = OrderStatus.REJECTED
                    continue
                self._move(s, row, SUBMITTED, "sending", "manager")
                to_send.append((cid, intent.request))
        answers: list[tuple[str, BrokerOrder | OrderStatus, str]] = []
        for cid, request in to_send:
            try:
                answers.append((cid, self.broker.submit(request, cid), "broker"))
            except DuplicateClientOrderId:
                to_resolve.append(cid)  # it exists: adopt what the broker has
            except BrokerRejected as exc:
                answers.append((cid, OrderStatus.REJECTED, exc.reason))
            except BrokerUnavailable as exc:
                answers.append((cid, UNKNOWN, f"outcome unknown: {exc}"))
                to_resolve.append(cid)
        with self.db.session() as s:
            for cid, answer, note in answers:
                row = s.get_one(OrderRecord, cid)
                if isinstance(answer, OrderStatus):
                    self._move(s, row, answer, note, "broker")
                else:
                    self._adopt(s, row, answer, "broker")
                results[cid] = OrderStatus(row.status)
        for cid in to_resolve:
            results[cid] = self.resolve(cid)
        return results

    def resolve(self, cid: str) -> OrderStatus:
        """Settle a SUBMITTED/UNKNOWN order by looking it up; sent again (same id) only when the
        broker has no order with that id."""
        try:
            found = self.broker.get_order(cid)
        except BrokerUnavailable:
            return UNKNOWN
        if found is not None:
            return self._apply(found, "lookup")
        with self.db.session() as s:
            row = s.get_one(OrderRecord, cid)
            if row.status not in UNRESOLVED:
                return OrderStatus(row.status)
            request = request_of(row)
        log.info("order %s is not at the broker: sending it again under the same id", cid)
        return self._send_again(cid, request)

    def _send_again(self, cid: str, request: OrderRequest) -> OrderStatus:
        try:
            answer = self.broker.submit(request, cid)
        except DuplicateClientOrderId:
            found = self._lookup_quietly(cid)
            return self._apply(found, "lookup") if found is not None else UNKNOWN
        except BrokerRejected as exc:
            return self._update(cid, OrderStatus.REJECTED, exc.reason, "broker")
        except BrokerUnavailable:
            return UNKNOWN  # still unknown; the next sync looks again
        return self._apply(answer, "broker")

    def _lookup_quietly(self, cid: str) -> BrokerOrder | None:
        try:
            return self.broker.get_order(cid)
        except BrokerUnavailable:
            return None

    # -- cancellation --------------------------------------------------------------------------
    def cancel(self, cid: str, reason: str) -> None:
        with self.db.session() as s:
            row = s.get_one(OrderRecord, cid)
            if row.status in TERMINAL:
                return
            self._note(s, row, f"cancel requested: {reason}", "operator")
        try:
            self.broker.cancel(cid)
        except BrokerUnavailable:
            log.warning("cancel of %s not confirmed; the next sync will tell", cid)
        found = self._lookup_quietly(cid)
        if found is not None:
            self._apply(found, "lookup")

    def working(self) -> list[str]:
        with self.db.session() as s:
            return list(
                s.scalars(
                    select(OrderRecord.client_order_id).where(
                        OrderRecord.status.not_in(TERMINAL | {"planned"}),
                        OrderRecord.broker == self.broker.name,
                    )
                )
            )

    # -- synchronisation -----------------------------------------------------------------------
    def sync(self) -> SyncReport:
        """Book new fills, then refresh every order that is not terminal: one listing of the
        broker's recent orders, and a lookup by client id for what the listing lacks."""
        report = SyncReport()
        try:
            fills = self.broker.fills()
        except BrokerUnavailable:
            fills = []
        self._book_fills(fills, report)
        working = self._working_since()
        listed: dict[str, BrokerOrder] = {}
        if working:
            oldest = min(created for _, created in working) - LISTING_MARGIN
            try:
                listed = {o.client_order_id: o for o in self.broker.orders(after=oldest)}
            except BrokerUnavailable:
                listed = {}
        for cid, _ in working:
            before = self._status(cid)
            found = listed.get(cid)
            if found is not None:
                after = self._apply(found, "sync")
            elif before in UNRESOLVED:
                after = self.resolve(cid)
            else:
                looked = self._lookup_quietly(cid)
                after = self._apply(looked, "sync") if looked is not None else OrderStatus(before)
            if after in (SUBMITTED, UNKNOWN):
                report.unresolved.append(cid)
            report.status_changes += int(after.value != before)
        return report

    def _working_since(self) -> list[tuple[str, datetime]]:
        with self.db.session() as s:
            return [
                (cid, created)
                for cid, created in s.execute(
                    select(OrderRecord.client_order_id, OrderRecord.created_at).where(
                        OrderRecord.status.not_in(TERMINAL | {"planned"}),
                        OrderRecord.broker == self.broker.name,
                    )
                )
            ]

    def _book_fills(self, fills: Iterable[BrokerFill], report: SyncReport) -> None:
        for fill in sorted(fills, key=lambda f: (f.at, f.execution_id)):
            key = f"{self.broker.name}:{fill.execution_id}"
            with self.db.session() as s:
                if s.get(FillRecord, key) is not None:
                    report.duplicate_fills += 1
                    continue
                order = s.get(OrderRecord, fill.client_order_id)
                if order is None:
                    report.orphan_fills.append(fill.execution_id)
                    continue
                s.add(
                    FillRecord(
                        execution_id=key,
                        client_order_id=order.client_order_id,
                        symbol=fill.symbol,
                        side=fill.side.value,
                        qty=fill.qty,
                        price=fill.price,
                        commission=fill.commission,
                        session=order.session,
                        at=fill.at,
                    )
                )
                total = order.filled_qty + fill.qty
                paid = (order.avg_fill_price or Decimal(0)) * order.filled_qty
                order.avg_fill_price = (paid + fill.price * fill.qty) / total
                order.filled_qty = total
                order.updated_at = self.clock.now()
                self._position(s, fill)
                report.fills_booked += 1

    def _position(self, s: Session, fill: BrokerFill) -> None:
        pos = s.get(LocalPosition, (self.broker.name, fill.symbol))
        if pos is None:
            pos = LocalPosition(
                broker=self.broker.name,
                symbol=fill.symbol,
                qty=Decimal(0),
                avg_price=Decimal(0),
                realized_pnl=Decimal(0),
            )
            s.add(pos)
        signed = fill.qty if fill.side is Side.BUY else -fill.qty
        if pos.qty == 0 or (pos.qty > 0) == (signed > 0):  # opening or adding
            total = pos.qty + signed
            pos.avg_price = (pos.avg_price * abs(pos.qty) + fill.price * fill.qty) / abs(total)
            pos.qty = total
            return
        closing = min(abs(signed), abs(pos.qty))
        direction = Decimal(1) if pos.qty > 0 else Decimal(-1)
        pos.realized_pnl += (fill.price - pos.avg_price) * closing * direction - fill.commission
        pos.qty += signed
        if pos.qty == 0:
            pos.avg_price = Decimal(0)
        elif (pos.qty > 0) != (direction > 0):  # flipped through zero: the rest opens anew
            pos.avg_price = fill.price

    # -- state changes -------------------------------------------------------------------------
    def _apply(self, order: BrokerOrder, source: str) -> OrderStatus:
        with self.db.session() as s:
            row = s.get_one(OrderRecord, order.client_order_id)
            self._adopt(s, row, order, source)
            return OrderStatus(row.status)

    def _adopt(self, s: Session, row: OrderRecord, order: BrokerOrder, source: str) -> None:
        if order.broker_order_id and row.broker_order_id != order.broker_order_id:
            row.broker_order_id = order.broker_order_id
        # An unmapped vendor status arrives as UNKNOWN: the next sync looks again.
        self._move(s, row, order.status, f"{source}: {order.vendor_status}", source)

    def _update(self, cid: str, to: OrderStatus, reason: str, source: str) -> OrderStatus:
        with self.db.session() as s:
            row = s.get_one(OrderRecord, cid)
            self._move(s, row, to, reason, source)
            return OrderStatus(row.status)

    def _move(
        self, s: Session, row: OrderRecord, to: OrderStatus, reason: str, source: str
    ) -> None:
        current = row.status
        if current == to.value:
            return
        if current != "planned" and to not in TRANSITIONS[OrderStatus(current)]:
            # Brokers report terminal states we must accept (a fill after a cancel request);
            # anything else outside the table is recorded, not applied.
            self._note(s, row, f"ignored {current} -> {to.value} ({reason})", source)
            return
        s.add(
            OrderEvent(
                client_order_id=row.client_order_id,
                at=self.clock.now(),
                from_status=current,
                to_status=to.value,
                source=source,
                reason=reason[:500],
            )
        )
        row.status = to.value
        row.updated_at = self.clock.now()
        if to is OrderStatus.REJECTED:
            row.reason = f"{row.reason} | rejected: {reason}"

    def _note(self, s: Session, row: OrderRecord, reason: str, source: str) -> None:
        s.add(
            OrderEvent(
                client_order_id=row.client_order_id,
                at=self.clock.now(),
                from_status=row.status,
                to_status=row.status,
                source=source,
                reason=reason[:500],
            )
        )

    def _status(self, cid: str) -> str:
        with self.db.session() as s:
            return s.get_one(OrderRecord, cid).status

    def _record(self, s: Session, intent: OrderIntent) -> OrderRecord:
        req, now = intent.request, self.clock.now()
        row = OrderRecord(
            client_order_id=intent.client_order_id,
            session=intent.session,
            symbol=req.symbol,
            side=req.side.value,
            qty=req.qty if req.qty is not None else Decimal(0),
            notional=req.notional,
            est_price=intent.est_price,
            order_type=req.order_type.value,
            time_in_force=req.time_in_force.value,
            limit_price=req.limit_price,
            stop_price=req.stop_price,
            stop_loss=req.stop_loss,
            take_profit=req.take_profit,
            strategy=req.strategy,
            reason=req.reason,
            status=NEW.value,
            broker=self.broker.name,
            broker_order_id=None,
            filled_qty=Decimal(0),
            avg_fill_price=None,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        s.add(
            OrderEvent(
                client_order_id=row.client_order_id,
                at=now,
                from_status="",
                to_status=NEW.value,
                source="manager",
                reason="intent recorded",
            )
        )
        s.flush()
        return row


def request_of(row: OrderRecord) -> OrderRequest:
    """The order request a recorded order stands for."""
    qty = row.qty if row.notional is None else None
    return OrderRequest(
        symbol=row.symbol,
        side=Side(row.side),
        strategy=row.strategy,
        reason=row.reason,
        qty=qty,
        notional=row.notional,
        order_type=OrderType(row.order_type),
        limit_price=row.limit_price,
        stop_price=row.stop_price,
        stop_loss=row.stop_loss,
        take_profit=row.take_profit,
        time_in_force=TimeInForce(row.time_in_force),
    )
