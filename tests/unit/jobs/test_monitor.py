"""Missed sessions and failed runs, alerted once each (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from alphatrader.config import Settings
from alphatrader.jobs.monitor import (
    alert_job_exception,
    check_and_alert,
    failed_runs,
    missed_runs,
    send_once,
)
from alphatrader.jobs.scheduler import run_time
from alphatrader.notify.hub import ChannelResult
from alphatrader.storage.db import Database
from alphatrader.storage.models import JobRun, Notification

# 2016-07-04 is Independence Day: the sessions around it are 06-27..07-01 and 07-05.
NOW = datetime(2016, 7, 5, 12, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("clean_env")


class FakeHub:
    def __init__(self, ok: bool = True) -> None:
        self.ok = ok
        self.sent: list[tuple[str, str]] = []

    def send(self, subject: str, text: str, html: str | None = None) -> list[ChannelResult]:
        self.sent.append((subject, text))
        return [ChannelResult("fake", self.ok, None if self.ok else "smtp down")]


def add_run(
    db: Database,
    session: date,
    status: str = "completed",
    attempt: int = 1,
    started: datetime | None = None,
    error: str | None = None,
) -> None:
    started = started or run_time(session) + timedelta(minutes=attempt)
    with db.session() as s:
        s.add(
            JobRun(
                job="daily",
                session=session,
                attempt=attempt,
                status=status,
                started_at=started,
                finished_at=started + timedelta(seconds=42),
                stages={"data": 1.5},
                counts={"orders": 1},
                error=error,
            )
        )


def seed_week(db: Database) -> None:
    """Ran 06-27..06-29; 06-30 failed once; nothing for 07-01."""
    for day in (27, 28, 29):
        add_run(db, date(2016, 6, day))
    add_run(db, date(2016, 6, 30), "failed", error="DataError: SPY has no bar\nmore detail")


def keys(db: Database) -> dict[str, str]:
    with db.session() as s:
        return {n.dedupe_key: n.status for n in s.scalars(select(Notification))}


def test_a_fresh_install_has_missed_nothing(database: Database) -> None:
    assert missed_runs(database, NOW) == []


def test_sessions_without_a_completed_run_are_missed(database: Database) -> None:
    seed_week(database)
    assert missed_runs(database, NOW) == [date(2016, 6, 30), date(2016, 7, 1)]


def test_sessions_before_the_first_run_do_not_count(sqlite_db: Database) -> None:
    add_run(sqlite_db, date(2016, 6, 30))
    # 06-27..06-29 had no run, but the job was not installed yet.
    assert missed_runs(sqlite_db, NOW) == [date(2016, 7, 1)]


def test_the_first_run_counts_from_its_day_not_its_session(sqlite_db: Database) -> None:
    # Installed on 07-01 and first run by hand for an old session: the old sessions before
    # the install are not missed; 07-01 itself (no completed run for it) is.
    add_run(sqlite_db, date(2016, 3, 1), started=datetime(2016, 7, 1, 14, tzinfo=UTC))
    assert missed_runs(sqlite_db, NOW) == [date(2016, 7, 1)]


def test_a_session_is_missed_only_after_the_grace(sqlite_db: Database) -> None:
    seed_week(sqlite_db)
    add_run(sqlite_db, date(2016, 6, 30), attempt=2)
    due = run_time(date(2016, 7, 1))  # 20:30 UTC (16:30 EDT)
    assert missed_runs(sqlite_db, due + timedelta(hours=3)) == []
    assert missed_runs(sqlite_db, due + timedelta(hours=5)) == [date(2016, 7, 1)]
    assert missed_runs(sqlite_db, due + timedelta(minutes=1), grace=timedelta(0)) == [
        date(2016, 7, 1)
    ]


def test_skipped_counts_as_done_and_lookback_limits(sqlite_db: Database) -> None:
    seed_week(sqlite_db)
    add_run(sqlite_db, date(2016, 7, 1), "skipped")
    assert missed_runs(sqlite_db, NOW) == [date(2016, 6, 30)]
    assert missed_runs(sqlite_db, NOW, lookback_sessions=1) == []
    later = datetime(2016, 7, 20, 12, tzinfo=UTC)  # two quiet weeks: at most the last 10
    missed = missed_runs(sqlite_db, later)
    assert len(missed) == 10 and missed[-1] == date(2016, 7, 19)
    assert missed_runs(sqlite_db, NOW, job="other") == []


def test_naive_now_is_refused(sqlite_db: Database) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        missed_runs(sqlite_db, datetime(2016, 7, 5))


def test_failed_runs_skip_sessions_that_completed_since(sqlite_db: Database) -> None:
    seed_week(sqlite_db)
    add_run(sqlite_db, date(2016, 6, 29), "failed", attempt=2)  # a forced rerun that failed
    add_run(sqlite_db, date(2016, 6, 28), "failed", attempt=0)  # failed before it completed
    assert failed_runs(sqlite_db, NOW) == [
        (date(2016, 6, 30), 1, "DataError: SPY has no bar\nmore detail")
    ]


def test_check_and_alert_alerts_each_problem_once(database: Database, tmp_path: Path) -> None:
    seed_week(database)
    settings = Settings(data_dir=tmp_path / "data")
    hub = FakeHub()
    alerts = check_and_alert(settings, database, hub, NOW)
    assert [a.key for a in alerts] == [
        "alert-missed-daily-2016-06-30",
        "alert-missed-daily-2016-07-01",
        "alert-failed-daily-2016-06-30-a1",
    ]
    assert all(a.sent for a in alerts)
    assert len(hub.sent) == 3
    subject, text = hub.sent[1]
    assert "2016-07-01" in subject
    assert "2016-07-01 16:30 EDT" in text and "alphatrader daily --as-of 2016-07-01" in text
    assert "SPY has no bar" in hub.sent[2][1]
    assert set(keys(database).values()) == {"sent"}

    assert check_and_alert(settings, database, hub, NOW) == []
    assert check_and_alert(settings, database, hub, NOW + timedelta(hours=1)) == []
    assert len(hub.sent) == 3

    # A new day brings a new missed session: alerted once, the old ones not again.
    later = datetime(2016, 7, 6, 12, tzinfo=UTC)
    assert [a.key for a in check_and_alert(settings, database, hub, later)] == [
        "alert-missed-daily-2016-07-05"
    ]


def test_an_alert_no_channel_delivered_is_retried(sqlite_db: Database, tmp_path: Path) -> None:
    add_run(sqlite_db, date(2016, 6, 30))
    settings = Settings(data_dir=tmp_path / "data")
    down = FakeHub(ok=False)
    [alert] = check_and_alert(settings, sqlite_db, down, NOW)
    assert (alert.key, alert.sent) == ("alert-missed-daily-2016-07-01", False)
    assert keys(sqlite_db) == {"alert-missed-daily-2016-07-01": "failed"}
    up = FakeHub()
    [again] = check_and_alert(settings, sqlite_db, up, NOW)
    assert again.sent and len(up.sent) == 1
    assert keys(sqlite_db) == {"alert-missed-daily-2016-07-01": "sent"}
    assert check_and_alert(settings, sqlite_db, up, NOW) == []


def test_a_hub_that_raises_leaves_the_alert_to_retry(sqlite_db: Database) -> None:
    class Broken:
        def send(self, subject: str, text: str, html: str | None = None) -> list[ChannelResult]:
            raise OSError("disk full")

    alert = send_once(sqlite_db, Broken(), "alert-x", "subject", "text")
    assert alert is not None and not alert.sent
    assert keys(sqlite_db) == {"alert-x": "failed"}


def test_a_pending_key_is_not_sent_twice(sqlite_db: Database) -> None:
    hub = FakeHub()
    with sqlite_db.session() as s:
        s.add(
            Notification(
                dedupe_key="alert-y",
                channel="alert",
                subject="s",
                message_id="alert-y",
                status="pending",
                created_at=NOW,
            )
        )
    assert send_once(sqlite_db, hub, "alert-y", "subject", "text") is None
    assert hub.sent == []


def test_an_exception_alert_covers_the_failed_attempts(sqlite_db: Database, tmp_path: Path) -> None:
    seed_week(sqlite_db)
    hub = FakeHub()
    exc = RuntimeError("boom")
    alert = alert_job_exception(hub, sqlite_db, "daily", date(2016, 6, 30), exc, "trace", NOW)
    assert alert.sent and "RuntimeError: boom" in hub.sent[0][1]
    settings = Settings(data_dir=tmp_path / "data")
    sent = check_and_alert(settings, sqlite_db, hub, NOW)
    assert [a.key for a in sent] == [
        "alert-missed-daily-2016-06-30",
        "alert-missed-daily-2016-07-01",
    ]  # the failed attempt was already reported with its exception
    assert alert_job_exception(hub, None, "daily", date(2016, 6, 30), exc, "trace", NOW).sent
