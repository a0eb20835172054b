"""API keys: created once and shown once, stored as SHA-256, compared in constant time.

A key reads `at_<prefix>_<secret>`: the prefix (8 hex characters) finds the row, the SHA-256 of
the whole key is compared with `hmac.compare_digest`. Scopes are ordered read < trade < admin.
The CLI (`alphatrader apikey ...`) and the API's authentication both go through this module;
nothing here logs or returns a key except `create_key`, whose caller shows it once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from sqlalchemy import select

from alphatrader.errors import InputError, UnknownNameError
from alphatrader.storage.db import Database, audit
from alphatrader.storage.models import ApiKey

Scope = Literal["read", "trade", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
KEY_PATTERN = re.compile(r"at_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_KEY_LENGTH = 64  # anything longer is refused before hashing
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's name and scope (`via` says how they proved it)."""

    name: str
    scope: Scope
    via: Literal["key", "session"] = "key"

    def allows(self, needed: Scope) -> bool:
        return scope_rank(self.scope) >= scope_rank(needed)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    name: str
    prefix: str
    scope: Scope
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def scope_rank(scope: str) -> int:
    return SCOPES.index(scope) if scope in SCOPES else -1


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def create_key(db: Database, name: str, scope: str, actor: str) -> tuple[KeyInfo, str]:
    """A new key: returns its description and the key itself (shown once, never stored)."""
    if not NAME_PATTERN.fullmatch(name):
        raise InputError(
            f"key name {name!r} is not allowed: 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    if scope not in SCOPES:
        raise UnknownNameError("scope", scope, SCOPES)
    now = datetime.now(UTC)
    with db.session() as s:
        if s.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
            raise InputError(f"an API key named {name!r} exists; revoke it or choose another name")
        while True:  # a prefix collision is a one-in-four-billion event; draw again
            prefix = secrets.token_hex(4)
            if s.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
                break
        raw = f"at_{prefix}_{secrets.token_urlsafe(32)}"
        row = ApiKey(
            name=name,
            prefix=prefix,
            key_hash=hash_key(raw),
            scope=scope,
            created_at=now,
            revoked_at=None,
            last_used_at=None,
        )
        s.add(row)
        audit(s, actor, "apikey.create", name=name, prefix=prefix, scope=scope)
    return _info(row), raw


def list_keys(db: Database) -> list[KeyInfo]:
    with db.session() as s:
        return [_info(r) for r in s.scalars(select(ApiKey).order_by(ApiKey.name))]


def revoke_key(db: Database, name: str, actor: str) -> KeyInfo:
    with db.session() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.name == name))
        if row is None:
            known = s.scalars(select(ApiKey.name)).all()
            raise UnknownNameError("API key", name, known, hint="; see `alphatrader apikey list`")
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
            audit(s, actor, "apikey.revoke", name=name, prefix=row.prefix)
        return _info(row)


def verify_key(db: Database, raw_key: str) -> Principal | None:
    """The key's principal, or None when it is malformed, unknown or revoked."""
    if len(raw_key) > MAX_KEY_LENGTH:
        return None
    match = KEY_PATTERN.fullmatch(raw_key)
    if match is None:
        return None
    digest = hash_key(raw_key)
    now = datetime.now(UTC)
    with db.session() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.prefix == match.group(1)))
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            return None
        if row.revoked_at is not None or row.scope not in SCOPES:
            return None
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
            row.last_used_at = now
        return Principal(row.name, SCOPES[scope_rank(row.scope)], "key")


def active_principal(db: Database, name: str, scope: str) -> Principal | None:
    """A session's principal, still backed by an unrevoked key of that name (the lesser of the
    two scopes), or None."""
    with db.session() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.name == name))
        if row is None or row.revoked_at is not None or row.scope not in SCOPES:
            return None
        granted = min(scope_rank(scope), scope_rank(row.scope))
        if granted < 0:
            return None
        return Principal(row.name, SCOPES[granted], "session")


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        row.name,
        row.prefix,
        SCOPES[scope_rank(row.scope)],
        row.created_at,
        row.revoked_at,
        row.last_used_at,
    )
