"""`/ws`: live events for the dashboard (and any client with a read key).

Messages are JSON objects `{"type": ..., "data": ..., "at": ISO-8601 UTC}`:

    hello       once, after the handshake: who is connected, the topics, the poll interval
    portfolio   the portfolio summary (`operations.portfolio_summary`)
    order       the newest orders (`operations.orders_page`, first page)
    signal      the orders waiting for approval: {"pending": [...], "pending_count": n}
    risk        the trading state (`operations.risk_status`) plus {"events": newest 10}
    backtest    the recent backtest jobs, while one is queued or running and when it ends

A message is sent when its topic changes, whoever changed it: see `alphatrader.api.events` for
the design (a 0.5 s database fingerprint poll per connection, woken at once by in-process
actions). Nothing is sent while nothing changes.

Authentication is the API's own (`security.authenticate`): the browser's session cookie, or an
`X-API-Key` / `Authorization: Bearer` header. Browsers cannot set headers on a WebSocket, so a
script outside the dashboard may offer the subprotocols `alphatrader.v1, bearer.<key>`; the
server answers with `alphatrader.v1` and never echoes the key. A key in the query string is
never read. A cookie-authenticated handshake must come from our own origin (cross-site
WebSocket hijacking), the read scope is enough, and the principal is re-checked every
`RECHECK_SECONDS` so a revoked key loses its live feed too (close code 4401).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import anyio
import anyio.to_thread
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from alphatrader import operations as ops
from alphatrader.api import events
from alphatrader.api.context import ApiContext, context_of
from alphatrader.api.keys import active_principal
from alphatrader.api.security import Principal, authenticate, credentials_presented, verify_key

router = APIRouter()

SUBPROTOCOL: Final = "alphatrader.v1"
BEARER_PREFIX: Final = "bearer."
RECHECK_SECONDS: Final = 30.0
MAX_CONNECTIONS_PER_KEY: Final = 8
RECENT_ORDERS: Final = 50
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_TRY_LATER: Final = 1013

_open: Counter[str] = Counter()
_open_lock = threading.Lock()


# -- snapshots -----------------------------------------------------------------------------
def _portfolio(ctx: ApiContext) -> Any:
    return ops.portfolio_summary(ctx.settings, ctx.db)


def _orders(ctx: ApiContext) -> Any:
    return ops.orders_page(ctx.db, limit=RECENT_ORDERS)


def _signals(ctx: ApiContext) -> Any:
    page = ops.pending_orders(ctx.db, limit=RECENT_ORDERS)
    return {"pending": page.items, "pending_count": page.total}


def _risk(ctx: ApiContext) -> Any:
    status = events.jsonable(ops.risk_status(ctx.settings, ctx.db))
    return {**status, "events": ops.risk_events(ctx.db, limit=10).items}


SNAPSHOTS: Final[dict[str, Callable[[ApiContext], Any]]] = {
    "portfolio": _portfolio,
    "order": _orders,
    "signal": _signals,
    "risk": _risk,
}


def _backtest_jobs(ctx: ApiContext) -> list[dict[str, Any]]:
    return [job.to_json() for job in ctx.backtests.recent(10)]


def _backtest_print(jobs: list[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(j["id"]), str(j["status"])) for j in jobs)


def _message(topic: str, data: Any) -> dict[str, Any]:
    return events.Event(topic, data).message()


# -- authentication ------------------------------------------------------------------------
def _offered_key(websocket: WebSocket) -> str | None:
    for proto in websocket.scope.get("subprotocols", []):
        if proto.startswith(BEARER_PREFIX):
            return str(proto[len(BEARER_PREFIX) :])
    return None


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser
    host = websocket.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def _principal(websocket: WebSocket, ctx: ApiContext) -> Principal | None:
    """Blocking: run it in a worker thread."""
    client = websocket.client.host if websocket.client else "unknown"
    key = _offered_key(websocket)
    presented = key is not None or credentials_presented(websocket)
    if presented and ctx.auth_failures.peek(client):
        return None
    principal = verify_key(ctx.db, key) if key is not None else authenticate(websocket)
    if principal is None and presented:
        ctx.auth_failures.take(client)
    if principal is not None and principal.via == "session" and not _same_origin(websocket):
        return None  # a cookie sent along by another site's page
    return principal


def _still_allowed(ctx: ApiContext, principal: Principal) -> bool:
    if principal.via == "session":
        return active_principal(ctx.db, principal.name, principal.scope) is not None
    # A header or subprotocol key: the key's row, whatever scope it now has, must be unrevoked.
    return active_principal(ctx.db, principal.name, "read") is not None


# -- the endpoint --------------------------------------------------------------------------
@router.websocket("/ws")
async def live(websocket: WebSocket) -> None:
    ctx = context_of(websocket.app)
    principal = await anyio.to_thread.run_sync(_principal, websocket, ctx)
    if principal is None or not principal.allows("read"):
        await websocket.close(code=1008)  # before accept: the handshake is refused (HTTP 403)
        return
    if ctx.key_limiter.take("key:" + principal.name):
        await websocket.close(code=CLOSE_TRY_LATER)
        return
    with _open_lock:
        if _open[principal.name] >= MAX_CONNECTIONS_PER_KEY:
            crowded = True
        else:
            crowded = False
            _open[principal.name] += 1
    if crowded:
        await websocket.close(code=CLOSE_TRY_LATER)
        return
    try:
        offered = websocket.scope.get("subprotocols", [])
        await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        await _serve(websocket, ctx, principal)
    finally:
        with _open_lock:
            _open[principal.name] -= 1
            if _open[principal.name] <= 0:
                del _open[principal.name]


async def _serve(websocket: WebSocket, ctx: ApiContext, principal: Principal) -> None:
    subscription = events.bus.subscribe()
    try:
        async with anyio.create_task_group() as tasks:

            async def read() -> None:
                # Clients need not send anything; this notices when they go away.
                while True:
                    message = await websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        break
                tasks.cancel_scope.cancel()

            tasks.start_soon(read)
            try:
                await _push(websocket, ctx, principal, subscription)
            except (WebSocketDisconnect, OSError):
                pass
            except RuntimeError:  # sending on a socket the client already closed
                if websocket.application_state is not WebSocketState.DISCONNECTED:
                    raise
            tasks.cancel_scope.cancel()
    finally:
        subscription.close()


async def _push(
    websocket: WebSocket,
    ctx: ApiContext,
    principal: Principal,
    subscription: events.Subscription,
) -> None:
    last = await anyio.to_thread.run_sync(events.fingerprints, ctx.db)
    jobs = await anyio.to_thread.run_sync(_backtest_jobs, ctx)
    last_jobs = _backtest_print(jobs)
    await websocket.send_json(
        _message(
            "hello",
            {
                "name": principal.name,
                "scope": principal.scope,
                "topics": [*events.DB_TOPICS, "backtest"],
                "poll_seconds": events.POLL_SECONDS,
            },
        )
    )
    checked = time.monotonic()
    while True:
        woken = await subscription.next(events.POLL_SECONDS)
        published = ([woken] if woken else []) + subscription.drain()
        for event in published:  # in-memory events that are not a polled topic
            if event.type not in events.DB_TOPICS and event.type != "backtest":
                await websocket.send_json(event.message())
        now = await anyio.to_thread.run_sync(events.fingerprints, ctx.db)
        for topic in events.changed_topics(last, now):
            data = await anyio.to_thread.run_sync(SNAPSHOTS[topic], ctx)
            await websocket.send_json(_message(topic, data))
        last = now
        active = any(status in ("queued", "running") for _, status in last_jobs)
        if active or any(e.type == "backtest" for e in published):
            jobs = await anyio.to_thread.run_sync(_backtest_jobs, ctx)
            if _backtest_print(jobs) != last_jobs:
                last_jobs = _backtest_print(jobs)
                await websocket.send_json(_message("backtest", jobs))
        if time.monotonic() - checked >= RECHECK_SECONDS:
            checked = time.monotonic()
            if not await anyio.to_thread.run_sync(_still_allowed, ctx, principal):
                await websocket.close(code=CLOSE_UNAUTHORIZED, reason="key revoked")
                return
