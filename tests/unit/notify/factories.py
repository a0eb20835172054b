"""Hand-made daily plans and reports for the notification tests (a $1,000 paper account)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphatrader.config import Settings, load_settings
from alphatrader.notify.report import DailyReport
from alphatrader.portfolio.plan import (
    CashAnalysis,
    CorrelationWarning,
    HeldPosition,
    LiquidationCandidate,
    PlannedOrder,
    PlanRejection,
    PortfolioSnapshot,
    RankedSignal,
    StrategyPerformance,
    SwapRecommendation,
    TradingPlan,
)

SESSION = date(2016, 7, 1)
D = Decimal


def held(
    symbol: str,
    qty: str,
    avg: str,
    last: str,
    strategy: str,
    *,
    sessions: int = 12,
    momentum: float = 0.08,
) -> HeldPosition:
    return HeldPosition(
        symbol=symbol,
        qty=D(qty),
        avg_price=D(avg),
        last_price=D(last),
        strategy=strategy,
        opened_session=date(2016, 6, 14),
        holding_sessions=sessions,
        strategy_momentum=momentum,
    )


def signal(
    rank: int,
    symbol: str,
    strategy: str,
    score: float,
    *,
    action: str = "entry",
    price: str = "100.00",
    confidence: float = 0.7,
    momentum: float = 0.1,
    stop: str | None = None,
    target: str | None = None,
    reason: str = "",
    merged_from: tuple[str, ...] = (),
) -> RankedSignal:
    return RankedSignal(
        strategy=strategy,
        symbol=symbol,
        action=action,
        confidence=confidence,
        confidence_score=confidence * 100,
        momentum=momentum,
        momentum_score=min(100.0, max(0.0, momentum * 400)),
        score=score,
        reason=reason or f"{strategy} {action} on {symbol}",
        price=D(price),
        stop_loss=None if stop is None else D(stop),
        take_profit=None if target is None else D(target),
        merged_from=merged_from,
        rank=rank,
    )


def equity_curve(end: float = 1012.34, sessions: int = 60) -> pd.Series:
    """A plausible daily equity curve ending just before SESSION (one value per weekday)."""
    index = pd.bdate_range(end=pd.Timestamp(SESSION) - pd.Timedelta(days=1), periods=sessions)
    rng = np.random.default_rng(7)
    steps = rng.normal(0.0005, 0.006, size=sessions)
    path = np.cumprod(1 + steps)
    values = 1000.0 * path
    values = values * (end / values[-1])
    return pd.Series(values, index=index, name="equity")


def make_plan(**overrides: Any) -> TradingPlan:
    xom = held("XOM", "2", "88.10", "93.74", "golden_cross", sessions=25, momentum=0.06)
    ko = held("KO", "3", "46.20", "45.20", "mean_reversion", sessions=9, momentum=-0.02)
    before = PortfolioSnapshot(cash=D("686.92"), positions=(xom, ko))
    signals = (
        signal(
            1,
            "AAPL",
            "dual_momentum",
            82.5,
            price="95.89",
            confidence=0.85,
            momentum=0.1234,
            stop="91.10",
            target="105.48",
            reason="12-month return beats T-bills and peers",
            merged_from=("golden_cross",),
        ),
        signal(
            2,
            "MSFT",
            "golden_cross",
            74.25,
            price="51.16",
            confidence=0.7,
            momentum=0.0812,
            stop="48.60",
            target="56.28",
            reason="SMA50 crossed above SMA200",
        ),
        signal(
            3,
            "KO",
            "mean_reversion",
            61.0,
            action="exit",
            price="45.20",
            confidence=0.6,
            momentum=-0.02,
            reason="RSI back above 70: take the reversion",
        ),
        signal(
            4,
            "JNJ",
            "sector_rotation",
            58.75,
            price="121.30",
            confidence=0.55,
            momentum=0.051,
            stop="115.24",
            target="133.43",
            reason="Health care leads the sector ranking",
        ),
    )
    sells = (
        PlannedOrder(
            symbol="KO",
            side="sell",
            qty=D("3"),
            est_price=D("45.20"),
            notional=D("135.60"),
            strategy="mean_reversion",
            reason="exit signal: RSI back above 70",
            score=61.0,
        ),
    )
    buys = (
        PlannedOrder(
            symbol="AAPL",
            side="buy",
            qty=D("3"),
            est_price=D("95.89"),
            notional=D("287.67"),
            strategy="dual_momentum",
            reason="rank 1 of 4, score 82.50",
            stop_loss=D("91.10"),
            take_profit=D("105.48"),
            limit_price=D("96.37"),
            score=82.5,
        ),
        PlannedOrder(
            symbol="MSFT",
            side="buy",
            qty=D("4"),
            est_price=D("51.16"),
            notional=D("204.64"),
            strategy="golden_cross",
            reason="rank 2 of 4, score 74.25",
            stop_loss=D("48.60"),
            take_profit=D("56.28"),
            limit_price=D("51.42"),
            score=74.25,
        ),
    )
    rejections = (
        PlanRejection(
            symbol="JNJ",
            strategy="sector_rotation",
            rule="cash_buffer",
            reason="would take cash below the $100.00 buffer",
        ),
    )
    cash = CashAnalysis(
        cash=D("686.92"),
        buffer=D("100"),
        spendable=D("722.52"),
        needed=D("856.28"),
        shortfall=D("133.76"),
        candidates=(
            LiquidationCandidate(
                position=xom,
                rank=1,
                score=48.0,
                reason="weakest score of the holdings; strategy momentum 6.00%",
            ),
        ),
    )
    swaps = (
        SwapRecommendation(
            sell_symbol="XOM",
            buy_symbol="JNJ",
            sell_score=48.0,
            buy_score=58.75,
            margin=10.75,
            reason="JNJ outscores XOM by 10.75 (SWAP_SCORE_MARGIN 10)",
        ),
    )
    after = PortfolioSnapshot(
        cash=D("330.21"),
        positions=(
            xom,
            held("AAPL", "3", "95.89", "95.89", "dual_momentum", sessions=0),
            held("MSFT", "4", "51.16", "51.16", "golden_cross", sessions=0),
        ),
    )
    plan = TradingPlan(
        session=SESSION,
        signals=signals,
        sells=sells,
        buys=buys,
        rejections=rejections,
        cash=cash,
        swaps=swaps,
        before=before,
        after=after,
    )
    return replace(plan, **overrides) if overrides else plan


def strategies() -> tuple[StrategyPerformance, ...]:
    curve = equity_curve()
    return (
        StrategyPerformance("dual_momentum", 0.1234, 0.2012, 1.31, -0.0841, 14, 1, True, curve),
        StrategyPerformance("golden_cross", 0.0812, 0.1502, 0.97, -0.1123, 6, 2, True, curve),
        StrategyPerformance("sector_rotation", 0.051, 0.0433, 0.41, -0.1502, 22, 3, True, curve),
        StrategyPerformance("mean_reversion", -0.02, -0.0311, None, None, 31, 4, False, curve),
    )


def make_report(**overrides: Any) -> DailyReport:
    plan = overrides.pop("plan", None) or make_plan()
    report = DailyReport.from_plan(
        plan,
        mode="paper",
        risk_state="ACTIVE",
        risk_reason="all limits within bounds",
        portfolio_size=D("1000"),
        equity_curve=equity_curve(),
        strategies=strategies(),
        correlation_warnings=(CorrelationWarning("golden_cross", "dual_momentum", 0.86),),
        notes=("Market data for SPY is 1 session old (last bar 2016-06-30).",),
    )
    return replace(report, **overrides) if overrides else report


EMAIL_ENV = (
    "EMAIL_SMTP_SERVER",
    "EMAIL_SMTP_PORT",
    "EMAIL_SMTP_SECURITY",
    "EMAIL_USERNAME",
    "EMAIL_PASSWORD",
    "EMAIL_FROM",
    "EMAIL_TO",
    "EMAIL_SUBJECT",
    "EMAIL_CA_FILE",
    "ALERT_CHANNELS",
    "ALPHATRADER_DATA_DIR",
)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings from these values only (no .env); var/ lives under `tmp_path`."""
    values: dict[str, Any] = {"ALPHATRADER_DATA_DIR": tmp_path / "var" / "data"}
    values.update(overrides)
    return load_settings(_env_file=None, **values)
