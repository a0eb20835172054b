"""The daily after-market job: from the session's data to a ranked, safe plan, sent and emailed.

Stages, each timed in the run record:
    data      market view as of the session; stale symbols dropped and said so, fail closed
              when a held symbol or the risk benchmark has no bar
    fills     the paper broker fills the previous plan's orders on this session's bars; the
              account is marked to market and the risk state assessed — one transaction
    signals   every strategy over the history up to the session; that session's rows
    rank      strategy performance (momentum, correlation) and signal ranking
    plan      safety sizing, cash-depletion planning, risk gate
    persist   signals, rejections and planned orders — one transaction
    submit    orders to the broker with deterministic client ids (paper mode or AUTO_TRADE)
    report    HTML saved under var/reports, JSON when asked
    email     through the outbox: at most one delivery per session (see notify.hub)

Idempotent per session: a completed run is not repeated; after a crash at any point the next
run skips the side effects already recorded as steps (fills, plan, submit, email) and finishes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from alphatrader.config import Settings
from alphatrader.data import calendar
from alphatrader.errors import DataError, NeedsHumanError
from alphatrader.execution.brokers.paper import PaperBroker
from alphatrader.execution.live import OrderIntent
from alphatrader.faults import checkpoint
from alphatrader.jobs import runs
from alphatrader.jobs.market_view import MarketView, last_data_session, load_view, universe_symbols
from alphatrader.notify.report import DailyReport
from alphatrader.portfolio.plan import (
    CorrelationWarning,
    HeldPosition,
    PlannedOrder,
    PortfolioSnapshot,
    StrategyPerformance,
    TradingPlan,
)
from alphatrader.portfolio.planner import build_plan
from alphatrader.ranking import rank_signals, session_signals, split_actions, track_with_settings
from alphatrader.risk.engine import RiskAssessment, RiskEngine, TradingState
from alphatrader.storage.db import Database, audit
from alphatrader.storage.models import DailyEquity, OrderRecord, SignalRecord
from alphatrader.strategies.base import with_signals
from alphatrader.strategies.registry import STRATEGIES, build

JOB = "daily"
UPDATE_SESSIONS = 10  # sessions fetched back from the one planned, so gaps are filled
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DailyOptions:
    as_of: date | None = None
    dry_run: bool = False  # compute and report only: no orders, no email, nothing recorded
    no_email: bool = False
    force: bool = False  # run again although the session completed (no second email)
    json_path: Path | None = None


@dataclass(frozen=True, slots=True)
class DailyOutcome:
    session: date | None
    status: str  # completed | already_done | no_session | dry_run | running
    message: str
    plan: TradingPlan | None = None
    risk_state: str = ""
    report_path: Path | None = None
    email: str = ""  # sent | written | skipped | already
    notes: tuple[str, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)


def resolve_session(as_of: date | None, settings: Settings, now: datetime | None = None) -> date:
    """The session to plan: `as_of` when given (it must be a completed session), else the last
    completed one — capped, with the bundled data only, at the last session it covers."""
    now = now or datetime.now(UTC)
    if as_of is not None:
        check_completed_session(as_of, now)
        return as_of
    sessions = calendar.sessions(pd.Timestamp("1990-01-02"), pd.Timestamp(now.date()))
    closes = calendar.session_closes(sessions)
    done = sessions[closes <= pd.Timestamp(now)]
    latest = pd.Timestamp(done[-1]).date()
    if settings.provider_names() == ["bundled"]:
        from alphatrader.services import market_store

        store = market_store(settings)
        latest = min(latest, last_data_session(store, universe_symbols(store)))
    return latest


class NoSession(Exception):
    """Not a completed session: nothing to do (exit 0)."""


def check_completed_session(day: date, now: datetime) -> None:
    cal = calendar.xnys()
    stamp = pd.Timestamp(day)
    if not cal.is_session(stamp):
        kind = "a weekend" if stamp.day_of_week >= 5 else "a market holiday"
        raise NoSession(f"{day} is not a trading session ({kind}): no plan to make")
    close = calendar.session_closes(pd.DatetimeIndex([stamp]))[0]
    if pd.Timestamp(now) < close:
        raise NoSession(
            f"the {day} session closes at {close.tz_convert('America/New_York'):%H:%M} ET; "
            "run after the close"
        )


# -- the job ---------------------------------------------------------------------------------
class DailyJob:
    def __init__(self, settings: Settings, db: Database, store: Any, broker: PaperBroker) -> None:
        self.settings = settings
        self.db = db
        self.store = store
        self.broker = broker
        self.risk = RiskEngine(db, settings)
        self._dry = False

    def run(self, options: DailyOptions, now: datetime | None = None) -> DailyOutcome:
        try:
            session = resolve_session(options.as_of, self.settings, now)
        except NoSession as exc:
            return DailyOutcome(None, "no_session", str(exc))
        if options.dry_run:
            return self._dry_run(session, options)
        return self._attempt(session, options)

    def _dry_run(self, session: date, options: DailyOptions) -> DailyOutcome:
        """The same code path, inside a transaction that is rolled back: no orders, no email,
        no run recorded."""
        self._dry = True
        try:
            with self.db.rolled_back():
                outcome = self._attempt(session, replace(options, no_email=True, force=True))
        finally:
            self._dry = False
        return replace(
            outcome,
            status="dry_run" if outcome.status == "completed" else outcome.status,
            message=f"dry run for {session}: nothing was recorded, sent or emailed",
        )

    def _attempt(self, session: date, options: DailyOptions) -> DailyOutcome:
        try:
            handle = runs.begin(
                self.db, JOB, session, self.settings.data_dir / "locks", options.force
            )
        except runs.AlreadyDone:
            return DailyOutcome(session, "already_done", f"the {session} plan was already made")
        except runs.AlreadyRunning as exc:
            return DailyOutcome(session, "running", str(exc))
        try:
            outcome = self._run(handle, session, options)
        except BaseException as exc:
            handle.finish("failed", f"{type(exc).__name__}: {exc}")
            raise
        handle.finish("completed")
        return outcome

    # -- stages ------------------------------------------------------------------------------
    def _run(self, handle: runs.RunHandle, session: date, options: DailyOptions) -> DailyOutcome:
        with handle.stage("data"):
            view, notes = self._market(session)
        with handle.stage("fills"):
            assessment = self._fills_and_mark(handle, session, view)
        checkpoint("after_fills")
        plan, performance, warnings, extra = self._plan(handle, session, view, assessment)
        notes += extra
        with handle.stage("persist"):
            self._persist(handle, session, plan)
        checkpoint("after_persist")
        with handle.stage("submit"):
            sent = self._submit(handle, session, assessment)
        checkpoint("after_submit")
        handle.counts.update(
            signals=len(plan.signals),
            orders=len(plan.orders),
            rejections=len(plan.rejections),
            submitted=sent,
        )
        with handle.stage("report"):
            report = self._report(session, plan, assessment, performance, warnings, notes)
            path = self._save_report(session, report)
            payload = plan_json(plan, assessment.state.value)
            if options.json_path is not None:
                write_json(options.json_path, payload)
        checkpoint("before_email")
        with handle.stage("email"):
            email = "skipped" if options.no_email else self._email(session, report)
        checkpoint("after_email")
        return DailyOutcome(
            session,
            "completed",
            f"plan for {session} made",
            plan,
            assessment.state.value,
            path,
            email,
            tuple(notes),
            payload,
        )

    def _market(self, session: date) -> tuple[MarketView, list[str]]:
        symbols = universe_symbols(self.store)
        notes = self._update_data(session, symbols)
        view = load_view(self.store, session, symbols)
        if view.stale:
            names = ", ".join(f"{s} ({d})" for s, d in sorted(view.stale.items())[:8])
            more = f" and {len(view.stale) - 8} more" if len(view.stale) > 8 else ""
            notes.append(
                f"{len(view.stale)} symbol(s) have no bar on {session} and are not traded: "
                f"{names}{more}"
            )
        if not any(view.universe[sym].instrument.tradable for sym in view.fresh):
            raise DataError(
                f"no tradable symbol has a bar on {session}: the data is stale or the update "
                "failed; refusing to plan — check DATA_PROVIDERS and `alphatrader validate`"
            )
        with self.db.session() as s:
            held = [p.symbol for p in self.broker.positions(s)]
        missing = [sym for sym in held if sym not in view.fresh]
        if missing:
            raise DataError(
                f"no {session} price for held position(s) {', '.join(missing)}: refusing to plan "
                "on stale data; update the data (DATA_PROVIDERS) and run again"
            )
        return view, notes

    def _update_data(self, session: date, symbols: list[str]) -> list[str]:
        """Fetch the session's bars through DATA_PROVIDERS (nothing to fetch with the bundle)."""
        if self.settings.provider_names() == ["bundled"]:
            return []
        from alphatrader.data.providers.chain import build_chain, update_store

        sessions = calendar.xnys().sessions
        recent = sessions[sessions <= pd.Timestamp(session)][-UPDATE_SESSIONS:]
        report = update_store(
            self.store,
            build_chain(self.settings, self.store),
            symbols,
            pd.Timestamp(recent[0]).date(),
            session,
        )
        if report.ok:
            return [f"data updated: {report.rows_written} new or changed bar(s)"]
        failed = ", ".join(f"{f.symbol} ({f.provider}: {f.error})" for f in report.failures[:5])
        return [f"no fresh data for {len(report.missing)} symbol(s): {failed}"]

    def _fills_and_mark(
        self, handle: runs.RunHandle, session: date, view: MarketView
    ) -> RiskAssessment:
        done = handle.step_result("fills")
        market = view.conditions(self.settings.circuit_breaker_symbol)
        with self.db.session() as s:
            if done is None:
                bars = {sym: bar for sym in view.fresh if (bar := view.bar(sym)) is not None}
                fills = self.broker.fill_exits(s, session, bars)
                fills += self.broker.fill_pending(s, session, bars, self.settings.min_cash_buffer)
                handle.counts["fills"] = sum(1 for f in fills if f.status == "filled")
            equity, cash, value = self._mark(s, view)
            previous = s.scalar(
                select(DailyEquity.equity)
                .where(DailyEquity.session < session)
                .order_by(DailyEquity.session.desc())
                .limit(1)
            )
            if done is not None:  # the mark and the assessment were committed already
                return self._replayed_assessment(s, session, equity, previous, market)
            s.merge(DailyEquity(session=session, equity=equity, cash=cash, positions_value=value))
            assessment = self.risk.assess(
                session, equity, previous or self.settings.portfolio_size, market, s
            )
            if assessment.state is TradingState.HALTED:
                cancelled = self.broker.cancel_open(s, assessment.reason)
                audit(
                    s,
                    "risk-engine",
                    "orders.cancel_all",
                    cancelled=cancelled,
                    reason=assessment.reason,
                )
            s.add(_step(session, "fills", equity=str(equity)))
        if assessment.state is TradingState.HALTED and assessment.events:
            self._alert(f"HALTED on {session}", assessment.reason)
        return assessment

    def _replayed_assessment(
        self, s: Any, session: date, equity: Decimal, previous: Decimal | None, market: Any
    ) -> RiskAssessment:
        status = self.risk.current(s)
        breaker = self.risk.circuit_breaker(market)
        peak = status.peak_equity
        return RiskAssessment(
            state=status.state,
            reason=status.reason,
            entries_allowed=status.state is TradingState.ACTIVE and breaker is None,
            exits_allowed=True,
            drawdown=float(1 - equity / peak) if peak > 0 else 0.0,
            day_change=float(equity / previous - 1) if previous else None,
            circuit_breaker=breaker,
            events=(),
        )

    def _mark(self, s: Any, view: MarketView) -> tuple[Decimal, Decimal, Decimal]:
        cash = self.broker.account(s).cash
        value = Decimal(0)
        for pos in self.broker.positions(s):
            price = view.close(pos.symbol)
            assert price is not None  # _market refused held symbols without a price
            value += pos.qty * price
        return cash + value, cash, value

    def _plan(
        self, handle: runs.RunHandle, session: date, view: MarketView, assessment: RiskAssessment
    ) -> tuple[TradingPlan, list[StrategyPerformance], list[CorrelationWarning], list[str]]:
        notes: list[str] = []
        strategies = [build(name) for name in STRATEGIES]
        tradable = {
            s: v for s, v in view.universe.items() if s in view.fresh or not v.instrument.tradable
        }
        with handle.stage("signals"):
            generated: dict[str, dict[str, pd.DataFrame]] = {}
            runnable = []
            for strategy in strategies:
                universe = {
                    sym: ser
                    for sym, ser in tradable.items()
                    if strategy.requires <= ser.instrument.fields
                }
                if strategy.instruments is not None:
                    missing = [i for i in strategy.instruments if i not in universe]
                    if missing:
                        notes.append(f"{strategy.name} skipped: no {session} data for {missing}")
                        continue
                    universe = {i: universe[i] for i in strategy.instruments}
                if not any(ser.instrument.tradable for ser in universe.values()):
                    notes.append(f"{strategy.name} skipped: no symbol with the fields it needs")
                    continue
                generated[strategy.name] = strategy.generate(universe)
                runnable.append(strategy)
            signals = session_signals(generated, session)
        with handle.stage("rank"):
            computed = [with_signals(st, generated[st.name]) for st in runnable]
            performance, warnings, _ = track_with_settings(
                computed, tradable, session, self.settings
            )
            ranked, rejections = rank_signals(signals, performance, self.settings)
        with handle.stage("plan"):
            with self.db.session() as s:
                before = self._snapshot(s, session, view, performance)
            entries, exits = split_actions(ranked)
            if not assessment.entries_allowed:
                why = (
                    assessment.circuit_breaker
                    or f"trading is {assessment.state}: {assessment.reason}"
                )
                rejections = [*rejections, *_refuse(entries, "risk_state", why)]
                entries = []
            if assessment.state is TradingState.HALTED:
                rejections = [*rejections, *_refuse(exits, "risk_state", assessment.reason)]
                exits = []
            plan = build_plan(
                session, entries, exits, before, performance, self.settings, tuple(rejections)
            )
        return plan, performance, warnings, notes

    def _snapshot(
        self, s: Any, session: date, view: MarketView, performance: list[StrategyPerformance]
    ) -> PortfolioSnapshot:
        momentum = {p.name: p.momentum for p in performance}
        positions = []
        for pos in self.broker.positions(s):
            price = view.close(pos.symbol)
            assert price is not None
            held_for = len(
                calendar.sessions(pd.Timestamp(pos.opened_session), pd.Timestamp(session))
            )
            positions.append(
                HeldPosition(
                    pos.symbol,
                    pos.qty,
                    pos.avg_price,
                    price,
                    pos.strategy,
                    pos.opened_session,
                    max(held_for - 1, 0),
                    momentum.get(pos.strategy, float("nan")),
                )
            )
        return PortfolioSnapshot(self.broker.account(s).cash, tuple(positions))

    def _persist(self, handle: runs.RunHandle, session: date, plan: TradingPlan) -> None:
        ids = [client_order_id(session, o) for o in plan.orders]
        done = handle.step_result("plan")
        if done is not None:
            if done.get("orders") != ids:  # the rerun must reproduce the recorded plan
                raise DataError(
                    f"the recomputed {session} plan differs from the one recorded before the "
                    "crash; refusing to send orders — inspect `alphatrader runs`"
                )
            return
        now = datetime.now(UTC)
        with self.db.session() as s:
            for sig in plan.signals:
                s.add(
                    SignalRecord(
                        session=session,
                        strategy=sig.strategy,
                        symbol=sig.symbol,
                        action=sig.action,
                        confidence=sig.confidence,
                        momentum=sig.momentum,
                        score=sig.score,
                        rank=sig.rank,
                        status="ranked",
                        rule=None,
                        reason=sig.reason
                        + (f" (also {', '.join(sig.merged_from)})" if sig.merged_from else ""),
                    )
                )
            for rej in plan.rejections:
                s.add(
                    SignalRecord(
                        session=session,
                        strategy=rej.strategy,
                        symbol=rej.symbol,
                        action="entry",
                        confidence=0.0,
                        momentum=None,
                        score=None,
                        rank=None,
                        status="rejected",
                        rule=rej.rule,
                        reason=rej.reason,
                    )
                )
            s.flush()
            checkpoint("mid_persist")  # rows written, transaction not committed
            for cid, order in zip(ids, plan.orders, strict=True):
                s.add(
                    OrderRecord(
                        client_order_id=cid,
                        session=session,
                        symbol=order.symbol,
                        side=order.side,
                        qty=order.qty,
                        est_price=order.est_price,
                        order_type="market",
                        limit_price=order.limit_price,
                        stop_loss=order.stop_loss,
                        take_profit=order.take_profit,
                        strategy=order.strategy,
                        reason=order.reason,
                        status="planned",
                        broker=self._broker_name(),
                        broker_order_id=None,
                        filled_qty=Decimal(0),
                        avg_fill_price=None,
                        created_at=now,
                        updated_at=now,
                    )
                )
            s.add(_step(session, "plan", orders=ids))

    def _broker_name(self) -> str:
        from alphatrader import services

        return self.broker.name if services.uses_paper(self.settings) else self.settings.broker

    def _submit(self, handle: runs.RunHandle, session: date, assessment: RiskAssessment) -> int:
        if handle.step_result("submit") is not None:
            return 0
        from alphatrader import services

        paper = services.uses_paper(self.settings)
        automatic = (
            self.settings.auto_trade or self.settings.paper_trading_mode or self.settings.dry_run
        )
        if not automatic:
            return 0  # approval mode: the plan waits for `alphatrader signals approve`
        with self.db.session() as s:
            rows = s.scalars(
                select(OrderRecord).where(
                    OrderRecord.session == session, OrderRecord.status == "planned"
                )
            ).all()
            if paper:
                for row in rows:
                    self.broker.accept(s, row)
            ids = [row.client_order_id for row in rows]
        if not paper and ids:
            from alphatrader.execution.reconcile import reconcile

            live = services.order_manager(self.settings, self.db)
            check = reconcile(live, self.settings)  # the broker must agree before we add risk
            if not check.clean:
                raise NeedsHumanError(
                    f"reconciliation with {self.settings.broker} found "
                    f"{len(check.differences)} unexplained difference(s); no order was sent — "
                    "run `alphatrader reconcile` and resolve them"
                )
            live.submit_many(live_intents(self.db, ids))
        with self.db.session() as s:
            s.add(_step(session, "submit", count=len(ids)))
        return len(ids)

    # -- reporting ---------------------------------------------------------------------------
    def _report(
        self,
        session: date,
        plan: TradingPlan,
        assessment: RiskAssessment,
        performance: list[StrategyPerformance],
        warnings: list[CorrelationWarning],
        notes: list[str],
    ) -> DailyReport:
        with self.db.session() as s:
            rows = s.execute(
                select(DailyEquity.session, DailyEquity.equity)
                .where(DailyEquity.session <= session)
                .order_by(DailyEquity.session)
            ).all()
        curve = pd.Series(
            [float(e) for _, e in rows], index=pd.DatetimeIndex([pd.Timestamp(d) for d, _ in rows])
        )
        mode = (
            "paper"
            if self.settings.paper_trading_mode
            else ("auto-trade" if self.settings.auto_trade else "approval")
        )
        return DailyReport.from_plan(
            plan,
            mode=mode,
            risk_state=assessment.state.value,
            risk_reason=assessment.reason,
            portfolio_size=self.settings.portfolio_size,
            equity_curve=curve,
            strategies=performance,
            correlation_warnings=warnings,
            notes=[*notes, *([assessment.circuit_breaker] if assessment.circuit_breaker else [])],
        )

    def _save_report(self, session: date, report: DailyReport) -> Path:
        from alphatrader.notify.report import equity_chart_png, png_data_uri, render_html

        suffix = "-dry-run" if self._dry else ""
        path = self.settings.var_dir / "reports" / f"daily-{session}{suffix}.html"
        png = equity_chart_png(report)
        html = render_html(report, chart_src=png_data_uri(png) if png else None)
        from alphatrader.backtest.tearsheet import write_tearsheet

        write_tearsheet(path, html)
        return path

    def _email(self, session: date, report: DailyReport) -> str:
        from alphatrader.notify.email import EmailSender, daily_key
        from alphatrader.notify.hub import deliver_once

        sender = EmailSender(self.settings)
        key = daily_key(session)
        message = sender.build_message(report, key=key)
        row = deliver_once(self.db, key, message, sender, self.settings.var_dir / "outbox")
        return row.status

    def _alert(self, subject: str, text: str) -> None:
        from alphatrader.notify.hub import build_hub

        if self._dry:
            return

        try:
            build_hub(self.settings).send(f"AlphaTrader alert: {subject}", text)
        except Exception:  # an alert channel never stops the job
            log.exception("alert failed: %s", subject)


