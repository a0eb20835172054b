"""Liveness and the system's status at a glance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from alphatrader import operations as ops
from alphatrader.api.context import ApiContext, context
from alphatrader.api.routers import PROTECTED, errors
from alphatrader.api.schemas import (
    BrokerConnectionOut,
    DataFreshnessOut,
    HealthOut,
    RiskStateOut,
    RunOut,
    SystemStatusOut,
)
from alphatrader.api.security import Principal, redact, require

public = APIRouter(tags=["system"])
router = APIRouter(prefix="/api/system", tags=["system"], responses=PROTECTED)
Ctx = Annotated[ApiContext, Depends(context)]


@public.get("/healthz", responses=errors(429))
async def healthz() -> HealthOut:
    """Liveness: no credentials needed, no data returned."""
    return HealthOut()


@router.get("/status")
def system_status(ctx: Ctx, _: Annotated[Principal, Depends(require("read"))]) -> SystemStatusOut:
    """Version, mode, risk state, the last runs, data freshness and the broker connection."""
    data, connection = ctx.freshness.get(), ctx.connection.get()
    st = ops.system_status(ctx.settings, ctx.db, data, connection)
    return SystemStatusOut(
        version=st.version,
        environment=st.environment,
        mode=st.mode,
        dry_run=st.dry_run,
        broker=st.broker,
        risk=RiskStateOut.of(st.risk),
        last_runs=[RunOut.of(r, _error(ctx, r.error)) for r in st.last_runs],
        success_rate=st.success_rate,
        data=DataFreshnessOut(
            last_data_session=data.last_data_session,
            expected_session=data.expected_session,
            lag_sessions=data.lag_sessions,
            fresh=data.fresh,
            checked_at=data.checked_at,
            error=_error(ctx, data.error),
        ),
        connection=BrokerConnectionOut(
            broker=connection.broker,
            connected=connection.connected,
            detail=redact(connection.detail, ctx.settings),
            checked_at=connection.checked_at,
        ),
    )


def _error(ctx: ApiContext, text: str | None) -> str | None:
    if not text:
        return None
    line = text.strip().splitlines()[0] if text.strip() else ""
    return redact(line[:300], ctx.settings)
