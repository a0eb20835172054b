"""`/ws` and the pages' forms through Starlette's TestClient (no browser needed).

The app is `create_app(settings)` over a private data dir; keys are made with the key module.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from alphatrader import operations as ops
from alphatrader import services
from alphatrader.api import create_app, events
from alphatrader.api.context import VERIFIED_SECONDS
from alphatrader.api.keys import create_key, revoke_key
from alphatrader.config import Settings, load_settings
from alphatrader.risk.engine import RiskEngine
from alphatrader.storage.db import Database
from alphatrader.storage.models import DailyEquity, OrderRecord

pytestmark = pytest.mark.timeout(120)

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def settings(tmp_path: Path, seeded_store_root: Path) -> Settings:
    (tmp_path / "var" / "data").mkdir(parents=True)
    shutil.copytree(seeded_store_root, tmp_path / "var" / "data" / "market")
    return load_settings(
        ALPHATRADER_DATA_DIR=str(tmp_path / "var" / "data"),
        DASHBOARD_SESSION_SECRET="s" * 40,
        DATABASE_URL=None,
    )


@pytest.fixture
def keys(settings: Settings) -> dict[str, str]:
    db = services.database(settings)
    made = {scope: create_key(db, f"ws-{scope}", scope, "test")[1] for scope in ("read", "trade")}
    db.dispose()
    return made


@pytest.fixture
def client(settings: Settings, keys: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, key: str, next_path: str = "/risk") -> str:
    """Log in through the form; returns the new session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    done = client.post(
        "/login",
        data={"api_key": key, "csrf": token, "next": next_path},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == next_path
    return csrf_of(client.get(next_path).text)


def next_event(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of `kind` (others, such as order or portfolio, are skipped)."""
    for _ in range(50):
        message: dict[str, Any] = ws.receive_json()
        assert set(message) == {"type", "data", "at"}
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} event in 50 messages")


def test_a_halt_is_pushed_to_the_socket_as_a_risk_event(
    client: TestClient, keys: dict[str, str]
) -> None:
    token = sign_in(client, keys["trade"])
    with client.websocket_connect("/ws") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello"
        assert hello["data"]["name"] == "ws-trade" and hello["data"]["scope"] == "trade"
        assert set(hello["data"]["topics"]) >= {"portfolio", "order", "signal", "risk"}

        halted = client.post("/risk/halt", data={"csrf": token, "reason": "socket drill"})
        assert halted.status_code == 200 and "socket drill" in halted.text
        event = next_event(ws, "risk")
        assert event["data"]["state"] == "HALTED"
        assert "socket drill" in event["data"]["reason"]
        assert event["data"]["events"][0]["kind"] == "halt"

        client.post("/risk/resume", data={"csrf": token, "reason": "over"})
        assert next_event(ws, "risk")["data"]["state"] == "ACTIVE"


def test_a_change_written_without_the_bus_arrives_by_the_poll(
    client: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    sign_in(client, keys["read"])
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        db = services.database(settings)  # as another process would: no publish()
        try:
            ops.halt(settings, db, "written elsewhere", "cli:test")
        finally:
            db.dispose()
        event = next_event(ws, "risk")
        assert event["data"]["state"] == "HALTED"
        assert "written elsewhere" in event["data"]["reason"]


def test_the_socket_needs_a_login_and_never_reads_a_key_from_the_url(
    client: TestClient, keys: dict[str, str]
) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws"):
        pass
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(
            f"/ws?api_key={keys['read']}&key={keys['read']}&token={keys['read']}"
        ),
    ):
        pass


def test_a_script_can_offer_its_key_as_a_subprotocol_or_a_header(
    client: TestClient, keys: dict[str, str]
) -> None:
    with client.websocket_connect(
        "/ws", subprotocols=["alphatrader.v1", f"bearer.{keys['read']}"]
    ) as ws:
        assert ws.accepted_subprotocol == "alphatrader.v1"  # the key is never echoed
        assert ws.receive_json()["data"]["name"] == "ws-read"
    with client.websocket_connect("/ws", headers={"X-API-Key": keys["trade"]}) as ws:
        assert ws.receive_json()["data"]["scope"] == "trade"
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(
            "/ws", subprotocols=["alphatrader.v1", "bearer.at_00000000_" + "x" * 43]
        ),
    ):
        pass


def test_a_cookie_sent_by_another_site_is_refused(client: TestClient, keys: dict[str, str]) -> None:
    sign_in(client, keys["read"])
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/ws", headers={"origin": "http://evil.example"}),
    ):
        pass
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "hello"


def test_revoking_the_key_ends_the_session(
    client: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    sign_in(client, keys["read"])
    assert client.get("/risk", follow_redirects=False).status_code == 200
    db = services.database(settings)
    try:
        revoke_key(db, "ws-read", "test")
    finally:
        db.dispose()
    time.sleep(VERIFIED_SECONDS + 0.2)  # a verification is reused that long at most
    gone = client.get("/risk", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws"):
        pass


# -- the pages' forms --------------------------------------------------------------------------
def test_pages_send_visitors_to_the_login_form_and_back(
    client: TestClient, keys: dict[str, str]
) -> None:
    for path in ("/", "/positions", "/orders", "/signals", "/runs", "/backtests", "/risk"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login"), path
    token = csrf_of(client.get("/login?next=/orders").text)
    done = client.post(
        "/login",
        data={"api_key": keys["read"], "csrf": token, "next": "/orders"},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/orders"


def test_login_refuses_a_bad_key_a_stale_form_and_a_foreign_next(
    client: TestClient, keys: dict[str, str]
) -> None:
    token = csrf_of(client.get("/login").text)
    bad = client.post("/login", data={"api_key": "at_nope", "csrf": token})
    assert bad.status_code == 401 and "not valid" in bad.text
    stale = client.post("/login", data={"api_key": keys["read"], "csrf": "forged"})
    assert stale.status_code == 400
    assert client.get("/", follow_redirects=False).status_code == 303  # still signed out
    token = csrf_of(client.get("/login").text)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        done = client.post(
            "/login",
            data={"api_key": keys["read"], "csrf": token, "next": target},
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == "/", target
        token = csrf_of(client.get("/login").text)


def test_forms_need_the_session_token_and_the_scope(
    client: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    token = sign_in(client, keys["trade"])
    assert client.post("/risk/halt", data={"reason": "no token"}).status_code == 403
    forged = client.post("/risk/halt", data={"csrf": "x" * 43, "reason": "forged"})
    assert forged.status_code == 403
    other_site = client.post(
        "/risk/halt",
        data={"csrf": token, "reason": "cross-site"},
        headers={"origin": "http://evil.example"},
    )
    assert other_site.status_code == 403
    assert ops.risk_status(settings, services.database(settings)).state == "ACTIVE"

    client.post("/logout", data={"csrf": token})
    assert client.get("/risk", follow_redirects=False).status_code == 303
    token = sign_in(client, keys["read"])
    refused = client.post("/risk/halt", data={"csrf": token, "reason": "read key"})
    assert refused.status_code == 403 and "trade scope" in refused.text
    page = client.get("/signals").text
    assert 'data-action="approve"' not in page
    assert ops.risk_status(settings, services.database(settings)).state == "ACTIVE"


def test_the_emergency_form_cancels_and_halts(
    client: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    token = sign_in(client, keys["trade"])
    assert 'action="/risk/emergency"' in client.get("/risk").text
    done = client.post(
        "/risk/emergency", data={"csrf": token, "reason": "drill", "action": "cancel-all"}
    )
    assert done.status_code == 200 and "HALTED: 0 order(s) cancelled" in done.text
    db = services.database(settings)
    try:
        assert ops.risk_status(settings, db).state == "HALTED"
    finally:
        db.dispose()
    odd = client.post("/risk/emergency", data={"csrf": token, "reason": "x", "action": "boom"})
    assert "unknown emergency action" in odd.text


def test_the_backtest_form_queues_a_job_or_says_what_is_wrong(
    client: TestClient, keys: dict[str, str]
) -> None:
    token = sign_in(client, keys["trade"], "/backtests")
    form = {
        "csrf": token,
        "strategies": ["golden_cross"],
        "symbols": "spy",
        "start": "2015-01-02",
        "end": "2015-12-31",
        "cash": "",
        "sizing": "safety",
        "commission": "0",
        "slippage_bps": "5",
    }
    queued = client.post("/backtests", data=form, follow_redirects=False)
    assert queued.status_code == 303
    assert re.fullmatch(r"/backtests/[0-9a-f]{32}", queued.headers["location"])
    for field, value, complaint in (
        ("commission", "lots", "not a number"),
        ("start", "2015-13-01", "not a date"),
        ("slippage_bps", "-1", "slippage_bps"),
        ("strategies", "no_such_strategy", "strategies"),
        ("sizing", "yolo", "sizing"),
    ):
        refused = client.post("/backtests", data={**form, field: value})
        assert refused.status_code == 400, field
        assert "Backtest not started" in refused.text and complaint in refused.text, field


def test_static_assets_come_from_the_package_not_a_cdn(client: TestClient) -> None:
    bundle = client.get("/static/plotly.min.js")
    assert bundle.status_code == 200 and "plotly" in bundle.text[:2000].lower()
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/static/dashboard.css").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/keys.py").status_code == 404


# -- the change detector and the bus -------------------------------------------------------------
def test_fingerprints_move_with_their_topic_only(database: Database) -> None:
    """On SQLite and PostgreSQL: each write moves exactly the topics it concerns."""
    now = datetime.now(UTC)
    first = events.fingerprints(database)
    assert events.fingerprints(database) == first  # nothing changed, nothing to send

    RiskEngine(database, load_settings()).halt("fingerprint drill", actor="test")
    second = events.fingerprints(database)
    assert events.changed_topics(first, second) == ["risk"]

    with database.session() as s:
        s.add(
            OrderRecord(
                client_order_id="daily-20160603-x-SPY-buy",
                session=date(2016, 6, 3),
                symbol="SPY",
                side="buy",
                qty=Decimal(1),
                est_price=Decimal("210.5"),
                strategy="x",
                reason="test",
                status="planned",
                created_at=now,
                updated_at=now,
            )
        )
    third = events.fingerprints(database)
    assert events.changed_topics(second, third) == ["order", "signal"]

    with database.session() as s:
        s.add(
            DailyEquity(
                session=date(2016, 6, 3),
                equity=Decimal("1000.5"),
                cash=Decimal("1000.5"),
                positions_value=Decimal(0),
            )
        )
    fourth = events.fingerprints(database)
    assert events.changed_topics(third, fourth) == ["portfolio"]


def test_the_bus_delivers_across_threads_to_every_subscriber() -> None:
    async def scenario() -> list[str]:
        first, second = events.bus.subscribe(), events.bus.subscribe()
        try:
            sender = threading.Thread(target=events.publish, args=("backtest", {"id": "x"}))
            sender.start()
            got = [await first.next(5), await second.next(5)]
            sender.join()
            assert await first.next(0.05) is None  # one event, delivered once
            return [e.type for e in got if e is not None]
        finally:
            first.close()
            second.close()

    received: list[list[str]] = []
    # A thread of its own: Playwright's sync API may already run a loop in this one.
    runner = threading.Thread(target=lambda: received.append(asyncio.run(scenario())))
    runner.start()
    runner.join(30)
    assert received == [["backtest", "backtest"]]
    message = events.Event("order", {"qty": Decimal("1.5"), "on": date(2016, 6, 3)}).message()
    assert message["data"] == {"qty": "1.5", "on": "2016-06-03"}
    assert set(message) == {"type", "data", "at"}
