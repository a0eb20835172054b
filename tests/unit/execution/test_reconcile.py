"""Reconciliation adopts what it can explain and fails closed on what it cannot."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from alphatrader.config import load_settings
from alphatrader.domain.orders import OrderRequest, Side
from alphatrader.execution.brokers.instant import InstantBroker
from alphatrader.execution.live import LiveOrderManager, OrderIntent
from alphatrader.execution.reconcile import reconcile
from alphatrader.storage.db import Database

PRICES = {"KO": Decimal("45.10"), "PEP": Decimal("101.20")}


def buy(symbol: str, qty: str) -> OrderRequest:
    return OrderRequest(symbol, Side.BUY, "test", "because", qty=Decimal(qty))


@pytest.fixture
def om(database: Database) -> LiveOrderManager:
    manager = LiveOrderManager(database, InstantBroker(PRICES))
    manager.submit(OrderIntent("d-KO-entry", buy("KO", "3"), date(2016, 6, 3), PRICES["KO"]))
    return manager


def test_fills_the_ledger_missed_are_adopted_and_all_is_clean(om: LiveOrderManager) -> None:
    report = reconcile(om, load_settings())
    assert report.clean, report.differences
    assert report.adopted == ["1 fill(s) booked from the broker"]
    assert report.state == "ACTIVE"
    assert reconcile(om, load_settings()).adopted == []  # nothing new the second time


def test_an_order_we_never_sent_fails_closed(om: LiveOrderManager) -> None:
    om.broker.submit(  # placed by hand in the broker's own app: not ours
        OrderRequest(
            "PEP",
            Side.BUY,
            "manual",
            "x",
            qty=Decimal(1),
            limit_price=Decimal(90),
            order_type=__import__("alphatrader").domain.OrderType.LIMIT,
        ),
        "manual-1",
    )
    report = reconcile(om, load_settings())
    kinds = {d.kind for d in report.differences}
    assert "orphan_order" in kinds
    assert report.state == "REDUCING"


def test_position_mismatch_escalates_to_the_configured_state(
    om: LiveOrderManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILE_MISMATCH_STATE", "HALTED")
    reconcile(om, load_settings())
    om.broker.submit(buy("KO", "2"), "manual-2")  # a manual fill: broker now holds 5, we sent 3
    report = reconcile(om, load_settings())
    position = [d for d in report.differences if d.kind in ("position", "orphan_fill")]
    assert position
    assert report.state == "HALTED"
