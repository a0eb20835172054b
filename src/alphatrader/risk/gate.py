"""The pre-trade risk gate.

Every request gets a verdict: `Approved`, or `Rejected(rule, reason)` that the caller records.
Exits are always allowed (they reduce risk); entries must fit the account limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from alphatrader.domain.orders import OrderRequest, Side
from alphatrader.portfolio.sizing import Limits


@dataclass(frozen=True, slots=True)
class Approved:
    pass


@dataclass(frozen=True, slots=True)
class Rejected:
    rule: str
    reason: str


Verdict = Approved | Rejected
APPROVED = Approved()


@dataclass(frozen=True, slots=True)
class AccountView:
    """What the gate needs to know about the account at decision time."""

    available_cash: Decimal  # cash less what pending buys have reserved
    held: frozenset[str]  # symbols held or with a pending entry
    open_positions: int  # positions held plus pending entries


@dataclass(frozen=True, slots=True)
class RiskGate:
    limits: Limits
    tradable: frozenset[str]

    def check(self, request: OrderRequest, account: AccountView) -> Verdict:
        if request.side is Side.SELL:
            if request.symbol not in account.held:
                return Rejected("no_position", f"no {request.symbol} position to sell")
            return APPROVED
        if request.symbol not in self.tradable:
            return Rejected("not_tradable", f"{request.symbol} is an index or signal series")
        if request.symbol in account.held:
            return Rejected("already_held", f"{request.symbol} is already held or pending")
        if account.open_positions >= self.limits.max_positions:
            return Rejected(
                "max_positions",
                f"{account.open_positions} positions open, limit {self.limits.max_positions}",
            )
        notional = request.notional or Decimal(0)
        spendable = account.available_cash - self.limits.cash_buffer
        if notional > spendable:
            return Rejected(
                "cash_buffer",
                f"${notional} would leave less than the ${self.limits.cash_buffer} cash buffer",
            )
        if notional < self.limits.min_position or notional <= 0:
            return Rejected(
                "min_position_size",
                f"only ${max(spendable, Decimal(0)):.2f} spendable above the "
                f"${self.limits.cash_buffer} buffer; minimum position ${self.limits.min_position}",
            )
        return APPROVED
