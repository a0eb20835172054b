"""`alphatrader strategies`: what each bundled strategy does and its parameters."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from alphatrader.strategies.registry import STRATEGIES


def strategies() -> None:
    """List the bundled strategies, their parameters and the data they need."""
    table = Table(title="Strategies (details: docs/strategies.md)", title_justify="left")
    for col in ("Name", "What it does", "Parameters", "Needs", "Instruments"):
        table.add_column(col)
    for name, cls in STRATEGIES.items():
        params = ", ".join(f"{k}={f.default}" for k, f in cls.model_fields.items())
        table.add_row(
            name,
            cls.summary,
            params,
            ",".join(sorted(cls.requires)),
            ",".join(cls.instruments) if cls.instruments else "any",
        )
    Console().print(table)
