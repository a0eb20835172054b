"""Checks shared by the strategy tests: well-formed frames, alternation, no look-ahead."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from alphatrader.strategies.base import SIGNAL_COLUMNS


def assert_well_formed(frame: pd.DataFrame, close: pd.Series) -> None:
    """Columns, actions, confidence in [0, 1], one-line reasons, prices at the bar's close."""
    assert tuple(frame.columns) == SIGNAL_COLUMNS
    assert len(frame) > 0, "expected some signals on real data"
    assert frame.index.is_monotonic_increasing
    assert frame.index.is_unique
    assert frame.index.isin(close.index).all()
    assert set(frame["action"]) <= {"entry", "exit"}
    conf = frame["confidence"].to_numpy(dtype=float)
    assert np.isfinite(conf).all()
    assert (conf >= 0).all()
    assert (conf <= 1).all()
    for reason in frame["reason"]:
        assert isinstance(reason, str)
        assert reason.strip()
        assert "\n" not in reason
        assert any(ch.isdigit() for ch in reason), reason
    np.testing.assert_allclose(frame["price"], close.loc[frame.index])
    exits = frame["action"] == "exit"
    assert frame.loc[exits, ["stop_loss", "take_profit"]].isna().all().all()


def assert_alternates(frame: pd.DataFrame) -> None:
    actions = frame["action"].tolist()
    expected = ["entry", "exit"] * (len(actions) // 2 + 1)
    assert actions == expected[: len(actions)]


def events(frame: pd.DataFrame) -> list[tuple[pd.Timestamp, str]]:
    return list(zip(frame.index, frame["action"], strict=True))


def assert_no_lookahead(
    run: Callable[[pd.Timestamp | None], pd.DataFrame], cuts: list[pd.Timestamp]
) -> None:
    """Signals up to and including each cut date are the same with the history cut there."""
    full = run(None)
    for cut in cuts:
        before, cut_short = full.loc[:cut], run(cut)
        if len(before) == 0:  # nothing to compare column by column (dtypes of empty frames)
            assert len(cut_short) == 0
            continue
        pd.testing.assert_frame_equal(
            before, cut_short, check_exact=False, rtol=1e-9, check_index_type=False
        )
    # The cuts must fall among the signals, or the comparison proves little.
    assert len(full.loc[: cuts[-1]]) > 0
    assert len(full) > len(full.loc[: cuts[0]])


def cut_dates(index: pd.DatetimeIndex, count: int = 6) -> list[pd.Timestamp]:
    """Evenly spaced dates inside the history (not the first year)."""
    positions = np.linspace(300, len(index) - 2, count).astype(int)
    return [pd.Timestamp(index[p]) for p in positions]


def combined(out: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A cross-sectional result as one frame by date, with a `symbol` column."""
    parts = [frame.assign(symbol=symbol) for symbol, frame in sorted(out.items()) if len(frame)]
    if not parts:
        return pd.DataFrame(columns=[*SIGNAL_COLUMNS, "symbol"])
    return pd.concat(parts).sort_index(kind="stable")
