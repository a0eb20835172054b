"""`alphatrader apikey create|list|revoke`: keys for the API and the dashboard login."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alphatrader.config import load_settings
from alphatrader.services import database

app = typer.Typer(
    help="API keys (scopes: read < trade < admin). Only a hash is stored.", no_args_is_help=True
)


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="A unique name; it appears in the audit log.")],
    scope: Annotated[str, typer.Option(help="read, trade or admin.")] = "read",
) -> None:
    """Create a key and print it once, alone on the last line; it cannot be shown again."""
    from alphatrader.api.keys import create_key

    info, raw = create_key(database(load_settings()), name, scope, actor=getpass.getuser())
    console = Console(stderr=True)
    console.print(f"created API key {info.name!r} (scope {info.scope}, prefix {info.prefix})")
    console.print("store it now: it is shown only this once")
    print(raw)


@app.command("list")
def list_keys() -> None:
    """Every key: name, prefix, scope, when created, last used, revoked."""
    from alphatrader.api.keys import list_keys as keys

    rows = keys(database(load_settings()))
    if not rows:
        Console().print("no API keys yet: alphatrader apikey create --name NAME --scope read")
        return
    table = Table(title="API keys", title_justify="left")
    for col in ("Name", "Prefix", "Scope", "Created (UTC)", "Last used (UTC)", "Revoked (UTC)"):
        table.add_column(col)
    for k in rows:
        table.add_row(
            k.name,
            k.prefix,
            k.scope,
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "—",
            f"[red]{k.revoked_at:%Y-%m-%d %H:%M}[/]" if k.revoked_at else "—",
        )
    Console().print(table)


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a key now: its requests and its browser sessions get 401 from then on."""
    from alphatrader.api.keys import revoke_key

    info = revoke_key(database(load_settings()), name, actor=getpass.getuser())
    Console().print(f"revoked: {info.name} ({info.prefix})")
