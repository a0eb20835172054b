"""The `alphatrader` command. Errors become one line on stderr and a non-zero exit code."""

from __future__ import annotations

import sys

from alphatrader.cli.app import app
from alphatrader.errors import AlphaTraderError, exit_code_for


def main() -> None:
    try:
        app(standalone_mode=False)
    except AlphaTraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exit_code_for(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # typer/click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


__all__ = ["app", "main"]
