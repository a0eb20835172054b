"""`alphatrader data ...`: list, import-csv, check."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect, import and check market data.", no_args_is_help=True)
