"""Fixtures for the job tests: a clean environment and a migrated SQLite database.

Tests that must pass on both backends use the shared `database` fixture (tests/databases.py:
SQLite and a throwaway PostgreSQL database).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alphatrader.config import Settings
from alphatrader.storage.db import Database, default_database_url

SETTINGS_ENV = tuple(
    field.alias for field in Settings.model_fields.values() if field.alias is not None
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer's .env or AlphaTrader variables leak into the test (cwd: tmp_path)."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(default_database_url(tmp_path / "data"))
    db.migrate()
    yield db
    db.dispose()
