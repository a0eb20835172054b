"""Risk gate verdicts and the safety sizer, including property tests over random accounts."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from alphatrader.domain.orders import OrderRequest, Side
from alphatrader.portfolio.sizing import Limits, SafetySizer
from alphatrader.risk.gate import AccountView, Approved, Rejected, RiskGate

LIMITS = Limits(Decimal(50), Decimal(300), Decimal(100), 4)
GATE = RiskGate(LIMITS, tradable=frozenset({"SPY", "XLK", "XLF", "XLE", "XLU"}))


def entry(symbol: str, notional: str) -> OrderRequest:
    return OrderRequest(symbol, Side.BUY, "s", "r", notional=Decimal(notional))


def view(cash: str, held: set[str] | None = None) -> AccountView:
    held_set = frozenset(held or set())
    return AccountView(Decimal(cash), held_set, len(held_set))


def test_rejects_order_when_cash_buffer_breached() -> None:
    verdict = GATE.check(entry("SPY", "250"), view("300"))
    assert verdict == Rejected("cash_buffer", verdict.reason) and "$100" in verdict.reason


def test_rejects_fifth_position() -> None:
    verdict = GATE.check(entry("XLU", "60"), view("1000", {"SPY", "XLK", "XLF", "XLE"}))
    assert isinstance(verdict, Rejected) and verdict.rule == "max_positions"


def test_rejects_index_and_duplicate_and_tiny_orders() -> None:
    assert GATE.check(entry("SP500", "100"), view("1000")).rule == "not_tradable"  # type: ignore[union-attr]
    assert GATE.check(entry("SPY", "100"), view("1000", {"SPY"})).rule == "already_held"  # type: ignore[union-attr]
    assert GATE.check(entry("SPY", "20"), view("1000")).rule == "min_position_size"  # type: ignore[union-attr]


def test_exits_are_approved_only_for_held_symbols() -> None:
    sell = OrderRequest("SPY", Side.SELL, "s", "r", qty=Decimal(1))
    assert GATE.check(sell, view("0", {"SPY"})) == Approved()
    assert isinstance(GATE.check(sell, view("0")), Rejected)


@given(
    cash=st.decimals(min_value=0, max_value=5000, places=2),
    confidences=st.lists(st.floats(min_value=0, max_value=1), min_size=0, max_size=12),
)
def test_sized_and_gated_plan_never_breaches_limits(
    cash: Decimal, confidences: list[float]
) -> None:
    sizer = SafetySizer(LIMITS)
    symbols = [f"S{i}" for i in range(len(confidences))]
    gate = RiskGate(LIMITS, tradable=frozenset(symbols))
    available, held = cash, set[str]()
    for symbol, conf in zip(symbols, confidences, strict=True):
        notional = sizer.notional(conf, available)
        request = entry(symbol, str(max(notional, Decimal("0.01"))))
        if isinstance(gate.check(request, view(str(available), held)), Approved):
            assert LIMITS.min_position <= notional <= LIMITS.max_position
            available -= notional
            held.add(symbol)
    assert len(held) <= LIMITS.max_positions
    assert available >= min(cash, LIMITS.cash_buffer)
