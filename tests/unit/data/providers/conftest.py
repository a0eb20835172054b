"""Fixtures for the provider tests: the fake vendor servers on loopback and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.alpaca_data import FakeAlpacaData
from tests.fakes.alphavantage import FakeAlphaVantage
from tests.unit.data.providers.helpers import FakeClock


@pytest.fixture
def alpaca_server() -> Iterator[FakeAlpacaData]:
    with FakeAlpacaData() as server:
        yield server


@pytest.fixture
def av_server() -> Iterator[FakeAlphaVantage]:
    with FakeAlphaVantage() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
