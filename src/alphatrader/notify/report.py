"""The daily report: one frozen value holding everything the email shows, and its renderers.

`render_html` and `render_text` show the same sections in the same order, with these headings:

    Portfolio Summary                        value, cash, positions, day/total P&L, drawdown, risk
    Top Signals                              ranked signals, with the planned size when bought
    Cash Depletion Analysis                  cash, buffer, spendable, needed, shortfall
    Position Consolidation Recommendations   swaps and liquidation candidates
    Next Day Trading Plan                    sells first, then buys; what was not taken
    Strategy Performance                     momentum, rank, eligibility, correlation warnings
    Equity Curve                             the account's equity as an inline PNG

The HTML is email-safe: tables and inline CSS only, no script, no external fetch; the chart is an
inline image referenced as `cid:equity-chart` (a `data:` URI for a copy saved to disk). Every
value from a strategy or the user goes through Jinja2 with autoescaping on. Money is shown as
$1,234.56, percentages with two decimals. The PNG is drawn by matplotlib's Agg renderer: no
browser, no network.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alphatrader.portfolio.plan import (
    CorrelationWarning,
    HeldPosition,
    PlannedOrder,
    RankedSignal,
    StrategyPerformance,
    TradingPlan,
)

log = logging.getLogger(__name__)

HTML_TEMPLATE: Final = "daily_email.html.j2"
TEXT_TEMPLATE: Final = "daily_email.txt.j2"
CHART_CID: Final = "equity-chart"
SECTION_HEADINGS: Final = (
    "Portfolio Summary",
    "Top Signals",
    "Cash Depletion Analysis",
    "Position Consolidation Recommendations",
    "Next Day Trading Plan",
    "Strategy Performance",
    "Equity Curve",
)
MAX_SIGNALS: Final = 10  # the email lists the best ten; the rest are counted
MIN_CHART_POINTS: Final = 2

_POS: Final = "#137333"
_NEG: Final = "#b3261e"
_MUTED: Final = "#5d6675"
_RISK_COLORS: Final = {"ACTIVE": "#137333", "REDUCING": "#b26a00", "HALTED": "#b3261e"}
_LINE_COLOR: Final = "#1f5fbf"
_DASH: Final = "—"


@dataclass(frozen=True)
class DailyReport:
    """Everything the daily email shows. Build it directly or with `DailyReport.from_plan`."""

    session: date
    mode: str  # "paper", "dry-run", "auto-trade", ...
    risk_state: str  # ACTIVE | REDUCING | HALTED
    risk_reason: str
    equity: Decimal
    cash: Decimal
    positions: tuple[HeldPosition, ...]
    day_pnl: Decimal
    total_pnl: Decimal  # equity − PORTFOLIO_SIZE
    drawdown: float  # fraction below the peak equity, >= 0
    plan: TradingPlan
    strategies: tuple[StrategyPerformance, ...] = ()
    correlation_warnings: tuple[CorrelationWarning, ...] = ()
    equity_curve: pd.Series = field(
        default_factory=lambda: pd.Series(dtype="float64"), compare=False, hash=False, repr=False
    )
    notes: tuple[str, ...] = ()

    @classmethod
    def from_plan(
        cls,
        plan: TradingPlan,
        *,
        mode: str,
        risk_state: str,
        risk_reason: str,
        portfolio_size: Decimal,
        equity_curve: pd.Series | None = None,
        strategies: Sequence[StrategyPerformance] = (),
        correlation_warnings: Sequence[CorrelationWarning] = (),
        notes: Sequence[str] = (),
    ) -> DailyReport:
        """The summary from the plan's `before` snapshot and the account's daily equity.

        Day P&L is against the last equity strictly before the session (0 without one); total
        P&L against `portfolio_size` (PORTFOLIO_SIZE); drawdown against the highest of the curve
        and today's equity.
        """
        snapshot = plan.before
        equity = snapshot.equity
        curve = clean_curve(equity_curve if equity_curve is not None else pd.Series(dtype=float))
        before = curve[curve.index < pd.Timestamp(plan.session)]
        previous = Decimal(f"{float(before.iloc[-1]):.2f}") if len(before) else equity
        day_pnl = equity - previous  # the curve is floats; equity is exact to the cent
        peak = max([float(equity), *(float(v) for v in curve.to_numpy())])
        today = pd.Timestamp(plan.session)
        if today not in curve.index:  # the chart runs through the session being reported
            curve = pd.concat([curve, pd.Series([float(equity)], index=pd.DatetimeIndex([today]))])
            curve = clean_curve(curve)
        drawdown = max(0.0, 1.0 - float(equity) / peak) if peak > 0 else 0.0
        return cls(
            session=plan.session,
            mode=mode,
            risk_state=risk_state,
            risk_reason=risk_reason,
            equity=equity,
            cash=snapshot.cash,
            positions=snapshot.positions,
            day_pnl=day_pnl,
            total_pnl=equity - portfolio_size,
            drawdown=drawdown,
            plan=plan,
            strategies=tuple(strategies),
            correlation_warnings=tuple(correlation_warnings),
            equity_curve=curve,
            notes=tuple(notes),
        )


# -- formatting --------------------------------------------------------------------------------
def money(value: Decimal | float | None, *, signed: bool = False) -> str:
    """$1,234.56; -$5.00; with `signed`, +$5.00 for gains. None -> ''."""
    if value is None:
        return ""
    v = float(value)
    sign = "-" if v < 0 else "+" if v > 0 and signed else ""
    return f"{sign}${abs(v):,.2f}"


def pct(value: float | None, *, signed: bool = False) -> str:
    """A fraction as a percentage with two decimals: 0.1234 -> 12.34%. None -> ''."""
    if value is None or not np.isfinite(value):
        return ""
    return f"{value * 100:+.2f}%" if signed else f"{value * 100:.2f}%"


def qty(value: Decimal | None) -> str:
    """10 -> "10", 0.50000 -> "0.5" (no exponent notation)."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text


