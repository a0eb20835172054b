"""API load: prints ONE JSON line with rps and p50/p95/p99 latency of two hot endpoints.

    .venv/bin/python bench/api_load.py [--rps 200] [--seconds 10]

Starts `alphatrader serve` (uvicorn, one process) on a free loopback port over a temp data dir
(seeded store, one daily run done so there is data), creates a read key, then drives each of
/api/portfolio/summary and /api/system/status in turn at a fixed arrival rate (open loop: a
request is sent every 1/rps s whether or not earlier ones have answered, at most 256 in flight)
with one httpx.AsyncClient, and stops the server. The server runs with a rate limit far above
the offered load (API_RATE_LIMIT_PER_MIN), so the limiter is measured, not hit.

Goal: p95 < 50 ms at 200 requests/s, zero errors. Latency is from just before the request is
sent to the end of its response body; `rps` is completed requests over the endpoint's wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ENDPOINTS = ("/api/portfolio/summary", "/api/system/status")
MAX_IN_FLIGHT = 256
WARMUP_REQUESTS = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "alphatrader", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def drive(client: httpx.AsyncClient, path: str, rps: float, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def one() -> None:
        nonlocal errors
        async with gate:
            started = time.perf_counter()
            try:
                response = await client.get(path)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - started) * 1000)
            errors += 0 if ok else 1

    total = int(rps * seconds)
    tasks = []
    begin = time.perf_counter()
    for i in range(total):
        delay = begin + i / rps - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - begin
    return {
        "requests": total,
        "rps": round(total / wall, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
        "errors": errors,
    }


async def measure(base: str, key: str, rps: float, seconds: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": key}, limits=limits, timeout=10.0
    ) as client:
        for path in ENDPOINTS:  # warm the caches and the connection pool
            for _ in range(WARMUP_REQUESTS):
                (await client.get(path)).raise_for_status()
        return {path: await drive(client, path, rps, seconds) for path in ENDPOINTS}


def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited before it was ready")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not answer /healthz within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rps", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    from alphatrader.data.store import MarketDataStore

    with tempfile.TemporaryDirectory(prefix="alphatrader-api-load-") as tmp:
        root = Path(tmp)
        data = root / "var" / "data"
        MarketDataStore(data / "market").ensure_seeded()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("EMAIL_", "DATABASE", "ALPACA_", "IBKR_"))
        }
        env.update(
            ALPHATRADER_DATA_DIR=str(data),
            API_RATE_LIMIT_PER_MIN="10000000",
            LOG_LEVEL="WARNING",
            DASHBOARD_SESSION_SECRET="bench-only-session-secret",
        )
        run_cli(env, root, "daily", "--as-of", "2016-06-03", "--no-email")
        key = run_cli(env, root, "apikey", "create", "--name", "bench").strip().splitlines()[-1]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "alphatrader", "serve", "--port", str(port)],
            env=env,
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(base, server)
            results = asyncio.run(measure(base, key, args.rps, args.seconds))
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(root / "var", ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "api_load",
                "target_rps": args.rps,
                "seconds_per_endpoint": args.seconds,
                "endpoints": results,
                "goal": "p95 < 50 ms at 200 requests/s, zero errors",
                "met": all(r["p95_ms"] < 50 and r["errors"] == 0 for r in results.values()),
                "method": "open loop over loopback, one uvicorn process, httpx.AsyncClient",
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
