"""When the daily job runs, and a foreground scheduler that runs it.

The run time comes from the XNYS calendar, never from weekday arithmetic: one run per session,
`DAILY_EXECUTION_TIME` (16:30 America/New_York) on a regular day. The time is kept as an offset
after the regular 16:00 close and added to the session's actual UTC close, so an early close
(13:00 ET on the day after Thanksgiving) moves the run to 13:30 ET, and daylight saving time is
right by construction (the calendar's closes are UTC instants). Holidays and unscheduled closures
(2025-01-09) have no run.

`run_scheduler` keeps one APScheduler 3 `DateTrigger` job at a time and chains the next one when
it has fired (or been missed), so the plan always comes from `upcoming_runs`. A run whose time
passed while the process was stopped or asleep still fires if it is less than `MISFIRE_GRACE`
late (a scheduler started at 18:00 ET runs that day's 16:30 job at once); an older one is
reported missed, logged, and left to `alphatrader.jobs.monitor`, which alerts once per missed
session. The daily job records its own runs; the scheduler logs an exception the job raises and
alerts through the notification hub.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from alphatrader.clock import Clock, LiveClock
from alphatrader.config import Settings
from alphatrader.data.calendar import xnys
from alphatrader.errors import ConfigError
from alphatrader.storage.db import Database

log = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_CLOSE = time(16, 0)  # XNYS regular close, America/New_York
DEFAULT_EXECUTION_TIME = "16:30"
# How late a run may still start; also the monitor's grace before a session counts as missed.
MISFIRE_GRACE = timedelta(hours=4)
JOB_NAME = "daily"

Job = Callable[[date], object]


@dataclass(frozen=True, slots=True)
class ScheduledRun:
    """The daily job for `session`, due at `at` (aware UTC)."""

    session: date
    at: datetime


def execution_offset(execution_time: str = DEFAULT_EXECUTION_TIME) -> timedelta:
    """`DAILY_EXECUTION_TIME` as the delay after the regular 16:00 ET close."""
    try:
        hours, minutes = (int(part) for part in execution_time.strip().split(":"))
        at = time(hours, minutes)
    except ValueError:
        raise ConfigError(
            f"DAILY_EXECUTION_TIME {execution_time!r} is not a time; use HH:MM, e.g. 16:30"
        ) from None
    offset = timedelta(hours=at.hour - REGULAR_CLOSE.hour, minutes=at.minute)
    if offset < timedelta(0):
        raise ConfigError(
            f"DAILY_EXECUTION_TIME {execution_time} is before the 16:00 ET close; the daily "
            "job needs the session's closing prices (use e.g. 16:30)"
        )
    return offset


def upcoming_runs(
    after: datetime, count: int = 5, execution_time: str = DEFAULT_EXECUTION_TIME
) -> list[ScheduledRun]:
    """The next `count` runs strictly after `after`, in order.

    Fewer are returned only when the calendar ends (exchange-calendars knows about a year ahead).
    """
    if after.tzinfo is None:
        raise ValueError("upcoming_runs needs a timezone-aware instant")
    if count <= 0:
        return []
    offset = pd.Timedelta(execution_offset(execution_time))
    schedule = xnys().schedule
    first_day = pd.Timestamp(after.astimezone(NEW_YORK).date())
    start = int(schedule.index.searchsorted(first_day - pd.Timedelta(days=1)))
    runs: list[ScheduledRun] = []
    for label, close in schedule["close"].iloc[start:].items():
        at = (close + offset).to_pydatetime().astimezone(UTC)
        if at > after:
            runs.append(ScheduledRun(pd.Timestamp(label).date(), at))
            if len(runs) == count:
                break
    return runs


def next_run_times(
    after: datetime, count: int = 5, execution_time: str = DEFAULT_EXECUTION_TIME
) -> list[datetime]:
    """The next `count` run instants (aware UTC) strictly after `after`."""
    return [run.at for run in upcoming_runs(after, count, execution_time)]


def run_time(session: date, execution_time: str = DEFAULT_EXECUTION_TIME) -> datetime:
    """When the daily job for `session` is due (aware UTC); `session` must be a session."""
    schedule = xnys().schedule
    label = pd.Timestamp(session)
    if label not in schedule.index:
        raise ValueError(f"{session} is not an XNYS session")
    close = pd.Timestamp(schedule.at[label, "close"])
    due: datetime = (close + pd.Timedelta(execution_offset(execution_time))).to_pydatetime()
    return due.astimezone(UTC)


def daily_job(settings: Settings, dry_run: bool = False) -> Job:
    """The default job: `run_daily` for the session (imported when it first runs)."""

    def job(session: date) -> object:
        from alphatrader.jobs.daily import DailyOptions, run_daily

        options = (
            DailyOptions(as_of=session, dry_run=True) if dry_run else DailyOptions(as_of=session)
        )
        return run_daily(settings, options)

    return job


@dataclass
class SchedulerReport:
    """What one `run_scheduler` call did, session by session."""

    ran: list[date] = field(default_factory=list)  # the job returned
    failed: list[date] = field(default_factory=list)  # the job raised
    missed: list[date] = field(default_factory=list)  # later than the misfire grace: not run


class _RunSource:
    """The plan: the calendar's runs, or (for tests and replays) a fixed list."""

    def __init__(self, execution_time: str, fixed: Iterable[ScheduledRun] | None) -> None:
        self.execution_time = execution_time
        self.fixed = None if fixed is None else sorted(fixed, key=lambda r: r.at)

    def next_after(self, instant: datetime) -> ScheduledRun | None:
        if self.fixed is not None:
            return next((run for run in self.fixed if run.at > instant), None)
        found = upcoming_runs(instant, 1, self.execution_time)
        return found[0] if found else None


