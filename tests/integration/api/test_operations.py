"""What an operator does through the API, end to end against the real database."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import func, select

from alphatrader.api.schemas import BacktestResultOut
from alphatrader.storage.models import AuditEntry, JobRun, OrderRecord
from tests.integration.api.conftest import SESSION, Keys, TestClient


def audit_entries(app: FastAPI, action: str) -> list[AuditEntry]:
    with app.state.api.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def pending_ids(client: TestClient, keys: Keys) -> list[str]:
    page = client.get("/api/signals/pending", headers=keys.of("read")).json()
    assert page["total"] == len(page["items"]) >= 2
    return [o["client_order_id"] for o in page["items"]]


def test_status_and_summary_describe_the_account(client: TestClient, keys: Keys) -> None:
    status = client.get("/api/system/status", headers=keys.of("read")).json()
    assert status["mode"] == "approval" and status["broker"] == "paper"
    assert status["risk"]["state"] == "ACTIVE"
    assert status["last_runs"][0]["session"] == str(SESSION)
    assert status["last_runs"][0]["status"] == "completed"
    assert status["connection"] == status["connection"] | {"broker": "paper", "connected": True}
    assert status["data"]["last_data_session"] >= str(SESSION)
    assert status["data"]["lag_sessions"] > 0 and status["data"]["fresh"] is False  # bundled data
    summary = client.get("/api/portfolio/summary", headers=keys.of("read")).json()
    assert summary["marked_session"] == str(SESSION)
    assert summary["equity"] == summary["cash"] == 1000.0
    assert summary["planned_orders"] >= 2 and summary["positions"] == 0


def test_approving_a_pending_signal_sends_it_to_the_broker(
    client: TestClient, keys: Keys, app: FastAPI
) -> None:
    first, second, *_ = pending_ids(client, keys)
    approved = client.post(f"/api/signals/{first}/approve", headers=keys.of("trade"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "accepted" and approved.json()["broker"] == "paper"
    rejected = client.post(
        f"/api/signals/{second}/reject", headers=keys.of("trade"), json={"reason": "too risky"}
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    again = client.post(f"/api/signals/{second}/approve", headers=keys.of("trade"))
    assert again.status_code == 409 and "not waiting for approval" in again.json()["detail"]
    assert [e.actor for e in audit_entries(app, "order.approve")] == ["api:trader"]
    (reject,) = audit_entries(app, "order.reject")
    assert reject.actor == "api:trader" and reject.details["reason"] == "too risky"
    open_orders = client.get("/api/orders?status=accepted", headers=keys.of("read")).json()
    assert [o["client_order_id"] for o in open_orders["items"]] == [first]
    detail = client.get(f"/api/orders/{first}", headers=keys.of("read")).json()
    assert detail["order"]["status"] == "accepted"


def test_halt_and_resume_are_audited_with_the_keys_name(
    client: TestClient, keys: Keys, app: FastAPI
) -> None:
    halted = client.post("/api/risk/halt", headers=keys.of("trade"), json={"reason": "maintenance"})
    assert halted.status_code == 200 and halted.json()["state"] == "HALTED"
    assert "maintenance" in halted.json()["reason"]
    first = pending_ids(client, keys)[0]
    refused = client.post(f"/api/signals/{first}/approve", headers=keys.of("trade"))
    assert refused.status_code == 409 and "HALTED" in refused.json()["detail"]
    assert (
        client.post(
            "/api/risk/resume", headers=keys.of("trade"), json={"reason": "done"}
        ).status_code
        == 403
    )
    resumed = client.post("/api/risk/resume", headers=keys.of("admin"), json={"reason": "done"})
    assert resumed.status_code == 200 and resumed.json()["state"] == "ACTIVE"
    again = client.post("/api/risk/resume", headers=keys.of("admin"), json={"reason": "again"})
    assert again.status_code == 409 and "not HALTED" in again.json()["detail"]
    (halt,) = audit_entries(app, "risk.halt")
    (resume,) = audit_entries(app, "risk.resume")
    assert (halt.actor, halt.details["reason"]) == ("api:trader", "maintenance")
    assert (resume.actor, resume.details["reason"]) == ("api:admin", "done")
    events = client.get("/api/risk/events", headers=keys.of("read")).json()
    assert [e["kind"] for e in events["items"][:2]] == ["resume", "halt"]


def test_emergency_cancel_all_halts_and_cancels_open_orders(
    client: TestClient, keys: Keys, settings: object, home: Path
) -> None:
    first = pending_ids(client, keys)[0]
    client.post(f"/api/signals/{first}/approve", headers=keys.of("trade"))
    result = client.post(
        "/api/emergency/cancel-all", headers=keys.of("trade"), json={"reason": "drill"}
    )
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["cancelled"] == 1 and body["risk_state"] == "HALTED"
    assert body["snapshot"].startswith("snapshots/emergency-")
    assert (home / "var" / body["snapshot"]).is_file()
    order = client.get(f"/api/orders/{first}", headers=keys.of("read")).json()["order"]
    assert order["status"] == "cancelled"


def test_a_backtest_runs_in_the_background(client: TestClient, keys: Keys, app: FastAPI) -> None:
    started = client.post(
        "/api/backtests",
        headers=keys.of("trade"),
        json={"strategies": ["golden_cross"], "symbols": ["goog"], "sizing": "all-in"},
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] in ("queued", "running") and job["request"]["symbols"] == ["GOOG"]
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(job["links"]["status"], headers=keys.of("read")).json()
    assert job["status"] == "completed", job
    assert job["summary"]["trades"] > 0
    result = client.get(job["links"]["result"], headers=keys.of("read"))
    parsed = BacktestResultOut.model_validate(result.json())
    assert parsed.symbols == ["GOOG"] and parsed.final_equity == job["summary"]["final_equity"]
    sheet = client.get(job["links"]["tearsheet"], headers=keys.of("read"))
    assert sheet.headers["content-type"].startswith("text/html") and "<html" in sheet.text[:500]
    listed = client.get("/api/backtests", headers=keys.of("read")).json()
    assert [j["id"] for j in listed] == [job["id"]]
    (entry,) = audit_entries(app, "backtest.start")
    assert entry.actor == "api:trader" and entry.details["id"] == job["id"]


def test_a_full_backtest_queue_answers_429(client: TestClient, keys: Keys, app: FastAPI) -> None:
    app.state.api.backtests.max_pending = 0
    busy = client.post("/api/backtests", headers=keys.of("trade"), json={})
    assert busy.status_code == 429 and busy.headers["retry-after"] == "30"
    assert "retry later" in busy.json()["detail"]


def test_the_eod_report_is_a_dry_run_that_writes_a_report(
    client: TestClient, keys: Keys, app: FastAPI, home: Path
) -> None:
    with app.state.api.db.session() as s:
        runs_before = s.scalar(select(func.count()).select_from(JobRun))
        orders_before = s.scalar(select(func.count()).select_from(OrderRecord))
    made = client.post("/api/reports/eod/generate", headers=keys.of("trade"))
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["report_path"].startswith("reports/daily-") and "dry-run" in body["report_path"]
    assert (home / "var" / body["report_path"]).is_file()
    with app.state.api.db.session() as s:
        assert s.scalar(select(func.count()).select_from(JobRun)) == runs_before
        assert s.scalar(select(func.count()).select_from(OrderRecord)) == orders_before
    assert [e.actor for e in audit_entries(app, "report.eod")] == ["api:trader"]


def test_strategies_rank_by_momentum_with_correlations(client: TestClient, keys: Keys) -> None:
    body = client.get("/api/strategies", headers=keys.of("read")).json()
    ranks = [s["rank"] for s in body["strategies"]]
    assert ranks == list(range(1, len(ranks) + 1)) and len(ranks) >= 5
    names = {s["name"] for s in body["strategies"]}
    assert set(body["correlation"]) == names
    assert all(body["correlation"][n][n] in (1.0, None) for n in names)
