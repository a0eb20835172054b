"""Run times from the XNYS calendar, and the scheduler firing the job at them."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alphatrader.clock import SimClock
from alphatrader.config import Settings
from alphatrader.data.calendar import sessions, xnys
from alphatrader.errors import ConfigError
from alphatrader.jobs.runs import AlreadyDone
from alphatrader.jobs.scheduler import (
    NEW_YORK,
    ScheduledRun,
    execution_offset,
    next_run_times,
    run_scheduler,
    run_time,
    upcoming_runs,
)
from alphatrader.notify.hub import ChannelResult

pytestmark = pytest.mark.usefixtures("clean_env")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def et(instant: datetime) -> str:
    return f"{instant.astimezone(NEW_YORK):%Y-%m-%d %H:%M}"


# -- run times ------------------------------------------------------------------------------


def test_thanksgiving_week_2024_skips_the_holiday_and_follows_the_early_close() -> None:
    times = next_run_times(utc(2024, 11, 25), 5)
    assert times == [
        utc(2024, 11, 25, 21, 30),
        utc(2024, 11, 26, 21, 30),
        utc(2024, 11, 27, 21, 30),
        utc(2024, 11, 29, 18, 30),  # the 13:00 ET early close + 30 minutes
        utc(2024, 12, 2, 21, 30),
    ]
    assert [et(t) for t in times][3] == "2024-11-29 13:30"
    assert all(t.astimezone(NEW_YORK).date() != date(2024, 11, 28) for t in times)


def test_the_dst_switch_keeps_1630_new_york() -> None:
    runs = upcoming_runs(utc(2025, 3, 7, 12), 2)
    assert [r.session for r in runs] == [date(2025, 3, 7), date(2025, 3, 10)]
    assert [r.at for r in runs] == [utc(2025, 3, 7, 21, 30), utc(2025, 3, 10, 20, 30)]
    assert [et(r.at)[-5:] for r in runs] == ["16:30", "16:30"]


def test_never_on_the_2025_01_09_closure_nor_on_weekends() -> None:
    runs = upcoming_runs(utc(2025, 1, 1), 25)
    days = [r.session for r in runs]
    assert date(2025, 1, 9) not in days
    assert date(2025, 1, 8) in days and date(2025, 1, 10) in days
    assert all(d.weekday() < 5 for d in days)


def test_every_session_of_2024_has_exactly_one_run_after_its_close() -> None:
    labels = sessions(date(2024, 1, 1), date(2024, 12, 31))
    runs = upcoming_runs(utc(2024, 1, 1), len(labels) + 5)
    runs = [r for r in runs if r.session.year == 2024]
    assert [r.session for r in runs] == [label.date() for label in labels]
    closes = xnys().schedule["close"]
    for run in runs:
        close = closes[run.session.isoformat()].to_pydatetime()
        assert run.at - close == timedelta(minutes=30)
        local = run.at.astimezone(NEW_YORK)
        assert local.date() == run.session
        early = close.astimezone(NEW_YORK).hour < 16
        assert (local.hour, local.minute) == ((13, 30) if early else (16, 30))
    early_days = {r.session for r in runs if r.at.astimezone(NEW_YORK).hour == 13}
    assert early_days == {date(2024, 7, 3), date(2024, 11, 29), date(2024, 12, 24)}


def test_runs_are_strictly_after_the_given_instant() -> None:
    due = utc(2024, 11, 29, 18, 30)
    assert next_run_times(due, 1) == [utc(2024, 12, 2, 21, 30)]
    assert next_run_times(due - timedelta(microseconds=1), 1) == [due]
    assert next_run_times(utc(2024, 11, 28, 23), 1) == [due]  # from the holiday itself


def test_execution_time_is_an_offset_after_the_close() -> None:
    assert execution_offset("16:30") == timedelta(minutes=30)
    later = upcoming_runs(utc(2024, 11, 29), 1, "17:15")[0]
    assert et(later.at) == "2024-11-29 14:15"
    assert run_time(date(2024, 11, 29)) == utc(2024, 11, 29, 18, 30)
    with pytest.raises(ValueError, match="not an XNYS session"):
        run_time(date(2024, 11, 28))


@pytest.mark.parametrize(
    ("value", "message"), [("15:00", "before the 16:00 ET close"), ("4.30pm", "use HH:MM")]
)
def test_bad_execution_times_are_config_errors(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        next_run_times(utc(2024, 11, 25), 1, value)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run_times(datetime(2024, 11, 25), 1)


# -- the scheduler ------------------------------------------------------------------------------


class FakeHub:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, subject: str, text: str, html: str | None = None) -> list[ChannelResult]:
        self.sent.append((subject, text))
        return [ChannelResult("fake", True)]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def start(settings: Settings, **kwargs: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """`run_scheduler` in a thread; its report (or exception) lands in the returned dict."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["report"] = run_scheduler(settings, **kwargs)
        except BaseException as exc:  # surfaced by the test
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_the_job_fires_with_each_session_in_order_then_stops_on_the_event(
    settings: Settings,
) -> None:
    calls: list[tuple[date, str]] = []
    stop = threading.Event()

    def job(session: date) -> None:
        calls.append((session, threading.current_thread().name))
        if len(calls) == 2:
            stop.set()

    plan = [
        ScheduledRun(date(2024, 12, 2), soon(0.6)),
        ScheduledRun(date(2024, 11, 29), soon(0.3)),  # order of the list does not matter
        ScheduledRun(date(2024, 12, 3), soon(3600)),  # never reached: stopped before
    ]
    thread, out = start(settings, job=job, stop_event=stop, runs=plan, monitor=False)
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert "error" not in out
    assert [session for session, _ in calls] == [date(2024, 11, 29), date(2024, 12, 2)]
    assert all(name != threading.main_thread().name for _, name in calls)
    assert out["report"].ran == [date(2024, 11, 29), date(2024, 12, 2)]
    assert out["report"].failed == [] and out["report"].missed == []


