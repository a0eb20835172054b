"""The emergency manager: cancel every open order, or flatten every position, now.

Triggered by an operator (`alphatrader emergency cancel-all|flatten`) or by the risk engine
entering HALTED. Before acting it writes a snapshot of the account (orders, positions, cash,
risk state) under `var/snapshots/`, sets the trading state to HALTED, audits who did what, and
alerts. Recovery is the explicit, audited `alphatrader risk resume --reason`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from alphatrader.config import Settings
from alphatrader.execution.brokers.paper import OPEN_STATUSES, PaperBroker
from alphatrader.files import atomic_write
from alphatrader.risk.engine import RiskEngine, TradingState
from alphatrader.storage.db import Database, audit
from alphatrader.storage.models import OrderRecord, PositionRecord


@dataclass(frozen=True, slots=True)
class EmergencyResult:
    action: str
    cancelled: int
    exit_orders: list[str]
    snapshot: Path


def snapshot(db: Database, broker: PaperBroker, directory: Path, action: str) -> Path:
    with db.session() as s:
        account = broker.account(s)
        orders = s.scalars(select(OrderRecord).where(OrderRecord.status.in_(OPEN_STATUSES))).all()
        positions = broker.positions(s)
        state: dict[str, Any] = {
            "taken_at": datetime.now(UTC).isoformat(),
            "action": action,
            "cash": str(account.cash),
            "open_orders": [
                {
                    "client_order_id": o.client_order_id,
                    "symbol": o.symbol,
                    "side": o.side,
                    "qty": str(o.qty),
                    "status": o.status,
                }
                for o in orders
            ],
            "positions": [
                {
                    "symbol": p.symbol,
                    "qty": str(p.qty),
                    "avg_price": str(p.avg_price),
                    "strategy": p.strategy,
                }
                for p in positions
            ],
        }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return atomic_write(directory / f"emergency-{stamp}.json", json.dumps(state, indent=1))


def cancel_all(
    settings: Settings, db: Database, broker: PaperBroker, actor: str, reason: str
) -> EmergencyResult:
    path = snapshot(db, broker, settings.var_dir / "snapshots", "cancel-all")
    RiskEngine(db, settings).halt(f"emergency cancel-all: {reason}", actor=actor)
    with db.session() as s:
        cancelled = broker.cancel_open(s, f"emergency cancel-all by {actor}: {reason}")
        audit(
            s, actor, "emergency.cancel_all", reason=reason, cancelled=cancelled, snapshot=str(path)
        )
    _alert(
        settings, f"emergency cancel-all by {actor}", f"{cancelled} order(s) cancelled: {reason}"
    )
    return EmergencyResult("cancel-all", cancelled, [], path)


def flatten(
    settings: Settings,
    db: Database,
    broker: PaperBroker,
    actor: str,
    reason: str,
    session: date,
    prices: dict[str, Decimal],
) -> EmergencyResult:
    """Cancel everything, then sell every position at the next session."""
    result = cancel_all(settings, db, broker, actor, reason)
    now = datetime.now(UTC)
    exits = []
    with db.session() as s:
        for pos in s.scalars(select(PositionRecord).order_by(PositionRecord.symbol)):
            cid = f"emergency-{session:%Y%m%d}-{pos.strategy}-{pos.symbol}-flatten"
            if s.get(OrderRecord, cid) is not None:
                continue  # already flattening
            s.add(
                OrderRecord(
                    client_order_id=cid,
                    session=session,
                    symbol=pos.symbol,
                    side="sell",
                    qty=pos.qty,
                    est_price=prices.get(pos.symbol, pos.avg_price),
                    order_type="market",
                    time_in_force="day",
                    notional=None,
                    stop_price=None,
                    limit_price=None,
                    stop_loss=None,
                    take_profit=None,
                    strategy=pos.strategy,
                    reason=f"emergency flatten by {actor}: {reason}",
                    status="accepted",
                    broker=broker.name,
                    broker_order_id=None,
                    filled_qty=Decimal(0),
                    avg_fill_price=None,
                    created_at=now,
                    updated_at=now,
                )
            )
            exits.append(cid)
        audit(s, actor, "emergency.flatten", reason=reason, orders=exits)
    _alert(settings, f"emergency flatten by {actor}", f"{len(exits)} exit order(s): {reason}")
    return EmergencyResult("flatten", result.cancelled, exits, result.snapshot)


def is_halted(db: Database, settings: Settings) -> bool:
    return RiskEngine(db, settings).status().state is TradingState.HALTED


def _alert(settings: Settings, subject: str, text: str) -> None:
    from alphatrader.notify.hub import build_hub

    try:
        build_hub(settings).send(f"AlphaTrader alert: {subject}", text)
    except Exception:  # the emergency action must not fail because an alert did
        import logging

        logging.getLogger(__name__).exception("emergency alert failed")