class _Chain:
    """One pending DateTrigger job at a time; each fired or missed run schedules the next."""

    def __init__(
        self,
        scheduler: Any,
        source: _RunSource,
        job: Job,
        on_error: Callable[[date, BaseException], None],
        after_run: Callable[[], None],
        once: bool,
        grace: timedelta = MISFIRE_GRACE,
    ) -> None:
        self.scheduler = scheduler
        self.source = source
        self.job = job
        self.on_error = on_error
        self.after_run = after_run
        self.once = once
        self.grace = grace
        self.report = SchedulerReport()
        self.done = threading.Event()
        self.pending: ScheduledRun | None = None
        self._lock = threading.Lock()

    def schedule_after(self, instant: datetime) -> None:
        from apscheduler.triggers.date import DateTrigger

        with self._lock:
            if self.done.is_set():
                return
            run = self.source.next_after(instant)
            self.pending = run
            if run is None:
                log.warning("no further run in the plan (the calendar ends); scheduler stops")
                self.done.set()
                return
            log.info("next daily run: session %s at %s", run.session, _both_zones(run.at))
            # A fresh id per run: APScheduler removes a fired DateTrigger job after handing it
            # to the executor, which could otherwise remove the successor added by the job.
            self.scheduler.add_job(
                self._fire,
                trigger=DateTrigger(run_date=run.at),
                args=(run,),
                id=f"{JOB_NAME}-{run.session}-{run.at.timestamp():.0f}",
                name=f"{JOB_NAME} {run.session}",
            )

    def _fire(self, run: ScheduledRun) -> None:
        log.info("daily run for session %s starting", run.session)
        try:
            outcome = self.job(run.session)
        except Exception as exc:
            if _benign(exc):
                log.info("daily run for %s not needed: %s", run.session, exc)
                self.report.ran.append(run.session)
            else:
                log.exception("daily run for session %s failed", run.session)
                self.report.failed.append(run.session)
                self.on_error(run.session, exc)
        else:
            status = getattr(outcome, "status", None)
            message = getattr(outcome, "message", None)
            log.info(
                "daily run for session %s finished%s",
                run.session,
                f": {status}: {message}" if status else "",
            )
            self.report.ran.append(run.session)
        finally:
            self._next(run)

    def missed(self, run_at: datetime) -> None:
        run = self.pending
        if run is None or run.at != run_at:
            return
        log.error(
            "daily run for session %s was due at %s and is more than %s late: not run",
            run.session,
            _both_zones(run.at),
            self.grace,
        )
        self.report.missed.append(run.session)
        self._next(run)

    def _next(self, run: ScheduledRun) -> None:
        try:
            self.after_run()
        finally:
            if self.once:
                self.done.set()
            else:
                self.schedule_after(run.at)


def _benign(exc: BaseException) -> bool:
    """Another process already did or is doing the run: nothing to alert."""
    from alphatrader.jobs.runs import AlreadyDone, AlreadyRunning

    return isinstance(exc, AlreadyDone | AlreadyRunning)


