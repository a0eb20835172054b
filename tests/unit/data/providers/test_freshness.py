"""Freshness on the real bundled data, and the last complete session from the XNYS calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from alphatrader.data.calendar import sessions
from alphatrader.data.providers.freshness import check_freshness, last_complete_session
from alphatrader.data.store import MarketDataStore
from alphatrader.errors import InputError


def test_spy_is_fresh_on_its_last_bundled_session(store: MarketDataStore) -> None:
    report = check_freshness(store, ["SPY"], date(2016, 7, 1))
    spy = report.get("SPY")
    assert (spy.dataset, spy.last_session, spy.lag_sessions) == ("daily", date(2016, 7, 1), 0)
    assert spy.fresh and report.ok and report.stale == []


def test_spy_lags_two_sessions_over_independence_day(store: MarketDataStore) -> None:
    # Friday 2016-07-01 is the last bundled SPY close; Monday 2016-07-04 is a holiday.
    between = sessions(date(2016, 7, 2), date(2016, 7, 6))
    assert [d.date() for d in between] == [date(2016, 7, 5), date(2016, 7, 6)]
    report = check_freshness(store, ["SPY", "AAPL"], date(2016, 7, 6))
    spy = report.get("SPY")
    assert (spy.last_session, spy.lag_sessions, spy.fresh) == (date(2016, 7, 1), 2, False)
    assert report.get("AAPL").fresh  # the bundled AAPL closes run to 2022
    assert report.stale == ["SPY"] and not report.ok


def test_the_past_is_judged_as_of_then(store: MarketDataStore) -> None:
    # Data after as_of does not make a symbol "fresh" for an earlier session, nor stale.
    report = check_freshness(store, ["AAPL"], date(2016, 7, 5))
    assert report.get("AAPL").last_session == date(2016, 7, 5) and report.ok


def test_unknown_symbols_are_stale_with_the_reason(store: MarketDataStore) -> None:
    report = check_freshness(store, ["NOPE", "bad symbol!"], date(2016, 7, 1))
    assert report.stale == ["NOPE", "BAD SYMBOL!"]
    assert "unknown symbol 'NOPE'" in (report.get("NOPE").error or "")
    assert report.get("NOPE").lag_sessions is None


def test_as_of_must_be_a_session(store: MarketDataStore) -> None:
    with pytest.raises(InputError, match=r"2016-07-04 is not an XNYS session.*2016-07-01"):
        check_freshness(store, ["SPY"], date(2016, 7, 4))


# -- last_complete_session ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Black Friday 2024-11-29 closes early, at 13:00 New York = 18:00 UTC.
        (datetime(2024, 11, 29, 18, 30, tzinfo=UTC), date(2024, 11, 29)),
        (datetime(2024, 11, 29, 17, 59, tzinfo=UTC), date(2024, 11, 27)),  # 11-28 Thanksgiving
        (datetime(2024, 11, 29, 18, 0, 1, tzinfo=UTC), date(2024, 11, 29)),
        # The weekend after it, and Monday before the close.
        (datetime(2024, 11, 30, 12, 0, tzinfo=UTC), date(2024, 11, 29)),
        (datetime(2024, 12, 1, 23, 0, tzinfo=UTC), date(2024, 11, 29)),
        (datetime(2024, 12, 2, 20, 59, tzinfo=UTC), date(2024, 11, 29)),
        (datetime(2024, 12, 2, 21, 1, tzinfo=UTC), date(2024, 12, 2)),
        # Summer time: a regular close is 20:00 UTC.
        (datetime(2024, 7, 1, 20, 1, tzinfo=UTC), date(2024, 7, 1)),
        (datetime(2024, 7, 1, 19, 59, tzinfo=UTC), date(2024, 6, 28)),
        # Any aware zone works: 17:00 New York on the early-close day is after its close.
        (datetime(2024, 11, 29, 17, 0, tzinfo=timezone(timedelta(hours=-5))), date(2024, 11, 29)),
    ],
)
def test_last_complete_session(now: datetime, expected: date) -> None:
    assert last_complete_session(now) == expected


def test_last_complete_session_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        last_complete_session(datetime(2024, 11, 29, 18, 30))
