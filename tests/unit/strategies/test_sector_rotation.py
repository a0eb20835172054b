from __future__ import annotations

import pandas as pd
import pytest

from alphatrader.data.market import Series, load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import InputError
from alphatrader.strategies.sector_rotation import SectorRotation
from tests.unit.strategies.signal_checks import (
    assert_alternates,
    assert_no_lookahead,
    assert_well_formed,
    combined,
)

SECTORS = ["XLB", "XLE", "XLF", "XLK", "XLU"]


@pytest.fixture
def universe(store: MarketDataStore) -> dict[str, Series]:
    return {s: load_series(store, s) for s in SECTORS}


@pytest.fixture
def closes(universe: dict[str, Series]) -> pd.DataFrame:
    return pd.DataFrame({s: u.bars["close"] for s, u in universe.items()}).dropna()


def expected_top(closes: pd.DataFrame, day: pd.Timestamp, top_n: int) -> set[str]:
    pos = closes.index.get_loc(day)
    now = closes.iloc[pos]
    score = ((now / closes.iloc[pos - 63] - 1) + (now / closes.iloc[pos - 126] - 1)) / 2
    return set(score.sort_values(ascending=False).index[:top_n])


def holdings(signals: pd.DataFrame) -> dict[pd.Timestamp, set[str]]:
    """The set held after each decision date, replayed from the signals."""
    held: set[str] = set()
    out = {}
    for day, rows in signals.groupby(level=0):
        leaving = set(rows.loc[rows["action"] == "exit", "symbol"])
        entering = set(rows.loc[rows["action"] == "entry", "symbol"])
        assert leaving <= held, day
        assert not entering & held, day
        held = (held - leaving) | entering
        out[day] = set(held)
    return out


def test_signals_are_well_formed_and_alternate(universe: dict[str, Series]) -> None:
    out = SectorRotation().generate(universe)
    assert set(out) == set(SECTORS)
    for symbol, frame in out.items():
        assert_well_formed(frame, universe[symbol].bars["close"])
        assert_alternates(frame)


@pytest.mark.parametrize("top_n", [1, 2, 3])
def test_holds_the_top_n_by_momentum_each_month(
    universe: dict[str, Series], closes: pd.DataFrame, top_n: int
) -> None:
    signals = combined(SectorRotation(top_n=top_n).generate(universe))
    month_ends = closes.groupby(closes.index.to_period("M")).tail(1).index[:-1]
    assert set(signals.index) <= set(month_ends)
    replayed = holdings(signals)
    held: set[str] = set()
    decided = [d for d in month_ends if closes.index.get_loc(d) >= 126]
    assert len(decided) > 80
    for day in decided:
        held = replayed.get(day, held)
        assert held == expected_top(closes, day, top_n), day


def test_confidence_reflects_the_gap_to_the_cut_off(
    universe: dict[str, Series], closes: pd.DataFrame
) -> None:
    signals = combined(SectorRotation().generate(universe))
    partial = 0
    for day, row in zip(signals.index, signals.itertuples(), strict=True):
        pos = closes.index.get_loc(day)
        now = closes.iloc[pos]
        score = ((now / closes.iloc[pos - 63] - 1) + (now / closes.iloc[pos - 126] - 1)) / 2
        ranked = score.sort_values(ascending=False)
        mine = score[row.symbol]
        # An entry's lead over the best name left out; an exit's gap below the weakest held.
        gap = mine - ranked.iloc[2] if row.action == "entry" else ranked.iloc[1] - mine
        assert row.confidence == pytest.approx(0.5 + 0.5 * min(1.0, gap / 0.05))
        assert f"{mine:.1%}" in row.reason
        partial += row.confidence < 1
    assert partial > 10  # the scale is not saturated


def test_no_lookahead(universe: dict[str, Series]) -> None:
    strategy = SectorRotation()

    def run(cut: pd.Timestamp | None) -> pd.DataFrame:
        cut_universe = {
            s: Series(u.instrument, u.bars if cut is None else u.bars.loc[:cut])
            for s, u in universe.items()
        }
        return combined(strategy.generate(cut_universe))

    cuts = ["2008-09-10", "2010-03-31", "2011-08-15", "2013-12-31", "2016-06-29"]
    assert_no_lookahead(run, [pd.Timestamp(c) for c in cuts])


def test_missing_instrument_is_named(universe: dict[str, Series]) -> None:
    del universe["XLK"]
    with pytest.raises(InputError, match="XLK"):
        SectorRotation().generate(universe)


def test_parameters_validate() -> None:
    with pytest.raises(InputError, match="did you mean 'top_n'"):
        SectorRotation.with_params(topn=3)
    with pytest.raises(InputError, match="top_n"):
        SectorRotation.with_params(top_n=5)
