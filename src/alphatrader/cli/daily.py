"""`alphatrader daily`: the after-market job for one session."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from alphatrader.config import load_settings
from alphatrader.data import calendar
from alphatrader.errors import InputError
from alphatrader.jobs.daily import DailyOptions, DailyOutcome, resolve_session, run_daily


def daily(
    as_of: Annotated[
        str | None,
        typer.Option(help="Session to plan, YYYY-MM-DD. Default: the last completed session."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Compute and show the plan; record, send and email nothing.")
    ] = False,
    no_email: Annotated[bool, typer.Option(help="Do not email the plan.")] = False,
    force: Annotated[
        bool, typer.Option(help="Run again although the session already completed.")
    ] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the plan as JSON to this path.")
    ] = None,
    replay: Annotated[
        int,
        typer.Option(
            min=0, help="First run the N sessions before it through the same job (no email)."
        ),
    ] = 0,
) -> None:
    """Turn the session's data into a ranked, safe next-day plan; send and email it.

    Exit 0 also when there is nothing to do (not a session, already done). Idempotent: a rerun
    after success does nothing; after a crash it finishes without repeating orders or emails.
    """
    console = Console()
    settings = load_settings()
    day = _date(as_of)
    target = resolve_session(day, settings) if day is not None or replay else day
    if replay and target is not None:
        for earlier in _sessions_before(target, replay):
            outcome = run_daily(settings, DailyOptions(as_of=earlier, no_email=True))
            console.print(f"[dim]replay {earlier}: {outcome.status}[/]")
    outcome = run_daily(
        settings,
        DailyOptions(
            as_of=target, dry_run=dry_run, no_email=no_email, force=force, json_path=json_path
        ),
    )
    show(console, outcome)


def show(console: Console, outcome: DailyOutcome) -> None:
    style = {"completed": "green", "dry_run": "cyan", "already_done": "yellow"}
    console.print(f"[bold {style.get(outcome.status, 'white')}]{outcome.message}[/]")
    plan = outcome.plan
    if plan is None:
        return
    for note in outcome.notes:
        console.print(f"[yellow]note:[/] {note}")
    before = plan.before
    console.print(
        f"Risk state [bold]{outcome.risk_state}[/] · equity ${before.equity:,.2f} · "
        f"cash ${before.cash:,.2f} · {len(before.positions)} position(s)"
    )
    signals = Table(title=f"Top signals for {plan.session}", title_justify="left")
    for col in ("#", "Strategy", "Symbol", "Action", "Conf", "Momentum", "Score", "Reason"):
        signals.add_column(col, overflow="fold")
    for sig in plan.signals[:10]:
        signals.add_row(
            str(sig.rank or ""),
            sig.strategy,
            sig.symbol,
            sig.action,
            f"{sig.confidence_score:.0f}",
            f"{sig.momentum:+.1%}",
            f"{sig.score:.1f}",
            sig.reason,
        )
    console.print(signals)
    orders = Table(title="Next day trading plan (sells first)", title_justify="left")
    for col in ("Side", "Symbol", "Qty", "Est. price", "Notional", "Stop", "Target", "Strategy"):
        orders.add_column(col)
    for o in plan.orders:
        orders.add_row(
            o.side,
            o.symbol,
            f"{o.qty.normalize():f}",
            f"{o.est_price:,.2f}",
            f"{o.notional:,.2f}",
            _opt(o.stop_loss),
            _opt(o.take_profit),
            o.strategy,
        )
    console.print(orders if plan.orders else "[dim]No orders for the next session.[/]")
    if plan.rejections:
        console.print(f"{len(plan.rejections)} signal(s) not taken (see the report and --json).")
    if outcome.report_path:
        console.print(f"report: {outcome.report_path}")
    if outcome.email:
        console.print(f"email: {outcome.email}")


def _opt(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--as-of {value!r} is not a date; use YYYY-MM-DD") from None


def _sessions_before(day: date, count: int) -> list[date]:
    sessions = calendar.xnys().sessions
    before = sessions[sessions < pd.Timestamp(day)][-count:]
    return [pd.Timestamp(s).date() for s in before]
