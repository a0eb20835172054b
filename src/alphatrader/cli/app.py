"""The root Typer app; each command group lives in its own module."""

from __future__ import annotations

import typer

from alphatrader.cli import apikey as apikey_cmd
from alphatrader.cli import backtest as backtest_cmd
from alphatrader.cli import config as config_cmd
from alphatrader.cli import daily as daily_cmd
from alphatrader.cli import data as data_cmd
from alphatrader.cli import ops as ops_cmd
from alphatrader.cli import orders as orders_cmd
from alphatrader.cli import reconcile as reconcile_cmd
from alphatrader.cli import risk as risk_cmd
from alphatrader.cli import serve as serve_cmd
from alphatrader.cli import strategies as strategies_cmd

app = typer.Typer(
    name="alphatrader",
    help="AlphaTrader: research, plan and trade a small account on real data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_cmd.app, name="data")
app.add_typer(config_cmd.app, name="config")
app.add_typer(risk_cmd.app, name="risk")
app.add_typer(orders_cmd.signals_app, name="signals")
app.add_typer(orders_cmd.emergency_app, name="emergency")
app.add_typer(apikey_cmd.app, name="apikey")
app.command("daily")(daily_cmd.daily)
app.command("runs")(ops_cmd.runs)
app.command("schedule")(ops_cmd.schedule)
app.command("validate")(ops_cmd.validate)
app.command("reconcile")(reconcile_cmd.reconcile)
app.command("backtest")(backtest_cmd.backtest)
app.command("strategies")(strategies_cmd.strategies)
app.command("serve")(serve_cmd.serve)
