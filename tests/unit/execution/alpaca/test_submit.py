"""Sending orders: each order type, fractional rules, duplicates, PDT and buying power."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from alphatrader.domain.orders import OrderStatus, OrderType, Side, TimeInForce
from alphatrader.execution.brokers.alpaca import AlpacaBroker
from alphatrader.execution.brokers.base import (
    BrokerRejected,
    DuplicateClientOrderId,
    LiveBroker,
)
from tests.fakes.alpaca_trading import FakeAlpacaTrading, Fault
from tests.unit.execution.alpaca.conftest import KEY, SECRET, buy, sell


def test_is_a_live_broker(broker: AlpacaBroker) -> None:
    live: LiveBroker = broker
    assert live.name == "alpaca"
    assert SECRET not in repr(broker)


@pytest.mark.parametrize(
    ("order_type", "limit", "stop", "vendor_type"),
    [
        (OrderType.MARKET, None, None, "market"),
        (OrderType.LIMIT, "99.5", None, "limit"),
        (OrderType.STOP, None, "95", "stop"),
        (OrderType.STOP_LIMIT, "94.5", "95", "stop_limit"),
    ],
)
def test_each_order_type_is_sent_once_and_read_back(
    broker: AlpacaBroker,
    server: FakeAlpacaTrading,
    order_type: OrderType,
    limit: str | None,
    stop: str | None,
    vendor_type: str,
) -> None:
    order = broker.submit(buy("3", order_type=order_type, limit=limit, stop=stop), "cid-1")

    assert order.client_order_id == "cid-1"
    assert order.symbol == "AAPL"
    assert order.side is Side.BUY
    assert order.qty == Decimal(3)
    assert order.notional is None
    assert order.order_type == vendor_type
    assert order.time_in_force == "day"
    assert order.limit_price == (Decimal(limit) if limit else None)
    assert order.stop_price == (Decimal(stop) if stop else None)
    assert order.status is OrderStatus.ACCEPTED
    assert order.vendor_status == "new"
    assert order.filled_qty == 0
    assert order.avg_fill_price is None
    assert order.submitted_at is not None
    assert order.submitted_at.tzinfo is not None
    (post,) = server.requests_of("submit")
    assert post.body["type"] == vendor_type
    assert post.body["client_order_id"] == "cid-1"
    assert post.body["time_in_force"] == "day"
    assert server.posts("cid-1") == 1
    assert server.created["cid-1"] == 1


def test_sell_and_gtc(server: FakeAlpacaTrading) -> None:
    server.set_position("AAPL", 5, "90")
    broker = AlpacaBroker(KEY, SECRET, url_override=server.url)
    order = broker.submit(sell("5", tif=TimeInForce.GTC), "sell-1")
    assert order.side is Side.SELL
    assert order.time_in_force == "gtc"


def test_fractional_notional_market_day(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    order = broker.submit(buy(None, notional="250.50", fractional=True), "frac-1")
    assert order.notional == Decimal("250.5")
    assert order.qty is None
    (post,) = server.requests_of("submit")
    assert post.body["notional"] == 250.5
    assert "qty" not in post.body

    server.fill("frac-1", price="100")
    filled = broker.get_order("frac-1")
    assert filled is not None
    assert filled.status is OrderStatus.FILLED
    assert filled.filled_qty == Decimal("2.505")
    (fill,) = broker.fills()
    assert fill.qty == Decimal("2.505")
    assert fill.client_order_id == "frac-1"


def test_fractional_qty_with_nine_decimals(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    order = broker.submit(buy("0.123456789", fractional=True), "frac-q")
    assert order.qty == Decimal("0.123456789")
    assert server.requests_of("submit")[0].body["qty"] == 0.123456789


@pytest.mark.parametrize(
    ("request_kwargs", "tif", "reason"),
    [
        ({"qty": None, "notional": "100", "fractional": True}, TimeInForce.GTC, "day"),
        (
            {
                "qty": None,
                "notional": "100",
                "fractional": True,
                "order_type": OrderType.LIMIT,
                "limit": "99",
            },
            TimeInForce.DAY,
            "market order",
        ),
        ({"qty": None, "notional": "100", "fractional": False}, TimeInForce.DAY, "fractional sh"),
        ({"qty": None, "notional": "100.005", "fractional": True}, TimeInForce.DAY, "2 decimals"),
        ({"qty": "0.5", "fractional": False}, TimeInForce.DAY, "fractional"),
        ({"qty": "0.5", "fractional": True}, TimeInForce.CLS, "day"),
        ({"qty": "0.1234567891", "fractional": True}, TimeInForce.DAY, "9 decimals"),
    ],
)
def test_fractional_rules_are_enforced_before_sending(
    broker: AlpacaBroker,
    server: FakeAlpacaTrading,
    request_kwargs: dict[str, object],
    tif: TimeInForce,
    reason: str,
) -> None:
    with pytest.raises(BrokerRejected, match=reason) as info:
        broker.submit(buy(**request_kwargs, tif=tif), "frac-x")  # type: ignore[arg-type]
    assert info.value.code == "fractional"
    assert server.requests_of("submit") == []


def test_inconsistent_prices_are_refused_before_sending(
    broker: AlpacaBroker, server: FakeAlpacaTrading
) -> None:
    with pytest.raises(BrokerRejected, match="limit price"):
        broker.submit(buy(order_type=OrderType.LIMIT), "bad-1")
    with pytest.raises(BrokerRejected, match="stop price"):
        broker.submit(buy(order_type=OrderType.STOP), "bad-2")
    with pytest.raises(BrokerRejected, match="stop price only"):
        broker.submit(buy(order_type=OrderType.STOP, stop="9", limit="8"), "bad-2b")
    with pytest.raises(BrokerRejected, match="stop and a limit"):
        broker.submit(buy(order_type=OrderType.STOP_LIMIT, stop="9"), "bad-2c")
    with pytest.raises(BrokerRejected, match="market order"):
        broker.submit(buy(limit="10"), "bad-3")
    with pytest.raises(BrokerRejected, match="client order id"):
        broker.submit(buy(), "x" * 129)
    assert server.requests_of("submit") == []


def test_duplicate_client_order_id(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    broker.submit(buy(), "dup-1")
    with pytest.raises(DuplicateClientOrderId):
        broker.submit(buy(), "dup-1")
    assert server.created["dup-1"] == 1  # exactly one POST created an order
    assert len(server.orders) == 1
    assert server.posts("dup-1") == 2  # the second was sent and refused with 422


def test_a_cancelled_client_id_stays_taken(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    broker.submit(buy(), "dup-2")
    broker.cancel("dup-2")
    with pytest.raises(DuplicateClientOrderId):
        broker.submit(buy(), "dup-2")
    assert server.created["dup-2"] == 1


def test_pdt_403_from_alpaca(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    server.set_position("AAPL", 5, "90")
    server.fail_next(Fault.PDT, on="submit")
    with pytest.raises(BrokerRejected, match="pattern day trading") as info:
        broker.submit(sell(), "pdt-1")
    assert info.value.code == "pdt"
    assert server.posts("pdt-1") == 1
    assert server.order("pdt-1") is None


def _day_trader_setup(server: FakeAlpacaTrading) -> None:
    server.set_account(cash="1000", daytrade_count=3)
    server.add_order("bought-today", "AAPL", "buy", "2")
    server.fill("bought-today", price="100")


def test_pdt_refused_locally_before_sending(server: FakeAlpacaTrading) -> None:
    _day_trader_setup(server)
    broker = AlpacaBroker(KEY, SECRET, url_override=server.url)
    with pytest.raises(BrokerRejected, match="day trade") as info:
        broker.submit(sell(), "pdt-2")
    assert info.value.code == "pdt"
    assert server.requests_of("submit") == []
    # Another symbol, not bought today, is not a day trade.
    server.set_position("MSFT", 1, "400")
    assert broker.submit(sell("1", "MSFT"), "pdt-3").status is OrderStatus.ACCEPTED


def test_pdt_enforced_by_alpaca_when_local_check_is_off(server: FakeAlpacaTrading) -> None:
    _day_trader_setup(server)
    broker = AlpacaBroker(KEY, SECRET, url_override=server.url, pdt_protection=False)
    with pytest.raises(BrokerRejected) as info:
        broker.submit(sell(), "pdt-4")
    assert info.value.code == "pdt"
    assert server.posts("pdt-4") == 1


def test_pdt_check_passes_with_enough_equity(server: FakeAlpacaTrading) -> None:
    _day_trader_setup(server)
    server.set_account(cash="30000")
    broker = AlpacaBroker(KEY, SECRET, url_override=server.url)
    assert broker.submit(sell(), "pdt-5").vendor_status == "new"


def test_pdt_check_counts_today_in_new_york(server: FakeAlpacaTrading) -> None:
    # Bought at 23:30 New York yesterday (04:30 UTC today): not a day trade at 10:00 today.
    server.set_time(datetime(2025, 3, 4, 4, 30, tzinfo=UTC))
    _day_trader_setup(server)
    server.set_time(datetime(2025, 3, 4, 15, 0, tzinfo=UTC))
    broker = AlpacaBroker(
        KEY,
        SECRET,
        url_override=server.url,
        pdt_protection=True,
        now=lambda: datetime(2025, 3, 4, 15, 0, tzinfo=UTC),
    )
    assert broker.submit(sell(), "pdt-6").status is OrderStatus.ACCEPTED


def test_buying_power_403(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    server.set_account(cash="100")
    with pytest.raises(BrokerRejected, match="buying power") as info:
        broker.submit(buy("5"), "bp-1")
    assert info.value.code == "buying_power"
    server.fail_next(Fault.BUYING_POWER)
    with pytest.raises(BrokerRejected) as info:
        broker.submit(buy(None, notional="10", fractional=True), "bp-2")
    assert info.value.code == "buying_power"


def test_other_refusals_carry_alpacas_message(
    broker: AlpacaBroker, server: FakeAlpacaTrading
) -> None:
    server.assets = {"AAPL"}
    with pytest.raises(BrokerRejected, match='asset "ZZZZ" not found') as info:
        broker.submit(buy(symbol="ZZZZ"), "rej-1")
    assert info.value.code == "40010000"
    with pytest.raises(BrokerRejected, match="insufficient qty available"):
        broker.submit(sell("1"), "rej-2")  # nothing held, no shorting


def test_from_settings(server: FakeAlpacaTrading) -> None:
    from alphatrader.config import load_settings
    from alphatrader.errors import ConfigError

    settings = load_settings(ALPACA_API_KEY=KEY, ALPACA_SECRET_KEY=SECRET, ALPACA_PAPER=True)
    broker = AlpacaBroker.from_settings(settings, url_override=server.url)
    assert broker.paper is True
    assert broker.clock().is_open in (True, False)
    with pytest.raises(ConfigError, match="ALPACA_SECRET_KEY"):
        AlpacaBroker.from_settings(load_settings(ALPACA_API_KEY=KEY, ALPACA_SECRET_KEY=""))
