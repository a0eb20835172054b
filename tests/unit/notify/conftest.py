"""Notification tests never read the developer's .env or EMAIL_* environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.notify.factories import EMAIL_ENV


@pytest.fixture(autouse=True)
def _clean_email_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in EMAIL_ENV:
        monkeypatch.delenv(name, raising=False)
