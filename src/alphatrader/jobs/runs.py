"""Job bookkeeping: one row per attempt, completed steps, and the idempotency key.

A job is keyed by (job, session). `begin` refuses to start when a completed run exists (unless
forced) or when another attempt is running now; `step_done` records a side effect so a rerun
after a crash skips it. "Running now" is an exclusive lock on a file, held for the whole attempt:
the operating system releases it when the process dies, even by kill -9, so a crashed attempt
never blocks the rerun, and its `running` row is marked failed.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from alphatrader.storage.db import Database
from alphatrader.storage.models import JobRun, JobStep


class AlreadyDone(Exception):
    """The job already completed for this session."""


class AlreadyRunning(Exception):
    """Another attempt for this session is running now."""


@dataclass(slots=True)
class RunHandle:
    db: Database
    run_id: int
    job: str
    session: date
    lock_fd: int
    stages: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage; the duration is recorded even when the stage fails."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(time.perf_counter() - started, 4)
            self._save()

    def step_result(self, step: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.scalar(
                select(JobStep).where(
                    JobStep.job == self.job, JobStep.session == self.session, JobStep.step == step
                )
            )
            return None if row is None else dict(row.result)

    def step_done(self, step: str, **result: Any) -> None:
        with self.db.session() as s:
            s.add(
                JobStep(
                    job=self.job,
                    session=self.session,
                    step=step,
                    completed_at=datetime.now(UTC),
                    result=result,
                )
            )

    def finish(self, status: str, error: str | None = None) -> None:
        try:
            with self.db.session() as s:
                run = s.get_one(JobRun, self.run_id)
                run.status = status
                run.finished_at = datetime.now(UTC)
                run.stages = dict(self.stages)
                run.counts = dict(self.counts)
                run.error = error
        finally:
            os.close(self.lock_fd)  # closing releases the lock

    def _save(self) -> None:
        with self.db.session() as s:
            run = s.get_one(JobRun, self.run_id)
            run.stages = dict(self.stages)
            run.counts = dict(self.counts)


def begin(db: Database, job: str, session: date, lock_dir: Path, force: bool = False) -> RunHandle:
    """Start an attempt; raises AlreadyDone or AlreadyRunning instead of doing work twice."""
    lock_fd = _lock(lock_dir / f"{job}-{session}.lock")
    try:
        return _start(db, job, session, force, lock_fd)
    except BaseException:
        os.close(lock_fd)
        raise


def _lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(f"{path.stem} is already running in another process") from None
    return fd


def _start(db: Database, job: str, session: date, force: bool, lock_fd: int) -> RunHandle:
    now = datetime.now(UTC)
    with db.session() as s:
        rows = s.scalars(select(JobRun).where(JobRun.job == job, JobRun.session == session)).all()
        if not force and any(r.status == "completed" for r in rows):
            raise AlreadyDone(f"{job} for {session} already completed")
        for run in rows:
            if run.status == "running":  # we hold the lock, so its process is gone
                run.status = "failed"
                run.error = "abandoned: the process died while running"
                run.finished_at = now
        attempt = max((r.attempt for r in rows), default=0) + 1
        run = JobRun(
            job=job,
            session=session,
            attempt=attempt,
            status="running",
            started_at=now,
            stages={},
            counts={},
        )
        s.add(run)
        s.flush()
        run_id = run.id
    return RunHandle(db, run_id, job, session, lock_fd)


@dataclass(frozen=True, slots=True)
class RunSummary:
    job: str
    session: date
    attempt: int
    status: str
    started_at: datetime
    seconds: float | None
    stages: dict[str, Any]
    counts: dict[str, Any]
    error: str | None


def recent_runs(db: Database, limit: int = 30, job: str | None = None) -> list[RunSummary]:
    with db.session() as s:
        query = select(JobRun).order_by(JobRun.started_at.desc()).limit(limit)
        if job:
            query = query.where(JobRun.job == job)
        return [
            RunSummary(
                r.job,
                r.session,
                r.attempt,
                r.status,
                r.started_at,
                (r.finished_at - r.started_at).total_seconds() if r.finished_at else None,
                dict(r.stages),
                dict(r.counts),
                r.error,
            )
            for r in s.scalars(query)
        ]


def success_rate(db: Database, job: str | None = None) -> float | None:
    """Completed attempts over finished attempts (skips excluded)."""
    with db.session() as s:
        query = select(JobRun.status, func.count()).group_by(JobRun.status)
        if job:
            query = query.where(JobRun.job == job)
        counts = {status: n for status, n in s.execute(query).all()}
    finished = counts.get("completed", 0) + counts.get("failed", 0)
    return None if finished == 0 else counts.get("completed", 0) / finished
