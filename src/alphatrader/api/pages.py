"""The dashboard: server-rendered pages, the browser login, and the pages' form posts.

Pages (all need a read principal; unauthenticated visitors are sent to `/login`):

    /              overview: KPIs, equity vs benchmark, drawdown, daily P&L, risk, latest orders
    /positions     held positions at the last stored closes
    /orders        orders by status, paged; /orders/{id} one order and its history
    /signals       orders waiting for approval (approve / reject) and the ranked signals
    /runs          the daily job's attempts, success rate and missed sessions
    /strategies    momentum ranking, standalone equity curves, correlation heatmap
    /backtests     launch form, queue and progress; /backtests/{id} the tear sheet
    /risk          trading state, halt / resume, emergency (admin), risk events

Every number comes from `alphatrader.operations` (through the app's `ApiContext`); this module
only arranges it. Charts are plotly figures built here as plain JSON and drawn in the browser
by /static/plotly.min.js (the installed plotly package's bundle, never a CDN).

Login: the form takes an API key; `verify_key` turns it into a principal stored in the signed
session cookie (`request.session["principal"]`), re-checked against its key on every request
by `security.authenticate`. Every POST form carries the session's CSRF token (and a
cross-origin `Origin` is refused). Actions need the trade scope (emergency: admin); a read
principal sees the pages without their buttons. After an action the page publishes an event
(`events.publish`) so every open dashboard updates at once.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from plotly.offline import get_plotlyjs
from pydantic import ValidationError

from alphatrader import operations as ops
from alphatrader import services
from alphatrader.api import events
from alphatrader.api.context import ApiContext, actor, context_of
from alphatrader.api.schemas import BacktestIn
from alphatrader.api.security import Principal, Scope, authenticate, redact, verify_key
from alphatrader.backtest.metrics import drawdown_series
from alphatrader.backtest.runner import BacktestRequest
from alphatrader.errors import AlphaTraderError, InputError
from alphatrader.storage.db import audit

router = APIRouter(include_in_schema=False)

STATIC_DIR: Final = Path(__file__).with_name("static")
STATIC_FILES: Final = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
}
CSRF_KEY: Final = "csrf"
FLASH_KEY: Final = "flash"
PRINCIPAL_KEY: Final = "principal"
NAV: Final = (
    ("overview", "Overview", "/"),
    ("positions", "Positions", "/positions"),
    ("orders", "Orders", "/orders"),
    ("signals", "Signals", "/signals"),
    ("runs", "Runs", "/runs"),
    ("strategies", "Strategies", "/strategies"),
    ("backtests", "Backtests", "/backtests"),
    ("risk", "Risk", "/risk"),
)
ORDER_STATUSES: Final = ("", "planned", "accepted", "submitted", "filled", "rejected", "cancelled")
PAGE_SIZE: Final = 50
# The scope each dashboard action needs (read < trade < admin); one place to change it.
ACTION_SCOPES: Final[dict[str, Scope]] = {
    "approve": "trade",
    "reject": "trade",
    "halt": "trade",
    "resume": "trade",
    "emergency": "trade",
    "backtest": "trade",
}
NO_STORE: Final = {"Cache-Control": "no-store"}

_BLUE: Final = "#1f5fbf"
_GREY: Final = "#8a8f98"
_RED: Final = "#c0392b"
_GREEN: Final = "#1e7e34"


# -- templates ---------------------------------------------------------------------------------
def _money(value: Any, signed: bool = False) -> str:
    if value is None:
        return "—"
    number = Decimal(str(value))
    sign = "+" if signed and number > 0 else ("−" if number < 0 else "")
    return f"{sign}${abs(number):,.2f}"


def _price(value: Any) -> str:
    return "—" if value is None else f"{Decimal(str(value)):,.2f}"


def _qty(value: Any) -> str:
    if value is None:
        return "—"
    text = f"{Decimal(str(value)).normalize():f}"
    return text


def _pct(value: Any, signed: bool = False, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    number = float(value) * 100
    sign = "+" if signed and number > 0 else ("−" if number < 0 else "")
    return f"{sign}{abs(number):.{digits}f}%"


def _number(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{float(value):,.{digits}f}"


def _sign_css(value: Any) -> str:
    if value is None:
        return ""
    number = float(value)
    return "pos" if number > 0 else ("neg" if number < 0 else "")


def _when(value: datetime | None, seconds: bool = False) -> str:
    if value is None:
        return "—"
    moment = value.astimezone(UTC) if value.tzinfo else value
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _duration(value: Any) -> str:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def _first_line(text: str | None) -> str:
    if not text or not text.strip():
        return ""
    line = text.strip().splitlines()[0]
    return line if len(line) <= 160 else line[:157] + "..."


def _elapsed(job: ops.BacktestJob) -> str:
    start = job.started_at or job.submitted_at
    end = job.finished_at or datetime.now(UTC)
    return _duration((end - start).total_seconds())


@cache
def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("alphatrader", "templates/dashboard"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=_money,
        price=_price,
        qty=_qty,
        pct=_pct,
        number=_number,
        sign_css=_sign_css,
        when=_when,
        duration=_duration,
        first_line=_first_line,
        elapsed=_elapsed,
    )
    return env


# -- session: principal, CSRF, flash messages ---------------------------------------------------
def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    token = request.session.get(CSRF_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_KEY] = token
    return token


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def _csrf_ok(request: Request, submitted: str) -> bool:
    expected = request.session.get(CSRF_KEY)
    return (
        isinstance(expected, str)
        and bool(submitted)
        and hmac.compare_digest(expected.encode(), submitted.encode())
        and _same_origin(request)
    )


def _flash(request: Request, kind: str, text: str) -> None:
    queue = request.session.get(FLASH_KEY)
    items = list(queue) if isinstance(queue, list) else []
    items.append([kind, text[:600]])
    request.session[FLASH_KEY] = items[-5:]


def _take_flashes(request: Request) -> list[dict[str, str]]:
    items = request.session.pop(FLASH_KEY, None)
    if not isinstance(items, list):
        return []
    return [{"kind": str(k), "text": str(t)} for k, t in items if k in ("ok", "error")]


def _safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (another host, a scheme) is `/`."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(c in target for c in "\r\n\\"):
        return "/"
    return target


def _login_redirect(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = "/login" if here == "/" else f"/login?next={quote(here, safe='')}"
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


def _viewer(request: Request) -> Principal | Response:
    """The signed-in principal (read scope at least), or the redirect to the login form."""
    principal = authenticate(request)
    if principal is None or not principal.allows("read"):
        return _login_redirect(request)
    return principal


# -- rendering ---------------------------------------------------------------------------------
def _ctx(request: Request) -> ApiContext:
    return context_of(request.app)


def _render(
    request: Request,
    principal: Principal,
    template: str,
    *,
    page: str,
    title: str,
    live: str = "",
    charts: bool = False,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    ctx = _ctx(request)
    values.setdefault("risk", ops.risk_status(ctx.settings, ctx.db))
    pending = ops.pending_orders(ctx.db, limit=1).total
    html = (
        _templates()
        .get_template(template)
        .render(
            page=page,
            title=title,
            live=live,
            charts=charts,
            nav=[{"key": k, "label": label, "href": href} for k, label, href in NAV],
            principal=principal,
            csrf=csrf_token(request),
            # A live refresh (dashboard.js swapping #live) leaves the messages for the next
            # full page.
            flashes=[] if request.headers.get("x-live-refresh") else _take_flashes(request),
            pending_count=pending,
            can={action: principal.allows(scope) for action, scope in ACTION_SCOPES.items()},
            mode=ops.mode_of(ctx.settings),
            **values,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=NO_STORE)


def _error_page(
    request: Request, principal: Principal, status: int, heading: str, message: str, back: str
) -> HTMLResponse:
    return _render(
        request,
        principal,
        "error.html.j2",
        page="",
        title=heading,
        status_code=status,
        heading=heading,
        message=message,
        back=back,
    )


def _fig(data: list[dict[str, Any]], label: str, **layout: Any) -> dict[str, Any]:
    """A plotly figure as plain JSON, in the dashboard's compact style."""
    base: dict[str, Any] = {
        "template": "plotly_white",
        "autosize": True,
        "margin": {"l": 52, "r": 12, "t": 8, "b": 32},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
        "hovermode": "x unified",
        "font": {"size": 11},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "xaxis": {"gridcolor": "#eef0f3"},
        "yaxis": {"gridcolor": "#eef0f3", "zerolinecolor": "#d5d9df"},
    }
    for key, value in layout.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return {"data": data, "layout": base, "label": label}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _date_axis(days: Sequence[str]) -> dict[str, Any]:
    """A session axis: no weekend gaps, and one tick a day when the span is short (plotly
    would otherwise tick every few hours)."""
    axis: dict[str, Any] = {
        "type": "date",
        "hoverformat": "%Y-%m-%d",
        "rangebreaks": [{"bounds": ["sat", "mon"]}],
    }
    if days and (date.fromisoformat(days[-1]) - date.fromisoformat(days[0])).days <= 14:
        axis.update(dtick=86_400_000, tickformat="%b %-d")
    return axis


