"""Strategy performance, momentum and correlation, as the daily job ranks them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from alphatrader.api.context import ApiContext, context
from alphatrader.api.routers import PROTECTED
from alphatrader.api.schemas import StrategiesOut
from alphatrader.api.security import Principal, require

router = APIRouter(prefix="/api/strategies", tags=["strategies"], responses=PROTECTED)


@router.get("")
def strategies(
    ctx: Annotated[ApiContext, Depends(context)],
    _: Annotated[Principal, Depends(require("read"))],
) -> StrategiesOut:
    """Each strategy's standalone momentum, return, Sharpe, drawdown and rank over the trailing
    window ending at the last stored session, and the correlation of their daily returns
    (recomputed at most every 10 minutes)."""
    return StrategiesOut.of(ctx.strategies.get())
