"""Backtests in the background: start one, follow it, fetch its JSON and tearsheet."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse

from alphatrader import operations as ops
from alphatrader.api.context import ApiContext, actor, context
from alphatrader.api.routers import PROTECTED, errors
from alphatrader.api.schemas import (
    JOB_ID_PATTERN,
    BacktestIn,
    BacktestJobOut,
    BacktestResultOut,
)
from alphatrader.api.security import Principal, redact, require
from alphatrader.backtest.runner import BacktestRequest
from alphatrader.storage.db import audit

router = APIRouter(prefix="/api/backtests", tags=["backtests"], responses=PROTECTED)
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[Principal, Depends(require("read"))]
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN, description="The id `POST` returned.")]


@router.post("", status_code=202, responses=errors(413, 422))
def start_backtest(
    ctx: Ctx, who: Annotated[Principal, Depends(require("trade"))], body: BacktestIn
) -> BacktestJobOut:
    """Queue a backtest (one runs at a time; 429 when the queue is full). Follow it at
    `links.status`."""
    request = BacktestRequest(
        strategies=list(body.strategies),
        symbols=[s.upper() for s in body.symbols],
        start=pd.Timestamp(body.start) if body.start else None,
        end=pd.Timestamp(body.end) if body.end else None,
        cash=Decimal(str(body.cash)) if body.cash is not None else None,
        commission=Decimal(str(body.commission)),
        slippage_bps=Decimal(str(body.slippage_bps)),
        sizing=body.sizing,
        params={k: dict(v) for k, v in body.params.items()},
    )
    job = ctx.backtests.submit(request, actor(who))
    with ctx.db.session() as s:
        audit(s, actor(who), "backtest.start", id=job.id, request=job.request)
    return _out(ctx, job)


@router.get("")
def list_backtests(
    ctx: Ctx, _: Reader, limit: Annotated[int, Query(ge=1, le=ops.MAX_PAGE)] = 20
) -> list[BacktestJobOut]:
    """Recent backtests, newest first."""
    return [_out(ctx, job) for job in ctx.backtests.recent(limit)]


@router.get("/{job_id}", responses=errors(404, 422))
def backtest_status(ctx: Ctx, _: Reader, job_id: JobId) -> BacktestJobOut:
    """queued, running, completed or failed (with the error)."""
    return _out(ctx, ctx.backtests.get(job_id))


@router.get(
    "/{job_id}/result",
    response_model=BacktestResultOut,
    responses=errors(404, 409, 422),
)
def backtest_result(ctx: Ctx, _: Reader, job_id: JobId) -> FileResponse:
    """The result as the documented backtest JSON (409 until it has completed)."""
    return FileResponse(
        ctx.backtests.artifact(job_id, "result.json"), media_type="application/json"
    )


@router.get(
    "/{job_id}/tearsheet",
    response_model=None,
    responses={
        **errors(404, 409),
        200: {
            "description": "The tearsheet (HTML, plotly inlined).",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
    },
)
def backtest_tearsheet(ctx: Ctx, _: Reader, job_id: JobId) -> FileResponse:
    """The HTML tearsheet (409 until the backtest has completed)."""
    return FileResponse(
        ctx.backtests.artifact(job_id, "tearsheet.html"), media_type="text/html; charset=utf-8"
    )


def _out(ctx: ApiContext, job: ops.BacktestJob) -> BacktestJobOut:
    base = f"/api/backtests/{job.id}"
    return BacktestJobOut(
        id=job.id,
        status=job.status,
        submitted_at=job.submitted_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=redact(job.error, ctx.settings) if job.error else None,
        request=job.request,
        summary=job.summary,
        notes=job.notes,
        links={"status": base, "result": f"{base}/result", "tearsheet": f"{base}/tearsheet"},
    )