# -- static ------------------------------------------------------------------------------------
_plotly_lock = threading.Lock()
_plotly_js: bytes | None = None


def _plotly_bundle() -> bytes:
    global _plotly_js
    with _plotly_lock:
        if _plotly_js is None:
            _plotly_js = get_plotlyjs().encode("utf-8")
        return _plotly_js


@router.get("/static/plotly.min.js")
def plotly_js() -> Response:
    """plotly.js from the installed plotly package (no CDN)."""
    return Response(
        _plotly_bundle(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    media = STATIC_FILES.get(name)
    if media is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        STATIC_DIR / name, media_type=media, headers={"Cache-Control": "public, max-age=300"}
    )


# -- login -------------------------------------------------------------------------------------
def _login_page(
    request: Request, next_path: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    html = (
        _templates()
        .get_template("login.html.j2")
        .render(
            csrf=csrf_token(request),
            next=_safe_next(next_path),
            error=error,
            flashes=_take_flashes(request),
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=NO_STORE)


@router.get("/login")
def login_form(request: Request, next: Annotated[str, Query()] = "/") -> Response:
    if authenticate(request) is not None and request.session.get(PRINCIPAL_KEY):
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next)


@router.post("/login")
def login(
    request: Request,
    api_key: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    ctx = _ctx(request)
    if not _csrf_ok(request, csrf):
        return _login_page(request, next, "The form expired; please sign in again.", 400)
    client = request.client.host if request.client else "unknown"
    wait = ctx.auth_failures.peek(client)
    if wait:
        return _login_page(request, next, f"Too many failed sign-ins; retry in {wait} s.", 429)
    principal = verify_key(ctx.db, api_key.strip())
    if principal is None:
        ctx.auth_failures.take(client)
        return _login_page(request, next, "That key is not valid (unknown or revoked).", 401)
    request.session.clear()  # a fresh session: new CSRF token, no leftovers
    request.session[PRINCIPAL_KEY] = {"name": principal.name, "scope": principal.scope}
    request.session[CSRF_KEY] = secrets.token_urlsafe(32)
    return RedirectResponse(_safe_next(next), status_code=303, headers=NO_STORE)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    if not _csrf_ok(request, csrf):
        return RedirectResponse("/", status_code=303)
    request.session.clear()
    _flash(request, "ok", "Signed out.")
    return RedirectResponse("/login", status_code=303, headers=NO_STORE)


# -- overview ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Curves:
    equity: dict[str, Any] | None
    drawdown: dict[str, Any] | None
    pnl: dict[str, Any] | None


def _overview_charts(history: ops.EquityHistory) -> _Curves:
    points = history.points
    if not points:
        return _Curves(None, None, None)
    days = [p.session.isoformat() for p in points]
    equity = [float(p.equity) for p in points]
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers" if len(points) < 30 else "lines",
            "name": "Equity",
            "x": days,
            "y": equity,
            "line": {"color": _BLUE, "width": 2},
            "hovertemplate": "$%{y:,.2f}<extra>Equity</extra>",
        }
    ]
    first_bench = next(
        (history.benchmark[p.session] for p in points if p.session in history.benchmark), None
    )
    if first_bench is not None and first_bench > 0:
        anchor = next(p for p in points if p.session in history.benchmark)
        scale = float(anchor.equity) / float(first_bench)
        bench_days = [p.session.isoformat() for p in points if p.session in history.benchmark]
        bench = [
            float(history.benchmark[p.session]) * scale
            for p in points
            if p.session in history.benchmark
        ]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"{history.benchmark_symbol} (rescaled)",
                "x": bench_days,
                "y": bench,
                "line": {"color": _GREY, "width": 1.5, "dash": "dot"},
                "hovertemplate": "$%{y:,.2f}<extra>" + str(history.benchmark_symbol) + "</extra>",
            }
        )
    axis = _date_axis(days)
    equity_fig = _fig(
        traces, "Equity curve versus the benchmark", xaxis=axis, yaxis={"tickprefix": "$"}
    )
    curve = pd.Series(equity, index=pd.DatetimeIndex([pd.Timestamp(p.session) for p in points]))
    dd = [round(float(v) * 100, 4) for v in drawdown_series(curve).to_numpy()]
    drawdown_fig = _fig(
        [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Drawdown",
                "x": days,
                "y": dd,
                "fill": "tozeroy",
                "line": {"color": _RED, "width": 1},
                "hovertemplate": "%{y:.2f}%<extra>Drawdown</extra>",
            }
        ],
        "Drawdown from the peak, percent",
        xaxis=axis,
        yaxis={"ticksuffix": "%", "range": [min(min(dd) * 1.15, -1.1), 0.5]},
        showlegend=False,
    )
    pnl_fig = None
    if len(points) >= 2:
        changes = [float(b.equity - a.equity) for a, b in pairwise(points)]
        pnl_fig = _fig(
            [
                {
                    "type": "bar",
                    "name": "P&L",
                    "x": days[1:],
                    "y": changes,
                    "marker": {"color": [_GREEN if c >= 0 else _RED for c in changes]},
                    "hovertemplate": "$%{y:,.2f}<extra>P&L</extra>",
                }
            ],
            "Daily profit and loss in dollars",
            xaxis=axis,
            yaxis={"tickprefix": "$"},
            showlegend=False,
        )
    return _Curves(equity_fig, drawdown_fig, pnl_fig)


