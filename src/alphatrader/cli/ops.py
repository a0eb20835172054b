"""Operations: `alphatrader runs`, `alphatrader schedule`, `alphatrader validate`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alphatrader.config import load_settings
from alphatrader.errors import InputError

STATUS_STYLE = {"completed": "green", "failed": "red", "running": "yellow", "skipped": "cyan"}


def runs(
    limit: Annotated[int, typer.Option(min=1, help="How many recent attempts to show.")] = 20,
    job: Annotated[str, typer.Option(help="The job whose runs to show.")] = "daily",
    now: Annotated[
        str | None,
        typer.Option(hidden=True, help="Pretend it is this instant (ISO, UTC when naive)."),
    ] = None,
) -> None:
    """Recent runs of the daily job, the success rate, and sessions that were missed."""
    from alphatrader.jobs.monitor import missed_runs
    from alphatrader.jobs.runs import recent_runs, success_rate
    from alphatrader.services import database

    console = Console()
    settings = load_settings()
    instant = _instant(now)
    db = database(settings)  # migrated
    try:
        rows = recent_runs(db, limit=limit, job=job)
        rate = success_rate(db, job=job)
        missed = missed_runs(db, instant, job, execution_time=settings.daily_execution_time)
    finally:
        db.dispose()
    if not rows:
        console.print(f"no runs of {job!r} yet")
    else:
        table = Table(title=f"Recent runs: {job}", title_justify="left")
        for col in ("Session", "Try", "Status", "Started (UTC)", "Duration", "Stages", "Counts"):
            table.add_column(col, justify="right" if col in ("Try", "Duration") else "left")
        table.add_column("Error", overflow="fold")
        for run in rows:
            style = STATUS_STYLE.get(run.status, "")
            table.add_row(
                str(run.session),
                str(run.attempt),
                f"[{style}]{run.status}[/]" if style else run.status,
                f"{run.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
                _seconds(run.seconds),
                ", ".join(f"{k} {_seconds(_float(v))}" for k, v in run.stages.items()),
                ", ".join(f"{k}={v}" for k, v in run.counts.items()),
                escape(_first_line(run.error)),
            )
        console.print(table)
    shown = "n/a (no finished run)" if rate is None else f"{rate:.0%}"
    console.print(f"success rate ({job}, completed / finished attempts): {shown}")
    if missed:
        console.print(
            f"[bold yellow]warning:[/] {len(missed)} missed session(s) with no completed run: "
            + ", ".join(str(d) for d in missed)
        )
        console.print(f"  run one by hand: alphatrader daily --as-of {missed[-1]}")
    else:
        console.print("no missed sessions")


def schedule(
    once: Annotated[bool, typer.Option(help="Run the next scheduled job, then exit.")] = False,
    dry_run: Annotated[
        bool, typer.Option(help="Run the daily job in dry-run mode: nothing sent to a broker.")
    ] = False,
    print_only: Annotated[bool, typer.Option(help="Print the next run times and exit.")] = False,
    count: Annotated[int, typer.Option(min=1, help="How many run times to print.")] = 5,
) -> None:
    """Run the daily job after every session's close, in the foreground (Ctrl-C stops).

    Run times come from the XNYS calendar: DAILY_EXECUTION_TIME (16:30 New York) on regular
    sessions, the same delay after an early close (13:30 on the day after Thanksgiving), never on
    holidays. A run up to 4 hours late (the machine was asleep) still happens.
    """
    from alphatrader.jobs.scheduler import daily_job, describe, run_scheduler, upcoming_runs

    console = Console()
    settings = load_settings()
    upcoming = upcoming_runs(datetime.now(UTC), count, settings.daily_execution_time)
    table = Table(title="Next daily runs", title_justify="left")
    for col in ("Session", "New York", "UTC"):
        table.add_column(col)
    for row in describe(upcoming):
        table.add_row(*row)
    console.print(table)
    if print_only:
        return
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    console.print(
        "scheduler running"
        + (" (dry run)" if dry_run else "")
        + ("; exits after one run" if once else "; Ctrl-C stops")
    )
    try:
        report = run_scheduler(settings, daily_job(settings, dry_run=dry_run), once=once)
    except KeyboardInterrupt:
        console.print("stopped")
        return
    console.print(
        f"ran {len(report.ran)}, failed {len(report.failed)}, missed {len(report.missed)}"
    )
    if report.failed or report.missed:
        raise typer.Exit(1)


def validate(
    send_test_email: Annotated[
        bool, typer.Option(help="Also send a short test message through the email channel.")
    ] = False,
) -> None:
    """Readiness checklist: configuration, mode, broker, email, database, data, schedule.

    Exits 1 when any check fails; the Fix column says what to do.
    """
    from alphatrader.validate import passed, run_checks

    console = Console()
    checks = run_checks(send_test_email=send_test_email)
    table = Table(title="AlphaTrader readiness", title_justify="left", show_lines=True)
    table.add_column("Check", style="bold")
    table.add_column("Result")
    table.add_column("Detail", overflow="fold")
    table.add_column("Fix", overflow="fold")
    for check in checks:
        table.add_row(
            check.name,
            "[green]OK[/]" if check.ok else "[red]FAIL[/]",
            escape(check.detail),
            escape(check.fix) if not check.ok else "",
        )
    console.print(table)
    failures = [c.name for c in checks if not c.ok]
    if passed(checks):
        console.print("[green]ready[/]: every check passed")
        return
    console.print(f"[red]not ready[/]: {len(failures)} failed check(s): {', '.join(failures)}")
    raise typer.Exit(1)


def _instant(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"--now {value!r} is not an ISO date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}m{seconds:02d}s"


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _first_line(text: str | None) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 120 else line[:117] + "..."
