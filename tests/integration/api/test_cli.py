"""`alphatrader apikey ...` and `alphatrader serve`, as an operator runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from alphatrader.storage.db import Database, default_database_url
from alphatrader.storage.models import ApiKey, AuditEntry


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "DATABASE"))}
    env["ALPHATRADER_DATA_DIR"] = str(home / "var" / "data")
    return subprocess.run(
        [sys.executable, "-m", "alphatrader", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_apikey_create_prints_the_key_alone_last_and_stores_only_its_hash(home: Path) -> None:
    made = cli(home, "apikey", "create", "--name", "desk", "--scope", "trade")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("at_") and " " not in key and len(key) == 55
    assert key not in made.stderr
    listed = cli(home, "apikey", "list")
    assert "desk" in listed.stdout and "trade" in listed.stdout and key not in listed.stdout
    db = Database(default_database_url(home / "var" / "data"))
    with db.session() as s:
        row = s.scalars(select(ApiKey)).one()
        assert key not in (row.key_hash, row.prefix) and key.split("_")[1] == row.prefix
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action.like("apikey.%"))).all()
        assert all(key not in str(a.details) for a in audit)
    duplicate = cli(home, "apikey", "create", "--name", "desk")
    assert duplicate.returncode == 2 and "exists" in duplicate.stderr
    bad = cli(home, "apikey", "create", "--name", "x", "--scope", "root")
    assert bad.returncode == 2 and "unknown scope" in bad.stderr
    assert cli(home, "apikey", "revoke", "desk").returncode == 0
    unknown = cli(home, "apikey", "revoke", "nobody")
    assert unknown.returncode == 2 and "unknown API key 'nobody'" in unknown.stderr
    with db.session() as s:
        assert s.scalars(select(ApiKey)).one().revoked_at is not None
    db.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_binds_loopback_and_answers_with_a_key(home: Path) -> None:
    key = cli(home, "apikey", "create", "--name", "ops").stdout.strip().splitlines()[-1]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "DATABASE"))}
    env["ALPHATRADER_DATA_DIR"] = str(home / "var" / "data")
    server = subprocess.Popen(
        [sys.executable, "-m", "alphatrader", "serve", "--port", str(port)],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        status = httpx.get(f"{base}/api/system/status", headers={"X-API-Key": key})
        assert status.status_code == 200 and status.json()["broker"] == "paper"
        assert "server" not in status.headers
        assert httpx.get(f"{base}/api/system/status?api_key={key}").status_code == 401
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert key not in output  # not in the access log, not anywhere
    assert "api_key=********" in output
