"""Settings: the seeds' defaults, validation that names the variables, masked secrets."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from alphatrader.config import load_settings
from alphatrader.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in (
        "PORTFOLIO_SIZE",
        "MAX_POSITION_SIZE",
        "MIN_POSITION_SIZE",
        "MIN_CASH_BUFFER",
        "MAX_POSITIONS",
        "DATABASE_URL",
        "PRODUCTION_MODE",
        "PAPER_TRADING_MODE",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_seed_values() -> None:
    s = load_settings()
    assert (s.portfolio_size, s.max_position_size, s.min_position_size, s.min_cash_buffer) == (
        Decimal(1000),
        Decimal(300),
        Decimal(50),
        Decimal(100),
    )
    assert s.max_positions == 4
    assert (s.max_drawdown_pct, s.max_daily_loss_pct) == (15.0, 10.0)
    assert (s.momentum_lookback_days, s.min_momentum_threshold) == (90, 0.05)
    assert (s.confidence_weight, s.momentum_weight) == (0.5, 0.5)
    assert s.emergency_stop_enabled and s.circuit_breaker_enabled


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTFOLIO_SIZE", "5000")
    monkeypatch.setenv("MAX_POSITIONS", "6")
    s = load_settings()
    assert s.portfolio_size == Decimal(5000)
    assert s.max_positions == 6


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MAX_POSITION_SIZE=250\n")
    assert load_settings().max_position_size == Decimal(250)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"MIN_POSITION_SIZE": "400"}, ["MIN_POSITION_SIZE", "MAX_POSITION_SIZE"]),
        ({"MIN_CASH_BUFFER": "1000"}, ["MIN_CASH_BUFFER", "PORTFOLIO_SIZE"]),
        ({"MAX_POSITIONS": "20"}, ["MAX_POSITIONS", "MIN_POSITION_SIZE", "MIN_CASH_BUFFER"]),
        ({"MAX_POSITIONS": "many"}, ["MAX_POSITIONS"]),
    ],
)
def test_inconsistent_limits_fail_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], names: list[str]
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message
    for name in names:
        assert name in message


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    secret = "postgresql://u:canary-s3cret@db/prod"
    env = {"DATABASE_URL": secret, "PATH": "", "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "alphatrader", "config", "show"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert "canary-s3cret" not in out.stdout + out.stderr
    assert "DATABASE_URL" in out.stdout and "********" in out.stdout
    assert "PORTFOLIO_SIZE" in out.stdout


def test_bad_config_is_one_line_and_exit_78(tmp_path: Path) -> None:
    env = {"MIN_POSITION_SIZE": "900", "PATH": "", "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "alphatrader", "config", "show"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 78
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: invalid configuration")
    assert "Traceback" not in out.stderr
