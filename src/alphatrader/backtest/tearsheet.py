"""One self-contained HTML tear sheet per backtest: opens offline, no CDN, no external fetch.

The page carries the plotly.js bundle inline exactly once (a single `<script>` in the head);
each chart is a plotly `<div>` rendered without its own copy of the library. Text that comes
from the user or a strategy (title, subtitle, symbols, strategy names) goes through the
Jinja2 template with autoescaping on; plotly's JSON escapes `<`, `>` and `/` itself.

Charts, by container id: `chart-equity` (equity vs the benchmark rescaled to the same start),
`chart-drawdown` (underwater curve), `chart-monthly` (monthly returns heatmap, years x months,
in percent) and `chart-annual` (calendar-year returns). Then the metrics table
(`metrics.format_metrics`) and the trades table.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from alphatrader.backtest.metrics import (
    MetricValue,
    annual_returns,
    drawdown_series,
    format_metrics,
    format_value,
    monthly_returns,
)
from alphatrader.domain.trade import Trade
from alphatrader.files import atomic_write

TEMPLATE_NAME: Final = "tearsheet.html.j2"
CHART_IDS: Final = ("chart-equity", "chart-drawdown", "chart-monthly", "chart-annual")
MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_STRATEGY_COLOR: Final = "#1f5fbf"
_BENCHMARK_COLOR: Final = "#8a8f98"
_LOSS_COLOR: Final = "#c0392b"
_PLOTLY_CONFIG: Final[dict[str, Any]] = {
    "displaylogo": False,
    "responsive": True,
    "showSendToCloud": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}
_KPIS: Final = (
    ("total_return", "Total return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("sharpe", "Sharpe", "ratio"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("num_trades", "Trades", "int"),
)


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("alphatrader", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _clean_series(series: pd.Series) -> pd.Series:
    s = pd.Series(
        np.asarray(series, dtype=np.float64), index=pd.DatetimeIndex(pd.to_datetime(series.index))
    )
    return s[np.isfinite(s.to_numpy())].sort_index()


def _layout(fig: go.Figure, height: int, *, percent_axis: bool = False) -> None:
    fig.update_layout(
        template="plotly_white",
        height=height,
        autosize=True,
        margin={"l": 56, "r": 16, "t": 16, "b": 36},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
        hovermode="x unified",
        font={"size": 12},
    )
    if percent_axis:
        fig.update_yaxes(ticksuffix="%")


def _to_div(fig: go.Figure, div_id: str, height: int) -> Markup:
    html = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=div_id,
        config=_PLOTLY_CONFIG,
        default_height=f"{height}px",
        default_width="100%",
    )
    return Markup(html)  # plotly's own output; its JSON escapes < > /


def _rescaled_benchmark(equity: pd.Series, benchmark: pd.Series | None) -> pd.Series | None:
    """The benchmark over the equity's date range, scaled to equal the equity where they meet."""
    if benchmark is None or equity.empty:
        return None
    bench = _clean_series(benchmark)
    bench = bench[(bench.index >= equity.index[0]) & (bench.index <= equity.index[-1])]
    common = equity.index.intersection(bench.index)
    if len(common) == 0:
        return None
    anchor = common[0]
    base = float(bench.loc[anchor])
    if base <= 0:
        return None
    scaled: pd.Series = bench[bench.index >= anchor] * (float(equity.loc[anchor]) / base)
    return scaled


def _equity_chart(equity: pd.Series, bench: pd.Series | None, benchmark_label: str) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=equity.index,
            y=equity.to_numpy(),
            name="Strategy",
            mode="lines",
            line={"color": _STRATEGY_COLOR, "width": 1.8},
            hovertemplate="%{y:$,.2f}<extra>Strategy</extra>",
        )
    )
    if bench is not None:
        fig.add_trace(
            go.Scatter(
                x=bench.index,
                y=bench.to_numpy(),
                name=benchmark_label,
                mode="lines",
                line={"color": _BENCHMARK_COLOR, "width": 1.4},
                hovertemplate="%{y:$,.2f}<extra>%{fullData.name}</extra>",
            )
        )
    _layout(fig, 380)
    fig.update_yaxes(tickprefix="$", tickformat=",.0f")
    return fig


def _drawdown_chart(equity: pd.Series) -> go.Figure:
    dd = drawdown_series(equity) * 100.0
    fig = go.Figure(
        go.Scatter(
            x=dd.index,
            y=dd.to_numpy(),
            name="Drawdown",
            mode="lines",
            fill="tozeroy",
            line={"color": _LOSS_COLOR, "width": 1.0},
            fillcolor="rgba(192,57,43,0.25)",
            hovertemplate="%{y:.2f}%<extra>Drawdown</extra>",
        )
    )
    _layout(fig, 240, percent_axis=True)
    fig.update_layout(showlegend=False)
    return fig


