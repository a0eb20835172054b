"""One router per area; each route declares its scope with `require(...)`."""

from __future__ import annotations

from typing import Any

from alphatrader.api.schemas import ErrorOut, InvalidOut

_WHY = {
    400: "The request could not be read (a body that is not UTF-8 JSON, a bad length).",
    401: "No valid API key (X-API-Key or Authorization: Bearer).",
    403: "The key's scope is too small for this.",
    404: "Unknown id.",
    409: "The current state forbids this.",
    413: "Request body too large.",
    422: "Invalid input.",
    429: "Rate limit exceeded or too much work queued; see Retry-After.",
    503: "A service this needs is unavailable or not configured.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of error responses (all `{"detail": "..."}`)."""
    return {
        code: {"model": InvalidOut if code == 422 else ErrorOut, "description": _WHY[code]}
        for code in codes
    }


PROTECTED = errors(400, 401, 403, 422, 429)