def _limits(request: Request) -> dict[str, Any]:
    s = _ctx(request).settings
    return {
        "max_drawdown_pct": s.max_drawdown_pct,
        "max_daily_loss_pct": s.max_daily_loss_pct,
        "emergency_stop_enabled": s.emergency_stop_enabled,
        "circuit_breaker_enabled": s.circuit_breaker_enabled,
        "circuit_breaker_symbol": s.circuit_breaker_symbol,
        "circuit_breaker_move_pct": s.circuit_breaker_move_pct,
        "circuit_breaker_vol_pct": s.circuit_breaker_vol_pct,
    }


@router.get("/")
def overview(request: Request) -> Response:
    principal = _viewer(request)
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    summary = ops.portfolio_summary(ctx.settings, ctx.db)
    history = ops.equity_history(ctx.db, ctx.store())
    curves = _overview_charts(history)
    points = history.points
    day_pnl = points[-1].equity - points[-2].equity if len(points) >= 2 else None
    return _render(
        request,
        principal,
        "overview.html.j2",
        page="overview",
        title="Overview",
        live="portfolio risk order",
        charts=True,
        summary=summary,
        history=history,
        total_pnl=summary.equity - summary.starting_cash,
        day_pnl=day_pnl,
        equity_chart=curves.equity,
        drawdown_chart=curves.drawdown,
        pnl_chart=curves.pnl,
        limits=_limits(request),
        orders=ops.orders_page(ctx.db, limit=8).items,
    )


