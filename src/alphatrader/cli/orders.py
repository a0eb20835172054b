"""`alphatrader signals ...` (approval mode) and `alphatrader emergency ...`."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from alphatrader.config import load_settings
from alphatrader.errors import InputError, UnknownNameError
from alphatrader.execution import emergency as em
from alphatrader.services import broker, database
from alphatrader.storage.db import audit
from alphatrader.storage.models import OrderRecord, PositionRecord

signals_app = typer.Typer(
    help="Planned orders waiting for approval (AUTO_TRADE=false with a real broker).",
    no_args_is_help=True,
)
emergency_app = typer.Typer(
    help="Cancel every open order or flatten every position.", no_args_is_help=True
)


@signals_app.command("list")
def list_pending(
    all_: Annotated[bool, typer.Option("--all", help="Also show decided orders.")] = False,
) -> None:
    """Planned orders, newest session first."""
    settings = load_settings()
    db = database(settings)
    with db.session() as s:
        query = select(OrderRecord).order_by(
            OrderRecord.session.desc(), OrderRecord.client_order_id
        )
        if not all_:
            query = query.where(OrderRecord.status == "planned")
        rows = s.scalars(query.limit(200)).all()
        table = Table(title="Orders waiting for approval" if not all_ else "Orders")
        width = max((len(r.client_order_id) for r in rows), default=2)
        table.add_column("ID", no_wrap=True, min_width=width)  # copied into `approve`: whole
        for col in ("Session", "Side", "Symbol", "Qty", "Est. price", "Strategy", "Status"):
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(
                r.client_order_id,
                str(r.session),
                r.side,
                r.symbol,
                f"{r.qty.normalize():f}",
                f"{r.est_price:,.2f}",
                r.strategy,
                r.status,
            )
    Console().print(table if rows else "[dim]Nothing waiting for approval.[/]")


@signals_app.command("approve")
def approve(
    order_id: Annotated[str, typer.Argument(help="The order ID from `signals list`.")],
) -> None:
    """Send a planned order to the broker (the paper account fills it at the next session)."""
    from alphatrader.jobs.daily import live_intents
    from alphatrader.services import order_manager, uses_paper

    settings = load_settings()
    db = database(settings)
    paper = uses_paper(settings)
    with db.session() as s:
        row = _planned(s, order_id)
        if paper:
            broker(settings).accept(s, row)
        audit(s, getpass.getuser(), "order.approve", client_order_id=row.client_order_id)
    where = "the paper account, for the next session"
    if not paper:
        status = order_manager(settings, db).submit_many(live_intents(db, [order_id]))[order_id]
        where = f"{settings.broker} (now {status.value})"
    Console().print(f"approved: {order_id} sent to {where}")


@signals_app.command("reject")
def reject(
    order_id: Annotated[str, typer.Argument(help="The order ID from `signals list`.")],
    reason: Annotated[str, typer.Option(help="Why (audited).")] = "rejected by the operator",
) -> None:
    """Refuse a planned order; it is never sent."""
    settings = load_settings()
    db = database(settings)
    user = getpass.getuser()
    with db.session() as s:
        row = _planned(s, order_id)
        row.status = "rejected"
        row.reason = f"{row.reason} | rejected by {user}: {reason}"
        row.updated_at = datetime.now(UTC)
        audit(s, user, "order.reject", client_order_id=row.client_order_id, reason=reason)
    Console().print(f"rejected: {order_id}")


def _planned(s: object, order_id: str) -> OrderRecord:
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    row = s.get(OrderRecord, order_id)
    if row is None:
        known = s.scalars(
            select(OrderRecord.client_order_id).where(OrderRecord.status == "planned")
        ).all()
        raise UnknownNameError("order", order_id, known, hint="; see `alphatrader signals list`")
    if row.status != "planned":
        raise InputError(f"order {order_id} is {row.status}, not waiting for approval")
    return row


def _confirm(action: str, yes: bool) -> None:
    if yes:
        return
    if not typer.confirm(f"{action}? This halts trading until `alphatrader risk resume`."):
        raise InputError(
            f"{action} not confirmed; nothing was done (use --yes to skip the question)"
        )


@emergency_app.command("cancel-all")
def cancel_all(
    reason: Annotated[str, typer.Option(help="Why (audited).")] = "operator emergency stop",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Cancel every open order and halt trading."""
    _confirm("Cancel every open order", yes)
    settings = load_settings()
    result = em.cancel_all(
        settings, database(settings), broker(settings), getpass.getuser(), reason
    )
    Console().print(
        f"[bold red]HALTED[/]: {result.cancelled} order(s) cancelled; snapshot {result.snapshot}"
    )


@emergency_app.command("flatten")
def flatten(
    reason: Annotated[str, typer.Option(help="Why (audited).")] = "operator emergency flatten",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Cancel every open order, sell every position at the next session, and halt trading."""
    _confirm("Flatten every position", yes)
    settings = load_settings()
    db = database(settings)
    with db.session() as s:
        prices = {p.symbol: p.avg_price for p in s.scalars(select(PositionRecord))}
    session = datetime.now(UTC).date()
    result = em.flatten(settings, db, broker(settings), getpass.getuser(), reason, session, prices)
    Console().print(
        f"[bold red]HALTED[/]: {result.cancelled} order(s) cancelled, "
        f"{len(result.exit_orders)} exit order(s) for the next session; snapshot {result.snapshot}"
    )
