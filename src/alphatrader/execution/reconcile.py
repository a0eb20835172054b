"""Reconciliation: the broker's orders, fills and positions against the ledger.

Run at start and after every reconnect. Known differences are adopted with a recorded reason
(a status or fill the ledger had not heard of: `LiveOrderManager.sync`). What cannot be
explained — an open order at the broker that we never sent, a position that our fills do not
add up to, an order still unresolved — moves trading to RECONCILE_MISMATCH_STATE (REDUCING or
HALTED) and raises an alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from alphatrader.config import Settings
from alphatrader.execution.brokers.base import BrokerUnavailable
from alphatrader.execution.live import LiveOrderManager, SyncReport
from alphatrader.risk.engine import RiskEngine, TradingState
from alphatrader.storage.models import LocalPosition, OrderRecord


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # orphan_order | position | unresolved | unreachable
    subject: str  # a client order id or a symbol
    local: str
    broker: str


@dataclass(slots=True)
class ReconcileReport:
    sync: SyncReport
    adopted: list[str] = field(default_factory=list)  # what sync brought in, in words
    differences: list[Difference] = field(default_factory=list)
    state: str = ""

    @property
    def clean(self) -> bool:
        return not self.differences


def reconcile(om: LiveOrderManager, settings: Settings) -> ReconcileReport:
    report = ReconcileReport(om.sync())
    sync = report.sync
    if sync.fills_booked:
        report.adopted.append(f"{sync.fills_booked} fill(s) booked from the broker")
    if sync.status_changes:
        report.adopted.append(f"{sync.status_changes} order status change(s) adopted")
    report.differences += [Difference("unresolved", cid, "unknown", "?") for cid in sync.unresolved]
    report.differences += [
        Difference("orphan_fill", ex, "none", "fill") for ex in sync.orphan_fills
    ]
    try:
        broker_orders = om.broker.orders(open_only=True)
        broker_positions = {p.symbol: p.qty for p in om.broker.positions()}
    except BrokerUnavailable as exc:
        report.differences.append(Difference("unreachable", om.broker.name, "", str(exc)))
        return _conclude(om, settings, report)
    with om.db.session() as s:
        ours = set(s.scalars(select(OrderRecord.client_order_id)))
        local = {
            p.symbol: p.qty
            for p in s.scalars(select(LocalPosition).where(LocalPosition.broker == om.broker.name))
        }
    for order in broker_orders:
        if order.client_order_id not in ours:
            report.differences.append(
                Difference("orphan_order", order.client_order_id, "none", order.vendor_status)
            )
    for symbol in sorted(set(local) | set(broker_positions)):
        mine, theirs = local.get(symbol, Decimal(0)), broker_positions.get(symbol, Decimal(0))
        if mine != theirs:
            report.differences.append(Difference("position", symbol, str(mine), str(theirs)))
    return _conclude(om, settings, report)


def _conclude(om: LiveOrderManager, settings: Settings, report: ReconcileReport) -> ReconcileReport:
    engine = RiskEngine(om.db, settings)
    if report.differences:
        first = report.differences[0]
        reason = (
            f"reconciliation with {om.broker.name}: {len(report.differences)} unexplained "
            f"difference(s), first {first.kind} {first.subject} (local {first.local}, "
            f"broker {first.broker})"
        )
        status = engine.escalate(
            TradingState(settings.reconcile_mismatch_state), reason, "reconcile"
        )
        _alert(settings, reason)
    else:
        status = engine.status()
    report.state = status.state.value
    return report


def _alert(settings: Settings, text: str) -> None:
    from alphatrader.notify.hub import build_hub

    try:
        build_hub(settings).send("AlphaTrader alert: reconciliation failed", text)
    except Exception:  # never let an alert channel hide the result
        import logging

        logging.getLogger(__name__).exception("reconciliation alert failed")
