"""The stable, documented JSON form of a backtest (see README, "Backtest JSON").

    {"strategies", "symbols", "start", "end", "initial_cash", "final_equity",
     "metrics": {...}, "trades": [{"symbol", "strategy", "entry_date", "entry_price",
     "exit_date", "exit_price", "qty", "pnl"}], "equity": [[date, value], ...]}

Money is written as JSON numbers rounded to cents (prices to 6 decimals); a trade still open at
the end has `exit_date` null and is marked to the last close.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from alphatrader.backtest.engine import BacktestResult
from alphatrader.domain.trade import Trade
from alphatrader.files import atomic_write


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def _price(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.000001")))


def trade_json(trade: Trade) -> dict[str, Any]:
    return {
        "symbol": trade.symbol,
        "strategy": trade.strategy,
        "entry_date": trade.entry_date.isoformat(),
        "entry_price": _price(trade.entry_price),
        "exit_date": trade.exit_date.isoformat() if trade.exit_date else None,
        "exit_price": _price(trade.exit_price),
        "qty": float(trade.qty),
        "pnl": _money(trade.pnl),
    }


def result_json(result: BacktestResult, metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "strategies": result.strategies,
        "symbols": result.symbols,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "initial_cash": _money(result.initial_cash),
        "final_equity": _money(result.final_equity),
        "metrics": metrics,
        "trades": [trade_json(t) for t in result.trades],
        "equity": [
            [day.date().isoformat(), round(float(value), 2)]
            for day, value in zip(pd.DatetimeIndex(result.equity.index), result.equity, strict=True)
        ],
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically: a reader never sees half a file."""
    atomic_write(path, json.dumps(payload, indent=1, allow_nan=False))
