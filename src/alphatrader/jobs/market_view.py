"""The market as of one session: the universe's bars up to it, prices, and benchmark conditions.

Everything the daily job knows about prices comes from here, sliced at the session, so nothing
after it can leak into a plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from alphatrader.data import bundle
from alphatrader.data.market import Series, load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.execution.brokers.paper import Bar
from alphatrader.execution.costs import to_price
from alphatrader.risk.engine import MarketConditions

VOL_WINDOW = 20
# Sessions of history the job loads: two years of standalone strategy curves (504) plus the
# longest warm-up (twice a 252-session lookback). Recursive indicators (EMA, RSI) started this
# far back have forgotten their seed.
HISTORY_SESSIONS = 1100


@dataclass(frozen=True, slots=True)
class MarketView:
    session: date
    universe: dict[str, Series]  # bars up to and including the session
    fresh: frozenset[str]  # symbols with a bar on the session
    stale: dict[str, date]  # symbol -> its last bar, for those without one on the session

    def bar(self, symbol: str) -> Bar | None:
        series = self.universe.get(symbol)
        if series is None or symbol not in self.fresh:
            return None
        row = series.bars.iloc[-1]
        if series.instrument.close_only:
            return Bar(None, float(row["close"]))
        return Bar(float(row["open"]), float(row["close"]), float(row["high"]), float(row["low"]))

    def close(self, symbol: str) -> Decimal | None:
        series = self.universe.get(symbol)
        if series is None or series.bars.empty:
            return None
        return to_price(float(series.bars["close"].iloc[-1]))

    def conditions(self, symbol: str) -> MarketConditions | None:
        series = self.universe.get(symbol)
        if series is None or symbol not in self.fresh or len(series.bars) < 2:
            return None
        close = series.bars["close"]
        move = float(close.iloc[-1] / close.iloc[-2] - 1) * 100
        log_ret = np.log(close.iloc[-VOL_WINDOW - 1 :]).diff().dropna()
        vol = float(log_ret.std(ddof=1) * np.sqrt(252) * 100) if len(log_ret) >= 2 else None
        return MarketConditions(symbol, move, vol)


def universe_symbols(store: MarketDataStore) -> list[str]:
    return sorted(i.symbol for i in store.instruments(bundle.DAILY))


def load_view(store: MarketDataStore, session: date, symbols: list[str]) -> MarketView:
    cutoff = pd.Timestamp(session)
    universe: dict[str, Series] = {}
    fresh: set[str] = set()
    stale: dict[str, date] = {}
    for symbol in symbols:
        series = load_series(store, symbol)  # the freshest dataset that has the symbol
        bars = series.bars.loc[:cutoff].iloc[-HISTORY_SESSIONS:]
        if bars.empty:
            continue
        universe[symbol] = Series(series.instrument, bars)
        last = pd.Timestamp(bars.index[-1]).date()
        if last == session:
            fresh.add(symbol)
        else:
            stale[symbol] = last
    return MarketView(session, universe, frozenset(fresh), stale)


def last_data_session(store: MarketDataStore, symbols: list[str]) -> date:
    """The latest session on which every tradable symbol of the universe has a bar."""
    lasts = []
    for inst in store.instruments(bundle.DAILY):
        if inst.symbol in symbols and inst.tradable:
            bars = store.read(inst)
            lasts.append(pd.Timestamp(bars.index[-1]).date())
    return min(lasts)
