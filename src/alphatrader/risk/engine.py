"""The risk engine and its persistent trading state: ACTIVE, REDUCING or HALTED.

- Drawdown from peak equity above MAX_DRAWDOWN_PCT → REDUCING: exits only. It returns to ACTIVE
  by itself once the drawdown is back under the limit.
- A one-session loss above MAX_DAILY_LOSS_PCT → HALTED (the emergency stop, when
  EMERGENCY_STOP_ENABLED): no new orders, open orders cancelled, an alert. Only
  `resume(reason)` leaves HALTED, and that is audited.
- Circuit breaker (CIRCUIT_BREAKER_ENABLED): an extreme benchmark move or a realized-volatility
  regime pauses entries for the session; it is an event, not a state.

The state lives in the database, so it survives restarts; every change is a `RiskEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.orm import Session

from alphatrader.config import Settings
from alphatrader.errors import InputError
from alphatrader.storage.db import Database, audit
from alphatrader.storage.models import RiskEvent, RiskState

STATE_ROW = 1


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@dataclass(frozen=True, slots=True)
class RiskStatus:
    state: TradingState
    reason: str
    since: datetime
    peak_equity: Decimal


@dataclass(frozen=True, slots=True)
class MarketConditions:
    """The benchmark's move on the session and its realized volatility (annualized, %)."""

    symbol: str
    daily_move_pct: float | None
    realized_vol_pct: float | None


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    state: TradingState
    reason: str
    entries_allowed: bool
    exits_allowed: bool
    drawdown: float  # fraction below peak equity
    day_change: float | None  # fraction, vs the previous session's equity
    circuit_breaker: str | None  # why entries are paused for the session, if they are
    events: tuple[str, ...]  # what changed in this assessment


class RiskEngine:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def status(self) -> RiskStatus:
        with self.db.session() as s:
            return self.current(s)

    def current(self, s: Session) -> RiskStatus:
        """The state as seen inside the caller's transaction."""
        row = self._row(s)
        return RiskStatus(TradingState(row.state), row.reason, row.since, row.peak_equity)

    def assess(
        self,
        session: date,
        equity: Decimal,
        previous_equity: Decimal | None,
        market: MarketConditions | None,
        db_session: Session,
    ) -> RiskAssessment:
        """Update the state for a session's closing equity; runs inside the caller's
        transaction so the mark and the state change commit together."""
        s = self.settings
        row = self._row(db_session)
        events: list[str] = []
        peak = max(row.peak_equity, equity)
        row.peak_equity = peak
        drawdown = float(1 - equity / peak) if peak > 0 else 0.0
        day_change = float(equity / previous_equity - 1) if previous_equity else None
        state = TradingState(row.state)

        if (
            s.emergency_stop_enabled
            and day_change is not None
            and -day_change * 100 > s.max_daily_loss_pct
            and state is not TradingState.HALTED
        ):
            reason = (
                f"emergency stop: equity fell {-day_change:.2%} in one session "
                f"(limit {s.max_daily_loss_pct}%)"
            )
            self._move(db_session, row, TradingState.HALTED, reason, session, "daily_loss")
            events.append(reason)
        elif state is TradingState.ACTIVE and drawdown * 100 > s.max_drawdown_pct:
            reason = f"drawdown {drawdown:.2%} from peak ${peak} exceeds {s.max_drawdown_pct}%"
            self._move(db_session, row, TradingState.REDUCING, reason, session, "drawdown")
            events.append(reason)
        elif state is TradingState.REDUCING and drawdown * 100 <= s.max_drawdown_pct:
            reason = f"drawdown {drawdown:.2%} back within {s.max_drawdown_pct}%"
            self._move(db_session, row, TradingState.ACTIVE, reason, session, "recovered")
            events.append(reason)

        breaker = self.circuit_breaker(market)
        if breaker is not None:
            db_session.add(
                RiskEvent(
                    at=datetime.now(UTC),
                    session=session,
                    kind="circuit_breaker",
                    from_state=row.state,
                    to_state=row.state,
                    reason=breaker,
                    details={},
                )
            )
            events.append(breaker)
        state = TradingState(row.state)
        return RiskAssessment(
            state=state,
            reason=row.reason,
            entries_allowed=state is TradingState.ACTIVE and breaker is None,
            exits_allowed=True,
            drawdown=drawdown,
            day_change=day_change,
            circuit_breaker=breaker,
            events=tuple(events),
        )

    def escalate(self, to: TradingState, reason: str, kind: str) -> RiskStatus:
        """Move to a stricter state (never a looser one), e.g. after a failed reconciliation."""
        order = [TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED]
        with self.db.session() as s:
            row = self._row(s)
            if order.index(to) > order.index(TradingState(row.state)):
                self._move(s, row, to, reason, None, kind)
                audit(s, "risk-engine", f"risk.{kind}", reason=reason, to_state=to.value)
        return self.status()

    def halt(self, reason: str, actor: str) -> RiskStatus:
        return self._manual(TradingState.HALTED, reason, actor, "halt")

    def resume(self, reason: str, actor: str) -> RiskStatus:
        """Leave HALTED (the only way out); audited with who and why."""
        if not reason.strip():
            raise InputError("a reason is required to resume trading: --reason TEXT")
        if self.status().state is not TradingState.HALTED:
            raise InputError(f"trading is {self.status().state}, not HALTED: nothing to resume")
        return self._manual(TradingState.ACTIVE, reason, actor, "resume")

    # -- internals --------------------------------------------------------------------------
    def _manual(self, to: TradingState, reason: str, actor: str, kind: str) -> RiskStatus:
        with self.db.session() as s:
            row = self._row(s)
            previous = row.state
            self._move(s, row, to, f"{kind} by {actor}: {reason}", None, kind)
            audit(s, actor, f"risk.{kind}", reason=reason, from_state=previous, to_state=to.value)
        return self.status()

    def _row(self, s: Session) -> RiskState:
        row = s.get(RiskState, STATE_ROW)
        if row is None:
            row = RiskState(
                id=STATE_ROW,
                state=TradingState.ACTIVE.value,
                reason="initial state",
                since=datetime.now(UTC),
                peak_equity=self.settings.portfolio_size,
            )
            s.add(row)
            s.flush()
        return row

    @staticmethod
    def _move(
        s: Session, row: RiskState, to: TradingState, reason: str, session: date | None, kind: str
    ) -> None:
        now = datetime.now(UTC)
        s.add(
            RiskEvent(
                at=now,
                session=session,
                kind=kind,
                from_state=row.state,
                to_state=to.value,
                reason=reason,
                details={},
            )
        )
        row.state, row.reason, row.since = to.value, reason, now

    def circuit_breaker(self, market: MarketConditions | None) -> str | None:
        """Why entries pause for the session, or None."""
        s = self.settings
        if not s.circuit_breaker_enabled or market is None:
            return None
        if (
            market.daily_move_pct is not None
            and abs(market.daily_move_pct) > s.circuit_breaker_move_pct
        ):
            return (
                f"circuit breaker: {market.symbol} moved {market.daily_move_pct:+.2f}% "
                f"(limit ±{s.circuit_breaker_move_pct}%); entries paused"
            )
        if (
            market.realized_vol_pct is not None
            and market.realized_vol_pct > s.circuit_breaker_vol_pct
        ):
            return (
                f"circuit breaker: {market.symbol} 20-day realized volatility "
                f"{market.realized_vol_pct:.1f}% > {s.circuit_breaker_vol_pct}%; entries paused"
            )
        return None
