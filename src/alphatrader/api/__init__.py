"""The dashboard's HTTP API: `create_app(settings)` builds it, `alphatrader serve` serves it."""

from alphatrader.api.app import create_app

__all__ = ["create_app"]