def _score(value: float | None) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.2f}"


def _price(value: Decimal | None) -> str:
    return _DASH if value is None else money(value)


def _css(value: Decimal | float) -> str:
    v = float(value)
    return _POS if v > 0 else _NEG if v < 0 else ""


# -- the chart ---------------------------------------------------------------------------------
def clean_curve(curve: pd.Series) -> pd.Series:
    """Floats on a sorted DatetimeIndex, non-finite values dropped."""
    if curve.empty:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([]))
    values = np.asarray(pd.to_numeric(curve, errors="coerce"), dtype=np.float64)
    s = pd.Series(values, index=pd.DatetimeIndex(pd.to_datetime(curve.index)))
    s = s[np.isfinite(s.to_numpy())]
    return s[~s.index.duplicated(keep="last")].sort_index()


def has_equity_chart(report: DailyReport) -> bool:
    return len(clean_curve(report.equity_curve)) >= MIN_CHART_POINTS


def equity_chart_png(report: DailyReport) -> bytes | None:
    """The equity curve as a PNG (960x400 px), or None with fewer than two points.

    Also None, with a warning logged, when the chart cannot be drawn (matplotlib missing or
    failing): the daily email must go out without its picture rather than not at all.
    """
    curve = clean_curve(report.equity_curve)
    if len(curve) < MIN_CHART_POINTS:
        return None
    try:
        return _draw_equity(curve, float(report.equity - report.total_pnl))
    except Exception as exc:  # the chart is decoration; the plan must still be sent
        log.warning("equity chart not drawn: %s: %s", type(exc).__name__, exc)
        return None


