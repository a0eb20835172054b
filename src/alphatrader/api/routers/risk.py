"""The trading state: see it, its history, halt (trade scope) and resume (admin scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from alphatrader import operations as ops
from alphatrader.api.context import ApiContext, actor, context
from alphatrader.api.routers import PROTECTED, errors
from alphatrader.api.schemas import PageOut, ReasonIn, RiskEventOut, RiskStateOut
from alphatrader.api.security import Principal, require

router = APIRouter(prefix="/api/risk", tags=["risk"], responses=PROTECTED)
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[Principal, Depends(require("read"))]


@router.get("")
def risk_state(ctx: Ctx, _: Reader) -> RiskStateOut:
    """ACTIVE, REDUCING or HALTED; since when and why."""
    return RiskStateOut.of(ops.risk_status(ctx.settings, ctx.db))


@router.get("/events", responses=errors(422))
def risk_events(
    ctx: Ctx,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=ops.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> PageOut[RiskEventOut]:
    """Every change of the trading state (and circuit-breaker pauses), newest first."""
    page = ops.risk_events(ctx.db, limit, offset)
    return PageOut[RiskEventOut](
        items=[
            RiskEventOut(
                id=e.id,
                at=e.at,
                session=e.session,
                kind=e.kind,
                from_state=e.from_state,
                to_state=e.to_state,
                reason=e.reason,
            )
            for e in page.items
        ],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/halt", responses=errors(413, 422))
def halt(
    ctx: Ctx, who: Annotated[Principal, Depends(require("trade"))], body: ReasonIn
) -> RiskStateOut:
    """Stop all new orders now (audited with the key's name and the reason)."""
    return RiskStateOut.of(ops.halt(ctx.settings, ctx.db, body.reason, actor(who)))


@router.post("/resume", responses=errors(409, 413, 422))
def resume(
    ctx: Ctx, who: Annotated[Principal, Depends(require("admin"))], body: ReasonIn
) -> RiskStateOut:
    """Leave HALTED — the only way out (audited). 409 when trading is not HALTED."""
    return RiskStateOut.of(ops.resume(ctx.settings, ctx.db, body.reason, actor(who)))
