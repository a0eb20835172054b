"""The end-of-day report, on demand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from alphatrader import operations as ops
from alphatrader.api.context import ApiContext, actor, context
from alphatrader.api.routers import PROTECTED, errors
from alphatrader.api.schemas import EodReportOut
from alphatrader.api.security import Principal, require
from alphatrader.storage.db import audit

router = APIRouter(prefix="/api/reports", tags=["reports"], responses=PROTECTED)


@router.post("/eod/generate", responses=errors(409))
def generate_eod(
    ctx: Annotated[ApiContext, Depends(context)],
    who: Annotated[Principal, Depends(require("trade"))],
) -> EodReportOut:
    """A dry run of the daily job for the last completed session: nothing recorded, sent or
    emailed; the HTML report is written under var/reports (409 while the job runs)."""
    report = ops.generate_eod_report(ctx.settings)
    with ctx.db.session() as s:
        audit(s, actor(who), "report.eod", for_session=str(report.session))
    var = ctx.settings.var_dir.resolve()
    path = report.report_path.resolve()
    return EodReportOut(
        session=report.session,
        report_path=str(path.relative_to(var)) if path.is_relative_to(var) else path.name,
        risk_state=report.risk_state,
        orders=report.orders,
        signals=report.signals,
        message=report.message,
    )
