"""The FastAPI application factory: `create_app(settings)`.

Middleware, outermost first: security headers → CORS (explicit allow-list, empty by default) →
browser session (signed cookie) → the guard (body cap, authentication, rate limits) → routes.
The dashboard's pages and WebSocket routers are included when their modules exist. Errors of
the product map to HTTP codes in one place (`_STATUS`); anything else is a logged 500 that says
nothing about the inside.
"""

from __future__ import annotations

import importlib
import logging
import re
import secrets
import threading
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware

from alphatrader import __version__
from alphatrader import operations as ops
from alphatrader.api.context import ApiContext
from alphatrader.api.keys import Scope
from alphatrader.api.middleware import ApiGuard, SecurityHeaders
from alphatrader.api.routers import (
    backtests,
    emergency,
    orders,
    portfolio,
    reports,
    risk,
    runs,
    signals,
    strategies,
    system,
)
from alphatrader.api.security import redact, required_scope
from alphatrader.config import Settings, load_settings
from alphatrader.errors import (
    AlphaTraderError,
    ConfigError,
    DataError,
    InputError,
    NeedsHumanError,
    TemporaryError,
)

log = logging.getLogger(__name__)
SESSION_COOKIE = "alphatrader_session"
SESSION_MAX_AGE = 8 * 3600
OPTIONAL_ROUTERS = ("alphatrader.api.pages", "alphatrader.api.ws")

# The first matching class decides (subclasses first).
_STATUS: tuple[tuple[type[AlphaTraderError], int], ...] = (
    (ops.NotFound, 404),
    (ops.Conflict, 409),
    (ops.Busy, 429),
    (InputError, 422),
    (NeedsHumanError, 409),
    (DataError, 409),
    (ConfigError, 503),
    (TemporaryError, 503),
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    ctx = ApiContext(settings)
    production = settings.environment == "production"

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warming = threading.Thread(target=ctx.warm, name="warm-status")
        warming.start()
        try:
            yield
        finally:
            warming.join(timeout=60)
            ctx.close()

    app = FastAPI(
        title="AlphaTrader API",
        version=__version__,
        summary="See and steer the trading system. Every /api route needs an API key.",
        docs_url=None if production else "/docs",
        redoc_url=None if production else "/redoc",
        openapi_url=None if production else "/openapi.json",
        lifespan=lifespan,
    )
    app.state.api = ctx
    for module in (system, portfolio, orders, signals, runs, risk, strategies, backtests):
        app.include_router(module.router)
    app.include_router(reports.router)
    app.include_router(emergency.router)
    app.include_router(system.public)
    _include_optional(app)
    _install_error_handlers(app, settings)

    app.add_middleware(ApiGuard, ctx=ctx, session_cookie=SESSION_COOKIE)
    app.add_middleware(
        SessionMiddleware,
        secret_key=_session_secret(settings),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="strict",
        https_only=False,  # served on loopback over HTTP; TLS, when any, ends at a proxy
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list(),
        allow_methods=["GET", "POST"],
        allow_headers=["X-API-Key", "Authorization", "Content-Type"],
        allow_credentials=False,
    )
    app.add_middleware(SecurityHeaders)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _include_optional(app: FastAPI) -> None:
    for name in OPTIONAL_ROUTERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but one of its imports does not
                raise
            continue
        app.include_router(module.router)


def _session_secret(settings: Settings) -> str:
    if settings.dashboard_session_secret is not None:
        secret = settings.dashboard_session_secret.get_secret_value()
        if secret:
            return secret
    log.warning(
        "DASHBOARD_SESSION_SECRET is not set: a random one is used, so browser sessions "
        "will not survive a restart"
    )
    return secrets.token_urlsafe(32)


def _install_error_handlers(app: FastAPI, settings: Settings) -> None:
    @app.exception_handler(AlphaTraderError)
    async def product_error(_: Request, exc: Exception) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
        headers = None
        if isinstance(exc, ops.Busy):
            headers = {"Retry-After": str(exc.retry_after)}
        elif status == 503:
            headers = {"Retry-After": "60"}
        if status == 500:
            log.error("unexpected product error: %s", redact(str(exc), settings))
            return JSONResponse({"detail": "internal error; see the server log"}, 500)
        return JSONResponse({"detail": redact(str(exc), settings)}, status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # The input itself is not echoed back: it may be huge, or a secret pasted by mistake.
        detail = [
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type")),
            }
            for e in exc.errors()[:20]
        ]
        return JSONResponse({"detail": detail}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:  # Allow: every method of the path, not just one route's
            allowed = _allowed_methods(app, request.url.path)
            exc = StarletteHTTPException(405, exc.detail, {"Allow": ", ".join(allowed)})
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        where = "".join(traceback.format_tb(exc.__traceback__))  # frames, not the message
        message = redact(str(exc), settings)[:500]
        log.error("unexpected error: %s: %s\n%s", type(exc).__name__, message, where)
        return JSONResponse({"detail": "internal error; see the server log"}, 500)


def api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """Every API route with its full path, included routers flattened."""
    try:  # FastAPI ≥ 0.16x keeps included routers as branches
        from fastapi.routing import iter_route_contexts
    except ImportError:
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path_format, route
        return
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context.path_format or "", context.original_route


def route_scope(route: APIRoute) -> Scope | None:
    """The scope the route's `require(...)` dependency asks for, if it has one."""
    return next((s for d in route.dependant.dependencies if (s := required_scope(d.call))), None)


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    methods: set[str] = set()
    for path_format, route in api_routes(app):
        pattern = re.sub(r"{[^}/]+}", "[^/]+", path_format)  # our paths: [a-z_/-] and {name}
        if re.fullmatch(pattern, path):
            methods |= route.methods or set()
    return sorted(methods)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, plus each operation's scope (`x-required-scope`), and the two
    credential schemes as alternatives rather than both required."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    for path_format, route in api_routes(app):
        scope = route_scope(route)
        for method in route.methods or ():
            operation = schema["paths"].get(path_format, {}).get(method.lower())
            if operation is None:
                continue
            if scope is not None:
                operation["x-required-scope"] = scope
                operation["description"] = (
                    operation.get("description", "") + f"\n\nScope: `{scope}`."
                ).strip()
            if "security" in operation:
                operation["security"] = [
                    {name: []} for requirement in operation["security"] for name in requirement
                ]
    app.openapi_schema = schema
    return schema
