"""The daily report: sections in order, values formatted, escaped, email-safe, chart inline."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from decimal import Decimal
from html.parser import HTMLParser

import pandas as pd
import pytest

from alphatrader.notify.report import (
    SECTION_HEADINGS,
    DailyReport,
    equity_chart_png,
    has_equity_chart,
    money,
    pct,
    qty,
    render_html,
    render_text,
)
from alphatrader.portfolio.plan import CashAnalysis, PortfolioSnapshot
from tests.unit.notify.factories import SESSION, equity_curve, make_plan, make_report, signal

EVIL = "<script>alert('x')</script>"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Headings(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self._in = False
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.extend(attrs)
        if tag == "h2":
            self._in = True
            self.h2.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in = False

    def handle_data(self, data: str) -> None:
        if self._in:
            self.h2[-1] += data


def _parse(html: str) -> _Headings:
    parser = _Headings()
    parser.feed(html)
    return parser


def _positions(text: str, needles: list[str]) -> list[int]:
    found = [text.find(n) for n in needles]
    assert all(i >= 0 for i in found), dict(zip(needles, found, strict=True))
    return found


def test_formatting_helpers() -> None:
    assert money(Decimal("1234.5")) == "$1,234.50"
    assert money(Decimal("-5")) == "-$5.00"
    assert money(Decimal("5"), signed=True) == "+$5.00"
    assert money(Decimal("0"), signed=True) == "$0.00"
    assert money(None) == ""
    assert pct(0.123456) == "12.35%"
    assert pct(-0.02, signed=True) == "-2.00%"
    assert pct(None) == ""
    assert qty(Decimal("3.000")) == "3"
    assert qty(Decimal("0.50")) == "0.5"


def test_html_has_the_sections_in_order_and_nothing_else_as_h2() -> None:
    html = render_html(make_report())
    assert _parse(html).h2 == list(SECTION_HEADINGS)
    assert SECTION_HEADINGS[:6] == (
        "Portfolio Summary",
        "Top Signals",
        "Cash Depletion Analysis",
        "Position Consolidation Recommendations",
        "Next Day Trading Plan",
        "Strategy Performance",
    )


def test_text_has_the_same_sections_in_the_same_order() -> None:
    text = render_text(make_report())
    lines = text.splitlines()
    heading_lines = [i for i, line in enumerate(lines) if line in SECTION_HEADINGS]
    assert [lines[i] for i in heading_lines] == list(SECTION_HEADINGS)
    for i in heading_lines:  # each heading is underlined
        assert lines[i + 1] == "=" * len(lines[i])


def test_portfolio_summary_values() -> None:
    report = make_report()
    # the factory: $686.92 cash + XOM 2 x 93.74 + KO 3 x 45.20 = $1,010.00; curve ends at 1012.34
    assert report.equity == Decimal("1010.00")
    assert report.day_pnl == Decimal("-2.34")
    assert report.total_pnl == Decimal("10.00")
    peak = float(equity_curve().max())
    assert report.drawdown == pytest.approx(1 - 1010.0 / peak)
    for rendered in (render_html(report), render_text(report)):
        assert "$1,010.00" in rendered
        assert "$686.92" in rendered
        assert "-$2.34 (-0.23%)" in rendered
        assert "+$10.00 (+1.00% since $1,000.00)" in rendered
        assert pct(report.drawdown) in rendered
        assert "ACTIVE" in rendered
        assert "all limits within bounds" in rendered
        assert "XOM" in rendered
        assert "+$11.28" in rendered  # XOM: 2 x (93.74 - 88.10)
        assert "+6.40%" in rendered


def test_top_signals_take_size_and_shares_from_the_planned_buy() -> None:
    text = render_text(make_report())
    section = text.split("Top Signals", 1)[1].split("Cash Depletion Analysis", 1)[0]
    blocks = re.split(r"\n(?=\d+\. )", section.strip("=\n"))
    assert [b.split()[1] for b in blocks] == ["AAPL", "MSFT", "KO", "JNJ"]
    assert "size $287.67 | shares 3 | stop $91.10 | target $105.48" in blocks[0]
    assert "score 82.50 | confidence 85.00% | momentum +12.34%" in blocks[0]
    assert "(+golden_cross)" in blocks[0]
    assert "size $204.64 | shares 4" in blocks[1]
    assert "size - | shares - " in blocks[2]  # an exit: nothing bought
    assert "size - | shares - " in blocks[3]  # JNJ was not taken (cash buffer)
    html = render_html(make_report())
    assert "$287.67" in html
    assert "12-month return beats T-bills and peers" in html


def test_plan_lists_sells_before_buys_with_prices_and_reasons() -> None:
    report = make_report()
    for rendered in (render_text(report), render_html(report)):
        plan = rendered.split("Next Day Trading Plan", 1)[1].split("Strategy Performance", 1)[0]
        ko, aapl, msft = _positions(plan, ["KO", "AAPL", "MSFT"])
        assert ko < aapl < msft
        for needle in ("$96.37", "$91.10", "$105.48", "$51.42", "$56.28", "rank 1 of 4"):
            assert needle in plan
        assert "exit signal: RSI back above 70" in plan
        assert "market" in plan  # the sell has no limit
        assert "cash_buffer" in plan  # not taken: JNJ, and why
    text = render_text(report)
    assert "SELL KO: 3 shares, $135.60 - mean_reversion" in text
    assert "BUY AAPL: 3 shares, $287.67 - dual_momentum" in text
    assert "limit $96.37 (est. $95.89) | stop $91.10 | take-profit $105.48" in text


def test_cash_consolidation_and_strategy_sections() -> None:
    report = make_report()
    text = render_text(report)
    cash = text.split("Cash Depletion Analysis", 1)[1].split("Position Consolidation", 1)[0]
    assert "Shortfall of $133.76" in cash
    assert "$856.28" in cash and "$722.52" in cash and "$100.00" in cash
    consolidation = text.split("Position Consolidation Recommendations", 1)[1].split(
        "Next Day Trading Plan", 1
    )[0]
    assert "SELL XOM (48.00) -> BUY JNJ (58.75), margin 10.75" in consolidation
    assert "1. XOM $187.48 (+6.40%), score 48.00" in consolidation
    strategies = text.split("Strategy Performance", 1)[1]
    assert "1. dual_momentum: momentum +12.34%" in strategies
    assert "4. mean_reversion: momentum -2.00%" in strategies and "eligible no" in strategies
    assert "golden_cross and dual_momentum move together (correlation 0.86)" in strategies
    html = render_html(report)
    assert "move together (correlation 0.86)" in html


def test_cash_sufficient_and_empty_sections_read_sensibly() -> None:
    empty = PortfolioSnapshot(cash=Decimal("1000"))
    plan = make_plan(
        signals=(),
        sells=(),
        buys=(),
        rejections=(),
        swaps=(),
        before=empty,
        after=empty,
        cash=CashAnalysis(
            cash=Decimal("1000"),
            buffer=Decimal("100"),
            spendable=Decimal("900"),
            needed=Decimal("0"),
            shortfall=Decimal("0"),
        ),
    )
    report = DailyReport.from_plan(
        plan,
        mode="dry-run",
        risk_state="HALTED",
        risk_reason="drawdown 16.00% above MAX_DRAWDOWN_PCT 15",
        portfolio_size=Decimal("1000"),
    )
    text = render_text(report)
    html = render_html(report)
    for rendered in (text, html):
        assert "No open positions." in rendered
        assert "No signals today." in rendered
        assert "Cash is sufficient" in rendered
        assert "No swap recommended." in rendered
        assert "No position needs to be sold for cash." in rendered
        assert "No orders planned for the next session." in rendered
        assert "No strategy performance available." in rendered
        assert "Not enough history for a chart yet." in rendered
        assert "HALTED" in rendered and "dry-run" in rendered
    assert _parse(html).h2 == list(SECTION_HEADINGS)
    assert "cid:" not in html
    assert equity_chart_png(report) is None


def test_more_than_ten_signals_are_counted_not_listed() -> None:
    many = tuple(signal(i, f"S{i:02d}", "golden_cross", 90.0 - i) for i in range(1, 14))
    report = make_report(plan=make_plan(signals=many))
    text = render_text(report)
    assert "10. S10" in text and "S11" not in text
    assert "and 3 more signal(s) below the top 10." in text


def test_notes_are_shown_first() -> None:
    report = make_report(notes=("Data for QQQ is stale", "sector_rotation skipped: no data"))
    text = render_text(report)
    assert text.index("! Data for QQQ is stale") < text.index("Portfolio Summary")
    assert "! sector_rotation skipped: no data" in text
    html = render_html(report)
    assert html.index("Data for QQQ is stale") < html.index("Portfolio Summary")


def test_html_escapes_strategy_text_and_text_keeps_it_verbatim() -> None:
    plan = make_plan()
    evil_signal = replace(plan.signals[0], reason=EVIL, strategy="x&y")
    report = make_report(plan=replace(plan, signals=(evil_signal, *plan.signals[1:])))
    html = render_html(report)
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "x&amp;y" in html
    assert EVIL in render_text(report)  # plain text is not HTML: no entities there


def test_html_is_email_safe() -> None:
    html = render_html(make_report())
    parsed = _parse(html)
    assert "script" not in parsed.tags
    assert not {"link", "iframe", "form", "input", "object", "embed"} & parsed.tags
    assert "<style" not in html  # inline styles only; many clients drop <style>
    urls = [v for k, v in parsed.attrs if k in {"src", "href"} and v]
    assert urls == ["cid:equity-chart"]  # nothing fetched from the network
    assert 'name="viewport"' in html
    assert "max-width:640px" in html


def test_chart_is_a_png_referenced_by_cid() -> None:
    report = make_report()
    assert has_equity_chart(report)
    png = equity_chart_png(report)
    assert png is not None and png.startswith(PNG_MAGIC)
    assert png == equity_chart_png(report)  # deterministic bytes (no timestamp metadata)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (960, 400)
    assert '<img src="cid:equity-chart"' in render_html(report)
    custom = render_html(report, chart_src="data:image/png;base64,AAAA")
    assert 'src="data:image/png;base64,AAAA"' in custom


def test_from_plan_appends_today_and_uses_the_last_equity_before_the_session() -> None:
    curve = pd.Series(
        [1000.0, 1030.0, 1020.0],
        index=pd.to_datetime(["2016-06-28", "2016-06-29", "2016-06-30"]),
    )
    report = DailyReport.from_plan(
        make_plan(),
        mode="paper",
        risk_state="ACTIVE",
        risk_reason="",
        portfolio_size=Decimal("1000"),
        equity_curve=curve,
    )
    assert report.day_pnl == Decimal("-10.00")  # 1010.00 - 1020.0
    assert report.drawdown == pytest.approx(1 - 1010 / 1030)
    assert [ts.date() for ts in report.equity_curve.index] == [
        *(ts.date() for ts in curve.index),
        SESSION,
    ]
    single = DailyReport.from_plan(
        make_plan(), mode="paper", risk_state="ACTIVE", risk_reason="", portfolio_size=Decimal(1000)
    )
    assert single.day_pnl == 0
    assert single.drawdown == 0.0
    assert not has_equity_chart(single)  # today alone is one point: no chart yet


def test_a_chart_that_cannot_be_drawn_does_not_stop_the_email(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # matplotlib made unimportable, as on a machine without it (the library, not our code)
    for name in ("matplotlib", "matplotlib.dates", "matplotlib.figure", "matplotlib.ticker"):
        monkeypatch.setitem(sys.modules, name, None)
    report = make_report()
    assert equity_chart_png(report) is None
    assert "equity chart not drawn: ModuleNotFoundError" in caplog.text
    html = render_html(report, chart_src=None)
    assert "cid:" not in html
    assert "Chart unavailable today (see the log)." in html
    assert _parse(html).h2 == list(SECTION_HEADINGS)
