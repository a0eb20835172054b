"""The HTML tear sheet: self-contained (no CDN, plotly inlined once), escaped, atomic write."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from alphatrader.backtest.metrics import compute_metrics
from alphatrader.backtest.tearsheet import CHART_IDS, render_tearsheet, write_tearsheet
from alphatrader.data.market import load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.domain.trade import Trade

EVIL = "<script>alert(1)</script>"


def trades() -> list[Trade]:
    return [
        Trade(
            symbol="SPY",
            strategy=EVIL,
            entry_date=date(2008, 3, 3),
            entry_price=Decimal("131.50"),
            qty=Decimal("10"),
            exit_date=date(2008, 10, 1),
            exit_price=Decimal("115.25"),
            pnl=Decimal("-162.50"),
            commission=Decimal("2.00"),
        ),
        Trade(
            symbol="SPY",
            strategy="golden_cross",
            entry_date=date(2009, 6, 1),
            entry_price=Decimal("94.00"),
            qty=Decimal("12"),
            exit_date=date(2011, 8, 1),
            exit_price=Decimal("128.00"),
            pnl=Decimal("408.00"),
        ),
        Trade(
            symbol="SPY",
            strategy="golden_cross",
            entry_date=date(2016, 3, 1),
            entry_price=Decimal("195.10"),
            qty=Decimal("5"),
            exit_date=None,
            exit_price=Decimal("209.92"),
            pnl=Decimal("74.10"),
        ),
    ]


@pytest.fixture
def html(store: MarketDataStore) -> str:
    spy = load_series(store, "SPY").bars["close"]
    equity = 10_000.0 * spy / spy.iloc[0]
    bench = load_series(store, "SPY_TR").bars["close"]
    metrics = compute_metrics(equity, trades(), benchmark=bench)
    return render_tearsheet(
        f"SPY buy & hold {EVIL}",
        equity,
        metrics,
        trades(),
        benchmark_equity=bench,
        subtitle="2008-2016, real data",
        benchmark_label="SPY_TR",
    )


def without_bundle(html: str) -> str:
    bundle = get_plotlyjs()
    assert bundle in html
    return html.replace(bundle, "")


def test_plotly_bundle_inlined_exactly_once(html: str) -> None:
    bundle = get_plotlyjs()
    assert html.count(bundle) == 1
    assert html.count(bundle[:400]) == 1  # not a second copy, not even a partial one
    assert html.count("plotly.js v") == get_plotlyjs().count("plotly.js v")


def test_no_cdn_no_external_resources(html: str) -> None:
    page = without_bundle(html)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)
    assert "http://" not in page
    assert "https://" not in page
    assert not re.search(r"cdn\.|jsdelivr|unpkg|googleapis", page, re.IGNORECASE)
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link\b", page, re.IGNORECASE)
    assert "@import" not in page
    assert "url(" not in page


def test_chart_containers_and_tables(html: str) -> None:
    for chart_id in CHART_IDS:
        assert f'id="{chart_id}"' in html, chart_id
        assert f'document.getElementById("{chart_id}")' in html, chart_id
    assert without_bundle(html).count("Plotly.newPlot(") == len(CHART_IDS)
    assert 'id="metrics-table"' in html
    assert 'id="trades-table"' in html
    body = html[html.index('id="trades-table"') :]
    rows = re.findall(r'<tr class="trade (open|closed)">', body)
    assert rows == ["closed", "closed", "open"]
    assert "2008-03-03" in body
    assert "$131.50" in body
    assert "-$162.50" in body
    assert 'class="num neg">-$162.50' in body
    assert 'class="num pos">$408.00' in body
    assert '<span class="open-tag">open</span>' in body
    assert "Sharpe ratio" in html
    assert "Beta" in html


def test_user_text_is_escaped(html: str) -> None:
    page = without_bundle(html)
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Only the bundle and the plotly chart scripts: one per chart, plus the bundle's tag.
    assert page.count("<script") == 1 + len(CHART_IDS)


def test_renders_without_benchmark_trades_or_history() -> None:
    idx = pd.bdate_range("2024-01-01", periods=3)
    equity = pd.Series([100.0, 100.0, 100.0], index=idx)
    page = render_tearsheet("flat", equity, compute_metrics(equity, []), [])
    assert "No trades." in page
    assert all(f'id="{c}"' in page for c in CHART_IDS)
    one = pd.Series([100.0], index=idx[:1])
    assert "<html" in render_tearsheet("one", one, compute_metrics(one, []), [])


def test_write_tearsheet_atomic(tmp_path: Path, html: str, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "reports" / "deep" / "spy.html"
    written = write_tearsheet(target, html)
    assert written == target
    assert target.read_text(encoding="utf-8") == html
    assert [p.name for p in target.parent.iterdir()] == ["spy.html"]  # no temp file left

    # A failure before the rename leaves the old file intact and no temp file behind.
    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_tearsheet(target, "<html>new</html>")
    assert target.read_text(encoding="utf-8") == html
    assert [p.name for p in target.parent.iterdir()] == ["spy.html"]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_renders_in_headless_chromium_offline(tmp_path: Path, html: str) -> None:
    browser = _chromium()
    if browser is None:
        # CI installs Debian's chromium (scripts/install_system_deps.sh); elsewhere it is optional.
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: run scripts/install_system_deps.sh")
        pytest.skip("no chromium here; run scripts/install_system_deps.sh to enable")
    path = write_tearsheet(tmp_path / "t.html", html)
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "no_proxy": "*"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # plotly draws its SVG into each container once the bundle ran.
    assert result.stdout.count('class="main-svg"') >= len(CHART_IDS)
