"""Signals, and the planned orders waiting for approval (approval mode)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from alphatrader import operations as ops
from alphatrader.api.context import ApiContext, actor, context
from alphatrader.api.routers import PROTECTED, errors
from alphatrader.api.schemas import (
    NAME_PATTERN,
    ORDER_ID_PATTERN,
    STATUS_PATTERN,
    SYMBOL_PATTERN,
    IsoDate,
    OrderOut,
    PageOut,
    ReasonIn,
    SignalOut,
)
from alphatrader.api.security import Principal, require

router = APIRouter(prefix="/api/signals", tags=["signals"], responses=PROTECTED)
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[Principal, Depends(require("read"))]
Trader = Annotated[Principal, Depends(require("trade"))]
Limit = Annotated[int, Query(ge=1, le=ops.MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
OrderId = Annotated[str, Path(pattern=ORDER_ID_PATTERN, max_length=128)]


@router.get("", responses=errors(422))
def list_signals(
    ctx: Ctx,
    _: Reader,
    session: IsoDate | None = None,
    status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
    strategy: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    symbol: Annotated[str | None, Query(pattern=SYMBOL_PATTERN)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOut[SignalOut]:
    """Every recorded signal and what became of it (ranked, rejected ...), newest first."""
    page = ops.signals_page(
        ctx.db, ops.SignalFilter(session, status, strategy, symbol), limit, offset
    )
    return PageOut[SignalOut](
        items=[SignalOut.of(s) for s in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/pending", responses=errors(422))
def pending(ctx: Ctx, _: Reader, limit: Limit = 50, offset: Offset = 0) -> PageOut[OrderOut]:
    """Planned orders waiting for approval."""
    page = ops.pending_orders(ctx.db, limit, offset)
    return PageOut[OrderOut](
        items=[OrderOut.of(o) for o in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/{order_id}/approve", responses=errors(404, 409, 422))
def approve(ctx: Ctx, who: Trader, order_id: OrderId) -> OrderOut:
    """Send a planned order to the broker (audited). Refused while HALTED, and for buys while
    REDUCING."""
    return OrderOut.of(ops.approve_order(ctx.settings, ctx.db, order_id, actor(who)))


@router.post("/{order_id}/reject", responses=errors(404, 409, 413, 422))
def reject(ctx: Ctx, who: Trader, order_id: OrderId, body: ReasonIn) -> OrderOut:
    """Refuse a planned order; it is never sent (audited with the reason)."""
    return OrderOut.of(ops.reject_order(ctx.settings, ctx.db, order_id, actor(who), body.reason))
