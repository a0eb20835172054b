"""The real server (`alphatrader serve`) over a prepared data dir, and Debian's Chromium.

Once per session: copy the seeded market store, mark the paper account on 2016-06-01 and
2016-06-02 (paper mode: the overview has an equity curve), run 2016-06-03 in approval mode
(PAPER_TRADING_MODE=false, BROKER=paper, AUTO_TRADE=false: its orders wait for approval),
create read and trade keys with the CLI, and serve on a free loopback port. Chromium is driven
by Playwright's sync API; Playwright's own browser download is never used.

Without Chromium the browser tests skip (with the install command), except under CI=true,
where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")  # Debian's package
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
]
INSTALL_HINT = "bash scripts/install_system_deps.sh (Debian's chromium)"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Server:
    url: str
    home: Path
    env: dict[str, str]
    keys: dict[str, str]  # scope -> raw key

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _cli(self.home, self.env, *args, check=check)


def _child_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EMAIL_", "DATABASE", "ALPACA_", "IBKR_", "DASHBOARD_"))
    }
    env.update(
        ALPHATRADER_DATA_DIR=str(home / "var" / "data"),
        DATA_PROVIDERS="bundled",
        LOG_LEVEL="WARNING",
        no_proxy="*",
        NO_PROXY="*",
    )
    return env


def _cli(
    home: Path, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-m", "alphatrader", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check and out.returncode != 0:
        raise AssertionError(f"alphatrader {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def dashboard_home(tmp_path_factory: pytest.TempPathFactory, seeded_store_root: Path) -> Path:
    home = tmp_path_factory.mktemp("dashboard")
    (home / "var" / "data").mkdir(parents=True)
    shutil.copytree(seeded_store_root, home / "var" / "data" / "market")
    env = _child_env(home)
    for day in ("2016-06-01", "2016-06-02"):  # paper mode: filled, marked each session
        _cli(home, env, "daily", "--as-of", day, "--no-email")
    approval = {**env, "PAPER_TRADING_MODE": "false", "BROKER": "paper", "AUTO_TRADE": "false"}
    _cli(home, approval, "daily", "--as-of", "2016-06-03", "--no-email")
    return home


@pytest.fixture(scope="package")
def server(dashboard_home: Path) -> Iterator[Server]:
    home = dashboard_home
    env = {
        **_child_env(home),
        "PAPER_TRADING_MODE": "false",
        "BROKER": "paper",
        "AUTO_TRADE": "false",
        "DASHBOARD_SESSION_SECRET": os.urandom(24).hex(),
    }
    keys = {}
    for scope in ("read", "trade", "admin"):
        out = _cli(home, env, "apikey", "create", "--name", f"browser-{scope}", "--scope", scope)
        keys[scope] = out.stdout.strip().splitlines()[-1]
    port = _free_port()
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "alphatrader", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc, home / "server.log")
        yield Server(url, home, env, keys)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not answer within 60 s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save their screenshots (printed at the end with -rA)."""
    chosen = os.environ.get("ALPHATRADER_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="package")  # Playwright holds the event loop: release it after tests/browser
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run {INSTALL_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP, base_url=server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" else None,
    )
    tab.js_errors = errors
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def login(page: Any) -> Callable[..., None]:
    """Sign `page` in through the login form with a raw key; lands on `next_path`."""

    def sign_in(key: str, next_path: str = "/") -> None:
        page.goto(next_path)
        page.wait_for_url("**/login**")
        page.fill("#api_key", key)
        page.click("form.login button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)

    return sign_in
