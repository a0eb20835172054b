"""The provider chain, `build_chain` from DATA_PROVIDERS and `update_store`.

Vendors are the fakes on loopback (synthetic prices); the bundled data is the real bundle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from alphatrader.config import load_settings
from alphatrader.data.providers.alpaca import AlpacaProvider
from alphatrader.data.providers.alphavantage import AlphaVantageProvider
from alphatrader.data.providers.bundled import BundledProvider
from alphatrader.data.providers.chain import ProviderChain, build_chain, update_store
from alphatrader.data.providers.csv_folder import CsvFolderProvider
from alphatrader.data.store import MarketDataStore
from alphatrader.domain.instrument import Instrument
from alphatrader.errors import ConfigError
from tests.fakes import Reply
from tests.fakes.alpaca_data import FakeAlpacaData, synthetic_bars
from tests.fakes.alphavantage import FakeAlphaVantage, synthetic_rows
from tests.unit.data.providers.helpers import (
    FakeClock,
    alpaca_for,
    alphavantage_for,
    session_days,
)

H1 = session_days("2024-01-02", "2024-01-31")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in (
        "DATA_PROVIDERS",
        "ALPACA_API_KEY",
        "ALPACA_SECRET_KEY",
        "ALPACA_DATA_URL",
        "ALPHAVANTAGE_API_KEY",
        "CSV_DROP_DIR",
    ):
        monkeypatch.delenv(name, raising=False)


# -- build_chain --------------------------------------------------------------------------------
@pytest.mark.usefixtures("clean_env")
def test_default_chain_is_the_bundled_data(store: MarketDataStore) -> None:
    chain = build_chain(load_settings(), store)
    assert chain.names == ["bundled"]


@pytest.mark.usefixtures("clean_env")
def test_chain_follows_data_providers_order(store: MarketDataStore) -> None:
    settings = load_settings(
        DATA_PROVIDERS="alpaca, alphavantage,csv,bundled",
        ALPACA_API_KEY="k",
        ALPACA_SECRET_KEY="s",
        ALPHAVANTAGE_API_KEY="a",
    )
    chain = build_chain(settings, store)
    assert chain.names == ["alpaca", "alphavantage", "csv", "bundled"]
    kinds = [type(p) for p in chain.providers]
    assert kinds == [AlpacaProvider, AlphaVantageProvider, CsvFolderProvider, BundledProvider]


@pytest.mark.usefixtures("clean_env")
def test_unknown_provider_lists_the_valid_names(store: MarketDataStore) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown provider 'yahoo'.*alpaca, alphavantage, bundled"
    ):
        build_chain(load_settings(DATA_PROVIDERS="bundled,yahoo"), store)


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATA_PROVIDERS": "alpaca"}, "ALPACA_API_KEY and ALPACA_SECRET_KEY"),
        ({"DATA_PROVIDERS": "alpaca", "ALPACA_API_KEY": "k"}, "needs ALPACA_SECRET_KEY;"),
        ({"DATA_PROVIDERS": "bundled,alphavantage"}, "ALPHAVANTAGE_API_KEY"),
        ({"DATA_PROVIDERS": " , "}, "DATA_PROVIDERS is empty"),
        ({"DATA_PROVIDERS": "bundled,bundled"}, "bundled more than once"),
    ],
)
def test_chain_configuration_errors_name_the_variables(
    store: MarketDataStore, env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        build_chain(load_settings(**env), store)


# -- the chain ----------------------------------------------------------------------------------
class BrokenProvider:
    """A provider with a bug: it raises something no provider should."""

    name = "broken"
    dataset: str | None = "broken"

    def fetch_daily(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[str, pd.DataFrame]:
        raise ZeroDivisionError("division by zero")

    def instrument(self, symbol: str, fields: frozenset[str]) -> Instrument:
        raise AssertionError("never called")


def test_fallback_to_the_second_provider_is_reported(
    fresh_store: MarketDataStore,
    alpaca_server: FakeAlpacaData,
    av_server: FakeAlphaVantage,
    clock: FakeClock,
) -> None:
    alpaca_server.queue(*[Reply(500, {"message": "internal server error"})] * 5)
    av_server.set_rows("ACME", synthetic_rows(H1))
    chain = ProviderChain(
        [alpaca_for(alpaca_server, retries=1), alphavantage_for(av_server, clock)]
    )

    report = update_store(fresh_store, chain, ["ACME"], H1[0], H1[-1])

    assert report.ok and report.missing == []
    (written,) = report.written
    assert (written.symbol, written.provider, written.dataset) == (
        "ACME",
        "alphavantage",
        "alphavantage",
    )
    assert written.rows == len(H1) == report.rows_written
    (failure,) = report.failures
    assert (failure.symbol, failure.provider, failure.kind) == ("ACME", "alpaca", "temporary")
    assert "HTTP 500" in failure.error
    inst = fresh_store.resolve("ACME")
    assert (inst.dataset, inst.source) == (
        "alphavantage",
        "alphavantage:TIME_SERIES_DAILY_ADJUSTED",
    )
    assert len(fresh_store.read(inst)) == len(H1)


def test_chain_fetch_uses_the_first_provider_with_data(
    store: MarketDataStore, alpaca_server: FakeAlpacaData
) -> None:
    alpaca_server.set_bars("ACME", synthetic_bars(H1))
    chain = ProviderChain([alpaca_for(alpaca_server), BundledProvider(store)])
    result = chain.fetch(["ACME", "SPY", "NOPE"], date(2016, 6, 1), date(2024, 1, 31))
    assert {s: f.provider for s, f in result.frames.items()} == {"ACME": "alpaca", "SPY": "bundled"}
    kinds = {(f.symbol, f.provider): f.kind for f in result.failures}
    assert kinds == {
        ("SPY", "alpaca"): "no-data",
        ("NOPE", "alpaca"): "no-data",
        ("NOPE", "bundled"): "no-data",
    }


def test_a_provider_bug_does_not_stop_the_chain(store: MarketDataStore) -> None:
    chain = ProviderChain([BrokenProvider(), BundledProvider(store)])
    report = update_store(store, chain, ["SPY"], date(2016, 6, 1), date(2016, 7, 1))
    assert report.ok
    assert report.written[0].provider == "bundled" and report.written[0].rows == 0
    (failure,) = report.failures
    assert failure.kind == "unexpected" and "ZeroDivisionError" in failure.error


def test_bad_symbols_are_reported_not_raised(store: MarketDataStore) -> None:
    chain = ProviderChain([BundledProvider(store)])
    report = update_store(
        store, chain, ["SPY", "not a symbol", "spy"], date(2016, 6, 1), date(2016, 7, 1)
    )
    assert [w.symbol for w in report.written] == ["SPY"]
    assert report.missing == ["not a symbol"]
    assert report.failures[0].kind == "input"
    assert not report.ok


def test_one_bad_symbol_in_a_batch_falls_back_alone(
    fresh_store: MarketDataStore,
    alpaca_server: FakeAlpacaData,
    av_server: FakeAlphaVantage,
    clock: FakeClock,
) -> None:
    alpaca_server.set_bars("GOOD", synthetic_bars(H1))
    bad = synthetic_bars(H1)
    bad[4] = {**bad[4], "h": 1.0}  # high below low
    alpaca_server.set_bars("BAD", bad)
    av_server.set_rows("BAD", synthetic_rows(H1))
    chain = ProviderChain([alpaca_for(alpaca_server), alphavantage_for(av_server, clock)])

    report = update_store(fresh_store, chain, ["GOOD", "BAD"], H1[0], H1[-1])

    assert {w.symbol: w.provider for w in report.written} == {
        "GOOD": "alpaca",
        "BAD": "alphavantage",
    }
    (failure,) = report.failures
    assert (failure.symbol, failure.provider, failure.kind) == ("BAD", "alpaca", "data")
    assert "high is below low on 2024-01-08" in failure.error
    assert not (fresh_store.root / "alpaca" / "BAD.parquet").exists()  # nothing half-written


def test_update_store_is_idempotent(
    fresh_store: MarketDataStore, alpaca_server: FakeAlpacaData
) -> None:
    alpaca_server.set_bars("ACME", synthetic_bars(H1))
    alpaca_server.set_bars("WIDG", synthetic_bars(H1, base=20.0))
    chain = ProviderChain([alpaca_for(alpaca_server)])

    first = update_store(fresh_store, chain, ["ACME", "WIDG"], H1[0], H1[-1])
    assert first.rows_written == 2 * len(H1)
    path = fresh_store.root / "alpaca" / "ACME.parquet"
    before = path.read_bytes()

    second = update_store(fresh_store, chain, ["ACME", "WIDG"], H1[0], H1[-1])
    assert second.ok and second.rows_written == 0
    assert path.read_bytes() == before
    stored = fresh_store.read(fresh_store.resolve("ACME"))
    assert stored["close"].tolist() == [100.5 + i for i in range(len(H1))]


def test_a_later_update_fills_the_gap_since_the_last_one(
    fresh_store: MarketDataStore, alpaca_server: FakeAlpacaData
) -> None:
    days = session_days("2024-01-02", "2024-02-29")
    alpaca_server.set_bars("ACME", synthetic_bars(days))
    chain = ProviderChain([alpaca_for(alpaca_server)])
    update_store(fresh_store, chain, ["ACME"], date(2024, 1, 2), date(2024, 1, 31))
    # The next run asks only for the last days of February: the gap is fetched too.
    report = update_store(fresh_store, chain, ["ACME"], date(2024, 2, 26), date(2024, 2, 29))
    stored = fresh_store.read(fresh_store.resolve("ACME"))
    assert [d.date() for d in stored.index] == days
    assert report.rows_written == len(days) - len(H1)


def test_readjusted_history_is_refetched_not_stitched(
    fresh_store: MarketDataStore, alpaca_server: FakeAlpacaData
) -> None:
    days = session_days("2024-01-02", "2024-02-29")
    bars = synthetic_bars(days)
    alpaca_server.set_bars("ACME", bars[: len(H1)])
    chain = ProviderChain([alpaca_for(alpaca_server)])
    update_store(fresh_store, chain, ["ACME"], date(2024, 1, 2), date(2024, 1, 31))

    # A 2-for-1 split in February: the vendor now serves all earlier bars halved.
    split_day = days.index(date(2024, 2, 15))
    halved = [
        {**b, **{k: float(b[k]) / 2 for k in ("o", "h", "l", "c")}, "v": float(b["v"]) * 2}  # type: ignore[arg-type]
        for b in bars[:split_day]
    ]
    alpaca_server.set_bars("ACME", halved + bars[split_day:])
    report = update_store(fresh_store, chain, ["ACME"], date(2024, 2, 1), date(2024, 2, 29))

    (written,) = report.written
    assert written.readjusted and written.first == date(2024, 1, 2)
    stored = fresh_store.read(fresh_store.resolve("ACME"))
    assert [d.date() for d in stored.index] == days
    assert stored["close"].iloc[0] == pytest.approx(100.5 / 2)  # January replaced, not kept
    assert stored["close"].iloc[split_day] == pytest.approx(100.5 + split_day)


def test_csv_drop_folder_in_the_chain(tmp_path: Path) -> None:
    store = MarketDataStore(tmp_path / "market")  # seeded with the bundle on first use
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "ACME.csv").write_text("Date,Close\n2024-01-02,10\n2024-01-03,11\n")
    (drop / "SPY.csv").write_text("Date,Close\n2024-01-02,abc\n")  # invalid: falls through
    chain = ProviderChain([CsvFolderProvider(drop), BundledProvider(store)])
    report = update_store(store, chain, ["ACME", "SPY"], date(2016, 6, 1), date(2024, 1, 5))
    assert {w.symbol: (w.provider, w.dataset) for w in report.written} == {
        "ACME": ("csv", "csv"),
        "SPY": ("bundled", "daily"),
    }
    (failure,) = report.failures
    assert (failure.symbol, failure.kind) == ("SPY", "input")
    assert "line 2" in failure.error
    assert store.resolve("ACME").dataset == "csv"


def test_fetched_symbol_resolves_to_its_dataset(
    fresh_store: MarketDataStore, alpaca_server: FakeAlpacaData
) -> None:
    alpaca_server.set_bars("NVDA", synthetic_bars(H1))
    update_store(fresh_store, ProviderChain([alpaca_for(alpaca_server)]), ["NVDA"], H1[0], H1[-1])
    assert fresh_store.resolve("NVDA").dataset == "alpaca"


def test_fresher_fetched_data_wins_over_the_bundle(
    tmp_path: Path, alpaca_server: FakeAlpacaData
) -> None:
    store = MarketDataStore(tmp_path / "market")
    alpaca_server.set_bars("SPY", synthetic_bars(H1))
    update_store(store, ProviderChain([alpaca_for(alpaca_server)]), ["SPY"], H1[0], H1[-1])
    assert store.resolve("SPY").dataset == "alpaca"
