"""The two databases every storage and job test runs against: SQLite and PostgreSQL.

PostgreSQL comes from `TEST_POSTGRES_URL` (default: the trust-auth server on 127.0.0.1:5432,
database `test`); each test gets a fresh database that is dropped afterwards. Without a
reachable server those tests skip with a message saying how to enable them — except under
CI=true, where a missing server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from alphatrader.storage.db import Database, default_database_url

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


def _server() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_SERVER)


@pytest.fixture
def postgres_database_url() -> Iterator[str]:
    import psycopg
    from psycopg import sql

    server = _server()
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL at {server} is unreachable ({' '.join(str(exc).split())[:120]})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason + "; start it or set TEST_POSTGRES_URL to run these tests")
    name = f"alphatrader_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = server.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return default_database_url(tmp_path / "db")
    url: str = request.getfixturevalue("postgres_database_url")
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.migrate()
    yield db
    db.dispose()
