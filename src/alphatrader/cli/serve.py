"""`alphatrader serve`: the dashboard and its API, on loopback by default."""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Annotated

import typer
from rich.console import Console

from alphatrader.config import load_settings

_SECRET_QUERY = re.compile(r"(?i)((?:api[_-]?)?key|token|secret|password)=[^&\s\"]*")


class _RedactQuery(logging.Filter):
    """Access-log lines keep the path but never a credential-looking query value."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1=********", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless you mean it.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
) -> None:
    """Serve the dashboard and the REST API (uvicorn, one process). Ctrl-C stops.

    Create a key first: `alphatrader apikey create --name me --scope read`. Behind a TLS proxy,
    keep the default host; forwarded headers are not trusted.
    """
    import uvicorn

    from alphatrader.api import create_app

    settings = load_settings()
    console = Console(stderr=True)
    if not _is_loopback(host):
        console.print(
            f"[bold yellow]warning:[/] binding to {host}: the API is reachable from other "
            "machines; put a TLS proxy in front of it"
        )
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("uvicorn.access").addFilter(_RedactQuery())
    app = create_app(settings)
    docs = "off (production)" if settings.environment == "production" else "/docs"
    console.print(f"serving on http://{host}:{port} — API docs {docs}")
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=False,  # the client address is the TCP peer: X-Forwarded-For is ignored
        server_header=False,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep the logging configured above (and its redaction filter)
    )
