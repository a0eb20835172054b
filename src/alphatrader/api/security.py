"""Who is calling and what they may do.

Credentials, in this order: the `X-API-Key` header, `Authorization: Bearer <key>`, then the
browser session (`request.session["principal"] = {"name": ..., "scope": ...}`, set by the
dashboard's login form after `verify_key`). A key in the query string is never read. When a header
is present it decides alone: a wrong key is not rescued by a session cookie.

`require(scope)` is the route dependency: 401 without valid credentials, 403 when the scope is
too small (read < trade < admin). A verified key (or session principal) is remembered for
`VERIFIED_SECONDS` (1 s) by its hash, so revoking a key, or ending the key behind a browser
session, takes effect within a second; state-changing calls made with a session must come from
our own origin.

Nothing here logs or returns a key; `redact` scrubs configured secrets from free text that is
about to leave the process (error messages of runs, brokers, backtests).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import anyio.to_thread
from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.requests import HTTPConnection

from alphatrader.api.context import context_of
from alphatrader.api.keys import (
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    SCOPES,
    Principal,
    Scope,
    active_principal,
    hash_key,
    verify_key,
)
from alphatrader.config import Settings

__all__ = [
    "Principal",
    "Scope",
    "authenticate",
    "authenticate_async",
    "credentials_presented",
    "redact",
    "require",
    "verify_key",
]

API_KEY_HEADER = "X-API-Key"
SESSION_KEY = "principal"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_RESOLVED = "alphatrader.principal"  # request state: the principal, once resolved
_NOT_RESOLVED = object()
_MISS = object()
UNAUTHENTICATED = (
    "missing or invalid API key: send it in the X-API-Key header or as Authorization: Bearer <key>"
)

api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="An API key: `at_<prefix>_<secret>`."
)
bearer_scheme = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")


def credentials_presented(conn: HTTPConnection) -> bool:
    """Does the request carry a key in a header (valid or not)?"""
    return API_KEY_HEADER in conn.headers or "authorization" in conn.headers


def _header_key(conn: HTTPConnection) -> str | None:
    """The key from the headers; "" when a header is present but holds no usable key."""
    if API_KEY_HEADER in conn.headers:
        return conn.headers[API_KEY_HEADER]
    authorization = conn.headers.get("authorization")
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    return token if scheme.lower() == "bearer" else ""


def authenticate(conn: HTTPConnection) -> Principal | None:
    """The caller's principal, or None. May block on one small query: call it from a worker
    thread, or use `authenticate_async`. The result is kept on the request."""
    state = conn.scope.setdefault("state", {})
    found = state.get(_RESOLVED, _NOT_RESOLVED)
    if found is _NOT_RESOLVED:
        found = _quick(conn)
        if found is _MISS:
            found = _resolve(conn)
        state[_RESOLVED] = found
    return found  # type: ignore[no-any-return]


async def authenticate_async(conn: HTTPConnection) -> Principal | None:
    """`authenticate` without blocking the event loop: answered from the request or the
    verification cache when it can be, else in a worker thread."""
    state = conn.scope.setdefault("state", {})
    found = state.get(_RESOLVED, _NOT_RESOLVED)
    if found is _NOT_RESOLVED:
        found = _quick(conn)
        if found is _MISS:
            return await anyio.to_thread.run_sync(authenticate, conn)
        state[_RESOLVED] = found
    return found  # type: ignore[no-any-return]


def _credential(conn: HTTPConnection) -> tuple[str, str] | None:
    """("key", raw key) or ("session", "name\0scope") or None; ("key", "") for a header that
    holds no usable key."""
    raw = _header_key(conn)
    if raw is not None:
        return ("key", raw)
    session = conn.scope.get("session")
    stored = session.get(SESSION_KEY) if session else None
    if not isinstance(stored, dict):
        return None
    name, scope = stored.get("name"), stored.get("scope")
    if not isinstance(name, str) or scope not in SCOPES:
        return None
    return ("session", f"{name}\0{scope}")


def _quick(conn: HTTPConnection) -> Principal | object | None:
    """The answer when no query is needed (no credentials, a malformed key, a cached
    verification), else `_MISS`."""
    credential = _credential(conn)
    if credential is None:
        return None
    kind, value = credential
    if kind == "key" and (len(value) > MAX_KEY_LENGTH or not KEY_PATTERN.fullmatch(value)):
        return None
    return context_of(conn.app).verified.get(_cache_key(kind, value), _MISS)


def _resolve(conn: HTTPConnection) -> Principal | None:
    ctx = context_of(conn.app)
    credential = _credential(conn)
    if credential is None:
        return None
    kind, value = credential
    if kind == "key":
        principal = verify_key(ctx.db, value)
    else:
        name, scope = value.split("\0")
        principal = active_principal(ctx.db, name, scope)
    if principal is not None:
        ctx.verified.put(_cache_key(kind, value), principal)
    return principal


def _cache_key(kind: str, value: str) -> str:
    # Keys are cached by their hash, never as themselves.
    return f"{kind}:{hash_key(value) if kind == 'key' else value}"


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits principals of `scope` or above."""

    async def dependency(
        request: Request,
        _key: Annotated[str | None, Security(api_key_scheme)] = None,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    ) -> Principal:
        principal = await authenticate_async(request)
        if principal is None:
            raise HTTPException(401, UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
        if not principal.allows(scope):
            raise HTTPException(
                403,
                f"this needs the {scope} scope; the key {principal.name!r} has {principal.scope}",
            )
        if principal.via == "session" and request.method not in SAFE_METHODS:
            origin = request.headers.get("origin")
            own = f"{request.url.scheme}://{request.url.netloc}"
            if origin is not None and origin != own:
                raise HTTPException(403, "cross-origin request refused")
        return principal

    dependency.required_scope = scope  # type: ignore[attr-defined]  # read by docs and tests
    return dependency


def required_scope(call: Any) -> Scope | None:
    scope = getattr(call, "required_scope", None)
    return scope if scope in SCOPES else None


_URL_PASSWORD = re.compile(r"(?<=://)([^:/@\s]+):([^@/\s]+)@")


def redact(text: str, settings: Settings) -> str:
    """`text` without the configured secrets or URL passwords."""
    for value in vars(settings).values():
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if len(secret) >= 4:
                text = text.replace(secret, "********")
    return _URL_PASSWORD.sub(r"\1:********@", text)
