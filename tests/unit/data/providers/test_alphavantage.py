"""Alpha Vantage daily adjusted bars: the real httpx client against a fake on loopback; time,
sleep and jitter are injected so that backoff and rate limiting are checked without waiting.

All prices are synthetic."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from alphatrader.data.providers.alphavantage import AlphaVantageProvider, Backoff, RateLimiter
from alphatrader.data.providers.base import SymbolErrors
from alphatrader.errors import ConfigError, DataError, TemporaryError
from tests.fakes import Reply, closed_port_url
from tests.fakes.alphavantage import (
    ERROR_INVALID_CALL,
    INFORMATION_BURST,
    INFORMATION_DAILY_LIMIT,
    INFORMATION_PREMIUM,
    NOTE_CALL_FREQUENCY,
    FakeAlphaVantage,
    Row,
    synthetic_rows,
)
from tests.unit.data.providers.helpers import FakeClock, alphavantage_for, session_days

JAN = session_days("2024-01-02", "2024-01-10")


def test_happy_path_adjusts_prices_and_volume(
    av_server: FakeAlphaVantage, clock: FakeClock
) -> None:
    # A 2-for-1 split after these rows: adjusted close is half the close.
    av_server.set_rows("IBM", synthetic_rows(JAN, base=200.0, factor=0.5))
    frames = alphavantage_for(av_server, clock).fetch_daily(["IBM"], JAN[0], JAN[-1])

    ibm = frames["IBM"]
    assert list(ibm.columns) == ["open", "high", "low", "close", "volume"]
    assert (ibm.dtypes == "float64").all()
    assert [d.date() for d in ibm.index] == JAN  # sorted ascending though served newest first
    assert ibm.index.name == "date" and str(ibm.index.dtype) == "datetime64[ns]"
    first = ibm.iloc[0]
    assert first["open"] == pytest.approx(100.0)  # 200 × 0.5
    assert first["high"] == pytest.approx(100.5)
    assert first["low"] == pytest.approx(99.5)
    assert first["close"] == pytest.approx(100.25)  # the adjusted close
    assert first["volume"] == pytest.approx(4_000_000.0)  # 2,000,000 / 0.5

    (call,) = av_server.requests
    assert call.path == "/query"
    assert call.query == {
        "function": "TIME_SERIES_DAILY_ADJUSTED",
        "symbol": "IBM",
        "outputsize": "full",
        "apikey": av_server.api_key,
    }
    assert clock.sleeps == []


def test_rows_outside_the_range_are_dropped(av_server: FakeAlphaVantage, clock: FakeClock) -> None:
    av_server.set_rows("IBM", synthetic_rows(JAN))
    frame = alphavantage_for(av_server, clock).fetch_daily(
        ["IBM"], date(2024, 1, 4), date(2024, 1, 5)
    )["IBM"]
    assert [d.date() for d in frame.index] == [date(2024, 1, 4), date(2024, 1, 5)]


def test_note_throttle_then_success_backs_off(
    av_server: FakeAlphaVantage, clock: FakeClock
) -> None:
    av_server.set_rows("IBM", synthetic_rows(JAN))
    av_server.queue(Reply(200, NOTE_CALL_FREQUENCY), Reply(200, INFORMATION_BURST))
    frames = alphavantage_for(av_server, clock, attempts=3).fetch_daily(["IBM"], JAN[0], JAN[-1])
    assert len(frames["IBM"]) == len(JAN)
    assert len(av_server.requests) == 3
    # Backoff(base=2): attempt n waits half of 2·2ⁿ plus jitter (0.5 here) times the other half.
    assert clock.sleeps == [1.5, 3.0]


def test_throttled_past_the_attempts_is_temporary(
    av_server: FakeAlphaVantage, clock: FakeClock
) -> None:
    av_server.queue(*[Reply(200, NOTE_CALL_FREQUENCY)] * 5)
    with pytest.raises(TemporaryError, match=r"IBM: throttled.*4 attempts") as caught:
        alphavantage_for(av_server, clock, attempts=4).fetch_daily(["IBM"], JAN[0], JAN[-1])
    assert len(av_server.requests) == 4
    assert clock.sleeps == [1.5, 3.0, 6.0]  # exponential, no sleep after the last attempt
    assert av_server.api_key not in str(caught.value)


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(attempts=10, base=10.0, cap=60.0)
    assert [backoff.delay(n, lambda: 0.0) for n in range(4)] == [5.0, 10.0, 20.0, 30.0]
    assert [backoff.delay(n, lambda: 1.0) for n in range(4)] == [10.0, 20.0, 40.0, 60.0]


@pytest.mark.parametrize(
    "reply",
    [
        Reply(429, "Too Many Requests"),
        Reply(500, "Internal Server Error"),
        Reply(503, "Service Unavailable"),
    ],
)
def test_http_faults_are_retried(
    av_server: FakeAlphaVantage, clock: FakeClock, reply: Reply
) -> None:
    av_server.set_rows("IBM", synthetic_rows(JAN))
    av_server.queue(reply)
    frames = alphavantage_for(av_server, clock).fetch_daily(["IBM"], JAN[0], JAN[-1])
    assert "IBM" in frames
    assert clock.sleeps == [1.5]


def test_retry_after_is_honoured(av_server: FakeAlphaVantage, clock: FakeClock) -> None:
    av_server.set_rows("IBM", synthetic_rows(JAN))
    av_server.queue(Reply(429, "slow down", headers={"Retry-After": "30"}))
    alphavantage_for(av_server, clock).fetch_daily(["IBM"], JAN[0], JAN[-1])
    assert clock.sleeps == [30.0]


def test_persistent_500_is_temporary(av_server: FakeAlphaVantage, clock: FakeClock) -> None:
    av_server.queue(*[Reply(500, "oops")] * 5)
    with pytest.raises(TemporaryError, match="HTTP 500"):
        alphavantage_for(av_server, clock).fetch_daily(["IBM"], JAN[0], JAN[-1])
    assert len(av_server.requests) == 3


def test_unreachable_server_is_temporary(clock: FakeClock) -> None:
    provider = AlphaVantageProvider(
        "k",
        url=closed_port_url(),
        backoff=Backoff(attempts=2, base=1.0),
        clock=clock,
        sleep=clock.sleep,
        rand=lambda: 0.0,
    )
    with pytest.raises(TemporaryError, match="cannot connect"):
        provider.fetch_daily(["IBM"], JAN[0], JAN[-1])
    assert clock.sleeps == [0.5]


def test_a_slow_answer_times_out_and_is_retried(
    av_server: FakeAlphaVantage, clock: FakeClock
) -> None:
    av_server.set_rows("IBM", synthetic_rows(JAN))
    av_server.queue(Reply(200, NOTE_CALL_FREQUENCY, delay=1.0))
    frames = alphavantage_for(av_server, clock, timeout=0.2).fetch_daily(["IBM"], JAN[0], JAN[-1])
    assert "IBM" in frames
    assert clock.sleeps == [1.5]


def test_unknown_symbol_is_a_data_error_naming_it(
    av_server: FakeAlphaVantage, clock: FakeClock
) -> None:
    with pytest.raises(DataError, match="alphavantage: NOPE: unknown symbol") as caught:
        alphavantage_for(av_server, clock).fetch_daily(["NOPE"], JAN[0], JAN[-1])
    assert not isinstance(caught.value, SymbolErrors)
    assert clock.sleeps == []  # not retried


def test_unknown_symbol_among_good_ones(av_server: FakeAlphaVantage, clock: FakeClock) -> None:
    av_server.set_rows("IBM", synthetic_rows(JAN))
    av_server.set_rows("KO", synthetic_rows(JAN, base=60.0))
    with pytest.raises(SymbolErrors) as caught:
        alphavantage_for(av_server, clock).fetch_daily(["IBM", "NOPE", "KO"], JAN[0], JAN[-1])
    assert sorted(caught.value.frames) == ["IBM", "KO"]
    assert list(caught.value.errors) == ["NOPE"]
    assert "NOPE" in str(caught.value.errors["NOPE"])
    # The fake answered an unknown symbol with the recorded "Error Message" body.
    assert ERROR_INVALID_CALL["Error Message"][:60] in str(caught.value.errors["NOPE"])


def test_daily_quota_is_not_retried_and_stops_the_batch(
    av_server: FakeAlphaVantage, clock: FakeClock
) -> None:
    av_server.set_rows("IBM", synthetic_rows(JAN))
    av_server.set_rows("KO", synthetic_rows(JAN))
    av_server.queue(Reply(200, INFORMATION_DAILY_LIMIT))
    with pytest.raises(SymbolErrors) as caught:
        alphavantage_for(av_server, clock).fetch_daily(["IBM", "KO"], JAN[0], JAN[-1])
    errors = caught.value.errors
    assert isinstance(errors["IBM"], TemporaryError)
    assert "daily request quota" in str(errors["IBM"])
    assert isinstance(errors["KO"], TemporaryError)  # not even tried
    assert len(av_server.requests) == 1 and clock.sleeps == []


def test_premium_endpoint_is_a_config_error(av_server: FakeAlphaVantage, clock: FakeClock) -> None:
    av_server.queue(Reply(200, INFORMATION_PREMIUM))
    with pytest.raises(ConfigError, match="premium plan"):
        alphavantage_for(av_server, clock).fetch_daily(["IBM"], JAN[0], JAN[-1])


def test_bad_key_is_a_data_error_without_the_key(clock: FakeClock) -> None:
    with FakeAlphaVantage(api_key="the-right-key") as server:
        provider = AlphaVantageProvider(
            "a-wrong-key", url=server.url, clock=clock, sleep=clock.sleep
        )
        with pytest.raises(DataError, match="apikey is invalid") as caught:
            provider.fetch_daily(["IBM"], JAN[0], JAN[-1])
    assert "a-wrong-key" not in str(caught.value)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(200, "{not json"), "not valid JSON"),
        (Reply(200, "[1, 2]"), "not a JSON object"),
        (Reply(200, {"Meta Data": {}}), "no 'Time Series \\(Daily\\)'"),
        (Reply(200, {"Time Series (Daily)": []}), "is not an object"),
        (Reply(200, {"Time Series (Daily)": {"2024-13-01": {}}}), "not a YYYY-MM-DD date"),
        (Reply(404, "Not Found"), "unexpected HTTP 404"),
    ],
)
def test_malformed_payloads_are_data_errors(
    av_server: FakeAlphaVantage, clock: FakeClock, reply: Reply, message: str
) -> None:
    av_server.queue(reply)
    with pytest.raises(DataError, match=message):
        alphavantage_for(av_server, clock).fetch_daily(["IBM"], JAN[0], JAN[-1])


def _bar(**change: str) -> dict[str, object]:
    bar = Row(JAN[1], 10, 11, 9, 10.5, 10.5, 1000).as_json()
    bar.update(change)
    return {"Time Series (Daily)": {JAN[1].isoformat(): {k: v for k, v in bar.items() if v}}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_bar(**{"4. close": ""}), "IBM: the bar of 2024-01-03 has no '4. close'"),
        (_bar(**{"6. volume": "n/a"}), "IBM: the bar of 2024-01-03: 'n/a' is not a number"),
        (_bar(**{"5. adjusted close": "0.0000"}), "price <= 0"),
        (_bar(**{"2. high": "8.0000"}), "high is below low on 2024-01-03"),
    ],
)
def test_bad_bars_are_data_errors(
    av_server: FakeAlphaVantage, clock: FakeClock, body: dict[str, object], message: str
) -> None:
    av_server.queue(Reply(200, body))
    with pytest.raises(DataError, match=message):
        alphavantage_for(av_server, clock).fetch_daily(["IBM"], JAN[0], JAN[-1])


def test_rate_limiter_spaces_calls(clock: FakeClock) -> None:
    limiter = RateLimiter(5, 60.0, clock=clock, sleep=clock.sleep)
    started = []
    for _ in range(12):
        limiter.acquire()
        started.append(clock.now - 1000.0)
    assert started == [0.0] * 5 + [60.0] * 5 + [120.0] * 2
    # Never more than 5 calls in any 60-second window.
    for i, t in enumerate(started):
        assert sum(1 for u in started[i:] if u < t + 60.0) <= 5


def test_rate_limiter_does_not_wait_when_calls_are_spread(clock: FakeClock) -> None:
    limiter = RateLimiter(2, 60.0, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        limiter.acquire()
        clock.now += 30.0  # the caller's own work takes 30 s
    assert clock.sleeps == []


def test_provider_calls_respect_the_rate_limit(
    av_server: FakeAlphaVantage, clock: FakeClock
) -> None:
    for sym in ("AAA", "BBB", "CCC"):
        av_server.set_rows(sym, synthetic_rows(JAN))
    provider = alphavantage_for(av_server, clock, calls_per_minute=2)
    frames = provider.fetch_daily(["AAA", "BBB", "CCC"], JAN[0], JAN[-1])
    assert sorted(frames) == ["AAA", "BBB", "CCC"]
    assert clock.sleeps == [60.0]  # the third call waited for the window to move
    assert [r.query["symbol"] for r in av_server.requests] == ["AAA", "BBB", "CCC"]


def test_a_missing_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ALPHAVANTAGE_API_KEY"):
        AlphaVantageProvider("")


def test_the_key_never_reaches_the_logs(
    av_server: FakeAlphaVantage, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    av_server.set_rows("IBM", synthetic_rows(JAN))
    av_server.queue(Reply(200, NOTE_CALL_FREQUENCY))
    with caplog.at_level(logging.DEBUG):
        alphavantage_for(av_server, clock).fetch_daily(["IBM"], JAN[0], JAN[-1])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "apikey=***" in logged  # httpx logged the request URLs, masked
    assert "throttled" in logged  # and we logged the retry
    assert av_server.api_key not in logged