def _monthly_chart(equity: pd.Series) -> tuple[go.Figure, int]:
    table = monthly_returns(equity) * 100.0
    years = [str(y) for y in table.index]
    z = table.to_numpy(dtype=np.float64)
    z_list: list[list[float | None]] = [
        [None if not np.isfinite(v) else round(float(v), 4) for v in row] for row in z
    ]
    text = [["" if v is None else f"{v:.1f}" for v in row] for row in z_list]
    finite = z[np.isfinite(z)]
    span = float(np.max(np.abs(finite))) if finite.size else 1.0
    span = min(max(span, 1.0), 25.0)
    fig = go.Figure(
        go.Heatmap(
            z=z_list,
            x=list(MONTHS),
            y=years,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 10},
            colorscale="RdYlGn",
            zmid=0.0,
            zmin=-span,
            zmax=span,
            xgap=1,
            ygap=1,
            colorbar={"ticksuffix": "%", "thickness": 10},
            hovertemplate="%{y} %{x}: %{z:.2f}%<extra></extra>",
        )
    )
    height = max(200, 60 + 20 * len(years))
    _layout(fig, height)
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(autorange="reversed", type="category", dtick=1)
    fig.update_xaxes(side="top", type="category")
    return fig, height


def _annual_chart(equity: pd.Series, bench: pd.Series | None, benchmark_label: str) -> go.Figure:
    strat = annual_returns(equity) * 100.0
    fig = go.Figure(
        go.Bar(
            x=[str(y) for y in strat.index],
            y=strat.to_numpy(),
            name="Strategy",
            marker_color=_STRATEGY_COLOR,
            hovertemplate="%{y:.2f}%<extra>Strategy</extra>",
        )
    )
    if bench is not None:
        b = annual_returns(bench) * 100.0
        fig.add_trace(
            go.Bar(
                x=[str(y) for y in b.index],
                y=b.to_numpy(),
                name=benchmark_label,
                marker_color=_BENCHMARK_COLOR,
                hovertemplate="%{y:.2f}%<extra>%{fullData.name}</extra>",
            )
        )
    _layout(fig, 280, percent_axis=True)
    fig.update_layout(barmode="group", hovermode="x unified")
    fig.update_xaxes(type="category")
    return fig


def _money(value: Decimal | float) -> str:
    v = float(value)
    sign = "-" if v < 0 else ""
    return f"{sign}${abs(v):,.2f}"


def _qty(value: Decimal) -> str:
    """10 -> "10", 0.50000 -> "0.5" (no exponent notation)."""
    return format(value.normalize(), "f")


def _trade_rows(trades: Sequence[Trade]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    ordered = sorted(trades, key=lambda t: (t.entry_date, t.symbol))
    for t in ordered:
        pnl = t.pnl
        rows.append(
            {
                "symbol": t.symbol,
                "strategy": t.strategy,
                "entry_date": t.entry_date.isoformat(),
                "entry_price": _money(t.entry_price),
                "exit_date": "open" if t.exit_date is None else t.exit_date.isoformat(),
                "exit_price": _money(t.exit_price),
                "qty": _qty(t.qty),
                "pnl": _money(pnl),
                "return_pct": f"{t.return_pct * 100:.2f}%",
                "commission": _money(t.commission),
                "css": "pos" if pnl > 0 else "neg" if pnl < 0 else "flat",
                "state": "open" if t.is_open else "closed",
            }
        )
    return rows


def render_tearsheet(
    title: str,
    equity: pd.Series,
    metrics: dict[str, MetricValue],
    trades: Sequence[Trade],
    benchmark_equity: pd.Series | None = None,
    subtitle: str = "",
    *,
    benchmark_label: str = "Benchmark",
) -> str:
    """The tear sheet as one HTML string (a few MB: the plotly.js bundle is inlined once)."""
    eq = _clean_series(equity)
    bench = _rescaled_benchmark(eq, benchmark_equity)
    monthly_fig, monthly_height = _monthly_chart(eq)
    charts = {
        "equity": _to_div(_equity_chart(eq, bench, benchmark_label), CHART_IDS[0], 380),
        "drawdown": _to_div(_drawdown_chart(eq), CHART_IDS[1], 240),
        "monthly": _to_div(monthly_fig, CHART_IDS[2], monthly_height),
        "annual": _to_div(_annual_chart(eq, bench, benchmark_label), CHART_IDS[3], 280),
    }
    kpis = [
        {
            "label": label,
            "value": format_value(metrics.get(key), kind),
            "css": _kpi_css(metrics.get(key), key),
        }
        for key, label, kind in _KPIS
        if key in metrics
    ]
    period = ""
    if not eq.empty:
        period = f"{eq.index[0]:%Y-%m-%d} to {eq.index[-1]:%Y-%m-%d} ({len(eq):,} sessions)"
    template = _environment().get_template(TEMPLATE_NAME)
    return template.render(
        title=title,
        subtitle=subtitle,
        period=period,
        start_value=_money(float(eq.iloc[0])) if not eq.empty else "n/a",
        end_value=_money(float(eq.iloc[-1])) if not eq.empty else "n/a",
        benchmark_label=benchmark_label if bench is not None else "",
        kpis=kpis,
        charts=charts,
        metric_rows=format_metrics(metrics),
        trades=_trade_rows(trades),
        plotly_js=Markup(get_plotlyjs()),  # the vendored plotly.js bundle
    )


def _kpi_css(value: MetricValue, key: str) -> str:
    if value is None or key == "num_trades":
        return ""
    if key == "max_drawdown":
        return "neg" if value < 0 else ""
    return "pos" if value > 0 else "neg" if value < 0 else ""


def write_tearsheet(path: Path | str, html: str) -> Path:
    """Write `html` to `path` atomically (temp file in the same folder + os.replace)."""
    return atomic_write(path, html)
