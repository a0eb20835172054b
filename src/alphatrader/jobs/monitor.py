"""Did the daily job run? Missed sessions and failed runs, alerted once each.

A session is *missed* when its run time (see `alphatrader.jobs.scheduler.run_time`) is more than
a grace period in the past and no attempt for it completed (or was skipped on purpose). Only
sessions from the day of the job's first-ever attempt on are considered, so a fresh install has
missed nothing, and only the last `lookback_sessions` sessions, so an install switched off for a
month reports ten sessions, not twenty.

Alerts go through the notification hub and are deduplicated in the `notifications` table: before
sending, a row is claimed with a unique `dedupe_key`

    alert-missed-daily-2016-07-01          one per missed session
    alert-failed-daily-2016-07-01-a2       one per failed attempt (session, attempt number)
    alert-error-daily-2016-07-01-<epoch>   an exception the scheduler caught (always sent)

(`channel` = "alert"). A key whose row is `sent` (or still `pending`: another process is sending
it, or crashed while sending; at most once is preferred to twice) is never sent again; a row
left `failed` (every channel failed) is retried at the next check. A failed attempt of a session
that has since completed is not alerted: it needs nothing from anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from alphatrader.config import Settings
from alphatrader.data.calendar import sessions
from alphatrader.jobs.scheduler import (
    DEFAULT_EXECUTION_TIME,
    JOB_NAME,
    MISFIRE_GRACE,
    NEW_YORK,
    run_time,
)
from alphatrader.storage.db import Database
from alphatrader.storage.models import JobRun, Notification

log = logging.getLogger(__name__)

DONE_STATUSES = ("completed", "skipped")
ALERT_CHANNEL = "alert"


class AlertHub(Protocol):
    def send(self, subject: str, text: str, html: str | None = None) -> Sequence[Any]: ...


@dataclass(frozen=True, slots=True)
class Alert:
    key: str
    subject: str
    text: str
    sent: bool  # at least one channel delivered (or wrote) it


def missed_runs(
    db: Database,
    now: datetime,
    job: str = JOB_NAME,
    lookback_sessions: int = 10,
    *,
    grace: timedelta = MISFIRE_GRACE,
    execution_time: str = DEFAULT_EXECUTION_TIME,
) -> list[date]:
    """Sessions among the last `lookback_sessions` due ones with no completed run, oldest first."""
    if now.tzinfo is None:
        raise ValueError("missed_runs needs a timezone-aware instant")
    with db.session() as s:
        first = s.scalar(
            select(JobRun).where(JobRun.job == job).order_by(JobRun.started_at).limit(1)
        )
        if first is None:
            return []  # never ran: a fresh install has missed nothing
        first_day = first.started_at.astimezone(NEW_YORK).date()
        due = _due_sessions(now, lookback_sessions, grace, execution_time)
        due = [d for d in due if d >= first_day]
        if not due:
            return []
        done = set(
            s.scalars(
                select(JobRun.session).where(
                    JobRun.job == job,
                    JobRun.session.in_(due),
                    JobRun.status.in_(DONE_STATUSES),
                )
            )
        )
    return [d for d in due if d not in done]


def _due_sessions(now: datetime, count: int, grace: timedelta, execution_time: str) -> list[date]:
    """The last `count` sessions whose run time is more than `grace` before `now`."""
    if count <= 0:
        return []
    today = now.astimezone(NEW_YORK).date()
    labels = sessions(today - timedelta(days=2 * count + 10), today)
    due = [
        label.date()
        for label in labels
        if run_time(pd.Timestamp(label).date(), execution_time) + grace <= now
    ]
    return due[-count:]


def failed_runs(
    db: Database,
    now: datetime,
    job: str = JOB_NAME,
    lookback_sessions: int = 10,
    *,
    execution_time: str = DEFAULT_EXECUTION_TIME,
) -> list[tuple[date, int, str]]:
    """Failed attempts started in the lookback window whose session has not completed since:
    (session, attempt, error)."""
    window = _due_sessions(now, lookback_sessions, timedelta(0), execution_time)
    since = datetime.combine(window[0], datetime.min.time(), NEW_YORK) if window else now
    with db.session() as s:
        rows = s.scalars(
            select(JobRun)
            .where(JobRun.job == job, JobRun.status == "failed", JobRun.started_at >= since)
            .order_by(JobRun.session, JobRun.attempt)
        ).all()
        failed = [(r.session, r.attempt, r.error or "no error recorded") for r in rows]
        done = set(
            s.scalars(
                select(JobRun.session).where(
                    JobRun.job == job,
                    JobRun.session.in_({f[0] for f in failed}),
                    JobRun.status.in_(DONE_STATUSES),
                )
            )
        )
    return [f for f in failed if f[0] not in done]


def check_and_alert(
    settings: Settings,
    db: Database,
    hub: AlertHub,
    now: datetime,
    *,
    job: str = JOB_NAME,
    lookback_sessions: int = 10,
    grace: timedelta = MISFIRE_GRACE,
) -> list[Alert]:
    """Alert once per missed session and once per failed attempt; returns what was sent now."""
    execution_time = settings.daily_execution_time
    alerts: list[Alert] = []
    for session in missed_runs(
        db, now, job, lookback_sessions, grace=grace, execution_time=execution_time
    ):
        due = run_time(session, execution_time)
        alert = send_once(
            db,
            hub,
            f"alert-missed-{job}-{session}",
            f"AlphaTrader: the {job} job did not run for {session}",
            f"The {job} job for session {session} was due at "
            f"{due.astimezone(NEW_YORK):%Y-%m-%d %H:%M %Z} and has no completed run.\n"
            f"Check the scheduler or cron (var/logs/daily.log), then run it by hand:\n"
            f"  alphatrader daily --as-of {session}\n",
        )
        if alert is not None:
            alerts.append(alert)
    for session, attempt, error in failed_runs(
        db, now, job, lookback_sessions, execution_time=execution_time
    ):
        alert = send_once(
            db,
            hub,
            f"alert-failed-{job}-{session}-a{attempt}",
            f"AlphaTrader: the {job} job failed for {session} (attempt {attempt})",
            f"Attempt {attempt} of the {job} job for session {session} failed:\n"
            f"  {error}\n"
            f"See `alphatrader runs` and var/logs; once fixed, rerun it (completed steps are "
            f"skipped):\n  alphatrader daily --as-of {session}\n",
        )
        if alert is not None:
            alerts.append(alert)
    return alerts


def alert_job_exception(
    hub: AlertHub,
    db: Database | None,
    job: str,
    session: date,
    exc: BaseException,
    details: str,
    now: datetime,
) -> Alert:
    """Alert an exception the job raised (always sent). With a database, the failed attempts it
    recorded for the session are marked alerted, so the monitor does not repeat the news."""
    subject = f"AlphaTrader: the {job} job raised an error for {session}"
    text = (
        f"The {job} job for session {session} stopped with {type(exc).__name__}: {exc}\n\n{details}"
    )
    key = f"alert-error-{job}-{session}-{now.timestamp():.0f}"
    if db is None:
        return Alert(key, subject, text, _delivered(hub.send(subject, text)))
    alert = send_once(db, hub, key, subject, text)
    if alert is None:  # the same error alerted this very second
        return Alert(key, subject, text, True)
    with db.session() as s:
        attempts = s.scalars(
            select(JobRun.attempt).where(
                JobRun.job == job, JobRun.session == session, JobRun.status == "failed"
            )
        ).all()
    for attempt in attempts:
        _claim(db, f"alert-failed-{job}-{session}-a{attempt}", subject, status="sent")
    return alert


def send_once(db: Database, hub: AlertHub, key: str, subject: str, text: str) -> Alert | None:
    """Send unless `key` was sent (or is being sent) before; None when nothing was sent."""
    if not _claim(db, key, subject, status="pending"):
        return None
    try:
        results = hub.send(subject, text)
    except Exception as exc:
        log.exception("alert %s could not be sent", key)
        _settle(db, key, "failed", f"{type(exc).__name__}: {exc}")
        return Alert(key, subject, text, False)
    sent = _delivered(results)
    _settle(db, key, "sent" if sent else "failed", None if sent else _errors(results))
    return Alert(key, subject, text, sent)


def _claim(db: Database, key: str, subject: str, status: str) -> bool:
    """Take the key: True when this process should send it."""
    now = datetime.now(UTC)
    try:
        with db.session() as s:
            row = s.scalar(select(Notification).where(Notification.dedupe_key == key))
            if row is None:
                s.add(
                    Notification(
                        dedupe_key=key,
                        channel=ALERT_CHANNEL,
                        subject=subject,
                        message_id=key,
                        status=status,
                        created_at=now,
                    )
                )
                return True
            if row.status != "failed":
                return False
            row.status = status
            row.error = None
            return True
    except IntegrityError:  # another process claimed it between our read and our insert
        return False


def _settle(db: Database, key: str, status: str, error: str | None) -> None:
    with db.session() as s:
        row = s.scalar(select(Notification).where(Notification.dedupe_key == key))
        if row is not None:
            row.status = status
            row.error = error
            row.sent_at = datetime.now(UTC) if status == "sent" else None


def _ok(result: Any) -> bool:
    for name in ("ok", "sent", "delivered", "success"):
        value = getattr(result, name, None)
        if isinstance(value, bool):
            return value
    status = getattr(result, "status", None)
    if isinstance(status, str):
        return status in ("sent", "written", "logged", "ok", "delivered")
    return True


def _delivered(results: Sequence[Any]) -> bool:
    """At least one channel took it; no channel at all (ALERT_CHANNELS empty) counts as done."""
    return any(_ok(r) for r in results) if results else True


def _errors(results: Sequence[Any]) -> str:
    parts = [str(getattr(r, "error", None) or r) for r in results if not _ok(r)]
    return "; ".join(parts) or "no channel delivered the alert"
