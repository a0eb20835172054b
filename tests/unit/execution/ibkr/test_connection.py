"""Connecting: backoff, a startup sync that fails closed, port/account checks, the clientId lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphatrader.errors import ConfigError
from alphatrader.execution.brokers.base import BrokerUnavailable
from alphatrader.execution.brokers.ibkr import ClientIdLocked, IBKRBroker
from tests.fakes.ib_standin import TWS, IBStandIn
from tests.unit.execution.ibkr.support import buy, config


def test_connects_after_refused_attempts_with_exponential_backoff(tmp_path: Path) -> None:
    standin, sleeps = IBStandIn(), []
    standin.fail_next("connect_refused", times=2)
    broker = IBKRBroker(standin, config(tmp_path), sleep=sleeps.append)

    broker.connect()

    assert broker.ready
    assert standin.connect_calls == 3
    assert sleeps == [1.0, 2.0]
    kwargs = standin.connect_kwargs[-1]
    assert kwargs["raiseSyncErrors"] is True
    assert kwargs["readonly"] is False
    assert (kwargs["port"], kwargs["clientId"]) == (4002, 7)
    assert standin.RaiseRequestErrors is True
    assert standin.RequestTimeout > 0
    broker.close()


def test_gives_up_after_the_last_attempt(tmp_path: Path) -> None:
    standin, sleeps = IBStandIn(), []
    standin.fail_next("connect_refused", times=99)
    broker = IBKRBroker(standin, config(tmp_path, connect_attempts=4), sleep=sleeps.append)

    with pytest.raises(BrokerUnavailable, match="after 4 attempts"):
        broker.connect()

    assert standin.connect_calls == 4
    assert sleeps == [1.0, 2.0, 4.0]
    assert not broker.ready


def test_a_failed_startup_sync_fails_closed_until_a_sync_succeeds(tmp_path: Path) -> None:
    standin = IBStandIn()
    standin.fail_next("sync_timeout", times=99)
    broker = IBKRBroker(standin, config(tmp_path, connect_attempts=2), sleep=lambda _: None)

    with pytest.raises(BrokerUnavailable):
        broker.connect()
    assert not standin.isConnected()  # ib_async disconnects when raiseSyncErrors is set
    with pytest.raises(BrokerUnavailable):
        broker.submit(buy(), "c-1")  # the submission tries to connect, and the sync fails again
    assert sum(standin.place_counts.values()) == 0

    standin.clear_faults()
    answer = broker.submit(buy(), "c-1")
    assert answer.client_order_id == "c-1"
    assert standin.place_counts["c-1"] == 1


def test_without_auto_reconnect_a_disconnected_broker_refuses_reads_too(tmp_path: Path) -> None:
    standin = IBStandIn()
    broker = IBKRBroker(standin, config(tmp_path, auto_reconnect=False), sleep=lambda _: None)
    broker.connect()
    broker.submit(buy(), "c-1")
    standin.drop_connection()

    with pytest.raises(BrokerUnavailable):
        broker.get_order("c-1")  # never None: None would mean "send it again"
    with pytest.raises(BrokerUnavailable):
        broker.submit(buy(), "c-2")
    assert standin.place_counts["c-2"] == 0


def test_a_live_port_in_paper_mode_is_refused_before_connecting(tmp_path: Path) -> None:
    standin = IBStandIn()
    broker = IBKRBroker(standin, config(tmp_path, port=7496), sleep=lambda _: None)

    with pytest.raises(ConfigError, match="7496 is a live-trading port"):
        broker.connect()
    assert standin.connect_calls == 0


def test_a_live_account_in_paper_mode_is_refused(tmp_path: Path) -> None:
    standin = IBStandIn(TWS(accounts=("U7654321",)))
    broker = IBKRBroker(standin, config(tmp_path), sleep=lambda _: None)

    with pytest.raises(ConfigError, match="U7654321 is a live account"):
        broker.connect()
    assert not standin.isConnected()


def test_several_accounts_need_ibkr_account(tmp_path: Path) -> None:
    standin = IBStandIn(TWS(accounts=("DU111", "DU222")))
    broker = IBKRBroker(standin, config(tmp_path), sleep=lambda _: None)
    with pytest.raises(ConfigError, match="set IBKR_ACCOUNT"):
        broker.connect()

    chosen = IBKRBroker(standin, config(tmp_path, account="DU222"), sleep=lambda _: None)
    chosen.connect()
    assert chosen.ready
    assert standin.connect_kwargs[-1]["account"] == "DU222"
    chosen.close()


def test_a_second_broker_with_the_same_client_id_refuses(tmp_path: Path) -> None:
    tws = TWS()
    first_ib, second_ib = IBStandIn(tws), IBStandIn(tws)
    first = IBKRBroker(first_ib, config(tmp_path), sleep=lambda _: None)
    second = IBKRBroker(second_ib, config(tmp_path), sleep=lambda _: None)
    first.connect()

    with pytest.raises(ClientIdLocked, match="clientId 7 is in use"):
        second.connect()
    assert second_ib.connect_calls == 0  # refused before TWS was even asked

    other = IBKRBroker(IBStandIn(tws), config(tmp_path, client_id=8), sleep=lambda _: None)
    other.connect()  # another clientId is another lock
    assert other.ready

    first.close()
    second.connect()
    assert second.ready
    second.close()
    other.close()


def test_the_lock_is_a_broker_unavailable_error(tmp_path: Path) -> None:
    assert issubclass(ClientIdLocked, BrokerUnavailable)


def test_a_real_ib_async_client_with_nothing_listening_is_unavailable(tmp_path: Path) -> None:
    import socket

    from alphatrader.execution.brokers.ibkr import IBKRConfig, ibkr_broker

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free a moment ago: nothing listens there
    broker = ibkr_broker(
        IBKRConfig(port=port, connect_attempts=2, backoff_base=0.01, lock_dir=tmp_path)
    )

    with pytest.raises(BrokerUnavailable, match="after 2 attempts"):
        broker.connect()
    with pytest.raises(BrokerUnavailable):
        broker.submit(buy(), "c-1")
    assert not (tmp_path / "ibkr-client-1.lock").read_text()  # released: no pid left behind
