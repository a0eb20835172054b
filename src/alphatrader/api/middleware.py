"""ASGI middleware: security headers on every response, and the guard in front of the routes
(request-body cap, who is calling, rate limits, 401 for anonymous calls to /api/).

Rate limits are token buckets (see `ratelimit`): a caller with a valid key (or session) is
limited per key; a caller without credentials per client address; and wrong keys count against
a stricter per-address bucket that, once empty, refuses further keys from that address before
they are even checked. The client address is the TCP peer: `X-Forwarded-For` is never read.
"""

from __future__ import annotations

import json
import logging

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alphatrader.api.context import ApiContext
from alphatrader.api.security import (
    _RESOLVED,
    UNAUTHENTICATED,
    authenticate,
    authenticate_async,
    credentials_presented,
)

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024

CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc (development only) load their bundles from a CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; object-src 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)


class SecurityHeaders:
    """Adds the security headers to every HTTP response and drops any `server` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CSP if path.startswith(DOCS_PATHS) else CSP
        api = path.startswith("/api/")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "server" in headers:
                    del headers["server"]
                for name, value in HEADERS:
                    if name.decode() not in headers:
                        headers.raw.append((name, value))
                headers.setdefault("content-security-policy", csp)
                if api:
                    headers.setdefault("cache-control", "no-store")
                if https:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """Raised while reading a body sent without a length; FastAPI answers it as a 413."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE)


TOO_LARGE = f"request body too large: at most {MAX_BODY_BYTES} bytes"


class ApiGuard:
    """Request-size cap, authentication (resolved once, kept on the request) and rate limits."""

    def __init__(self, app: ASGIApp, ctx: ApiContext, session_cookie: str) -> None:
        self.app = app
        self.ctx = ctx
        self.session_cookie = session_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        length = conn.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            if length.isdigit():
                await _error(send, 413, TOO_LARGE)
            else:
                await _error(send, 400, "invalid Content-Length header")
            return
        wait = await self._limit(conn)
        if wait:
            await _error(
                send,
                429,
                f"rate limit exceeded: retry in {wait} s",
                [(b"retry-after", str(wait).encode())],
            )
            return
        if scope["path"].startswith("/api/") and authenticate(conn) is None:
            # Before any parsing: an anonymous caller learns nothing about bodies or routes.
            await _error(send, 401, UNAUTHENTICATED, [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, _capped(receive), send)

    async def _limit(self, conn: HTTPConnection) -> int:
        """0 to let the request through, else the seconds to wait."""
        client = conn.scope.get("client")
        address = client[0] if client else "unknown"
        presented = credentials_presented(conn)
        if presented:
            wait = self.ctx.auth_failures.peek(address)
            if wait:
                return wait
        if presented or self.session_cookie in conn.cookies:
            principal = await authenticate_async(conn)
        else:
            principal = None
            conn.scope.setdefault("state", {})[_RESOLVED] = None
        if principal is not None:
            return self.ctx.key_limiter.take("key:" + principal.name)
        if presented:
            log.warning("API request with an invalid key from %s", address)
            self.ctx.auth_failures.take(address)
        return self.ctx.address_limiter.take(address)


def _capped(receive: Receive) -> Receive:
    received = 0

    async def capped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise BodyTooLarge()
        return message

    return capped


async def _error(
    send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