def live_intents(db: Database, ids: list[str]) -> list[OrderIntent]:
    """Planned orders as intents for the live order manager (the same client order ids)."""
    from alphatrader.execution.live import request_of

    with db.session() as s:
        rows = [s.get_one(OrderRecord, cid) for cid in ids]
        return [
            OrderIntent(row.client_order_id, request_of(row), row.session, row.est_price)
            for row in rows
        ]


def _refuse(signals: Any, rule: str, reason: str) -> list[Any]:
    from alphatrader.portfolio.plan import PlanRejection

    return [PlanRejection(sig.symbol, sig.strategy, rule, reason) for sig in signals]


def _step(session: date, step: str, **result: Any) -> Any:
    from alphatrader.storage.models import JobStep

    return JobStep(
        job=JOB, session=session, step=step, completed_at=datetime.now(UTC), result=result
    )


def client_order_id(session: date, order: PlannedOrder) -> str:
    """Deterministic: the same plan always gives the same ids, so a resubmission is recognized."""
    return f"{JOB}-{session:%Y%m%d}-{order.strategy}-{order.symbol}-{order.side}"


# -- JSON ------------------------------------------------------------------------------------
def _snapshot_json(snap: PortfolioSnapshot) -> dict[str, Any]:
    return {
        "equity": float(snap.equity.quantize(Decimal("0.01"))),
        "cash": float(snap.cash.quantize(Decimal("0.01"))),
        "positions": [
            {
                "symbol": p.symbol,
                "qty": float(p.qty),
                "value": float(p.value.quantize(Decimal("0.01"))),
            }
            for p in snap.positions
        ],
    }


