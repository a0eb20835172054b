"""AlphaTrader: algorithmic trading for a small retail account, end to end."""

__version__ = "0.1.0"
