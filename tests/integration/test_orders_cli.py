"""Approval mode and the emergency commands, as an operator runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from alphatrader.storage.db import Database, default_database_url
from alphatrader.storage.models import AuditEntry, OrderRecord, RiskState


@pytest.fixture
def home(tmp_path: Path, seeded_store_root: Path) -> Path:
    (tmp_path / "var" / "data").mkdir(parents=True)
    shutil.copytree(seeded_store_root, tmp_path / "var" / "data" / "market")
    return tmp_path


def cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "DATABASE"))}
    child.update(ALPHATRADER_DATA_DIR=str(home / "var" / "data"), **env)
    return subprocess.run(
        [sys.executable, "-m", "alphatrader", *args],
        capture_output=True,
        text=True,
        env=child,
        cwd=home,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def db(home: Path) -> Database:
    return Database(default_database_url(home / "var" / "data"))


def test_approval_mode_waits_then_sends_or_refuses(home: Path) -> None:
    out = cli(
        home,
        "daily",
        "--as-of",
        "2016-06-03",
        "--no-email",
        "--json",
        "plan.json",
        PAPER_TRADING_MODE="false",
    )
    assert out.returncode == 0, out.stderr
    planned = [o for o in json.loads((home / "plan.json").read_text())["orders"]]
    assert len(planned) >= 2
    with db(home).session() as s:
        ids = s.scalars(
            select(OrderRecord.client_order_id).order_by(OrderRecord.client_order_id)
        ).all()
        assert {r.status for r in s.scalars(select(OrderRecord))} == {"planned"}
    listed = cli(home, "signals", "list")
    assert ids[0] in listed.stdout
    assert cli(home, "signals", "approve", ids[0]).returncode == 0
    assert cli(home, "signals", "reject", ids[1], "--reason", "too risky").returncode == 0
    again = cli(home, "signals", "approve", ids[1])
    assert again.returncode == 2 and "not waiting for approval" in again.stderr
    with db(home).session() as s:
        assert s.get_one(OrderRecord, ids[0]).status == "accepted"
        assert s.get_one(OrderRecord, ids[1]).status == "rejected"
        actions = s.scalars(select(AuditEntry.action)).all()
    assert "order.approve" in actions and "order.reject" in actions


def test_flatten_needs_confirmation_then_halts_and_sells_everything(home: Path) -> None:
    for day in ("2016-06-02", "2016-06-03"):
        assert cli(home, "daily", "--as-of", day, "--no-email").returncode == 0
    refused = cli(home, "emergency", "flatten")
    assert refused.returncode != 0
    with db(home).session() as s:
        assert s.get(RiskState, 1) is None or s.get_one(RiskState, 1).state != "HALTED"
    done = cli(home, "emergency", "flatten", "--yes", "--reason", "drill")
    assert done.returncode == 0, done.stderr
    assert list((home / "var" / "snapshots").glob("emergency-*.json"))
    with db(home).session() as s:
        assert s.get_one(RiskState, 1).state == "HALTED"
        exits = s.scalars(
            select(OrderRecord).where(OrderRecord.client_order_id.like("emergency-%"))
        ).all()
        held = s.scalars(select(OrderRecord).where(OrderRecord.status == "filled")).all()
    assert exits and all(o.side == "sell" and o.status == "accepted" for o in exits)
    assert {o.symbol for o in exits} == {o.symbol for o in held if o.side == "buy"}
    blocked = cli(home, "daily", "--as-of", "2016-06-06", "--no-email", "--json", "p.json")
    assert blocked.returncode == 0
    plan = json.loads((home / "p.json").read_text())
    assert plan["risk_state"] == "HALTED" and plan["orders"] == []
