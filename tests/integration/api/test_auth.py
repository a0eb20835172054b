"""Authentication and authorization over every API route (RELIABILITY B8)."""

from __future__ import annotations

import re
import time

import pytest
from fastapi import FastAPI

from alphatrader.api.app import api_routes, route_scope
from alphatrader.api.context import VERIFIED_SECONDS
from alphatrader.api.keys import verify_key
from tests.integration.api.conftest import Keys, TestClient, assert_no_secrets

PUBLIC = {"/healthz"}
RANK = {"read": 0, "trade": 1, "admin": 2}
EXAMPLE_IDS = {
    "client_order_id": "daily-20160603-golden_cross-AAPL-buy",
    "order_id": "daily-20160603-golden_cross-AAPL-buy",
    "job_id": "0" * 32,
}
BODIES = {"/api/backtests": {"strategies": ["golden_cross"], "symbols": ["GOOG"]}}


def routes(app: FastAPI) -> list[tuple[str, str, str | None]]:
    """(method, concrete path, scope) for every API route."""
    out = []
    for path, route in api_routes(app):
        if not path.startswith("/api/"):
            continue
        concrete = re.sub(r"{(\w+)}", lambda m: EXAMPLE_IDS[m.group(1)], path)
        out.extend((method, concrete, route_scope(route)) for method in sorted(route.methods))
    return out


def call(
    client: TestClient, method: str, path: str, headers: dict[str, str], params: str = ""
) -> tuple[int, str]:
    body = BODIES.get(path, {"reason": "auth matrix"}) if method == "POST" else None
    url = f"{path}?{params}" if params else path
    response = client.request(method, url, headers=headers, json=body)
    return response.status_code, response.text + str(response.headers)


def test_every_api_route_declares_a_scope(app: FastAPI) -> None:
    found = routes(app)
    assert len(found) >= 20
    assert [r for r in found if r[2] is None] == []
    public = {path for path, route in api_routes(app) if not route_scope(route)}
    assert public >= PUBLIC
    assert not {p for p in public if p and p.startswith("/api/")}


def _variants(keys: Keys) -> dict[str, dict[str, str]]:
    return {
        "none": {},
        "empty": {"X-API-Key": ""},
        "wrong": {"X-API-Key": "at_0badc0de_" + "A" * 43},
        "malformed": {"X-API-Key": "not-a-key"},
        "truncated": {"X-API-Key": keys.admin[:-1]},
        "one char more": {"X-API-Key": keys.admin + "x"},
        "10 KB": {"X-API-Key": "at_" + "a" * 10_240},
        "revoked": {"X-API-Key": keys.revoked},
        "bearer wrong": {"Authorization": "Bearer " + keys.admin[:-1] + "Z"},
        "basic scheme": {"Authorization": "Basic " + keys.admin},
        "bare authorization": {"Authorization": keys.admin},
        "wrong header, session-less": {"X-Api-Token": keys.admin},
    }


def test_no_valid_credentials_is_401_on_every_route(client: TestClient, keys: Keys) -> None:
    for method, path, _ in routes(client.app):  # type: ignore[arg-type]
        for name, headers in _variants(keys).items():
            status, text = call(client, method, path, headers)
            assert status == 401, (method, path, name, status)
            assert_no_secrets(text, keys)


def test_a_key_in_the_query_string_is_ignored(client: TestClient, keys: Keys) -> None:
    query = f"api_key={keys.admin}&key={keys.admin}&token={keys.admin}&access_token={keys.admin}"
    for method, path, _ in routes(client.app):  # type: ignore[arg-type]
        status, text = call(client, method, path, {}, params=query)
        assert status == 401, (method, path)
        assert_no_secrets(text, keys)


def test_smaller_scopes_are_403_on_every_stronger_route(client: TestClient, keys: Keys) -> None:
    checked = 0
    for method, path, scope in routes(client.app):  # type: ignore[arg-type]
        assert scope is not None
        for weaker in ("read", "trade"):
            if RANK[weaker] < RANK[scope]:
                status, text = call(client, method, path, keys.of(weaker))
                assert status == 403, (method, path, weaker, status)
                assert "scope" in text
                checked += 1
    assert checked >= 9  # 7 trade routes × read, resume (admin) × read and trade


def test_the_right_scope_passes_with_either_header(client: TestClient, keys: Keys) -> None:
    for method, path, scope in routes(client.app):  # type: ignore[arg-type]
        assert scope is not None
        for headers in (keys.of(scope), {"Authorization": f"Bearer {getattr(keys, scope)}"}):
            status, text = call(client, method, path, headers)
            assert status not in (401, 403), (method, path, status, text[:200])
            assert status < 500, (method, path, status, text[:200])
            assert_no_secrets(text, keys)


def test_header_names_are_case_insensitive_and_scheme_too(client: TestClient, keys: Keys) -> None:
    assert client.get("/api/risk", headers={"x-api-key": keys.read}).status_code == 200
    assert client.get(
        "/api/risk", headers={"authorization": f"bearer {keys.read}"}
    ).status_code == (200)


def test_a_revoked_key_stops_working_within_a_second(
    client: TestClient, keys: Keys, app: FastAPI
) -> None:
    from alphatrader.api.keys import revoke_key

    assert client.get("/api/risk", headers=keys.of("trade")).status_code == 200
    revoke_key(app.state.api.db, "trader", "test")  # as `alphatrader apikey revoke` does
    revoked_at = time.monotonic()
    while client.get("/api/risk", headers=keys.of("trade")).status_code == 200:
        assert time.monotonic() - revoked_at < VERIFIED_SECONDS + 0.5
        time.sleep(0.05)
    assert client.get("/api/risk", headers=keys.of("trade")).status_code == 401
    assert verify_key(app.state.api.db, keys.trade) is None


@pytest.mark.parametrize("path", ["/healthz"])
def test_the_public_allow_list_needs_no_key(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200
