"""Bad orders are recorded rejections with the broker's reason, never an exception that stops the
loop: an unknown symbol, a price off the tick, a quantity under the minimum, a broker refusal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from alphatrader.domain.orders import OrderRequest, OrderStatus, OrderType, Side
from alphatrader.execution.brokers.alpaca import AlpacaBroker
from alphatrader.execution.live import LiveOrderManager, OrderIntent
from alphatrader.storage.db import Database, default_database_url
from alphatrader.storage.models import OrderRecord
from tests.fakes.alpaca_trading import FakeAlpacaTrading


def test_each_bad_order_is_a_recorded_rejection(tmp_path: Path) -> None:
    db = Database(default_database_url(tmp_path))
    db.migrate()
    with FakeAlpacaTrading("k", "s", seed=5) as fake:
        fake.assets = {"KO", "PEP"}
        fake.set_price("KO", "45")
        fake.set_price("PEP", "101")
        fake.set_account(cash=Decimal(1000), equity=Decimal(1000))
        om = LiveOrderManager(db, AlpacaBroker("k", "s", url_override=fake.url, timeout=5))
        bad = {
            "unknown-symbol": OrderRequest("NOPE", Side.BUY, "t", "r", qty=Decimal(1)),
            "off-tick": OrderRequest(
                "KO",
                Side.BUY,
                "t",
                "r",
                qty=Decimal(1),
                order_type=OrderType.LIMIT,
                limit_price=Decimal("44.999"),
            ),
            "under-minimum": OrderRequest(
                "PEP", Side.BUY, "t", "r", notional=Decimal("0.50"), fractional=True
            ),
            "buying-power": OrderRequest("PEP", Side.BUY, "t", "r", qty=Decimal(500)),
            "good": OrderRequest("KO", Side.BUY, "t", "r", qty=Decimal(2)),
        }
        results = om.submit_many(
            OrderIntent(cid, request, date(2016, 6, 3), Decimal(45)) for cid, request in bad.items()
        )
    assert results.pop("good") in (OrderStatus.ACCEPTED, OrderStatus.FILLED)
    assert set(results.values()) == {OrderStatus.REJECTED}
    with db.session() as s:
        reasons = {
            r.client_order_id: r.reason
            for r in s.scalars(select(OrderRecord).where(OrderRecord.status == "rejected"))
        }
    assert "not found" in reasons["unknown-symbol"]
    assert "sub-penny" in reasons["off-tick"]
    assert "cost basis" in reasons["under-minimum"]
    assert "buying power" in reasons["buying-power"].lower()
