"""Bad input on every endpoint: a 4xx with a `detail` that says what was wrong."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api.conftest import Keys, TestClient

UNKNOWN_ORDER = "daily-20160603-golden_cross-ZZZZ-buy"
UNKNOWN_JOB = "f" * 32

CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    # (method, path, request kwargs, status, a phrase of the detail)
    ("GET", "/api/orders?limit=0", {}, 422, "greater than or equal to 1"),
    ("GET", "/api/orders?limit=100000", {}, 422, "less than or equal to 200"),
    ("GET", "/api/orders?limit=ten", {}, 422, "valid integer"),
    ("GET", "/api/orders?offset=-1", {}, 422, "greater than or equal to 0"),
    ("GET", "/api/orders?status=DROP%20TABLE", {}, 422, "pattern"),
    ("GET", "/api/orders?symbol=" + "X" * 50, {}, 422, "pattern"),
    ("GET", "/api/orders?session_from=2016-13-45", {}, 422, "valid date"),
    ("GET", f"/api/orders/{UNKNOWN_ORDER}", {}, 404, "no order"),
    ("GET", "/api/orders/bad%20id", {}, 422, "pattern"),
    ("GET", "/api/orders/" + "a" * 300, {}, 422, "at most 128"),
    ("GET", "/api/signals?session=yesterday", {}, 422, "YYYY-MM-DD"),
    ("GET", "/api/signals?session=0", {}, 422, "YYYY-MM-DD"),
    ("GET", "/api/orders?session_to=2016-01-01T00:00:00", {}, 422, "YYYY-MM-DD"),
    ("GET", "/api/signals?strategy=Golden-Cross", {}, 422, "pattern"),
    ("GET", "/api/signals/pending?limit=-5", {}, 422, "greater than or equal to 1"),
    ("POST", f"/api/signals/{UNKNOWN_ORDER}/approve", {}, 404, "no order"),
    ("POST", f"/api/signals/{UNKNOWN_ORDER}/reject", {"json": {"reason": "x"}}, 404, "no order"),
    ("POST", "/api/signals/x/reject", {"json": {}}, 422, "Field required"),
    ("POST", "/api/signals/x/reject", {"json": {"reason": 123}}, 422, "valid string"),
    ("POST", "/api/signals/x/reject", {"json": {"reason": "x" * 600}}, 422, "at most 500"),
    ("POST", "/api/signals/x/reject", {"json": {"reason": "ok", "why": 1}}, 422, "Extra inputs"),
    ("POST", "/api/signals/x/reject", {"json": ["reason"]}, 422, "valid dictionary"),
    ("GET", "/api/runs?limit=abc", {}, 422, "valid integer"),
    ("GET", "/api/runs?job=../etc/passwd", {}, 422, "pattern"),
    ("GET", "/api/risk/events?limit=1000", {}, 422, "less than or equal to 200"),
    ("POST", "/api/risk/halt", {"json": {"reason": ""}}, 422, "at least 1 character"),
    ("POST", "/api/risk/halt", {"json": {"reason": "   "}}, 422, "at least 1 character"),
    (
        "POST",
        "/api/risk/halt",
        {"content": b"{nope", "headers": {"Content-Type": "application/json"}},
        422,
        "JSON decode error",
    ),
    ("POST", "/api/risk/halt", {"json": {"reason": "x" * 70_000}}, 413, "too large"),
    ("POST", "/api/risk/resume", {"json": {"reason": "not halted"}}, 409, "not HALTED"),
    ("POST", "/api/backtests", {"json": {"strategies": ["nope"]}}, 422, "unknown strategy"),
    ("POST", "/api/backtests", {"json": {"symbols": ["ZZZZ9"]}}, 422, "unknown symbol"),
    ("POST", "/api/backtests", {"json": {"symbols": ["../../x"]}}, 422, "pattern"),
    ("POST", "/api/backtests", {"json": {"symbols": ["SPY"] * 61}}, 422, "at most 60"),
    ("POST", "/api/backtests", {"json": {"cash": -5}}, 422, "greater than or equal to 1"),
    ("POST", "/api/backtests", {"json": {"commission": False}}, 422, "valid number"),
    ("POST", "/api/backtests", {"json": {"cash": "lots"}}, 422, "valid number"),
    ("POST", "/api/backtests", {"json": {"cash": 1e300}}, 422, "less than or equal to"),
    ("POST", "/api/backtests", {"json": {"sizing": "yolo"}}, 422, "'safety' or 'all-in'"),
    (
        "POST",
        "/api/backtests",
        {"json": {"start": "2010-01-01", "end": "2005-01-01"}},
        422,
        "after end",
    ),
    (
        "POST",
        "/api/backtests",
        {"json": {"params": {"golden_cross": {"nope": 1}}}},
        422,
        "no parameter",
    ),
    (
        "POST",
        "/api/backtests",
        {"json": {"strategies": ["golden_cross"], "params": {"mean_reversion": {"period": 5}}}},
        422,
        "not among the strategies",
    ),
    ("POST", "/api/backtests", {"json": {"data_csv": "/etc/passwd"}}, 422, "Extra inputs"),
    ("GET", "/api/backtests?limit=0", {}, 422, "greater than or equal to 1"),
    ("GET", "/api/backtests/not-hex", {}, 422, "pattern"),
    ("GET", f"/api/backtests/{UNKNOWN_JOB}", {}, 404, "no backtest"),
    ("GET", f"/api/backtests/{UNKNOWN_JOB}/result", {}, 404, "no backtest"),
    ("GET", f"/api/backtests/{UNKNOWN_JOB}/tearsheet", {}, 404, "no backtest"),
    ("POST", "/api/emergency/cancel-all", {"json": {}}, 422, "Field required"),
    ("POST", "/api/emergency/flatten", {"json": {"reason": None}}, 422, "valid string"),
    ("DELETE", "/api/risk", {}, 405, "Method Not Allowed"),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "phrase"),
    CASES,
    ids=[f"{c[0]} {c[1][:60]} {c[3]}" for c in CASES],
)
def test_bad_input_is_a_clear_4xx(
    client: TestClient,
    keys: Keys,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    phrase: str,
) -> None:
    headers = {**kwargs.pop("headers", {}), **keys.of("admin")}
    response = client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    text = detail if isinstance(detail, str) else " ".join(d["msg"] for d in detail)
    assert phrase in text, text
