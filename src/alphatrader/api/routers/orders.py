"""Orders: a filtered, paged list and one order with its history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from alphatrader import operations as ops
from alphatrader.api.context import ApiContext, context
from alphatrader.api.routers import PROTECTED, errors
from alphatrader.api.schemas import (
    NAME_PATTERN,
    ORDER_ID_PATTERN,
    STATUS_PATTERN,
    SYMBOL_PATTERN,
    IsoDate,
    OrderDetailOut,
    OrderEventOut,
    OrderOut,
    PageOut,
)
from alphatrader.api.security import Principal, require

router = APIRouter(prefix="/api/orders", tags=["orders"], responses=PROTECTED)
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[Principal, Depends(require("read"))]
Limit = Annotated[int, Query(ge=1, le=ops.MAX_PAGE, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
OrderId = Annotated[str, Path(pattern=ORDER_ID_PATTERN, max_length=128)]


@router.get("", responses=errors(422))
def list_orders(
    ctx: Ctx,
    _: Reader,
    status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
    symbol: Annotated[str | None, Query(pattern=SYMBOL_PATTERN)] = None,
    strategy: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    session_from: IsoDate | None = None,
    session_to: IsoDate | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOut[OrderOut]:
    """Orders, newest session first; filter by status, symbol, strategy and session range."""
    where = ops.OrderFilter(status, symbol, strategy, session_from, session_to)
    page = ops.orders_page(ctx.db, where, limit, offset)
    return PageOut[OrderOut](
        items=[OrderOut.of(o) for o in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{client_order_id}", responses=errors(404, 422))
def get_order(ctx: Ctx, _: Reader, client_order_id: OrderId) -> OrderDetailOut:
    """One order and every state change it went through."""
    order, events = ops.order_detail(ctx.db, client_order_id)
    return OrderDetailOut(
        order=OrderOut.of(order),
        events=[
            OrderEventOut(
                at=e.at,
                from_status=e.from_status,
                to_status=e.to_status,
                source=e.source,
                reason=e.reason,
            )
            for e in events
        ],
    )
