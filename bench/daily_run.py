"""Benchmark: one daily after-market run on the bundled universe with all strategies.

Prints one JSON line: the cold wall time of `alphatrader daily` (process start to exit, store
already seeded, database new), the job's per-stage timings from its run record, and the compute
stages' total (signals + rank + plan). Goals: cold run < 5 s, compute < 1 s.

    .venv/bin/python bench/daily_run.py [--as-of 2016-06-03] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMPUTE = ("signals", "rank", "plan")


def one_run(as_of: str, market: Path) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "market").symlink_to(market)
        env = {**os.environ, "ALPHATRADER_DATA_DIR": str(data)}
        env.pop("DATABASE_URL", None)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "alphatrader", "daily", "--as-of", as_of, "--no-email"],
            check=True,
            capture_output=True,
            env=env,
            cwd=tmp,
        )
        wall = time.perf_counter() - started
        os.environ["ALPHATRADER_DATA_DIR"] = str(data)
        from alphatrader.config import load_settings
        from alphatrader.jobs.runs import recent_runs
        from alphatrader.services import database

        db = database(load_settings())
        (run,) = recent_runs(db, limit=1)
        db.dispose()
        return wall, {k: float(v) for k, v in run.stages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--as-of", default="2016-06-03")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from alphatrader.data.store import MarketDataStore

    with tempfile.TemporaryDirectory() as seeded:
        market = Path(seeded) / "market"
        MarketDataStore(market).ensure_seeded()
        results = [one_run(args.as_of, market) for _ in range(args.repeat)]
    walls = [w for w, _ in results]
    stages = {k: statistics.median(r[k] for _, r in results) for k in results[0][1]}
    print(
        json.dumps(
            {
                "bench": "daily_run",
                "session": args.as_of,
                "cold_run_seconds": round(statistics.median(walls), 3),
                "cold_run_seconds_all": [round(w, 3) for w in walls],
                "stages_seconds": {k: round(v, 4) for k, v in stages.items()},
                "compute_seconds": round(sum(stages.get(k, 0.0) for k in COMPUTE), 3),
                "method": f"median of {args.repeat} subprocess runs; store seeded, SQLite db new",
            }
        )
    )


if __name__ == "__main__":
    main()
