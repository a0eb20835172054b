"""Lost answers, throttling and server errors: nothing is ever sent twice by the adapter."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from alphatrader.domain.orders import OrderStatus
from alphatrader.errors import ConfigError
from alphatrader.execution.brokers.alpaca import AlpacaBroker
from alphatrader.execution.brokers.base import (
    BrokerRejected,
    BrokerUnavailable,
    DuplicateClientOrderId,
)
from tests.fakes import closed_port_url
from tests.fakes.alpaca_trading import FakeAlpacaTrading, Fault
from tests.unit.execution.alpaca.conftest import CLIENT_TIMEOUT, KEY, SECRET, buy


def test_timeout_after_accept_then_lookup_finds_the_order(
    broker: AlpacaBroker, server: FakeAlpacaTrading, sleeps: list[float]
) -> None:
    server.fail_next(Fault.TIMEOUT_AFTER_ACCEPT, on="submit")
    with pytest.raises(BrokerUnavailable, match="look it up"):
        broker.submit(buy(), "t-after")
    assert server.posts("t-after") == 1
    assert sleeps == []  # a POST is never retried
    found = broker.get_order("t-after")
    assert found is not None
    assert found.status is OrderStatus.ACCEPTED
    assert server.created["t-after"] == 1


def test_timeout_before_accept_then_lookup_finds_nothing(
    broker: AlpacaBroker, server: FakeAlpacaTrading, sleeps: list[float]
) -> None:
    server.fail_next(Fault.TIMEOUT_BEFORE_ACCEPT, on="submit")
    with pytest.raises(BrokerUnavailable):
        broker.submit(buy(), "t-before")
    assert server.posts("t-before") == 1
    assert sleeps == []
    assert broker.get_order("t-before") is None
    # After the lookup said "none", sending again is safe and creates exactly one order.
    assert broker.submit(buy(), "t-before").status is OrderStatus.ACCEPTED
    assert server.created["t-before"] == 1
    assert server.resent_without_lookup() == []


@pytest.mark.parametrize(
    ("fault", "created"),
    [
        (Fault.RATE_LIMIT, 0),
        (Fault.GATEWAY_TIMEOUT, 1),  # accepted, then the gateway gave up
        (Fault.SERVER_ERROR, 0),
    ],
)
def test_post_is_never_retried(
    broker: AlpacaBroker,
    server: FakeAlpacaTrading,
    sleeps: list[float],
    fault: Fault,
    created: int,
) -> None:
    server.fail_next(fault, on="submit")
    with pytest.raises(BrokerUnavailable):
        broker.submit(buy(), "no-retry")
    assert server.posts("no-retry") == 1
    assert sleeps == []
    assert server.created["no-retry"] == created
    assert (broker.get_order("no-retry") is not None) == bool(created)


def test_resend_after_504_is_a_duplicate_not_a_second_order(
    broker: AlpacaBroker, server: FakeAlpacaTrading
) -> None:
    server.fail_next(Fault.GATEWAY_TIMEOUT, on="submit")
    with pytest.raises(BrokerUnavailable):
        broker.submit(buy(), "cid-504")
    with pytest.raises(DuplicateClientOrderId):
        broker.submit(buy(), "cid-504")
    assert server.created["cid-504"] == 1


def test_429_on_a_read_waits_for_the_reset(
    broker: AlpacaBroker, server: FakeAlpacaTrading, sleeps: list[float]
) -> None:
    server.rate_limit_reset_after = 3
    server.fail_next(Fault.RATE_LIMIT, on="account")
    account = broker.account()
    assert account.cash == Decimal(100_000)
    assert len(server.requests_of("account")) == 2
    (wait,) = sleeps
    assert 2.0 <= wait <= 3.0  # until X-Ratelimit-Reset (whole epoch seconds)


def test_429_wait_is_capped_and_retries_are_bounded(server: FakeAlpacaTrading) -> None:
    sleeps: list[float] = []
    broker = AlpacaBroker(
        KEY, SECRET, url_override=server.url, sleep=sleeps.append, max_wait=5, read_retries=2
    )
    server.rate_limit_reset_after = 120
    server.fail_next(Fault.RATE_LIMIT, on="clock", times=10)
    with pytest.raises(BrokerUnavailable, match="after 3 tries"):
        broker.clock()
    assert sleeps == [5, 5]
    assert len(server.requests_of("clock")) == 3


def test_real_rate_limit_window(broker: AlpacaBroker, server: FakeAlpacaTrading) -> None:
    server.rate_limit = 3
    for _ in range(3):
        broker.clock()
    sleeps_before = len(server.requests_of("clock"))
    with pytest.raises(BrokerUnavailable, match="429"):
        broker.clock()
    assert len(server.requests_of("clock")) == sleeps_before + 4  # 1 try + 3 retries


def test_5xx_and_timeouts_on_reads_are_retried_with_backoff(
    broker: AlpacaBroker, server: FakeAlpacaTrading, sleeps: list[float]
) -> None:
    broker.submit(buy(), "r-1")
    server.fail_next(Fault.SERVER_ERROR, on="lookup")
    server.fail_next(Fault.GATEWAY_TIMEOUT, on="lookup")
    server.fail_next(Fault.TIMEOUT_BEFORE_ACCEPT, on="lookup")
    found = broker.get_order("r-1")
    assert found is not None
    assert sleeps == [0.5, 1.0, 2.0]


def test_connection_refused(sleeps: list[float]) -> None:
    broker = AlpacaBroker(
        KEY, SECRET, url_override=closed_port_url(), timeout=CLIENT_TIMEOUT, sleep=sleeps.append
    )
    with pytest.raises(BrokerUnavailable, match="connection failed"):
        broker.submit(buy(), "c-1")
    assert sleeps == []
    with pytest.raises(BrokerUnavailable):
        broker.get_order("c-1")
    assert len(sleeps) == 3


def test_wrong_keys_are_a_config_error_and_secrets_stay_out(
    server: FakeAlpacaTrading, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-secret-canary-91b2"
    broker = AlpacaBroker(KEY, wrong, url_override=server.url, sleep=lambda _: None)
    with pytest.raises(ConfigError, match="ALPACA_API_KEY") as read_error:
        broker.account()
    with pytest.raises(ConfigError) as submit_error:
        broker.submit(buy(), "k-1")
    server.fail_next(Fault.TIMEOUT_AFTER_ACCEPT, on="submit")
    good = AlpacaBroker(KEY, SECRET, url_override=server.url, timeout=CLIENT_TIMEOUT)
    with pytest.raises(BrokerUnavailable) as timeout_error:
        good.submit(buy(), "k-2")
    texts = [str(read_error.value), str(submit_error.value), str(timeout_error.value), caplog.text]
    for text in texts:
        assert wrong not in text
        assert SECRET not in text


def test_unreadable_success_on_submit_is_unavailable(
    broker: AlpacaBroker, server: FakeAlpacaTrading
) -> None:
    from tests.fakes import Reply

    server.queue(Reply(200, "{not json"))
    with pytest.raises(BrokerUnavailable):
        broker.submit(buy(), "garbled")
    server.queue(Reply(200, {"id": "x"}))  # JSON, but not an order
    with pytest.raises(BrokerUnavailable, match="unreadable"):
        broker.submit(buy(), "garbled-2")


def test_chaos_run_leaves_exactly_one_order_per_client_id(server: FakeAlpacaTrading) -> None:
    """A small B1: per-call faults from a seeded generator; every id is resolved by lookup."""
    server.fault_delay = 0.5
    server.set_account(cash="10000000")
    server.chaos(
        {
            Fault.TIMEOUT_AFTER_ACCEPT: 0.10,
            Fault.TIMEOUT_BEFORE_ACCEPT: 0.05,
            Fault.RATE_LIMIT: 0.05,
            Fault.GATEWAY_TIMEOUT: 0.02,
            Fault.SERVER_ERROR: 0.01,
            Fault.PDT: 0.02,
            Fault.UNKNOWN_STATUS: 0.01,
        },
        seed=2024,
    )
    broker = AlpacaBroker(
        KEY, SECRET, url_override=server.url, timeout=0.2, sleep=lambda _: None, read_retries=8
    )
    outcomes: dict[str, str] = {}
    for i in range(40):
        cid = f"chaos-{i}"
        for _ in range(20):
            try:
                broker.submit(buy("1"), cid)
                outcomes[cid] = "accepted"
            except BrokerRejected:
                outcomes[cid] = "rejected"
            except DuplicateClientOrderId:
                outcomes[cid] = "exists"
            except BrokerUnavailable:
                if broker.get_order(cid) is not None:
                    outcomes[cid] = "exists"
                else:
                    continue  # looked up, none there: safe to send again
            break
    assert len(outcomes) == 40
    assert all(n <= 1 for n in server.created.values())
    assert server.resent_without_lookup() == []
    for cid, outcome in outcomes.items():
        assert (server.order(cid) is not None) == (outcome != "rejected"), cid
    assert server.fault_log, "the seed produced no faults"


def test_retry_after_header_is_honoured(
    broker: AlpacaBroker, server: FakeAlpacaTrading, sleeps: list[float]
) -> None:
    from tests.fakes import Reply

    server.queue(Reply(429, {"code": 42910000, "message": "slow down"}, {"Retry-After": "4"}))
    broker.positions()
    assert sleeps == [4.0]
