"""Recent job runs, the success rate and missed sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from alphatrader import operations as ops
from alphatrader.api.context import ApiContext, context
from alphatrader.api.routers import PROTECTED, errors
from alphatrader.api.routers.system import _error
from alphatrader.api.schemas import NAME_PATTERN, RunOut, RunsOut
from alphatrader.api.security import Principal, require

router = APIRouter(prefix="/api/runs", tags=["runs"], responses=PROTECTED)
Ctx = Annotated[ApiContext, Depends(context)]


@router.get("", responses=errors(422))
def list_runs(
    ctx: Ctx,
    _: Annotated[Principal, Depends(require("read"))],
    job: Annotated[str, Query(pattern=NAME_PATTERN)] = "daily",
    limit: Annotated[int, Query(ge=1, le=ops.MAX_PAGE)] = 20,
) -> RunsOut:
    """The latest attempts of a job, newest first."""
    overview = ops.runs_overview(ctx.settings, ctx.db, job, limit)
    return RunsOut(
        job=overview.job,
        runs=[RunOut.of(r, _error(ctx, r.error)) for r in overview.runs],
        success_rate=overview.success_rate,
        missed=overview.missed,
    )
