"""The dashboard in Debian's Chromium, against the real server (see conftest.py).

The scenario's account: marked on 2016-06-01 and 2016-06-02 (paper), then six orders of
2016-06-03 waiting for approval. Tests share the server, so each leaves trading ACTIVE.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LAPTOP, PHONE, Server

try:
    from playwright.sync_api import expect
except ImportError:  # the dev extras bring it; CI must not skip silently
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("playwright is not installed: pip install -e '.[dev]'", allow_module_level=True)

pytestmark = pytest.mark.timeout(180)

WS_OPEN = "document.body.getAttribute('data-ws-state') === 'open'"
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def shoot(page: Any, folder: Path, name: str) -> list[Path]:
    """Full-page screenshots at laptop and phone sizes; the viewport is restored."""
    paths = []
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(300)  # plotly's responsive relayout
        path = folder / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    page.set_viewport_size(LAPTOP)
    return paths


def test_login_then_the_overview_draws_its_charts(
    page: Any, server: Server, login: Callable[..., None], screenshots: Path
) -> None:
    page.goto("/")
    page.wait_for_url("**/login**")
    page.fill("#api_key", "at_00000000_" + "x" * 43)
    page.click("form.login button[type=submit]")
    expect(page.locator(".login .flash-error")).to_contain_text("not valid")
    page.js_errors.clear()  # the browser logs the 401 of the refused key

    login(server.keys["trade"])
    assert page.url.rstrip("/") == server.url
    expect(page.locator("#chart-equity svg.main-svg").first).to_be_visible()
    expect(page.locator("#chart-drawdown svg.main-svg").first).to_be_visible()
    expect(page.locator("#chart-pnl svg.main-svg").first).to_be_visible()
    expect(page.locator("#chart-equity")).to_contain_text("Equity")  # the legend
    expect(page.locator("#chart-equity")).to_contain_text("SPY")  # the benchmark
    expect(page.locator(".kpi", has_text="Risk state")).to_contain_text("ACTIVE")
    expect(page.locator(".kpi", has_text="Awaiting approval")).to_contain_text("6")
    page.wait_for_function(WS_OPEN)
    shoot(page, screenshots, "overview")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert page.js_errors == []


def test_approving_a_signal_puts_its_order_on_the_orders_page(
    page: Any, server: Server, login: Callable[..., None], screenshots: Path
) -> None:
    login(server.keys["trade"], "/signals")
    row = page.locator("#pending-table tbody tr").first
    order_id = row.get_attribute("data-order-id")
    assert order_id and order_id.startswith("daily-20160603-")
    shoot(page, screenshots, "signals")

    row.locator("button[data-action=approve]").click()
    expect(page.locator("main > .flash-ok")).to_contain_text("Approved")
    expect(page.locator("main > .flash-ok")).to_contain_text("is accepted")
    expect(page.locator(f'#pending-table tr[data-order-id="{order_id}"]')).to_have_count(0)

    page.click("nav >> text=Orders")
    status = page.locator(f'#orders-table tr[data-order-id="{order_id}"] [data-status]')
    expect(status).to_have_text("accepted")
    shoot(page, screenshots, "orders")
    page.click(f'#orders-table tr[data-order-id="{order_id}"] a')
    expect(page.locator("h1")).to_contain_text(order_id)
    assert page.js_errors == []


def test_halt_then_resume_from_the_risk_page(
    page: Any, server: Server, login: Callable[..., None], screenshots: Path
) -> None:
    login(server.keys["trade"], "/risk")
    page.on("dialog", lambda dialog: dialog.accept())
    expect(page.locator("#risk-state")).to_have_text("ACTIVE")

    page.fill("#halt-form input[name=reason]", "browser drill")
    page.click("#halt-form button[type=submit]")
    expect(page.locator("#risk-state")).to_have_text("HALTED")
    expect(page.locator("#risk-events")).to_contain_text("browser drill")
    expect(page.locator(".top [data-risk-state]")).to_have_text("HALTED")
    shoot(page, screenshots, "risk-halted")

    page.goto("/signals")  # approvals are refused while halted, and the page says so
    expect(page.locator("#pending")).to_contain_text("Trading is HALTED")
    page.locator("#pending-table button[data-action=approve]").first.click()
    expect(page.locator("main > .flash-error")).to_contain_text("Not approved")

    page.goto("/risk")
    page.fill("#resume-form input[name=reason]", "drill over")
    page.click("#resume-form button[type=submit]")
    expect(page.locator("#risk-state")).to_have_text("ACTIVE")
    expect(page.locator("#risk-events")).to_contain_text("drill over")
    assert page.js_errors == []


def test_a_change_made_elsewhere_reaches_the_open_page_live(
    page: Any, server: Server, login: Callable[..., None]
) -> None:
    login(server.keys["read"], "/risk")
    page.wait_for_function(WS_OPEN)
    page.evaluate("window.__stayed = true")  # gone if the page reloads

    server.cli("risk", "halt", "--reason", "halted from the CLI")  # another process
    expect(page.locator(".top [data-risk-state]")).to_have_text("HALTED", timeout=5_000)
    expect(page.locator("#risk-events")).to_contain_text("halted from the CLI", timeout=5_000)

    server.cli("risk", "resume", "--reason", "CLI drill over")
    expect(page.locator("#risk-state")).to_have_text("ACTIVE", timeout=5_000)
    assert page.evaluate("window.__stayed === true")
    assert page.evaluate("window.alphatraderLive.events") >= 2


def test_a_read_key_sees_everything_but_cannot_act(
    page: Any, server: Server, login: Callable[..., None]
) -> None:
    login(server.keys["read"], "/signals")
    expect(page.locator("#pending-table tbody tr").first).to_be_visible()
    expect(page.locator("button[data-action=approve]")).to_have_count(0)
    expect(page.locator("button[data-action=reject]")).to_have_count(0)
    expect(page.locator("#pending")).to_contain_text("read key")
    page.goto("/risk")
    expect(page.locator("#halt-form")).to_have_count(0)
    expect(page.locator("#resume-form")).to_have_count(0)

    # Posting by hand, with the session's own CSRF token, is still refused.
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    refused = page.request.post("/risk/halt", form={"csrf": token, "reason": "sneaky"})
    assert refused.status == 403
    page.reload()
    expect(page.locator("#risk-state")).to_have_text("ACTIVE")


def test_every_page_renders_on_a_laptop_and_a_phone(
    page: Any, server: Server, login: Callable[..., None], screenshots: Path
) -> None:
    login(server.keys["trade"])
    for path in ("/positions", "/runs", "/strategies", "/backtests", "/risk"):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        name = path.strip("/")
        for size in (LAPTOP, PHONE):
            page.set_viewport_size(size)
            page.wait_for_timeout(400)  # plotly's responsive relayout
            assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{path} scrolls sideways at {size}"
        shoot(page, screenshots, name)
    page.goto("/strategies")
    expect(page.locator("#chart-momentum svg.main-svg").first).to_be_visible()
    expect(page.locator("#chart-correlation svg.main-svg").first).to_be_visible()
    expect(page.locator("#ranking-table tbody tr")).not_to_have_count(0)
    assert page.js_errors == []


def test_launch_a_backtest_follow_it_and_read_its_tearsheet(
    page: Any, server: Server, login: Callable[..., None], screenshots: Path
) -> None:
    login(server.keys["trade"], "/backtests")
    page.check("input[name=strategies][value=golden_cross]")
    page.fill("input[name=symbols]", "SPY")
    page.fill("input[name=start]", "2012-01-03")
    page.fill("input[name=end]", "2016-06-30")
    page.click("#backtest-form button[type=submit]")
    page.wait_for_url(re.compile(r"/backtests/[0-9a-f]{32}$"))
    # The page follows the job by itself (WebSocket) until the tear sheet appears.
    expect(page.locator("h1 .status")).to_have_text("completed", timeout=60_000)
    sheet = page.frame_locator("iframe.tearsheet")
    expect(sheet.locator("#chart-equity svg.main-svg").first).to_be_visible(timeout=20_000)
    shoot(page, screenshots, "backtest")

    page.goto("/backtests")
    expect(page.locator("#backtests-table tbody tr").first).to_contain_text("completed")
    page.fill("input[name=symbols]", "NOT-A-SYMBOL!")
    page.click("#backtest-form button[type=submit]")
    expect(page.locator("main > .flash-error")).to_contain_text("Backtest not started")
    expect(page.locator("input[name=symbols]")).to_have_value("NOT-A-SYMBOL!")  # kept
    page.js_errors.clear()  # the browser logs the 400 of the refused form
    assert page.js_errors == []
