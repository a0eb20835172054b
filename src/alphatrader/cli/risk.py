"""`alphatrader risk ...`: see the trading state, halt, and resume (audited)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console

from alphatrader.config import load_settings
from alphatrader.risk.engine import RiskEngine
from alphatrader.services import database

app = typer.Typer(help="The trading state: ACTIVE, REDUCING or HALTED.", no_args_is_help=True)


def _engine() -> RiskEngine:
    settings = load_settings()
    return RiskEngine(database(settings), settings)


@app.command("status")
def status() -> None:
    """Show the trading state, since when and why."""
    st = _engine().status()
    colour = {"ACTIVE": "green", "REDUCING": "yellow", "HALTED": "red"}[st.state.value]
    Console().print(
        f"[bold {colour}]{st.state}[/] since {st.since:%Y-%m-%d %H:%M} UTC — {st.reason}; "
        f"peak equity ${st.peak_equity:,.2f}"
    )


@app.command("halt")
def halt(reason: Annotated[str, typer.Option(help="Why trading stops (audited).")]) -> None:
    """Stop all new orders now (emergency stop)."""
    st = _engine().halt(reason, actor=getpass.getuser())
    Console().print(f"[bold red]{st.state}[/]: {st.reason}")


@app.command("resume")
def resume(reason: Annotated[str, typer.Option(help="Why it is safe to trade again.")]) -> None:
    """Leave HALTED; the only way out, recorded in the audit log with who and why."""
    st = _engine().resume(reason, actor=getpass.getuser())
    Console().print(f"[bold green]{st.state}[/]: {st.reason}")
