"""The persistent paper account, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from alphatrader.execution.brokers.paper import Bar, PaperBroker
from alphatrader.storage.db import Database
from alphatrader.storage.models import FillRecord, OrderRecord, PositionRecord

D0, D1, D2 = date(2016, 6, 2), date(2016, 6, 3), date(2016, 6, 6)
BUFFER = Decimal(100)


def order(
    symbol: str, side: str, qty: str, est: str, session: date = D0, **extra: object
) -> OrderRecord:
    now = datetime.now(UTC)
    return OrderRecord(
        client_order_id=f"daily-{session:%Y%m%d}-test-{symbol}-{side}",
        session=session,
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        est_price=Decimal(est),
        order_type="market",
        limit_price=None,
        stop_loss=extra.get("stop_loss"),
        take_profit=extra.get("take_profit"),
        strategy="test",
        reason="test",
        status="planned",
        broker="paper",
        broker_order_id=None,
        filled_qty=Decimal(0),
        avg_fill_price=None,
        created_at=now,
        updated_at=now,
    )


def test_accepted_orders_fill_on_the_next_bar_exactly(database: Database) -> None:
    broker = PaperBroker(Decimal(1000))
    with database.session() as s:
        broker.account(s)
        buy = order("KO", "buy", "8", "35.46")
        s.add(buy)
        broker.accept(s, buy)
        broker.accept(s, buy)  # a resubmission changes nothing
    with database.session() as s:
        outcomes = broker.fill_pending(s, D1, {"KO": Bar(None, 35.47)}, BUFFER)
    assert [(o.status, o.qty, o.price) for o in outcomes] == [
        ("filled", Decimal(8), Decimal("35.47"))
    ]
    with database.session() as s:
        assert broker.account(s).cash == Decimal(1000) - 8 * Decimal("35.47")
        position = s.get_one(PositionRecord, "KO")
        assert (position.qty, position.avg_price, position.opened_session) == (
            Decimal(8),
            Decimal("35.47"),
            D1,
        )
        assert len(s.scalars(select(FillRecord)).all()) == 1
    with database.session() as s:  # a second pass over the same session books nothing
        assert broker.fill_pending(s, D1, {"KO": Bar(None, 35.47)}, BUFFER) == []


def test_buy_that_no_longer_fits_the_buffer_is_cut(database: Database) -> None:
    broker = PaperBroker(Decimal(400))
    with database.session() as s:
        broker.account(s)
        buy = order("XLE", "buy", "5", "60")
        s.add(buy)
        broker.accept(s, buy)
    with database.session() as s:  # gapped up: 5 × 70 = 350 > 400 − 100
        (outcome,) = broker.fill_pending(s, D1, {"XLE": Bar(70.0, 70.5, 71.0, 69.0)}, BUFFER)
    assert (outcome.status, outcome.qty, outcome.price) == ("filled", Decimal(4), Decimal(70))
    with database.session() as s:
        assert broker.account(s).cash == Decimal(120)


def test_stop_loss_sells_at_the_stop_or_a_worse_open(database: Database) -> None:
    broker = PaperBroker(Decimal(1000))
    with database.session() as s:
        broker.account(s)
        buy = order("IBM", "buy", "2", "150", stop_loss=Decimal("140"))
        s.add(buy)
        broker.accept(s, buy)
    with database.session() as s:
        broker.fill_pending(s, D1, {"IBM": Bar(150.0, 151.0, 152.0, 149.0)}, BUFFER)
    with database.session() as s:  # same bar as the fill: not checked; next bar gaps below
        assert broker.fill_exits(s, D1, {"IBM": Bar(150.0, 151.0, 152.0, 130.0)}) == []
        (stopped,) = broker.fill_exits(s, D2, {"IBM": Bar(138.0, 139.0, 141.0, 135.0)})
    assert (stopped.status, stopped.price) == ("filled", Decimal(138))
    with database.session() as s:
        assert s.get(PositionRecord, "IBM") is None
        assert broker.account(s).cash == Decimal(1000) - 2 * Decimal(150) + 2 * Decimal(138)


def test_halt_cancels_open_orders(database: Database) -> None:
    broker = PaperBroker(Decimal(1000))
    with database.session() as s:
        broker.account(s)
        buy = order("KO", "buy", "1", "35")
        s.add(buy)
        broker.accept(s, buy)
        assert broker.cancel_open(s, "emergency stop") == 1
    with database.session() as s:
        row = s.get_one(OrderRecord, buy.client_order_id)
        assert row.status == "cancelled" and "emergency stop" in row.reason
