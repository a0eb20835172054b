"""size_entry: each small-account rule with hand-made numbers."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from alphatrader.portfolio.plan import PlannedOrder, PlanRejection
from alphatrader.portfolio.safety import (
    minimum_notional,
    size_entry,
    spendable_cash,
    target_notional,
)
from tests.unit.portfolio.builders import DEFAULTS, make_settings, ranked

PLENTY = Decimal(5000)


def order(result: PlannedOrder | PlanRejection) -> PlannedOrder:
    assert isinstance(result, PlannedOrder), result
    return result


def rejection(result: PlannedOrder | PlanRejection) -> PlanRejection:
    assert isinstance(result, PlanRejection), result
    return result


def test_target_is_linear_in_confidence_between_min_and_max() -> None:
    assert target_notional(0.0, DEFAULTS) == Decimal("50.00")
    assert target_notional(0.5, DEFAULTS) == Decimal("175.00")
    assert target_notional(1.0, DEFAULTS) == Decimal("300.00")
    assert target_notional(0.8, DEFAULTS) == Decimal("250.00")


def test_spendable_cash_is_cash_above_buffer_floored_to_the_cent() -> None:
    assert spendable_cash(Decimal("345.678"), DEFAULTS) == Decimal("245.67")
    assert spendable_cash(Decimal("80"), DEFAULTS) == Decimal(0)


def test_sizes_whole_shares_rounded_down() -> None:
    result = order(size_entry(ranked("SPY", confidence=0.5, price="10.50"), PLENTY, DEFAULTS))
    # target $175.00 / $10.50 = 16.67 -> 16 shares = $168.00
    assert (result.qty, result.notional, result.side) == (Decimal(16), Decimal("168.00"), "buy")
    assert "target $175.00" in result.reason and "resized" not in result.reason


def test_rejects_order_when_price_below_min_price() -> None:
    result = rejection(size_entry(ranked("PENNY", price="9.99"), PLENTY, DEFAULTS))
    assert result.rule == "min_price" and "$9.99" in result.reason and "$10.0" in result.reason


def test_rejects_order_when_cash_buffer_breached() -> None:
    # $140 cash leaves $40 above the $100 buffer: less than a $50 minimum position.
    result = rejection(size_entry(ranked("SPY"), spendable_cash(Decimal(140), DEFAULTS), DEFAULTS))
    assert result.rule == "cash_buffer" and "$40.00 spendable" in result.reason


def test_resizes_order_to_cash_above_buffer_and_records_it() -> None:
    result = order(size_entry(ranked("SPY", confidence=1.0, price="10"), Decimal(120), DEFAULTS))
    assert (result.qty, result.notional) == (Decimal(12), Decimal("120.00"))
    assert "resized[cash_buffer]: target $300.00, only $120.00 spendable" in result.reason


def test_rounds_up_to_reach_minimum_when_it_still_fits() -> None:
    # target $50 at $45: 1 share = $45 is below the $50 minimum, 2 shares = $90 fit.
    result = order(size_entry(ranked("XOM", confidence=0.0, price="45"), PLENTY, DEFAULTS))
    assert (result.qty, result.notional) == (Decimal(2), Decimal("90.00"))
    assert "resized[share_rounding]" in result.reason


def test_rejects_when_one_share_exceeds_max_position() -> None:
    result = rejection(size_entry(ranked("AMZN", confidence=1.0, price="350"), PLENTY, DEFAULTS))
    assert result.rule == "min_trade_size" and "MAX_POSITION_SIZE $300" in result.reason


def test_rejects_when_the_only_fitting_quantity_needs_more_cash() -> None:
    # $55 spendable, one share costs $60: cash is the binding limit, not the size rule.
    result = rejection(size_entry(ranked("KO", price="60"), Decimal(55), DEFAULTS))
    assert result.rule == "cash_buffer"


def test_min_trade_size_above_min_position_raises_the_floor() -> None:
    settings = make_settings(min_trade_size=Decimal(80))
    assert minimum_notional(settings) == Decimal(80)
    result = order(size_entry(ranked("SPY", confidence=0.0, price="10"), PLENTY, settings))
    assert (result.qty, result.notional) == (Decimal(8), Decimal("80.00"))


def test_rejects_when_min_trade_size_cannot_be_met_under_max() -> None:
    settings = make_settings(min_trade_size=Decimal(400))
    result = rejection(size_entry(ranked("SPY", price="10"), PLENTY, settings))
    assert result.rule == "min_trade_size"


def test_fractional_shares_to_six_decimals() -> None:
    settings = make_settings(fractional_shares=True)
    result = order(size_entry(ranked("SPY", confidence=0.5, price="333.33"), PLENTY, settings))
    assert result.qty == Decimal("0.525005")  # 175 / 333.33 = 0.5250052...
    assert Decimal(50) <= result.notional <= Decimal(175)


def test_order_carries_stop_target_and_score() -> None:
    signal = ranked("SPY", stop_loss="18.5", take_profit="24")
    result = order(size_entry(signal, PLENTY, DEFAULTS))
    assert (result.stop_loss, result.take_profit) == (Decimal("18.5"), Decimal(24))
    assert result.score == signal.score and result.strategy == signal.strategy


@settings(deadline=None)
@given(
    spendable=st.decimals(min_value=-100, max_value=2000, places=2),
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("600"), places=4),
    confidence=st.floats(0.0, 1.0),
    fractional=st.booleans(),
)
def test_sized_entry_always_within_limits(
    spendable: Decimal, price: Decimal, confidence: float, fractional: bool
) -> None:
    config = make_settings(fractional_shares=fractional)
    signal = ranked("SPY", confidence=confidence, price=str(price))
    result = size_entry(signal, spendable, config)
    if isinstance(result, PlanRejection):
        assert result.rule in {"min_price", "cash_buffer", "min_trade_size"}
        return
    assert price >= config.min_price
    assert minimum_notional(config) <= result.notional <= config.max_position_size
    assert result.notional <= spendable
    step = Decimal("0.000001") if fractional else Decimal(1)
    # at most the target, or the minimum plus less than one share when rounding up to reach it
    largest = max(target_notional(confidence, config), minimum_notional(config) + price * step)
    assert result.notional <= largest.quantize(Decimal("0.01"))
    assert result.qty % step == 0 and result.qty > 0
