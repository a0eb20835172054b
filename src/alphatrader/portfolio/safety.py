"""Small-account safety sizing for one ranked entry (the seeds' Phase 2).

`size_entry` turns a ranked entry and the cash that may be spent into a `PlannedOrder`, or a
`PlanRejection` that names the rule and the numbers:

* target = MIN_POSITION_SIZE + (MAX_POSITION_SIZE − MIN_POSITION_SIZE) × confidence, to the cent;
* the order never spends below MIN_CASH_BUFFER: the caller passes `cash_spendable` (cash above
  the buffer, after what this plan already spends) and the target is cut to it;
* whole shares, rounded down (FRACTIONAL_SHARES: to a millionth of a share); when rounding down
  leaves less than the minimum, the smallest quantity that reaches it is used if it still fits;
* the result is refused when the price is below MIN_PRICE (`min_price`), when cash above the
  buffer cannot pay for a minimum position (`cash_buffer`), or when no quantity lands between
  the minimum (the larger of MIN_POSITION_SIZE and MIN_TRADE_SIZE) and MAX_POSITION_SIZE
  (`min_trade_size`).

A cut or a rounding-up is recorded in the order's reason as `resized[cash_buffer]` or
`resized[share_rounding]` with the amounts.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from alphatrader.config import Settings
from alphatrader.execution.costs import CENT
from alphatrader.portfolio.plan import PlannedOrder, PlanRejection, RankedSignal

WHOLE_SHARE = Decimal(1)
FRACTION_STEP = Decimal("0.000001")  # FRACTIONAL_SHARES: quantities to 6 decimals


def target_notional(confidence: float, settings: Settings) -> Decimal:
    """MIN_POSITION_SIZE + (MAX_POSITION_SIZE − MIN_POSITION_SIZE) × confidence, to the cent
    (confidence clipped to [0, 1])."""
    conf = Decimal(repr(round(min(max(confidence, 0.0), 1.0), 6)))
    span = settings.max_position_size - settings.min_position_size
    return (settings.min_position_size + span * conf).quantize(CENT, rounding=ROUND_HALF_UP)


def minimum_notional(settings: Settings) -> Decimal:
    """The smallest order allowed: the larger of MIN_POSITION_SIZE and MIN_TRADE_SIZE."""
    return max(settings.min_position_size, settings.min_trade_size)


def spendable_cash(cash: Decimal, settings: Settings) -> Decimal:
    """Cash above MIN_CASH_BUFFER, rounded down to the cent, never negative."""
    return max(Decimal(0), (cash - settings.min_cash_buffer).quantize(CENT, rounding=ROUND_FLOOR))


def size_entry(
    signal: RankedSignal, cash_spendable: Decimal, settings: Settings
) -> PlannedOrder | PlanRejection:
    """Size one entry within the small-account limits; see the module docstring."""
    price = signal.price
    buffer = settings.min_cash_buffer
    if price <= 0 or price < settings.min_price:
        return _reject(
            signal, "min_price", f"price ${price} is below MIN_PRICE ${settings.min_price}"
        )
    wanted = target_notional(signal.confidence, settings)
    spendable = max(Decimal(0), cash_spendable.quantize(CENT, rounding=ROUND_FLOOR))
    required = minimum_notional(settings)
    cap = min(settings.max_position_size, spendable)
    step = FRACTION_STEP if settings.fractional_shares else WHOLE_SHARE
    notes: list[str] = []

    budget = min(wanted, cap)
    if budget < wanted:
        notes.append(
            f"resized[cash_buffer]: target ${wanted}, only ${spendable} spendable above the "
            f"${buffer} cash buffer"
        )
    qty = _round(budget / price, step, ROUND_FLOOR)
    if qty * price < required:
        # The smallest quantity reaching the minimum, if it still fits under the cap.
        up = _round(required / price, step, ROUND_CEILING)
        if up > 0 and up * price <= cap:
            notes.append(
                f"resized[share_rounding]: {_qty(qty)} share(s) at ${price} = "
                f"${_money(qty * price)} is below the ${required} minimum; {_qty(up)} share(s) "
                f"= ${_money(up * price)}"
            )
            qty = up
        elif up * price <= settings.max_position_size:
            return _reject(
                signal,
                "cash_buffer",
                f"a minimum position (${required}; {_qty(up)} share(s) at ${price} = "
                f"${_money(up * price)}) needs more than the ${spendable} spendable above the "
                f"${buffer} cash buffer",
            )
        else:
            return _reject(
                signal,
                "min_trade_size",
                f"{_qty(up)} share(s) at ${price} = ${_money(up * price)} would exceed "
                f"MAX_POSITION_SIZE ${settings.max_position_size}, and {_qty(qty)} share(s) "
                f"= ${_money(qty * price)} is below the ${required} minimum "
                "(MIN_POSITION_SIZE / MIN_TRADE_SIZE)",
            )
    notional = _money(qty * price)
    sizing = (
        f"size ${notional} = {_qty(qty)} × ${price}; target ${wanted} = "
        f"${settings.min_position_size} + "
        f"${settings.max_position_size - settings.min_position_size} × confidence "
        f"{signal.confidence:.2f}"
    )
    reason = "; ".join([signal.reason, sizing, *notes])
    return PlannedOrder(
        symbol=signal.symbol,
        side="buy",
        qty=qty,
        est_price=price,
        notional=notional,
        strategy=signal.strategy,
        reason=reason,
        stop_loss=signal.stop_loss,
        take_profit=signal.take_profit,
        score=signal.score,
    )


def _round(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return value.quantize(step, rounding=rounding)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _qty(qty: Decimal) -> str:
    return f"{qty.normalize():f}"


def _reject(signal: RankedSignal, rule: str, reason: str) -> PlanRejection:
    return PlanRejection(signal.symbol, signal.strategy, rule, reason)
