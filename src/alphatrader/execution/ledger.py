"""The Decimal ledger: cash, open positions, fills and closed trades."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from alphatrader.domain.orders import Fill, Side
from alphatrader.domain.trade import Trade


@dataclass(slots=True)
class OpenPosition:
    symbol: str
    strategy: str
    qty: Decimal
    avg_price: Decimal
    entry_date: date
    entry_commission: Decimal


@dataclass(slots=True)
class Ledger:
    cash: Decimal
    positions: dict[str, OpenPosition] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)

    def apply(self, fill: Fill, strategy: str) -> Trade | None:
        """Book a fill; returns the trade it closed, if any."""
        self.fills.append(fill)
        notional = fill.qty * fill.price
        if fill.side is Side.BUY:
            self.cash -= notional + fill.commission
            pos = self.positions.get(fill.symbol)
            if pos is None:
                self.positions[fill.symbol] = OpenPosition(
                    fill.symbol, strategy, fill.qty, fill.price, fill.session, fill.commission
                )
            else:  # adding to a position (partial fills): average the price
                total = pos.qty + fill.qty
                pos.avg_price = (pos.avg_price * pos.qty + notional) / total
                pos.qty = total
                pos.entry_commission += fill.commission
            return None
        pos = self.positions[fill.symbol]
        if fill.qty > pos.qty:
            raise ValueError(f"sell of {fill.qty} {fill.symbol} exceeds the {pos.qty} held")
        self.cash += notional - fill.commission
        share = fill.qty / pos.qty
        entry_comm = pos.entry_commission * share
        trade = Trade(
            symbol=fill.symbol,
            strategy=pos.strategy,
            entry_date=pos.entry_date,
            entry_price=pos.avg_price,
            qty=fill.qty,
            exit_date=fill.session,
            exit_price=fill.price,
            pnl=(fill.price - pos.avg_price) * fill.qty - entry_comm - fill.commission,
            commission=entry_comm + fill.commission,
        )
        self.trades.append(trade)
        pos.qty -= fill.qty
        pos.entry_commission -= entry_comm
        if pos.qty == 0:
            del self.positions[fill.symbol]
        return trade

    def open_trades(self, marks: dict[str, Decimal]) -> list[Trade]:
        """Open positions as trades marked to `marks` (the last close), exit date None."""
        return [
            Trade(
                symbol=p.symbol,
                strategy=p.strategy,
                entry_date=p.entry_date,
                entry_price=p.avg_price,
                qty=p.qty,
                exit_date=None,
                exit_price=marks[p.symbol],
                pnl=(marks[p.symbol] - p.avg_price) * p.qty - p.entry_commission,
                commission=p.entry_commission,
            )
            for p in self.positions.values()
        ]
