"""Shared fixtures. The store is seeded once per test session from the bundled real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphatrader.data.store import MarketDataStore


@pytest.fixture(scope="session")
def seeded_store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("market")
    MarketDataStore(root).ensure_seeded()
    return root


@pytest.fixture
def store(seeded_store_root: Path) -> MarketDataStore:
    """A read-mostly store over the bundled data. Tests that write use `fresh_store`."""
    return MarketDataStore(seeded_store_root)


@pytest.fixture
def fresh_store(tmp_path: Path) -> MarketDataStore:
    """An empty store that has not been seeded (writes go to a private folder)."""
    store = MarketDataStore(tmp_path / "market")
    (tmp_path / "market").mkdir()
    (tmp_path / "market" / ".seeded-v1").write_text("empty on purpose\n")
    return store


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI's ALPHATRADER_DATA_DIR at a private folder for one test."""
    monkeypatch.setenv("ALPHATRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


from tests.databases import database, database_url, postgres_database_url  # noqa: E402,F401
