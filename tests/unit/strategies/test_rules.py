"""The shared building blocks: alternation, month ends, aligned closes; and the registry."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphatrader.data.market import Series, load_series
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import InputError
from alphatrader.strategies import STRATEGIES, build
from alphatrader.strategies.rules import aligned_closes, alternate, month_ends


def _alternate(entries: str, exits: str) -> tuple[str, str]:
    """Masks written as strings: 'x' marks a bar."""
    e, x = alternate(pd.Series([c == "x" for c in entries]), pd.Series([c == "x" for c in exits]))
    return "".join("x" if v else "." for v in e), "".join("x" if v else "." for v in x)


def test_alternate_keeps_entries_while_flat_and_exits_while_long() -> None:
    assert _alternate("xx...x.x..", "..xx...x.x") == ("x....x....", "..x......x")


def test_alternate_drops_exits_before_any_entry_and_prefers_entry_on_a_tie() -> None:
    assert _alternate("..x.x", "xxx.x") == ("..x..", ".....")


def test_alternate_matches_a_stateful_loop_on_random_masks() -> None:
    rng = np.random.default_rng(7)
    raw_in, raw_out = rng.random(500) < 0.1, rng.random(500) < 0.1
    entries, exits = alternate(pd.Series(raw_in), pd.Series(raw_out))
    long, want_in, want_out = False, [], []
    for enter, leave in zip(raw_in, raw_out, strict=True):
        want_in.append(enter and not long)
        want_out.append(leave and not enter and long)
        long = (long or enter) and not (leave and not enter)
    assert entries.tolist() == want_in
    assert exits.tolist() == want_out


def test_month_ends_come_from_the_exchange_calendar() -> None:
    days = pd.DatetimeIndex(
        [
            "2015-10-29",
            "2015-10-30",  # Friday; Oct 31 is a Saturday
            "2016-03-24",  # Thursday before Good Friday, not the month end
            "2016-03-31",
            "2016-06-29",  # the last bar of a history is not a month end by itself
        ]
    )
    assert month_ends(days).tolist() == [False, True, False, True, False]
    # A bar missing from the data does not move the month end onto the previous bar.
    assert not month_ends(pd.DatetimeIndex(["2016-06-29"])).any()
    assert month_ends(pd.DatetimeIndex([])).empty


def test_month_ends_on_real_data_are_the_last_session_of_each_month(
    store: MarketDataStore,
) -> None:
    index = pd.DatetimeIndex(load_series(store, "SPY").bars.index)
    flagged = index[month_ends(index).to_numpy()]
    last_of_month = pd.Series(index, index=index).groupby(index.to_period("M")).max()
    assert list(flagged) == list(last_of_month.iloc[:-1])  # July 2016 is incomplete


def test_aligned_closes_is_an_inner_join_and_names_missing_symbols(
    store: MarketDataStore,
) -> None:
    universe: dict[str, Series] = {s: load_series(store, s) for s in ("SPY", "TBILL3M_TR")}
    closes = aligned_closes("x", universe, ["SPY", "TBILL3M_TR"])
    spy, cash = universe["SPY"].bars.index, universe["TBILL3M_TR"].bars.index
    assert closes.index.equals(spy.intersection(cash))
    assert not closes.isna().any().any()
    with pytest.raises(InputError, match="EFA"):
        aligned_closes("x", universe, ["SPY", "EFA"])


def test_every_strategy_is_registered_and_buildable_with_defaults() -> None:
    names = {
        "golden_cross",
        "mean_reversion",
        "dual_momentum",
        "sector_rotation",
        "ema_crossover",
        "macd_momentum",
        "trend_following",
    }
    assert set(STRATEGIES) == names
    guide = (Path(__file__).parents[3] / "docs" / "strategies.md").read_text()
    for name in names:
        strategy = build(name)
        assert strategy.name == name
        assert strategy.summary
        doc = sys.modules[type(strategy).__module__].__doc__ or ""
        assert all(f"{part}:" in doc for part in ("Rule", "Confidence", "Instruments")), name
        assert f"\n## {name}\n" in guide, name
