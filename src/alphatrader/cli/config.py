"""`alphatrader config ...`"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from alphatrader.config import load_settings

app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print every setting by its environment name; secrets are masked."""
    settings = load_settings()
    table = Table(title="Effective configuration", show_lines=False)
    table.add_column("Variable", style="bold")
    table.add_column("Value")
    for name, value in settings.masked().items():
        table.add_row(name, value)
    Console().print(table)
