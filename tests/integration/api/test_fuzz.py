"""Schemathesis against the app's own OpenAPI schema, in process (RELIABILITY B7, smoke size):
no 5xx, every response documented and matching its schema, auth never ignored, invalid data
refused. Schema-valid data may still be refused with a 4xx that says why (an unknown symbol, a
parameter a strategy does not have, start after end): `positive_data_acceptance` is left out.

The schema is read from an app over a throwaway folder at import (the schema does not depend on
data); every case is then sent to the test's own app, over the seeded var folder with planned
orders (`app=` in `call_and_validate`).
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from alphatrader import operations as ops
from alphatrader.api import create_app
from alphatrader.config import Settings
from tests.integration.api.conftest import Keys, make_settings

_SCHEMA_HOME = tempfile.TemporaryDirectory(prefix="alphatrader-schema-")
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(make_settings(Path(_SCHEMA_HOME.name)))
)


@pytest.fixture(autouse=True)
def one_real_eod_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """The end-of-day report takes no input: the first call runs the real dry run, later calls
    of the same test answer with its result (the fuzzer repeats it dozens of times)."""
    real, made = ops.generate_eod_report, []

    def once(settings: Settings, now: datetime | None = None) -> ops.EodReport:
        if not made:
            made.append(real(settings, now))
        return made[0]

    monkeypatch.setattr(ops, "generate_eod_report", once)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_honours_its_own_schema(case: schemathesis.Case, app: FastAPI, keys: Keys) -> None:
    app.state.api.backtests.max_pending = 1  # fuzzed backtests wait in a queue of one
    case.call_and_validate(
        app=app,
        headers={"X-API-Key": keys.admin},
        excluded_checks=[positive_data_acceptance],
    )
