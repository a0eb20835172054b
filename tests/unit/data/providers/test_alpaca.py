"""Alpaca daily bars: the real alpaca-py client against a fake data API on loopback.

All prices are synthetic."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from alphatrader.data.providers.alpaca import AlpacaProvider
from alphatrader.data.providers.base import SymbolErrors
from alphatrader.errors import ConfigError, DataError, TemporaryError
from tests.fakes import Reply, closed_port_url
from tests.fakes.alpaca_data import FakeAlpacaData, daily_bar, synthetic_bars
from tests.unit.data.providers.helpers import alpaca_for, session_days

JAN = session_days("2024-01-02", "2024-01-10")  # 7 sessions


def test_multi_symbol_with_pagination(alpaca_server: FakeAlpacaData) -> None:
    alpaca_server.page_size = 3  # 14 bars over 2 symbols -> 5 pages
    alpaca_server.set_bars("AAPL", synthetic_bars(JAN, base=100.0))
    alpaca_server.set_bars("MSFT", synthetic_bars(JAN, base=300.0))
    frames = alpaca_for(alpaca_server).fetch_daily(["AAPL", "msft"], JAN[0], JAN[-1])

    assert sorted(frames) == ["AAPL", "MSFT"]
    aapl = frames["AAPL"]
    assert list(aapl.columns) == ["open", "high", "low", "close", "volume"]
    assert (aapl.dtypes == "float64").all()
    assert aapl.index.name == "date" and str(aapl.index.dtype) == "datetime64[ns]"
    assert [d.date() for d in aapl.index] == JAN
    assert aapl["close"].tolist() == [100.5 + i for i in range(7)]
    assert frames["MSFT"]["open"].iloc[-1] == 306.0

    calls = alpaca_server.bar_requests()
    assert len(calls) == 5  # alpaca-py followed next_page_token to the end
    first = calls[0].query
    assert first["symbols"] == "AAPL,MSFT"
    assert (first["timeframe"], first["adjustment"], first["feed"]) == ("1Day", "all", "iex")
    assert "page_token" not in first and "page_token" in calls[1].query
    assert calls[0].headers["APCA-API-KEY-ID"] == alpaca_server.api_key


def test_only_sessions_in_the_range_are_returned(alpaca_server: FakeAlpacaData) -> None:
    alpaca_server.set_bars("AAPL", synthetic_bars(JAN))
    frames = alpaca_for(alpaca_server).fetch_daily(["AAPL"], date(2024, 1, 4), date(2024, 1, 8))
    assert [d.date() for d in frames["AAPL"].index] == [
        date(2024, 1, 4),
        date(2024, 1, 5),
        date(2024, 1, 8),
    ]


def test_symbol_without_bars_is_absent(alpaca_server: FakeAlpacaData) -> None:
    alpaca_server.set_bars("AAPL", synthetic_bars(JAN))
    frames = alpaca_for(alpaca_server).fetch_daily(["AAPL", "ZZZZ"], JAN[0], JAN[-1])
    assert list(frames) == ["AAPL"]


def test_429_then_success_is_retried_by_alpaca_py(alpaca_server: FakeAlpacaData) -> None:
    alpaca_server.set_bars("AAPL", synthetic_bars(JAN))
    alpaca_server.queue(Reply(429, {"message": "too many requests."}))
    frames = alpaca_for(alpaca_server).fetch_daily(["AAPL"], JAN[0], JAN[-1])
    assert len(frames["AAPL"]) == 7
    assert len(alpaca_server.bar_requests()) == 2


def test_persistent_500_is_temporary_after_the_retries(alpaca_server: FakeAlpacaData) -> None:
    alpaca_server.queue(*[Reply(500, {"message": "internal server error"})] * 10)
    with pytest.raises(TemporaryError, match="HTTP 500") as caught:
        alpaca_for(alpaca_server, retries=2).fetch_daily(["AAPL"], JAN[0], JAN[-1])
    assert len(alpaca_server.bar_requests()) == 3  # the first try and 2 retries
    assert alpaca_server.secret_key not in str(caught.value)


def test_persistent_429_is_temporary(alpaca_server: FakeAlpacaData) -> None:
    alpaca_server.queue(*[Reply(429, {"message": "too many requests."})] * 10)
    with pytest.raises(TemporaryError, match="429"):
        alpaca_for(alpaca_server, retries=1).fetch_daily(["AAPL"], JAN[0], JAN[-1])
    assert len(alpaca_server.bar_requests()) == 2


def test_unreachable_server_is_temporary() -> None:
    provider = AlpacaProvider("k", "s", url=closed_port_url(), retry_wait_seconds=0.01)
    with pytest.raises(TemporaryError, match="cannot reach"):
        provider.fetch_daily(["AAPL"], JAN[0], JAN[-1])


def test_a_hung_server_times_out(alpaca_server: FakeAlpacaData) -> None:
    alpaca_server.queue(Reply(200, {"bars": {}, "next_page_token": None}, delay=1.0))
    with pytest.raises(TemporaryError, match="ReadTimeout"):
        alpaca_for(alpaca_server, timeout=0.2).fetch_daily(["AAPL"], JAN[0], JAN[-1])


def test_bad_keys_are_a_config_error(alpaca_server: FakeAlpacaData) -> None:
    provider = AlpacaProvider("wrong", "wronger", url=alpaca_server.url, retry_wait_seconds=0.01)
    with pytest.raises(ConfigError, match=r"HTTP 401.*ALPACA_API_KEY") as caught:
        provider.fetch_daily(["AAPL"], JAN[0], JAN[-1])
    assert "wronger" not in str(caught.value)


def test_a_refused_request_is_a_data_error(alpaca_server: FakeAlpacaData) -> None:
    alpaca_server.queue(Reply(422, {"code": 42210000, "message": "invalid symbol: A$"}))
    with pytest.raises(DataError, match="HTTP 422 \\(invalid symbol"):
        alpaca_for(alpaca_server).fetch_daily(["AAPL"], JAN[0], JAN[-1])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"bars": {"AAPL": [', "not valid JSON"),
        ("<html>gateway</html>", "not valid JSON"),
        ({"next_page_token": None}, "malformed response"),
        ({"bars": None, "next_page_token": None}, "malformed response"),
        ({"bars": {"AAPL": {"t": "x"}}, "next_page_token": None}, "bars are not a list"),
    ],
)
def test_malformed_payloads_are_data_errors(
    alpaca_server: FakeAlpacaData, body: object, message: str
) -> None:
    alpaca_server.queue(Reply(200, body))
    with pytest.raises(DataError, match=message):
        alpaca_for(alpaca_server).fetch_daily(["AAPL"], JAN[0], JAN[-1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"c": None}, "AAPL: bar 2 .*not a number"),
        ({"o": True}, "AAPL: bar 2 .*not a number"),
        ({"t": 20240103}, "AAPL: bar 2 has no timestamp"),
        ({"t": "yesterday"}, "AAPL: bad bar timestamp"),
        ({"l": 0.0, "o": 0.0}, "AAPL: open is not a positive finite price on 2024-01-03"),
        ({"h": 90.0}, "AAPL: high is below low on 2024-01-03"),
        ({"c": 150.0}, "AAPL: close is outside \\[low, high\\] on 2024-01-03"),
        ({"v": -5}, "AAPL: volume is not a finite number >= 0 on 2024-01-03"),
    ],
)
def test_bad_bars_are_data_errors_naming_the_symbol(
    alpaca_server: FakeAlpacaData, change: dict[str, object], message: str
) -> None:
    bars = synthetic_bars(JAN)
    bars[1] = {**bars[1], **change}
    alpaca_server.set_bars("AAPL", bars)
    with pytest.raises(DataError, match=message):
        alpaca_for(alpaca_server).fetch_daily(["AAPL"], JAN[0], JAN[-1])


def test_a_missing_field_is_a_data_error(alpaca_server: FakeAlpacaData) -> None:
    bars = synthetic_bars(JAN)
    del bars[3]["c"]
    alpaca_server.set_bars("AAPL", bars)
    with pytest.raises(DataError, match="AAPL: bar 4 \\(2024-01-05T05:00:00Z\\) has no 'c'"):
        alpaca_for(alpaca_server).fetch_daily(["AAPL"], JAN[0], JAN[-1])


def test_one_bad_symbol_keeps_the_others(alpaca_server: FakeAlpacaData) -> None:
    alpaca_server.set_bars("AAPL", synthetic_bars(JAN))
    bad = synthetic_bars(JAN)
    bad[0] = {**bad[0], "c": "NaN"}
    alpaca_server.set_bars("MSFT", bad)
    with pytest.raises(SymbolErrors) as caught:
        alpaca_for(alpaca_server).fetch_daily(["AAPL", "MSFT"], JAN[0], JAN[-1])
    assert list(caught.value.frames) == ["AAPL"]
    assert list(caught.value.errors) == ["MSFT"]
    assert isinstance(caught.value, DataError)


def test_duplicated_bars_from_overlapping_pages_are_refused(alpaca_server: FakeAlpacaData) -> None:
    bars = synthetic_bars(JAN)
    alpaca_server.set_bars("AAPL", [*bars[:3], bars[2], *bars[3:]])
    with pytest.raises(DataError, match="2024-01-04 appears twice"):
        alpaca_for(alpaca_server).fetch_daily(["AAPL"], JAN[0], JAN[-1])


def test_timestamps_map_to_sessions_across_dst_switches(alpaca_server: FakeAlpacaData) -> None:
    # Spring forward on Sunday 2024-03-10, fall back on Sunday 2024-11-03.
    spring = session_days("2024-03-06", "2024-03-13")
    fall = session_days("2024-10-30", "2024-11-06")
    bars = synthetic_bars(spring + fall)
    alpaca_server.set_bars("SPY", bars)
    stamps = {b["t"] for b in bars}
    # The recorded convention: midnight New York time in UTC, so the UTC hour moves with DST.
    assert {"2024-03-08T05:00:00Z", "2024-03-11T04:00:00Z"} <= stamps
    assert {"2024-11-01T04:00:00Z", "2024-11-04T05:00:00Z"} <= stamps

    frame = alpaca_for(alpaca_server).fetch_daily(["SPY"], spring[0], fall[-1])["SPY"]
    assert [d.date() for d in frame.index] == spring + fall
    # A fixed UTC-5 offset would have put the 04:00Z bars on the previous (weekend) day.
    assert date(2024, 3, 11) in {d.date() for d in frame.index}


def test_bar_on_a_day_that_is_not_a_session_is_refused(alpaca_server: FakeAlpacaData) -> None:
    bars = synthetic_bars(JAN[:2])
    # 2024-01-06 05:00Z is Saturday midnight in New York: no XNYS session that day.
    bars.append(daily_bar(date(2024, 1, 6), 100, 101, 99, 100, 10))
    alpaca_server.set_bars("AAPL", bars)
    with pytest.raises(DataError, match="not XNYS sessions: 2024-01-06"):
        alpaca_for(alpaca_server).fetch_daily(["AAPL"], JAN[0], JAN[-1])


def test_a_late_utc_stamp_still_lands_on_its_new_york_session(
    alpaca_server: FakeAlpacaData,
) -> None:
    # 2024-01-05 21:00Z is 16:00 New York time on Friday the 5th (the close).
    bar = {**synthetic_bars([date(2024, 1, 5)])[0], "t": "2024-01-05T21:00:00Z"}
    # And 2024-01-09T02:00Z is still Monday 2024-01-08 (21:00) in New York: not the 9th.
    late = {**synthetic_bars([date(2024, 1, 8)])[0], "t": "2024-01-09T02:00:00Z"}
    alpaca_server.set_bars("AAPL", [bar, late])
    frame = alpaca_for(alpaca_server).fetch_daily(["AAPL"], JAN[0], JAN[-1])["AAPL"]
    assert [d.date() for d in frame.index] == [date(2024, 1, 5), date(2024, 1, 8)]


def test_empty_request_and_reversed_range() -> None:
    provider = AlpacaProvider("k", "s", url=closed_port_url(), retry_wait_seconds=0.01)
    assert provider.fetch_daily([], JAN[0], JAN[-1]) == {}
    with pytest.raises(Exception, match="after end"):
        provider.fetch_daily(["AAPL"], JAN[-1], JAN[0])


def test_frames_are_plain_float_frames(alpaca_server: FakeAlpacaData) -> None:
    alpaca_server.set_bars("AAPL", synthetic_bars(JAN))
    frame = alpaca_for(alpaca_server).fetch_daily(["AAPL"], JAN[0], JAN[-1])["AAPL"]
    expected = pd.DatetimeIndex(pd.to_datetime(JAN), name="date").as_unit("ns")
    pd.testing.assert_index_equal(frame.index, expected)
