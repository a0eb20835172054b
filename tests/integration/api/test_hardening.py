"""Security headers, CORS, docs in production, secrets never in responses or logs (B10)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from alphatrader.api import create_app
from tests.integration.api.conftest import Keys, TestClient, assert_no_secrets, make_settings
from tests.integration.api.test_auth import routes

READ_PATHS = (
    "/healthz",
    "/api/system/status",
    "/api/portfolio/summary",
    "/api/positions",
    "/api/orders",
    "/api/signals",
    "/api/signals/pending",
    "/api/runs",
    "/api/risk",
    "/api/risk/events",
    "/api/backtests",
)


def test_every_response_carries_the_security_headers(client: TestClient, keys: Keys) -> None:
    for path in (*READ_PATHS, "/api/risk?limit=x", "/api/nowhere", "/openapi.json"):
        response = client.get(path, headers=keys.of("read"))
        h = response.headers
        assert h["x-content-type-options"] == "nosniff", path
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "script-src 'self' 'unsafe-inline'" in h["content-security-policy"]
        assert "server" not in h
    assert client.get("/api/risk", headers=keys.of("read")).headers["cache-control"] == "no-store"
    anonymous = client.get("/api/risk")
    assert anonymous.status_code == 401 and anonymous.headers["x-frame-options"] == "DENY"


def test_a_foreign_origin_gets_no_cors_grant(client: TestClient, keys: Keys) -> None:
    preflight = client.options(
        "/api/risk",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-API-Key",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    simple = client.get("/api/risk", headers={**keys.of("read"), "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_an_allow_listed_origin_is_granted(home: Path) -> None:
    app = create_app(
        make_settings(home, CORS_ORIGINS="https://desk.example, http://localhost:3000")
    )
    with TestClient(app) as client:
        preflight = client.options(
            "/api/risk",
            headers={"Origin": "https://desk.example", "Access-Control-Request-Method": "GET"},
        )
        assert preflight.headers["access-control-allow-origin"] == "https://desk.example"
        other = client.options(
            "/api/risk",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in other.headers


def test_docs_and_schema_are_off_in_production(home: Path) -> None:
    app = create_app(make_settings(home, ENVIRONMENT="production"))
    with TestClient(app) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            assert client.get(path).status_code == 404, path


def test_docs_are_served_outside_production(client: TestClient) -> None:
    assert client.get("/openapi.json").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn.jsdelivr.net" in docs.headers["content-security-policy"]


def test_secrets_never_reach_responses_or_logs(
    client: TestClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = []
    for path in READ_PATHS:
        response = client.get(path, headers=keys.of("admin"))
        assert response.status_code == 200, path
        seen.append(response.text + str(response.headers))
    for method, path, _ in routes(client.app):  # type: ignore[arg-type]
        response = client.request(
            method,
            path,
            headers={"X-API-Key": keys.admin[:-2] + "zz"},
            json={"reason": keys.trade} if method == "POST" else None,
        )
        seen.append(response.text + str(response.headers))
    halted = client.post(
        "/api/risk/halt", headers=keys.of("trade"), json={"reason": "canary check"}
    )
    seen.append(halted.text)
    for text in (*seen, caplog.text):
        assert_no_secrets(text, keys)


def test_validation_errors_do_not_echo_the_input(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/api/risk/halt", headers=keys.of("trade"), json={"reason": keys.admin * 20}
    )
    assert response.status_code == 422
    assert keys.admin not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "reason"]