def run_scheduler(
    settings: Settings,
    job: Job | None = None,
    stop_event: threading.Event | None = None,
    *,
    clock: Clock | None = None,
    runs: Iterable[ScheduledRun] | None = None,
    once: bool = False,
    misfire_grace: timedelta = MISFIRE_GRACE,
    db: Database | None = None,
    hub: Any = None,
    monitor: bool = True,
) -> SchedulerReport:
    """Run `job(session)` at each scheduled run until `stop_event` is set (or Ctrl-C).

    `job` defaults to the daily job. `runs` replaces the calendar's plan with a fixed list (tests,
    rehearsals); `clock` is where "now" comes from when the plan starts (the first run considered
    is the first one due after now − `misfire_grace`). `once` stops after the first run fired or
    missed. With `monitor`, missed sessions and failed runs are checked and alerted (once each,
    see `alphatrader.jobs.monitor`) at start and after every run; `db` and `hub` default to the
    ones configured in `settings`.
    """
    from apscheduler.events import EVENT_JOB_MISSED
    from apscheduler.schedulers.background import BackgroundScheduler

    clock = clock or LiveClock()
    stop = stop_event or threading.Event()
    job = job or daily_job(settings)
    alerts = _Alerts(settings, db, hub, monitor, clock)
    scheduler = BackgroundScheduler(
        timezone=UTC,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": max(1, int(misfire_grace.total_seconds())),
        },
    )
    chain = _Chain(
        scheduler,
        _RunSource(settings.daily_execution_time, runs),
        job,
        alerts.job_failed,
        alerts.check,
        once,
        misfire_grace,
    )
    scheduler.add_listener(lambda event: chain.missed(event.scheduled_run_time), EVENT_JOB_MISSED)
    alerts.check()
    scheduler.start()
    try:
        chain.schedule_after(clock.now() - misfire_grace)
        while not (stop.is_set() or chain.done.is_set()):
            stop.wait(0.1)
    finally:
        chain.done.set()
        scheduler.shutdown(wait=True)  # a run in progress finishes; a second Ctrl-C kills it
        alerts.close()
    return chain.report


class _Alerts:
    """The scheduler's alerting and monitoring; every failure here is logged, never raised."""

    def __init__(
        self, settings: Settings, db: Database | None, hub: Any, monitor: bool, clock: Clock
    ) -> None:
        self.settings = settings
        self.monitor = monitor
        self.clock = clock
        self._db = db
        self._own_db = False
        self._hub = hub

    def db(self) -> Database:
        if self._db is None:
            from alphatrader.services import database

            self._db = database(self.settings)  # migrated
            self._own_db = True
        return self._db

    def hub(self) -> Any:
        if self._hub is None:
            from alphatrader.notify.hub import build_hub

            self._hub = build_hub(self.settings)
        return self._hub

    def check(self) -> None:
        if not self.monitor:
            return
        from alphatrader.jobs.monitor import check_and_alert

        try:
            check_and_alert(self.settings, self.db(), self.hub(), self.clock.now())
        except Exception:
            log.exception("monitoring check failed")

    def job_failed(self, session: date, exc: BaseException) -> None:
        from alphatrader.jobs.monitor import alert_job_exception

        text = "".join(traceback.format_exception(exc))
        try:
            db = self.db() if self.monitor else None
            alert_job_exception(self.hub(), db, JOB_NAME, session, exc, text, self.clock.now())
        except Exception:
            log.exception("could not alert the failure of the daily run for %s", session)

    def close(self) -> None:
        if self._own_db and self._db is not None:
            self._db.dispose()


def _both_zones(instant: datetime) -> str:
    return f"{instant.astimezone(NEW_YORK):%Y-%m-%d %H:%M %Z} ({instant.astimezone(UTC):%H:%M UTC})"


def describe(runs: Sequence[ScheduledRun]) -> list[tuple[str, str, str]]:
    """(session, New York time, UTC time) rows for display."""
    return [
        (
            str(run.session),
            f"{run.at.astimezone(NEW_YORK):%a %Y-%m-%d %H:%M %Z}",
            f"{run.at.astimezone(UTC):%Y-%m-%d %H:%M UTC}",
        )
        for run in runs
    ]
