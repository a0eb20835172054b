"""Persistence: SQLAlchemy models, engine/session setup, Alembic migrations."""

from alphatrader.storage.db import Database, default_database_url

__all__ = ["Database", "default_database_url"]
