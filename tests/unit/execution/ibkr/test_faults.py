"""Seeded chaos: whatever the placement faults, TWS never holds two orders for one client id."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphatrader.domain.orders import OrderStatus
from alphatrader.execution.brokers.base import BrokerOrder, BrokerRejected, BrokerUnavailable
from alphatrader.execution.brokers.ibkr import IBKRBroker
from tests.fakes.ib_standin import PLACEMENT_FAULTS, IBStandIn
from tests.unit.execution.ibkr.support import config, limit_buy


def settle(broker: IBKRBroker, cid: str, tries: int = 12) -> BrokerOrder | str:
    """What the order manager does: send; on an unknown outcome look up, and send again (same
    id) only when the broker has none."""
    try:
        return broker.submit(limit_buy(), cid)
    except BrokerRejected:
        return "rejected"
    except BrokerUnavailable:
        pass
    for _ in range(tries):
        try:
            found = broker.get_order(cid)
            if found is not None and found.status is not OrderStatus.UNKNOWN:
                return found
            if found is None:
                return broker.submit(limit_buy(), cid)
        except BrokerRejected:
            return "rejected"
        except BrokerUnavailable:
            continue
    return "unresolved"


@pytest.mark.parametrize("seed", range(8))
def test_no_client_id_is_ever_created_twice(tmp_path: Path, seed: int) -> None:
    standin = IBStandIn()
    standin.chaos({fault: 0.08 for fault in PLACEMENT_FAULTS}, seed=seed)
    broker = IBKRBroker(standin, config(tmp_path), sleep=lambda _: None)
    broker.connect()

    outcomes = {f"c-{i}": settle(broker, f"c-{i}") for i in range(25)}

    assert sum(standin.injected.values()) > 0
    assert "unresolved" not in outcomes.values()
    for cid, outcome in outcomes.items():
        created = standin.tws_orders_by_ref(cid)
        assert len(created) <= 1, cid
        final = broker.get_order(cid)
        if final is not None and final.status is OrderStatus.ACCEPTED:
            assert len(created) == 1, cid
            assert final.broker_order_id == str(created[0].perm_id)
        if final is not None and final.status is OrderStatus.UNKNOWN:
            assert not created and outcome != "rejected", cid  # only a never-answered order
        if outcome == "rejected":
            assert final is None or final.status is OrderStatus.REJECTED, cid
