"""The kill switch: cancel every open order, or flatten every position; both halt trading."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from alphatrader import operations as ops
from alphatrader.api.context import ApiContext, actor, context
from alphatrader.api.routers import PROTECTED, errors
from alphatrader.api.schemas import EmergencyOut, ReasonIn
from alphatrader.api.security import Principal, require
from alphatrader.execution.emergency import EmergencyResult

router = APIRouter(prefix="/api/emergency", tags=["emergency"], responses=PROTECTED)
Ctx = Annotated[ApiContext, Depends(context)]
Trader = Annotated[Principal, Depends(require("trade"))]


@router.post("/cancel-all", responses=errors(413, 422))
def cancel_all(ctx: Ctx, who: Trader, body: ReasonIn) -> EmergencyOut:
    """Snapshot the account, halt trading and cancel every open order (audited, alerted)."""
    return _out(ctx, ops.emergency_cancel_all(ctx.settings, ctx.db, body.reason, actor(who)))


@router.post("/flatten", responses=errors(413, 422))
def flatten(ctx: Ctx, who: Trader, body: ReasonIn) -> EmergencyOut:
    """Cancel everything, halt, and sell every position at the next session (audited)."""
    return _out(ctx, ops.emergency_flatten(ctx.settings, ctx.db, body.reason, actor(who)))


def _out(ctx: ApiContext, result: EmergencyResult) -> EmergencyOut:
    var = ctx.settings.var_dir.resolve()
    snapshot = result.snapshot.resolve()
    return EmergencyOut(
        action=result.action,
        cancelled=result.cancelled,
        exit_orders=result.exit_orders,
        snapshot=str(snapshot.relative_to(var)) if snapshot.is_relative_to(var) else snapshot.name,
        risk_state=ops.risk_status(ctx.settings, ctx.db).state.value,
    )
