"""Rate limits, spoofed proxy headers, and the request-size cap (RELIABILITY B9, API4)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi import FastAPI

from alphatrader.api import create_app
from alphatrader.api.keys import create_key
from alphatrader.api.ratelimit import RateLimiter
from tests.integration.api.conftest import Keys, TestClient, make_settings

LIMIT = 5


@pytest.fixture
def strict(home: Path) -> FastAPI:
    return create_app(
        make_settings(home, API_RATE_LIMIT_PER_MIN=LIMIT, API_AUTH_FAIL_LIMIT_PER_MIN=3)
    )


def _keys(app: FastAPI) -> tuple[str, str]:
    db = app.state.api.db
    return create_key(db, "one", "read", "test")[1], create_key(db, "two", "read", "test")[1]


def test_a_key_over_its_limit_gets_429_with_retry_after_and_others_do_not(
    strict: FastAPI,
) -> None:
    one, two = _keys(strict)
    with TestClient(strict) as client:
        statuses = [
            client.get("/api/risk", headers={"X-API-Key": one}).status_code for _ in range(LIMIT)
        ]
        assert statuses == [200] * LIMIT
        refused = client.get("/api/risk", headers={"X-API-Key": one})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "rate limit" in refused.json()["detail"]
        assert client.get("/api/risk", headers={"X-API-Key": two}).status_code == 200
        bearer = client.get("/api/risk", headers={"Authorization": f"Bearer {one}"})
        assert bearer.status_code == 429  # the bucket is the key's, whatever the header


def test_spoofed_forwarded_headers_do_not_reset_a_bucket(strict: FastAPI) -> None:
    one, _ = _keys(strict)
    with TestClient(strict) as client:
        for _ in range(LIMIT):
            client.get("/healthz")
        assert client.get("/healthz").status_code == 429
        for spoof in ("203.0.113.7", "127.0.0.1", "10.0.0.1, 198.51.100.2"):
            headers = {"X-Forwarded-For": spoof, "X-Real-IP": spoof, "Forwarded": f"for={spoof}"}
            assert client.get("/healthz", headers=headers).status_code == 429
        for _ in range(LIMIT):
            client.get("/api/risk", headers={"X-API-Key": one})
        spoofed = client.get(
            "/api/risk", headers={"X-API-Key": one, "X-Forwarded-For": "203.0.113.9"}
        )
        assert spoofed.status_code == 429


def test_wrong_keys_exhaust_a_stricter_bucket_then_keys_are_not_even_checked(
    strict: FastAPI,
) -> None:
    one, _ = _keys(strict)
    with TestClient(strict) as client:
        wrong = {"X-API-Key": "at_0badc0de_" + "B" * 43}
        assert [client.get("/api/risk", headers=wrong).status_code for _ in range(3)] == [401] * 3
        assert client.get("/api/risk", headers=wrong).status_code == 429
        # Guessing must stop: a right key from this address waits too (a 200 would be an oracle).
        blocked = client.get("/api/risk", headers={"X-API-Key": one})
        assert blocked.status_code == 429 and "retry-after" in blocked.headers


def test_a_thousand_requests_in_a_burst_are_limited_without_5xx(home: Path) -> None:
    app = create_app(make_settings(home, API_RATE_LIMIT_PER_MIN=100))
    key = create_key(app.state.api.db, "burst", "read", "test")[1]
    with TestClient(app) as client:
        started = time.monotonic()
        statuses = [
            client.get("/api/risk", headers={"X-API-Key": key}).status_code for _ in range(1000)
        ]
        refilled = (time.monotonic() - started) * 100 / 60
    assert set(statuses) == {200, 429}
    assert 100 <= statuses.count(200) <= 100 + refilled + 1  # capacity, plus the refill


def test_bodies_over_64_kb_are_refused_with_413(client: TestClient, keys: Keys) -> None:
    big = {"reason": "x" * 70_000}
    declared = client.post("/api/risk/halt", json=big, headers=keys.of("trade"))
    assert declared.status_code == 413 and "too large" in declared.json()["detail"]

    def chunks() -> object:
        for _ in range(10):
            yield b"x" * 10_000

    streamed = client.post(
        "/api/risk/halt",
        content=chunks(),  # type: ignore[arg-type]
        headers={**keys.of("trade"), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413 and "too large" in streamed.json()["detail"]
    assert client.get("/api/risk", headers=keys.of("read")).json()["state"] == "ACTIVE"


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])  # one token a second, 60 at most
    assert all(limiter.take("k") == 0 for _ in range(60))
    assert limiter.take("k") == 1
    now[0] += 1.0
    assert limiter.take("k") == 0 and limiter.take("k") == 1
    assert limiter.take("other") == 0  # buckets are independent
    now[0] += 3600
    assert sum(1 for _ in range(100) if limiter.take("k") == 0) == 60  # capped at capacity


def test_token_bucket_memory_is_bounded() -> None:
    limiter = RateLimiter(1, max_entries=100)
    for i in range(1000):
        limiter.take(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._buckets) == 100