# -- positions ---------------------------------------------------------------------------------
@router.get("/positions")
def positions(request: Request) -> Response:
    principal = _viewer(request)
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    held = ops.positions(ctx.db, ctx.closes(ops.held_symbols(ctx.db)))
    total_value = sum((p.market_value for p in held), Decimal(0))
    rows = []
    for p in held:
        pnl = p.unrealized_pnl
        cost = p.qty * p.avg_price
        rows.append(
            {
                "symbol": p.symbol,
                "qty": p.qty,
                "avg_price": p.avg_price,
                "last_price": p.last_price,
                "last_session": p.last_session,
                "value": p.market_value,
                "weight": float(p.market_value / total_value) if total_value else None,
                "pnl": pnl,
                "pnl_pct": float(pnl / cost) if pnl is not None and cost else None,
                "stop_loss": p.stop_loss,
                "take_profit": p.take_profit,
                "strategy": p.strategy,
                "opened_session": p.opened_session,
            }
        )
    known = [p.unrealized_pnl for p in held if p.unrealized_pnl is not None]
    return _render(
        request,
        principal,
        "positions.html.j2",
        page="positions",
        title="Positions",
        live="portfolio",
        rows=rows,
        total_value=total_value,
        total_pnl=sum(known, Decimal(0)) if known else None,
        summary=ops.portfolio_summary(ctx.settings, ctx.db),
    )


