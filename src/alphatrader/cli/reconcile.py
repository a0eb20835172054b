"""`alphatrader reconcile`: the broker against the ledger, now."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from alphatrader.config import load_settings
from alphatrader.execution.reconcile import reconcile as run_reconcile
from alphatrader.services import database, order_manager, uses_paper


def reconcile() -> None:
    """Compare the broker's orders, fills and positions with the database; adopt what can be
    explained, and on anything else move trading to RECONCILE_MISMATCH_STATE and alert."""
    console = Console()
    settings = load_settings()
    if uses_paper(settings):
        console.print("paper account: the ledger is the broker, there is nothing to reconcile")
        return
    db = database(settings)
    report = run_reconcile(order_manager(settings, db), settings)
    for line in report.adopted:
        console.print(f"[green]adopted:[/] {line}")
    if report.clean:
        console.print(f"[bold green]clean[/]: broker {settings.broker} matches the ledger")
        return
    table = Table(title="Unexplained differences", title_justify="left")
    for col in ("Kind", "Order / symbol", "Ledger", "Broker"):
        table.add_column(col)
    for d in report.differences:
        table.add_row(d.kind, d.subject, d.local, d.broker)
    console.print(table)
    console.print(f"trading state is now [bold red]{report.state}[/]")
    raise SystemExit(1)
