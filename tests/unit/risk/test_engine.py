"""The persistent trading state: drawdown, emergency stop, circuit breaker, audited resume."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from alphatrader.config import load_settings
from alphatrader.errors import InputError
from alphatrader.risk.engine import MarketConditions, RiskEngine, TradingState
from alphatrader.storage.db import Database
from alphatrader.storage.models import AuditEntry, RiskEvent

D1, D2, D3 = date(2016, 6, 28), date(2016, 6, 29), date(2016, 6, 30)


def assess(
    engine: RiskEngine,
    db: Database,
    day: date,
    equity: str,
    prev: str | None,
    market: MarketConditions | None = None,
):  # type: ignore[no-untyped-def]
    with db.session() as s:
        return engine.assess(day, Decimal(equity), Decimal(prev) if prev else None, market, s)


def test_drawdown_beyond_limit_reduces_then_recovers(database: Database) -> None:
    engine = RiskEngine(database, load_settings())
    assert assess(engine, database, D1, "1200", "1000").state is TradingState.ACTIVE
    reduced = assess(engine, database, D2, "1010", "1100")  # 15.8% below the 1200 peak
    assert reduced.state is TradingState.REDUCING
    assert not reduced.entries_allowed and reduced.exits_allowed
    assert "drawdown" in reduced.reason
    recovered = assess(engine, database, D3, "1100", "1010")  # 8.3% below peak
    assert recovered.state is TradingState.ACTIVE and recovered.entries_allowed


def test_daily_loss_halts_and_survives_a_restart(database: Database) -> None:
    engine = RiskEngine(database, load_settings())
    halted = assess(engine, database, D1, "880", "1000")  # -12% in one session
    assert halted.state is TradingState.HALTED and not halted.entries_allowed
    restarted = RiskEngine(Database(database.url), load_settings())  # a new process
    assert restarted.status().state is TradingState.HALTED
    still = assess(restarted, database, D2, "1000", "880")  # a good day does not resume
    assert still.state is TradingState.HALTED


def test_only_resume_with_a_reason_leaves_halted_and_it_is_audited(database: Database) -> None:
    engine = RiskEngine(database, load_settings())
    assess(engine, database, D1, "850", "1000")
    with pytest.raises(InputError, match="reason"):
        engine.resume("  ", actor="ops")
    status = engine.resume("checked the fills, data was bad", actor="ops")
    assert status.state is TradingState.ACTIVE
    with database.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "risk.resume")).one()
        assert entry.actor == "ops"
        assert entry.details["reason"] == "checked the fills, data was bad"
        kinds = [e.kind for e in s.scalars(select(RiskEvent).order_by(RiskEvent.id))]
    assert kinds == ["daily_loss", "resume"]
    with pytest.raises(InputError, match="not HALTED"):
        engine.resume("again", actor="ops")


def test_emergency_stop_disabled_does_not_halt(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMERGENCY_STOP_ENABLED", "false")
    engine = RiskEngine(database, load_settings())
    assert assess(engine, database, D1, "880", "1000").state is not TradingState.HALTED


@pytest.mark.parametrize(
    ("market", "paused"),
    [
        (MarketConditions("SPY", -7.5, 30.0), True),
        (MarketConditions("SPY", 1.0, 75.0), True),
        (MarketConditions("SPY", -2.0, 25.0), False),
    ],
)
def test_circuit_breaker_pauses_entries_for_the_session(
    database: Database, market: MarketConditions, paused: bool
) -> None:
    engine = RiskEngine(database, load_settings())
    result = assess(engine, database, D1, "1000", "1000", market)
    assert result.entries_allowed is not paused
    assert result.state is TradingState.ACTIVE  # an event, not a state
    assert (result.circuit_breaker is not None) is paused
