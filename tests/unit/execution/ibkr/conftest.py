from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alphatrader.execution.brokers.ibkr import IBKRBroker
from tests.fakes.ib_standin import IBStandIn
from tests.unit.execution.ibkr.support import config


@pytest.fixture
def standin() -> IBStandIn:
    return IBStandIn()


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff and pacing pauses the broker asked for (nothing really waits)."""
    return []


@pytest.fixture
def broker(standin: IBStandIn, sleeps: list[float], tmp_path: Path) -> Iterator[IBKRBroker]:
    b = IBKRBroker(standin, config(tmp_path), sleep=sleeps.append)
    b.connect()
    yield b
    b.close()
