"""The account: summary and positions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from alphatrader import operations as ops
from alphatrader.api.context import ApiContext, context
from alphatrader.api.routers import PROTECTED
from alphatrader.api.schemas import PortfolioSummaryOut, PositionOut
from alphatrader.api.security import Principal, require

router = APIRouter(prefix="/api", tags=["portfolio"], responses=PROTECTED)
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[Principal, Depends(require("read"))]


@router.get("/portfolio/summary")
def portfolio_summary(ctx: Ctx, _: Reader) -> PortfolioSummaryOut:
    """Equity, cash and positions value as of the last mark to market, with counts and risk."""
    return PortfolioSummaryOut.of(ops.portfolio_summary(ctx.settings, ctx.db))


@router.get("/positions")
def positions(ctx: Ctx, _: Reader) -> list[PositionOut]:
    """Held positions, valued at the last stored close."""
    closes = ctx.closes(ops.held_symbols(ctx.db))
    return [PositionOut.of(p) for p in ops.positions(ctx.db, closes)]
