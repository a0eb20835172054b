"""The `alphatrader` command. Errors become one line on stderr and a non-zero exit code."""

from __future__ import annotations

import sys

from alphatrader.cli.app import app
from alphatrader.errors import AlphaTraderError, exit_code_for


def main() -> None:
    try:
        app()
    except AlphaTraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exit_code_for(exc))


__all__ = ["app", "main"]
