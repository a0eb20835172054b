"""Building blocks shared by the strategies: position-aware signal masks, month-end
decision dates, and the aligned closes a cross-sectional strategy works on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from alphatrader.data.calendar import sessions
from alphatrader.data.market import Series
from alphatrader.errors import InputError


def alternate(entries: pd.Series, exits: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Keep an entry only while flat and an exit only while long, so signals alternate.

    The position before bar t is the last raw signal before t (entry → long, exit → flat;
    flat before the first); an entry wins a bar that has both. It uses only bars before t,
    so it adds no look-ahead, and it is vectorized: a redundant signal never changes the
    position, so the forward-filled raw signals are the position.
    """
    enter = entries.to_numpy(dtype=bool)
    leave = exits.to_numpy(dtype=bool) & ~enter
    events = pd.Series(np.where(enter, 1.0, np.where(leave, 0.0, np.nan)), index=entries.index)
    long_before = events.ffill().shift(1).fillna(0.0).to_numpy() == 1.0
    return (
        pd.Series(enter & ~long_before, index=entries.index),
        pd.Series(leave & long_before, index=entries.index),
    )


def month_ends(index: pd.DatetimeIndex) -> pd.Series:
    """True at bars that are the last XNYS session of their month.

    Decided from the exchange calendar (known in advance), not from the next bar of data, so
    the last bar of a history is a month end only if the calendar says so.
    """
    cal = sessions(index[0], index[-1] + pd.Timedelta(days=10)) if len(index) else index
    if len(cal) == 0:
        return pd.Series(np.zeros(len(index), bool), index=index)
    pos = cal.searchsorted(index, side="right")
    after = cal[np.minimum(pos, len(cal) - 1)]  # the next session (past the calendar: none)
    is_end = (pos < len(cal)) & (after.month != index.month)
    return pd.Series(np.asarray(is_end, dtype=bool), index=index)


def aligned_closes(
    strategy: str, universe: Mapping[str, Series], symbols: Iterable[str]
) -> pd.DataFrame:
    """Closes of `symbols` on the dates where all of them have one (an inner join)."""
    symbols = list(symbols)
    missing = [s for s in symbols if s not in universe]
    if missing:
        raise InputError(
            f"strategy {strategy!r} needs {', '.join(missing)} in its universe "
            f"(it trades on {', '.join(symbols)}); add the missing symbol(s)"
        )
    closes = pd.concat({s: universe[s].bars["close"] for s in symbols}, axis=1, join="inner")
    return closes.dropna().sort_index()