# -- orders ------------------------------------------------------------------------------------
@router.get("/orders")
def orders(
    request: Request,
    status: Annotated[str, Query(max_length=20)] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    principal = _viewer(request)
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    where = ops.OrderFilter(status=status or None)
    page = ops.orders_page(ctx.db, where, limit=PAGE_SIZE, offset=offset)
    return _render(
        request,
        principal,
        "orders.html.j2",
        page="orders",
        title="Orders",
        live="order",
        page_data=page,
        status=status,
        statuses=ORDER_STATUSES,
        filter_args={"status": status} if status else {},
    )


@router.get("/orders/{order_id}")
def order(request: Request, order_id: str) -> Response:
    principal = _viewer(request)
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    try:
        view, history = ops.order_detail(ctx.db, order_id)
    except ops.NotFound as exc:
        return _error_page(request, principal, 404, "No such order", str(exc), "/orders")
    return _render(
        request,
        principal,
        "order.html.j2",
        page="orders",
        title=f"Order {order_id}",
        live="order",
        order=view,
        events=history,
    )


# -- signals and approval ------------------------------------------------------------------------
@router.get("/signals")
def signals(request: Request, offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    principal = _viewer(request)
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    return _render(
        request,
        principal,
        "signals.html.j2",
        page="signals",
        title="Signals",
        live="signal risk",
        pending=ops.pending_orders(ctx.db, limit=PAGE_SIZE),
        signals=ops.signals_page(ctx.db, limit=PAGE_SIZE, offset=offset),
        broker="paper" if services.uses_paper(ctx.settings) else ctx.settings.broker,
    )


def _actor(request: Request, csrf: str, action: str) -> Principal | Response:
    """The principal allowed to post this form, or the response that refuses it."""
    scope = ACTION_SCOPES[action]
    principal = authenticate(request)
    if principal is None:
        return _login_redirect(request)
    if not _csrf_ok(request, csrf):
        return _error_page(
            request,
            principal,
            403,
            "Form expired",
            "The form's security token did not match this session; reload the page and retry.",
            request.headers.get("referer") or "/",
        )
    if not principal.allows(scope):
        return _error_page(
            request,
            principal,
            403,
            "Not allowed",
            f"This needs the {scope} scope; the key {principal.name!r} has {principal.scope}.",
            "/",
        )
    return principal


def _failure(request: Request, exc: AlphaTraderError) -> str:
    return redact(str(exc), _ctx(request).settings)


@router.post("/signals/{order_id}/approve")
def approve(request: Request, order_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    principal = _actor(request, csrf, "approve")
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    try:
        view = ops.approve_order(ctx.settings, ctx.db, order_id, actor(principal))
    except AlphaTraderError as exc:
        _flash(request, "error", f"Not approved: {_failure(request, exc)}")
    else:
        _flash(
            request,
            "ok",
            f"Approved {view.side} {_qty(view.qty)} {view.symbol}: order {view.client_order_id} "
            f"is {view.status}.",
        )
    events.publish("order")
    events.publish("signal")
    return RedirectResponse("/signals", status_code=303)


@router.post("/signals/{order_id}/reject")
def reject(
    request: Request,
    order_id: str,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    principal = _actor(request, csrf, "reject")
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    try:
        view = ops.reject_order(
            ctx.settings,
            ctx.db,
            order_id,
            actor(principal),
            reason or "rejected from the dashboard",
        )
    except AlphaTraderError as exc:
        _flash(request, "error", f"Not rejected: {_failure(request, exc)}")
    else:
        _flash(request, "ok", f"Rejected {view.side} {_qty(view.qty)} {view.symbol}.")
    events.publish("order")
    events.publish("signal")
    return RedirectResponse("/signals", status_code=303)


# -- runs --------------------------------------------------------------------------------------
@router.get("/runs")
def runs(request: Request, job: Annotated[str, Query(max_length=40)] = "daily") -> Response:
    principal = _viewer(request)
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    return _render(
        request,
        principal,
        "runs.html.j2",
        page="runs",
        title="Runs",
        runs=ops.runs_overview(ctx.settings, ctx.db, job=job, limit=50),
    )


# -- strategies --------------------------------------------------------------------------------
def _strategy_charts(
    report: ops.StrategiesReport, threshold: float
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    ranked = sorted(report.performance, key=lambda p: p.rank)
    names = [p.name for p in ranked]
    momentum = _fig(
        [
            {
                "type": "bar",
                "orientation": "h",
                "y": names,
                "x": [round(p.momentum * 100, 4) for p in ranked],
                "marker": {"color": [_BLUE if p.eligible else _GREY for p in ranked]},
                "hovertemplate": "%{y}: %{x:.2f}%<extra></extra>",
            }
        ],
        "Momentum by strategy, percent",
        xaxis={"ticksuffix": "%"},
        yaxis={"autorange": "reversed", "automargin": True},
        shapes=[
            {
                "type": "line",
                "x0": threshold * 100,
                "x1": threshold * 100,
                "y0": 0,
                "y1": 1,
                "yref": "paper",
                "line": {"color": _RED, "dash": "dash", "width": 1},
            }
        ],
        showlegend=False,
        hovermode="closest",
        margin={"l": 8},
    )
    keys = [n for n in names if n in report.correlation]
    heatmap = None
    if len(keys) >= 2:
        z = [[report.correlation[r].get(c) for c in keys] for r in keys]
        heatmap = _fig(
            [
                {
                    "type": "heatmap",
                    "x": keys,
                    "y": keys,
                    "z": z,
                    "zmin": -1,
                    "zmax": 1,
                    "colorscale": "RdBu",
                    "reversescale": True,
                    "text": [["" if v is None else f"{v:.2f}" for v in row] for row in z],
                    "texttemplate": "%{text}",
                    "hovertemplate": "%{y} ~ %{x}: %{z:.2f}<extra></extra>",
                }
            ],
            "Correlation of the strategies' daily returns",
            xaxis={"automargin": True, "tickangle": -30},
            yaxis={"automargin": True, "autorange": "reversed"},
            hovermode="closest",
            margin={"l": 8, "b": 8},
        )
    curves: list[dict[str, Any]] = []
    for p in ranked:
        series = p.equity.dropna()
        if len(series) < 2 or not float(series.iloc[0]):
            continue
        base = float(series.iloc[0])
        curves.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": p.name,
                "x": [pd.Timestamp(t).date().isoformat() for t in series.index],
                "y": [_finite(round((float(v) / base - 1) * 100, 4)) for v in series.to_numpy()],
                "hovertemplate": "%{y:.2f}%<extra>" + p.name + "</extra>",
            }
        )
    curves_fig = (
        _fig(
            curves,
            "Standalone return of each strategy, percent",
            xaxis=_date_axis(curves[0]["x"]),
            yaxis={"ticksuffix": "%"},
        )
        if curves
        else None
    )
    return momentum, heatmap, curves_fig


@router.get("/strategies")
def strategies(request: Request) -> Response:
    principal = _viewer(request)
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    try:
        report = ctx.strategies.get()
    except AlphaTraderError as exc:
        return _error_page(
            request, principal, 503, "Strategies unavailable", _failure(request, exc), "/"
        )
    threshold = ctx.settings.min_momentum_threshold
    momentum, heatmap, curves = _strategy_charts(report, threshold)
    return _render(
        request,
        principal,
        "strategies.html.j2",
        page="strategies",
        title="Strategies",
        charts=True,
        report=report,
        momentum_chart=momentum,
        heatmap=heatmap,
        curves_chart=curves,
        lookback=ctx.settings.momentum_lookback_days,
        threshold=threshold,
    )


# -- backtests ---------------------------------------------------------------------------------
def _strategy_names() -> list[str]:
    from alphatrader.strategies.registry import STRATEGIES

    return sorted(STRATEGIES)


def _empty_form() -> dict[str, Any]:
    return {
        "strategies": [],
        "symbols": "",
        "start": "",
        "end": "",
        "cash": "",
        "sizing": "safety",
        "commission": "0",
        "slippage_bps": "0",
    }


def _form_float(label: str, text: str) -> float | None:
    """A form's number (None when blank); the model checks its range."""
    if not text.strip():
        return None
    try:
        value = float(text.strip())
    except ValueError:
        raise InputError(f"{label} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{label} must be a finite number")
    return value


def _form_date(label: str, text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{label} {text!r} is not a date (YYYY-MM-DD)") from None


def backtest_request(form: dict[str, Any]) -> BacktestRequest:
    """The launch form as a `BacktestRequest`, validated by the API's own `BacktestIn` (the
    same limits as `POST /api/backtests`); an InputError names the bad fields."""
    symbols = [s.strip() for s in str(form["symbols"]).replace(";", ",").split(",")]
    try:
        body = BacktestIn(
            strategies=form["strategies"],
            symbols=[s for s in symbols if s],
            start=_form_date("start", form["start"]),
            end=_form_date("end", form["end"]),
            cash=_form_float("cash", form["cash"]),
            commission=_form_float("commission", form["commission"]) or 0.0,
            slippage_bps=_form_float("slippage", form["slippage_bps"]) or 0.0,
            sizing=form["sizing"],
        )
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(x) for x in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors()
        ]
        raise InputError("; ".join(problems[:5])) from None
    return BacktestRequest(
        strategies=list(body.strategies),
        symbols=[s.upper() for s in body.symbols],
        start=pd.Timestamp(body.start) if body.start else None,
        end=pd.Timestamp(body.end) if body.end else None,
        cash=Decimal(str(body.cash)) if body.cash is not None else None,
        commission=Decimal(str(body.commission)),
        slippage_bps=Decimal(str(body.slippage_bps)),
        sizing=body.sizing,
    )


def _backtests_page(
    request: Request, principal: Principal, form: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    ctx = _ctx(request)
    return _render(
        request,
        principal,
        "backtests.html.j2",
        page="backtests",
        title="Backtests",
        live="backtest",
        status_code=status_code,
        jobs=ctx.backtests.recent(30),
        form=form,
        strategy_names=_strategy_names(),
        sizings=("safety", "all-in"),
        default_cash=ctx.settings.portfolio_size,
    )


@router.get("/backtests")
def backtests(request: Request) -> Response:
    principal = _viewer(request)
    if isinstance(principal, Response):
        return principal
    return _backtests_page(request, principal, _empty_form())


@router.post("/backtests")
def launch_backtest(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    strategies: Annotated[list[str] | None, Form()] = None,
    symbols: Annotated[str, Form(max_length=2000)] = "",
    start: Annotated[str, Form(max_length=10)] = "",
    end: Annotated[str, Form(max_length=10)] = "",
    cash: Annotated[str, Form(max_length=20)] = "",
    sizing: Annotated[str, Form(max_length=10)] = "safety",
    commission: Annotated[str, Form(max_length=20)] = "0",
    slippage_bps: Annotated[str, Form(max_length=20)] = "0",
) -> Response:
    principal = _actor(request, csrf, "backtest")
    if isinstance(principal, Response):
        return principal
    form = {
        "strategies": list(strategies or []),
        "symbols": symbols,
        "start": start,
        "end": end,
        "cash": cash,
        "sizing": sizing,
        "commission": commission,
        "slippage_bps": slippage_bps,
    }
    ctx = _ctx(request)
    try:
        job = ctx.backtests.submit(backtest_request(form), actor(principal))
    except AlphaTraderError as exc:
        _flash(request, "error", f"Backtest not started: {_failure(request, exc)}")
        return _backtests_page(request, principal, form, status_code=400)
    with ctx.db.session() as s:  # as POST /api/backtests does
        audit(s, actor(principal), "backtest.start", id=job.id, request=job.request)
    events.publish("backtest", job.to_json())
    _flash(request, "ok", f"Backtest {job.id[:8]} submitted.")
    return RedirectResponse(f"/backtests/{job.id}", status_code=303)


@router.get("/backtests/{job_id}")
def backtest(request: Request, job_id: str) -> Response:
    principal = _viewer(request)
    if isinstance(principal, Response):
        return principal
    try:
        job = _ctx(request).backtests.get(job_id)
    except ops.NotFound as exc:
        return _error_page(request, principal, 404, "No such backtest", str(exc), "/backtests")
    return _render(
        request,
        principal,
        "backtest.html.j2",
        page="backtests",
        title=f"Backtest {job.id[:8]}",
        live="backtest" if job.status in ("queued", "running") else "",
        job=job,
    )


@router.get("/backtests/{job_id}/tearsheet")
def tearsheet(request: Request, job_id: str) -> Response:
    """The tear sheet as written by the backtest, in a sandbox: its inline scripts run in an
    opaque origin, so they cannot use this session."""
    principal = _viewer(request)
    if isinstance(principal, Response):
        return principal
    try:
        path = _ctx(request).backtests.artifact(job_id, "tearsheet.html")
    except (ops.NotFound, ops.Conflict) as exc:
        return _error_page(request, principal, 404, "No tear sheet", str(exc), "/backtests")
    return FileResponse(
        path,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": (
                "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; "
                "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
            ),
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "no-store",
        },
    )


# -- risk --------------------------------------------------------------------------------------
@router.get("/risk")
def risk(request: Request, offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    principal = _viewer(request)
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    return _render(
        request,
        principal,
        "risk.html.j2",
        page="risk",
        title="Risk",
        live="risk",
        summary=ops.portfolio_summary(ctx.settings, ctx.db),
        events=ops.risk_events(ctx.db, limit=PAGE_SIZE, offset=offset),
        limits=_limits(request),
    )


@router.post("/risk/halt")
def halt(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    principal = _actor(request, csrf, "halt")
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    try:
        status = ops.halt(ctx.settings, ctx.db, reason, actor(principal))
    except AlphaTraderError as exc:
        _flash(request, "error", f"Not halted: {_failure(request, exc)}")
    else:
        _flash(request, "ok", f"Trading is {status.state}: {status.reason}")
    events.publish("risk")
    return RedirectResponse("/risk", status_code=303)


@router.post("/risk/resume")
def resume(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    principal = _actor(request, csrf, "resume")
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    try:
        status = ops.resume(ctx.settings, ctx.db, reason, actor(principal))
    except AlphaTraderError as exc:
        _flash(request, "error", f"Not resumed: {_failure(request, exc)}")
    else:
        _flash(request, "ok", f"Trading is {status.state}: {status.reason}")
    events.publish("risk")
    return RedirectResponse("/risk", status_code=303)


@router.post("/risk/emergency")
def emergency(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    action: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    principal = _actor(request, csrf, "emergency")
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    try:
        if action == "cancel-all":
            result = ops.emergency_cancel_all(ctx.settings, ctx.db, reason, actor(principal))
            done = f"{result.cancelled} order(s) cancelled"
        elif action == "flatten":
            result = ops.emergency_flatten(ctx.settings, ctx.db, reason, actor(principal))
            done = (
                f"{result.cancelled} order(s) cancelled, "
                f"{len(result.exit_orders)} exit order(s) for the next session"
            )
        else:
            raise InputError(f"unknown emergency action {action!r}")
    except AlphaTraderError as exc:
        _flash(request, "error", f"Emergency action failed: {_failure(request, exc)}")
    else:
        _flash(request, "ok", f"HALTED: {done}; snapshot {result.snapshot.name}")
    for topic in ("risk", "order", "signal", "portfolio"):
        events.publish(topic)
    return RedirectResponse("/risk", status_code=303)
