"""Sessions come from the exchange calendar (XNYS), never from weekday arithmetic."""

from __future__ import annotations

from datetime import date
from functools import cache

import exchange_calendars as xcals
import pandas as pd

# exchange-calendars defaults to the last 20 years; the bundled data starts in 1990.
CALENDAR_START = "1990-01-02"


@cache
def xnys() -> xcals.ExchangeCalendar:
    return xcals.get_calendar("XNYS", start=CALENDAR_START)


def sessions(start: date | pd.Timestamp, end: date | pd.Timestamp) -> pd.DatetimeIndex:
    """XNYS session labels (tz-naive dates) from start to end inclusive."""
    cal = xnys()
    lo = max(pd.Timestamp(start), cal.first_session)
    hi = min(pd.Timestamp(end), cal.last_session)
    if lo > hi:
        return pd.DatetimeIndex([])
    return pd.DatetimeIndex(cal.sessions_in_range(lo, hi))


def session_closes(labels: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The UTC close instant of each session label (early closes included)."""
    return pd.DatetimeIndex(xnys().schedule.loc[labels, "close"])


def session_opens(labels: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(xnys().schedule.loc[labels, "open"])