def test_the_job_does_not_fire_before_its_time(settings: Settings) -> None:
    called = threading.Event()
    stop = threading.Event()
    plan = [ScheduledRun(date(2024, 11, 29), soon(30))]
    thread, _ = start(
        settings, job=lambda _s: called.set(), stop_event=stop, runs=plan, monitor=False
    )
    time.sleep(0.8)
    stop.set()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert not called.is_set()


def test_once_stops_after_the_first_run(settings: Settings) -> None:
    calls: list[date] = []
    plan = [ScheduledRun(date(2024, 11, 29), soon(0.2)), ScheduledRun(date(2024, 12, 2), soon(0.4))]
    thread, out = start(settings, job=calls.append, runs=plan, once=True, monitor=False)
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert calls == [date(2024, 11, 29)]
    assert out["report"].ran == [date(2024, 11, 29)]


def test_a_failing_job_is_alerted_and_the_next_run_still_fires(settings: Settings) -> None:
    hub = FakeHub()
    calls: list[date] = []

    def job(session: date) -> None:
        calls.append(session)
        if session == date(2024, 11, 29):
            raise RuntimeError("vendor exploded")

    plan = [ScheduledRun(date(2024, 11, 29), soon(0.2)), ScheduledRun(date(2024, 12, 2), soon(0.5))]
    thread, out = start(settings, job=job, runs=plan, hub=hub, monitor=False)
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert calls == [date(2024, 11, 29), date(2024, 12, 2)]
    report = out["report"]
    assert (report.failed, report.ran) == ([date(2024, 11, 29)], [date(2024, 12, 2)])
    assert len(hub.sent) == 1
    subject, text = hub.sent[0]
    assert "2024-11-29" in subject
    assert "RuntimeError: vendor exploded" in text and "Traceback" in text


def test_already_done_is_not_an_alert(settings: Settings) -> None:
    hub = FakeHub()

    def job(session: date) -> None:
        raise AlreadyDone(f"daily for {session} already completed")

    plan = [ScheduledRun(date(2024, 11, 29), soon(0.2))]
    thread, out = start(settings, job=job, runs=plan, hub=hub, monitor=False)
    thread.join(timeout=20)
    assert out["report"].ran == [date(2024, 11, 29)]
    assert hub.sent == []


def test_a_run_later_than_the_grace_is_missed_and_the_chain_goes_on(settings: Settings) -> None:
    calls: list[date] = []

    def job(session: date) -> None:
        calls.append(session)
        if session == date(2024, 11, 29):
            time.sleep(2.0)  # the next run comes due meanwhile, and is 1.6 s late when chained

    plan = [
        ScheduledRun(date(2024, 11, 29), soon(0.2)),
        ScheduledRun(date(2024, 12, 2), soon(0.6)),
        ScheduledRun(date(2024, 12, 3), soon(3.5)),
    ]
    thread, out = start(
        settings, job=job, runs=plan, misfire_grace=timedelta(seconds=1), monitor=False
    )
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert calls == [date(2024, 11, 29), date(2024, 12, 3)]
    assert out["report"].missed == [date(2024, 12, 2)]


def test_the_clock_decides_where_the_calendar_plan_starts(settings: Settings) -> None:
    # "Now" is 2024-11-29 19:00 UTC: the 13:30 ET run of that early-close day is 30 min old,
    # within the grace, so it is the first run; the real time is years later, so it is missed.
    calls: list[date] = []
    thread, out = start(
        settings,
        job=calls.append,
        clock=SimClock(utc(2024, 11, 29, 19)),
        once=True,
        monitor=False,
    )
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert calls == []
    assert out["report"].missed == [date(2024, 11, 29)]


def test_monitoring_runs_at_start_with_the_configured_database(settings: Settings) -> None:
    hub = FakeHub()
    plan = [ScheduledRun(date(2024, 11, 29), soon(0.2))]
    thread, out = start(settings, job=lambda _s: None, runs=plan, hub=hub, once=True)
    thread.join(timeout=60)
    assert "error" not in out
    assert (settings.data_dir / "alphatrader.db").exists()  # opened and migrated
    assert hub.sent == []  # a fresh install has missed nothing


def test_the_default_job_is_the_daily_job(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Only the job is replaced by its dry-run twin: nothing recorded, sent or emailed.
    from alphatrader.jobs.runs import recent_runs
    from alphatrader.jobs.scheduler import daily_job
    from alphatrader.services import database

    caplog.set_level("INFO", logger="alphatrader.jobs.scheduler")
    plan = [ScheduledRun(date(2016, 7, 1), soon(0.2))]
    job = daily_job(settings, dry_run=True)
    thread, out = start(settings, job=job, runs=plan, once=True, hub=FakeHub())
    thread.join(timeout=120)
    assert "error" not in out, out.get("error")
    assert out["report"].ran == [date(2016, 7, 1)]
    assert "session 2016-07-01 finished: dry_run" in caplog.text
    db = database(settings)
    try:
        assert recent_runs(db) == []
    finally:
        db.dispose()
