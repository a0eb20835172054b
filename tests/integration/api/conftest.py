"""The API through the real app: a private var folder (seeded store, one daily run in approval
mode, so there are planned orders), a real SQLite database, keys of every scope.

Canary secrets are in the settings of every test here; `assert_no_secrets` checks a text for
them and for the raw API keys.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from alphatrader.api import create_app
from alphatrader.api.keys import create_key, revoke_key
from alphatrader.config import Settings, load_settings

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SESSION = date(2016, 6, 3)
CANARIES = {
    "ALPACA_API_KEY": "CANARYalpacakey0x7f3a",
    "ALPACA_SECRET_KEY": "CANARYalpacasecret0x91bc",
    "EMAIL_PASSWORD": "CANARYsmtppassword0x55d1",
    "ALPHAVANTAGE_API_KEY": "CANARYalphavantage0x2c0e",
    "DASHBOARD_SESSION_SECRET": "CANARYsessionsecret0x8e44",
}
SETTINGS_ENV = tuple(f.alias for f in Settings.model_fields.values() if f.alias is not None)


def make_settings(home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ALPHATRADER_DATA_DIR": str(home / "var" / "data"),
        "DATABASE_URL": None,
        "DATA_PROVIDERS": "bundled",
        "ENVIRONMENT": "test",
        "PAPER_TRADING_MODE": False,  # approval mode: the plan waits for approval
        "ALERT_CHANNELS": "log",
        "EMAIL_SMTP_SERVER": None,
        "API_RATE_LIMIT_PER_MIN": 100_000,
        "API_AUTH_FAIL_LIMIT_PER_MIN": 100_000,
        **CANARIES,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture(scope="session")
def api_template(tmp_path_factory: pytest.TempPathFactory, seeded_store_root: Path) -> Path:
    """A var folder after the daily job planned 2016-06-03 in approval mode."""
    from alphatrader.jobs.daily import DailyOptions, run_daily

    root = tmp_path_factory.mktemp("api-home")
    (root / "var" / "data").mkdir(parents=True)
    shutil.copytree(seeded_store_root, root / "var" / "data" / "market")
    outcome = run_daily(make_settings(root), DailyOptions(as_of=SESSION, no_email=True))
    assert outcome.status == "completed" and outcome.plan is not None
    assert len(outcome.plan.orders) >= 2
    return root


@pytest.fixture
def home(tmp_path: Path, api_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(api_template / "var", tmp_path / "var")
    return tmp_path


@pytest.fixture
def settings(home: Path) -> Settings:
    return make_settings(home)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.api.close()  # no backtest thread outlives its test


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:  # runs the lifespan: closed at the end
        yield test_client


@dataclass(frozen=True)
class Keys:
    read: str
    trade: str
    admin: str
    revoked: str

    def of(self, scope: str) -> dict[str, str]:
        return {"X-API-Key": getattr(self, scope)}

    def all(self) -> list[str]:
        return [self.read, self.trade, self.admin, self.revoked]


@pytest.fixture
def keys(app: FastAPI) -> Keys:
    db = app.state.api.db
    made = {name: create_key(db, name, scope, "test")[1] for name, scope in SCOPE_OF.items()}
    revoke_key(db, "former", "test")
    return Keys(made["reader"], made["trader"], made["admin"], made["former"])


SCOPE_OF = {"reader": "read", "trader": "trade", "admin": "admin", "former": "admin"}


def assert_no_secrets(text: str, keys: Keys | None = None) -> None:
    for name, value in CANARIES.items():
        assert value not in text, f"{name} leaked"
    for raw in keys.all() if keys else ():
        assert raw not in text, "an API key leaked"
        assert raw.split("_", 2)[2] not in text, "an API key's secret part leaked"
