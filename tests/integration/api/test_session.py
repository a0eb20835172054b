"""The browser session as a credential: what the dashboard's login stores, checked like a key."""

from __future__ import annotations

import json
import time
from base64 import b64encode

from fastapi import FastAPI
from itsdangerous import TimestampSigner

from alphatrader.api.app import SESSION_COOKIE
from alphatrader.api.context import VERIFIED_SECONDS
from alphatrader.api.keys import revoke_key
from tests.integration.api.conftest import CANARIES, Keys, TestClient


def login(client: TestClient, name: str, scope: str) -> None:
    """The cookie SessionMiddleware would set after the login form put the principal in."""
    payload = b64encode(json.dumps({"principal": {"name": name, "scope": scope}}).encode())
    signed = TimestampSigner(CANARIES["DASHBOARD_SESSION_SECRET"]).sign(payload).decode()
    client.cookies.set(SESSION_COOKIE, signed)


def test_a_session_principal_reads_like_its_key(client: TestClient, keys: Keys) -> None:
    login(client, "reader", "read")
    assert client.get("/api/risk").status_code == 200
    refused = client.post("/api/risk/halt", json={"reason": "from the browser"})
    assert refused.status_code == 403


def test_a_session_cannot_claim_more_than_its_key(client: TestClient, keys: Keys) -> None:
    login(client, "reader", "admin")
    assert client.get("/api/risk").status_code == 200
    assert client.post("/api/risk/halt", json={"reason": "escalate"}).status_code == 403


def test_state_changes_with_a_session_must_come_from_our_origin(
    client: TestClient, keys: Keys
) -> None:
    login(client, "trader", "trade")
    foreign = client.post(
        "/api/risk/halt", json={"reason": "csrf"}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and "cross-origin" in foreign.json()["detail"]
    own = client.post(
        "/api/risk/halt", json={"reason": "drill"}, headers={"Origin": "http://testserver"}
    )
    assert own.status_code == 200 and own.json()["state"] == "HALTED"


def test_revoking_the_key_ends_its_sessions(client: TestClient, keys: Keys, app: FastAPI) -> None:
    login(client, "trader", "trade")
    assert client.get("/api/risk").status_code == 200
    revoke_key(app.state.api.db, "trader", "test")
    time.sleep(VERIFIED_SECONDS + 0.1)
    assert client.get("/api/risk").status_code == 401


def test_a_forged_or_unknown_session_is_no_session(client: TestClient, keys: Keys) -> None:
    client.cookies.set(SESSION_COOKIE, "eyJwcmluY2lwYWwiOiB7fX0=.forged.signature")
    assert client.get("/api/risk").status_code == 401
    login(client, "nobody", "admin")
    assert client.get("/api/risk").status_code == 401
