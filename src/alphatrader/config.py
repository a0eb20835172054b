"""One validated, frozen `Settings` object read from the environment and `.env`.

Variable names are the seed documents' (`PORTFOLIO_SIZE`, `MAX_POSITION_SIZE`, ...); defaults are
the seeds' $1,000 small-account values. Percentages given as whole numbers in the seeds
(`MAX_DRAWDOWN_PCT=15`) stay whole numbers here. Inconsistent limits fail at start-up with a
message that names the variables.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alphatrader.errors import ConfigError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",  # .env may hold variables of other tools; our own names are validated
        frozen=True,
        case_sensitive=False,
        populate_by_name=True,
    )

    # Small-account safety ($1,000 portfolio)
    portfolio_size: Decimal = Field(Decimal("1000"), gt=0, alias="PORTFOLIO_SIZE")
    max_position_size: Decimal = Field(Decimal("300"), gt=0, alias="MAX_POSITION_SIZE")
    min_position_size: Decimal = Field(Decimal("50"), gt=0, alias="MIN_POSITION_SIZE")
    min_cash_buffer: Decimal = Field(Decimal("100"), ge=0, alias="MIN_CASH_BUFFER")
    max_positions: int = Field(4, ge=1, alias="MAX_POSITIONS")
    max_drawdown_pct: float = Field(15.0, gt=0, le=100, alias="MAX_DRAWDOWN_PCT")
    risk_per_trade: float = Field(0.01, gt=0, le=1, alias="RISK_PER_TRADE")
    min_price: Decimal = Field(Decimal("10.0"), ge=0, alias="MIN_PRICE")
    min_liquidity: float = Field(100_000, ge=0, alias="MIN_LIQUIDITY")

    # Signal ranking
    momentum_lookback_days: int = Field(90, ge=1, alias="MOMENTUM_LOOKBACK_DAYS")
    min_momentum_threshold: float = Field(0.05, alias="MIN_MOMENTUM_THRESHOLD")
    confidence_weight: float = Field(0.5, ge=0, le=1, alias="CONFIDENCE_WEIGHT")
    momentum_weight: float = Field(0.5, ge=0, le=1, alias="MOMENTUM_WEIGHT")

    # Risk management
    emergency_stop_enabled: bool = Field(True, alias="EMERGENCY_STOP_ENABLED")
    circuit_breaker_enabled: bool = Field(True, alias="CIRCUIT_BREAKER_ENABLED")
    max_daily_loss_pct: float = Field(10.0, gt=0, le=100, alias="MAX_DAILY_LOSS_PCT")

    # Modes: safe by default — paper account, nothing sent to a broker automatically.
    paper_trading_mode: bool = Field(True, alias="PAPER_TRADING_MODE")
    production_mode: bool = Field(False, alias="PRODUCTION_MODE")
    dry_run: bool = Field(False, alias="DRY_RUN")
    auto_trade: bool = Field(False, alias="AUTO_TRADE")
    log_level: LogLevel = Field("INFO", alias="LOG_LEVEL")

    # Daily-job safety and planning
    min_trade_size: Decimal = Field(Decimal("50"), ge=0, alias="MIN_TRADE_SIZE")
    fractional_shares: bool = Field(False, alias="FRACTIONAL_SHARES")
    swap_score_margin: float = Field(10.0, ge=0, alias="SWAP_SCORE_MARGIN")
    correlation_warning: float = Field(0.8, gt=0, le=1, alias="CORRELATION_WARNING")
    replay_sessions: int = Field(60, ge=0, alias="REPLAY_SESSIONS")

    # What an unexplained difference between the broker and the ledger does to trading
    reconcile_mismatch_state: Literal["REDUCING", "HALTED"] = Field(
        "REDUCING", alias="RECONCILE_MISMATCH_STATE"
    )

    # Circuit breaker on extreme market moves
    circuit_breaker_symbol: str = Field("SPY", alias="CIRCUIT_BREAKER_SYMBOL")
    circuit_breaker_move_pct: float = Field(7.0, gt=0, alias="CIRCUIT_BREAKER_MOVE_PCT")
    circuit_breaker_vol_pct: float = Field(60.0, gt=0, alias="CIRCUIT_BREAKER_VOL_PCT")

    # Market data providers, tried in order
    data_providers: str = Field("bundled", alias="DATA_PROVIDERS")
    csv_drop_dir: Path = Field(Path("var/drop"), alias="CSV_DROP_DIR")
    alpaca_api_key: SecretStr | None = Field(None, alias="ALPACA_API_KEY")
    alpaca_secret_key: SecretStr | None = Field(None, alias="ALPACA_SECRET_KEY")
    alpaca_paper: bool = Field(True, alias="ALPACA_PAPER")
    alpaca_data_url: str | None = Field(None, alias="ALPACA_DATA_URL")
    alpaca_trading_url: str | None = Field(None, alias="ALPACA_TRADING_URL")

    # The broker orders go to: the paper account, Alpaca or Interactive Brokers. Paper mode
    # (PAPER_TRADING_MODE or DRY_RUN) always uses the paper account, whatever is set here.
    broker: Literal["paper", "alpaca", "ibkr"] = Field("paper", alias="BROKER")
    ibkr_host: str = Field("127.0.0.1", alias="IBKR_HOST")
    ibkr_port: int = Field(4002, ge=1, le=65535, alias="IBKR_PORT")
    ibkr_client_id: int = Field(1, ge=0, alias="IBKR_CLIENT_ID")
    ibkr_account: str | None = Field(None, alias="IBKR_ACCOUNT")
    alphavantage_api_key: SecretStr | None = Field(None, alias="ALPHAVANTAGE_API_KEY")
    alphavantage_url: str = Field("https://www.alphavantage.co", alias="ALPHAVANTAGE_URL")
    alphavantage_calls_per_minute: int = Field(5, ge=1, alias="ALPHAVANTAGE_CALLS_PER_MINUTE")

    # Email (SMTP); without a server the message is written to var/outbox as .eml
    email_smtp_server: str | None = Field(None, alias="EMAIL_SMTP_SERVER")
    email_smtp_port: int = Field(587, ge=1, le=65535, alias="EMAIL_SMTP_PORT")
    email_smtp_security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", alias="EMAIL_SMTP_SECURITY"
    )
    email_username: str | None = Field(None, alias="EMAIL_USERNAME")
    email_password: SecretStr | None = Field(None, alias="EMAIL_PASSWORD")
    email_from: str | None = Field(None, alias="EMAIL_FROM")
    email_to: str | None = Field(None, alias="EMAIL_TO")
    email_subject: str = Field("AlgoTrading Daily Signals - {date}", alias="EMAIL_SUBJECT")
    email_ca_file: Path | None = Field(None, alias="EMAIL_CA_FILE")
    alert_channels: str = Field("log,email", alias="ALERT_CHANNELS")

    # Schedule
    daily_execution_time: str = Field("16:30", alias="DAILY_EXECUTION_TIME")
    environment: Literal["development", "production", "test"] = Field(
        "development", alias="ENVIRONMENT"
    )

    # Where things live
    data_dir: Path = Field(Path("var/data"), alias="ALPHATRADER_DATA_DIR")
    database_url: SecretStr | None = Field(None, alias="DATABASE_URL")

    # Dashboard and API (`alphatrader serve`)
    dashboard_session_secret: SecretStr | None = Field(None, alias="DASHBOARD_SESSION_SECRET")
    api_rate_limit_per_min: int = Field(600, ge=1, alias="API_RATE_LIMIT_PER_MIN")
    api_auth_fail_limit_per_min: int = Field(30, ge=1, alias="API_AUTH_FAIL_LIMIT_PER_MIN")
    cors_origins: str = Field("", alias="CORS_ORIGINS")  # comma-separated; empty: same-origin

    @model_validator(mode="after")
    def _limits_are_consistent(self) -> Settings:
        problems: list[str] = []
        if self.min_position_size > self.max_position_size:
            problems.append(
                f"MIN_POSITION_SIZE ({self.min_position_size}) is above "
                f"MAX_POSITION_SIZE ({self.max_position_size})"
            )
        if self.min_cash_buffer >= self.portfolio_size:
            problems.append(
                f"MIN_CASH_BUFFER ({self.min_cash_buffer}) must be below "
                f"PORTFOLIO_SIZE ({self.portfolio_size})"
            )
        investable = self.portfolio_size - self.min_cash_buffer
        if self.max_positions * self.min_position_size > investable:
            problems.append(
                f"MAX_POSITIONS × MIN_POSITION_SIZE ({self.max_positions} × "
                f"{self.min_position_size}) exceeds PORTFOLIO_SIZE − MIN_CASH_BUFFER ({investable})"
            )
        if self.production_mode and self.paper_trading_mode:
            problems.append("PRODUCTION_MODE and PAPER_TRADING_MODE are both true; choose one")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def var_dir(self) -> Path:
        """Reports, outbox and logs live next to the data dir (`var/` by default)."""
        return self.data_dir.parent

    def provider_names(self) -> list[str]:
        return [p.strip() for p in self.data_providers.split(",") if p.strip()]

    def email_recipients(self) -> list[str]:
        return [a.strip() for a in (self.email_to or "").split(",") if a.strip()]

    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    def masked(self) -> dict[str, str]:
        """Every effective setting by its environment name, secrets masked."""
        shown: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value: Any = getattr(self, name)
            if isinstance(value, SecretStr):
                text = "********" if value.get_secret_value() else ""
            elif value is None:
                text = ""
            else:
                text = str(value)
            shown[field.alias or name.upper()] = text
        return shown


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings once; a bad value is a one-line `ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "settings"
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(msg if loc == "settings" else f"{loc}: {msg}")
        raise ConfigError("invalid configuration: " + "; ".join(parts)) from None
