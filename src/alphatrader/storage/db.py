"""Engine and sessions for SQLite (embedded default, WAL) and PostgreSQL (production).

`Database.migrate()` brings the schema to the newest Alembic revision; every entry point calls
it before touching tables, so a fresh data dir needs no manual step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from alphatrader.storage.models import AuditEntry


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'alphatrader.db').resolve()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (needed for savepoints).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed row survives power loss
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # IMMEDIATE: take the write lock up front, so two writers queue (busy_timeout)
            # instead of one failing with "database is locked" on lock upgrade.
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._outer: Connection | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        if self._outer is not None:  # inside rolled_back(): a savepoint of the outer work
            with (
                Session(
                    bind=self._outer,
                    join_transaction_mode="create_savepoint",
                    expire_on_commit=False,
                ) as session,
                session.begin(),
            ):
                yield session
            return
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def rolled_back(self) -> Iterator[Database]:
        """Everything done through `session()` inside this block is undone at its end: a dry
        run takes the very same code path as a real one and leaves no trace."""
        with self.engine.connect() as conn:
            outer = conn.begin()
            self._outer = conn
            try:
                yield self
            finally:
                self._outer = None
                outer.rollback()

    # -- migrations --------------------------------------------------------------------
    def _alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(resources.files(__package__) / "migrations"))
        config.attributes["engine"] = self.engine
        return config

    def migrate(self) -> None:
        command.upgrade(self._alembic_config(), "head")

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def dispose(self) -> None:
        self.engine.dispose()


def audit(session: Session, actor: str, action: str, **details: Any) -> None:
    """Append one entry to the audit trail, in the caller's transaction."""
    session.add(AuditEntry(at=datetime.now(UTC), actor=actor, action=action, details=details))