def plan_json(plan: TradingPlan, risk_state: str) -> dict[str, Any]:
    return {
        "session": plan.session.isoformat(),
        "risk_state": risk_state,
        "portfolio_before": _snapshot_json(plan.before),
        "signals": [
            {
                "rank": s.rank,
                "strategy": s.strategy,
                "symbol": s.symbol,
                "action": s.action,
                "confidence": s.confidence,
                "confidence_score": s.confidence_score,
                "momentum": s.momentum,
                "momentum_score": s.momentum_score,
                "score": s.score,
                "price": float(s.price),
                "reason": s.reason,
                "merged_from": list(s.merged_from),
            }
            for s in plan.signals
        ],
        "orders": [
            {
                "symbol": o.symbol,
                "side": o.side,
                "qty": float(o.qty),
                "est_price": float(o.est_price),
                "notional": float(o.notional),
                "strategy": o.strategy,
                "reason": o.reason,
            }
            for o in plan.orders
        ],
        "rejections": [
            {"symbol": r.symbol, "strategy": r.strategy, "rule": r.rule, "reason": r.reason}
            for r in plan.rejections
        ],
        "portfolio_after": _snapshot_json(plan.after),
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    from alphatrader.backtest.report import write_json as write

    write(path, payload)


def run_daily(
    settings: Settings, options: DailyOptions, now: datetime | None = None
) -> DailyOutcome:
    """Run the job once; a failure is alerted on the configured channels, then re-raised.
    After a real run, missed or failed earlier sessions are alerted too (cron has no monitor)."""
    from alphatrader import services

    job = DailyJob(
        settings,
        services.database(settings),
        services.market_store(settings),
        services.broker(settings),
    )
    try:
        outcome = job.run(options, now)
    except Exception as exc:
        if not options.dry_run:
            _alert_failure(settings, job.db, options.as_of, exc)
        raise
    else:
        if not options.dry_run:
            _check_missed(settings, job.db)
        return outcome
    finally:
        job.db.dispose()


def _alert_failure(settings: Settings, db: Database, as_of: date | None, exc: Exception) -> None:
    from alphatrader.jobs.monitor import alert_job_exception
    from alphatrader.notify.hub import build_hub

    now = datetime.now(UTC)
    try:
        alert_job_exception(
            build_hub(settings),
            db,
            JOB,
            as_of or now.date(),
            exc,
            f"{type(exc).__name__}: {exc}",
            now,
        )
    except Exception:  # the alert is best effort; the original error is what matters
        log.exception("could not alert the failure of the daily job")


def _check_missed(settings: Settings, db: Database) -> None:
    from alphatrader.jobs.monitor import check_and_alert
    from alphatrader.notify.hub import build_hub

    try:
        check_and_alert(settings, db, build_hub(settings), datetime.now(UTC))
    except Exception:
        log.exception("could not check for missed runs")