def _draw_equity(curve: pd.Series, start: float) -> bytes:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(6.0, 2.5), dpi=160)
    ax = fig.add_subplot()
    x = pd.DatetimeIndex(curve.index).to_pydatetime()
    y = curve.to_numpy()
    ax.plot(x, y, color=_LINE_COLOR, linewidth=1.6)
    ax.fill_between(x, y, float(np.min(y)), color=_LINE_COLOR, alpha=0.08, linewidth=0)
    if start > 0:
        ax.axhline(start, color="#8a8f98", linewidth=0.9, linestyle="--")
    locator = AutoDateLocator(minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.xaxis.get_offset_text().set_fontsize(9)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"${v:,.0f}"))
    ax.tick_params(labelsize=9, colors="#3b4352")
    ax.grid(True, color="#e3e6eb", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#c9ced6")
    ax.set_title(
        f"Account equity {curve.index[0]:%Y-%m-%d} to {curve.index[-1]:%Y-%m-%d}",
        fontsize=10,
        color="#1d2330",
        loc="left",
    )
    fig.tight_layout(pad=0.6)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# -- the context both templates share ---------------------------------------------------------
def _position_rows(positions: Sequence[HeldPosition]) -> list[dict[str, str]]:
    return [
        {
            "symbol": p.symbol,
            "strategy": p.strategy,
            "qty": qty(p.qty),
            "avg_price": money(p.avg_price),
            "last_price": money(p.last_price),
            "value": money(p.value),
            "pnl": money(p.unrealized_pnl, signed=True),
            "return": pct(p.return_pct, signed=True),
            "color": _css(p.unrealized_pnl),
            "held": f"{p.holding_sessions}",
        }
        for p in sorted(positions, key=lambda p: p.value, reverse=True)
    ]


def _signal_rows(
    signals: Sequence[RankedSignal], buys: Sequence[PlannedOrder]
) -> list[dict[str, str]]:
    by_symbol = {b.symbol: b for b in buys}
    rows: list[dict[str, str]] = []
    for i, s in enumerate(signals, start=1):
        buy = by_symbol.get(s.symbol) if s.action == "entry" else None
        rows.append(
            {
                "rank": str(s.rank or i),
                "strategy": s.strategy,
                "also": ", ".join(s.merged_from),
                "symbol": s.symbol,
                "action": s.action,
                "confidence": pct(s.confidence),
                "momentum": pct(s.momentum, signed=True),
                "score": _score(s.score),
                "size": money(buy.notional) if buy is not None else "",
                "shares": qty(buy.qty) if buy is not None else "",
                "stop": _price(s.stop_loss),
                "target": _price(s.take_profit),
                "price": money(s.price),
                "reason": s.reason,
                "planned": "yes" if buy is not None else "",
            }
        )
    return rows


def _order_rows(orders: Sequence[PlannedOrder]) -> list[dict[str, str]]:
    return [
        {
            "side": o.side.upper(),
            "symbol": o.symbol,
            "strategy": o.strategy,
            "shares": qty(o.qty),
            "size": money(o.notional),
            "est_price": money(o.est_price),
            "limit": "market" if o.limit_price is None else money(o.limit_price),
            "stop": _price(o.stop_loss),
            "take_profit": _price(o.take_profit),
            "score": _score(o.score),
            "reason": o.reason,
            "color": _NEG if o.side == "sell" else _POS,
        }
        for o in orders
    ]


def _context(report: DailyReport, chart_src: str | None) -> dict[str, Any]:
    plan = report.plan
    cash = plan.cash
    prev_equity = report.equity - report.day_pnl
    start_equity = report.equity - report.total_pnl
    invested = sum((p.value for p in report.positions), Decimal(0))
    summary = [
        ("Portfolio value", money(report.equity), ""),
        ("Cash", money(report.cash), ""),
        ("Invested", f"{money(invested)} in {len(report.positions)} position(s)", ""),
        (
            "Day P&L",
            f"{money(report.day_pnl, signed=True)} "
            f"({pct(float(report.day_pnl / prev_equity) if prev_equity else 0.0, signed=True)})",
            _css(report.day_pnl),
        ),
        (
            "Total P&L",
            f"{money(report.total_pnl, signed=True)} "
            f"({pct(float(report.total_pnl / start_equity) if start_equity else 0.0, signed=True)}"
            f" since {money(start_equity)})",
            _css(report.total_pnl),
        ),
        ("Drawdown from peak", pct(report.drawdown), _NEG if report.drawdown > 0 else ""),
        (
            "Risk state",
            report.risk_state + (f": {report.risk_reason}" if report.risk_reason else ""),
            _RISK_COLORS.get(report.risk_state.upper(), ""),
        ),
    ]
    if cash.depleted:
        cash_status = (
            f"Shortfall of {money(cash.shortfall)}: the top signals need {money(cash.needed)} "
            f"but only {money(cash.spendable)} can be spent above the {money(cash.buffer)} "
            "buffer. See the liquidation candidates below."
        )
    else:
        cash_status = (
            f"Cash is sufficient: {money(cash.spendable)} can be spent above the "
            f"{money(cash.buffer)} buffer; the top signals need {money(cash.needed)}."
        )
    cash_rows = [
        ("Cash", money(cash.cash)),
        ("Cash buffer (kept)", money(cash.buffer)),
        ("Spendable after sells", money(cash.spendable)),
        ("Needed by top signals", money(cash.needed)),
        ("Shortfall", money(cash.shortfall)),
        ("Cash after plan", money(plan.after.cash)),
    ]
    swaps = [
        {
            "sell": s.sell_symbol,
            "buy": s.buy_symbol,
            "sell_score": _score(s.sell_score),
            "buy_score": _score(s.buy_score),
            "margin": _score(s.margin),
            "reason": s.reason,
        }
        for s in plan.swaps
    ]
    candidates = [
        {
            "rank": str(c.rank),
            "symbol": c.position.symbol,
            "strategy": c.position.strategy,
            "value": money(c.position.value),
            "return": pct(c.position.return_pct, signed=True),
            "color": _css(c.position.unrealized_pnl),
            "held": str(c.position.holding_sessions),
            "score": _score(c.score),
            "reason": c.reason,
        }
        for c in sorted(cash.candidates, key=lambda c: c.rank)
    ]
    strategies = [
        {
            "rank": str(s.rank),
            "name": s.name,
            "momentum": pct(s.momentum, signed=True),
            "momentum_color": _css(s.momentum),
            "total_return": pct(s.total_return, signed=True),
            "sharpe": _DASH if s.sharpe is None else _score(s.sharpe),
            "max_drawdown": _DASH if s.max_drawdown is None else pct(s.max_drawdown),
            "trades": str(s.trades),
            "eligible": "yes" if s.eligible else "no",
            "eligible_color": _POS if s.eligible else _MUTED,
        }
        for s in sorted(report.strategies, key=lambda s: (s.rank, s.name))
    ]
    correlations = [
        {"first": w.first, "second": w.second, "correlation": f"{w.correlation:.2f}"}
        for w in report.correlation_warnings
    ]
    rejections = [
        {"symbol": r.symbol, "strategy": r.strategy, "rule": r.rule, "reason": r.reason}
        for r in plan.rejections
    ]
    curve = clean_curve(report.equity_curve)
    enough = len(curve) >= MIN_CHART_POINTS
    caption = (
        f"{curve.index[0]:%Y-%m-%d} to {curve.index[-1]:%Y-%m-%d}, {len(curve)} session(s); "
        f"dashed line: starting capital {money(start_equity)}"
        if enough
        else ""
    )
    signals = plan.signals[:MAX_SIGNALS]
    return {
        "title": f"AlgoTrading Daily Signals - {report.session.isoformat()}",
        "session": report.session.isoformat(),
        "mode": report.mode,
        "risk_state": report.risk_state,
        "risk_reason": report.risk_reason,
        "risk_color": _RISK_COLORS.get(report.risk_state.upper(), _MUTED),
        "preheader": (
            f"{len(plan.sells)} sell(s), {len(plan.buys)} buy(s) planned; "
            f"equity {money(report.equity)}; risk {report.risk_state}"
        ),
        "notes": list(report.notes),
        "headings": SECTION_HEADINGS,
        "summary": summary,
        "positions": _position_rows(report.positions),
        "signals": _signal_rows(signals, plan.buys),
        "signals_more": len(plan.signals) - len(signals),
        "cash_depleted": cash.depleted,
        "cash_status": cash_status,
        "cash_rows": cash_rows,
        "swaps": swaps,
        "candidates": candidates,
        "sells": _order_rows(plan.sells),
        "buys": _order_rows(plan.buys),
        "rejections": rejections,
        "strategies": strategies,
        "correlations": correlations,
        "chart": chart_src is not None and enough,
        "chart_src": chart_src or "",
        "chart_caption": caption,
        "chart_missing": (
            "Chart unavailable today (see the log)."
            if enough
            else "Not enough history for a chart yet."
        ),
        "chart_text": (
            f"See the chart in the HTML version ({caption})."
            if enough
            else "Not enough history for a chart yet."
        ),
        "pos": _POS,
        "neg": _NEG,
        "muted": _MUTED,
    }


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("alphatrader", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"),
            disabled_extensions=("txt", "txt.j2"),
            default=True,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(report: DailyReport, *, chart_src: str | None = f"cid:{CHART_CID}") -> str:
    """The email's HTML part; `chart_src` is where the equity image is (a cid: or data: URI).

    With `chart_src=None` (no image could be drawn) the section says so instead.
    """
    template = _environment().get_template(HTML_TEMPLATE)
    return template.render(**_context(report, chart_src))


def render_text(report: DailyReport) -> str:
    """The email's plain-text part: the same sections, as lines that read on a phone."""
    template = _environment().get_template(TEXT_TEMPLATE)
    return template.render(**_context(report, None))
