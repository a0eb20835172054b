"""The strategy API: a small class with typed parameters, computed vectorized over history.

A strategy returns, per symbol, a sparse frame of signals (`SIGNAL_COLUMNS`), one row per bar
where it wants to enter or exit. The backtest and the daily job call the same `generate`, so
research and live use one code path. Every call into strategy code goes through `run_strategy`,
which turns any exception into a `StrategyError` naming the strategy, symbol and date.

A per-symbol strategy overrides `signals(bars)`; a cross-sectional one (it looks at several
instruments at once, like dual momentum) overrides `generate(universe)`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from alphatrader.data.market import Series
from alphatrader.errors import InputError, StrategyError

SIGNAL_COLUMNS = ("action", "confidence", "reason", "price", "stop_loss", "take_profit")
ENTRY = "entry"
EXIT = "exit"


class Strategy(BaseModel):
    """Base class. Subclasses declare parameters as typed fields with defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    # Bar fields the strategy reads; a symbol without them is refused with a clear message.
    requires: ClassVar[frozenset[str]] = frozenset({"close"})
    # Fixed instruments for cross-sectional strategies; None means "the universe you give me".
    instruments: ClassVar[tuple[str, ...] | None] = None
    # Bars of history needed before the first signal can appear.
    warmup: ClassVar[Callable[[Any], int] | None] = None

    @model_validator(mode="after")
    def _slow_longer_than_fast(self) -> Strategy:
        """Any strategy with `fast` and `slow` periods needs slow > fast."""
        fast, slow = getattr(self, "fast", None), getattr(self, "slow", None)
        if isinstance(fast, int) and isinstance(slow, int) and slow <= fast:
            raise ValueError(f"slow ({slow}) must be longer than fast ({fast})")
        return self

    @classmethod
    def with_params(cls, **params: Any) -> Strategy:
        """Build from user-given parameters (strings allowed); unknown names get a "did you
        mean"."""
        known = [f for f in cls.model_fields]
        for key in params:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise InputError(
                    f"strategy {cls.name!r} has no parameter {key!r}{hint} "
                    f"(parameters: {', '.join(known) or 'none'})"
                )
        try:
            return cls(**params)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"])
            where = f"parameter {field}={err.get('input')!r}" if field else "parameters"
            message = err["msg"].removeprefix("Value error, ")
            raise InputError(f"strategy {cls.name!r} {where}: {message}") from None

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.model_dump().items())
        return f"{self.name}({params})"

    # -- to override ---------------------------------------------------------------------
    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Signals for one symbol's bars (index: session dates). Override this, or `generate`."""
        raise NotImplementedError

    def generate(self, universe: Mapping[str, Series]) -> dict[str, pd.DataFrame]:
        """Signals for every tradable symbol of the universe. Cross-sectional strategies
        override this and see the whole universe at once."""
        out: dict[str, pd.DataFrame] = {}
        for symbol, series in universe.items():
            if not series.instrument.tradable:
                continue
            out[symbol] = run_strategy(self, symbol, partial(self.signals, series.bars))
        return out


def run_strategy(strategy: Strategy, symbol: str, call: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Call into strategy code; any failure or malformed output becomes a `StrategyError`."""
    try:
        frame = call()
    except StrategyError:
        raise
    except Exception as exc:  # user code may raise anything: name who and where
        raise StrategyError(strategy.name, symbol, f"{type(exc).__name__}: {exc}") from exc
    return check_signals(strategy.name, symbol, frame)


def check_signals(strategy: str, symbol: str, frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in SIGNAL_COLUMNS if c not in frame.columns]
    if missing:
        raise StrategyError(strategy, symbol, f"signal frame lacks columns {missing}")
    if len(frame) == 0:
        return frame
    bad_action = ~frame["action"].isin((ENTRY, EXIT))
    if bad_action.any():
        when = frame.index[bad_action.to_numpy()][0]
        raise StrategyError(strategy, symbol, "action must be 'entry' or 'exit'", _day(when))
    conf = frame["confidence"].to_numpy(dtype="float64")
    bad_conf = ~((conf >= 0.0) & (conf <= 1.0))
    if bad_conf.any():
        when = frame.index[np.flatnonzero(bad_conf)[0]]
        raise StrategyError(
            strategy, symbol, f"confidence {conf[bad_conf][0]} outside [0, 1]", _day(when)
        )
    return frame


def _day(stamp: Any) -> str:
    return pd.Timestamp(stamp).date().isoformat()


def make_signals(
    index: pd.DatetimeIndex,
    close: pd.Series,
    entries: pd.Series,
    exits: pd.Series,
    confidence: pd.Series | float,
    entry_reason: Callable[[int], str],
    exit_reason: Callable[[int], str],
    stop_loss: pd.Series | None = None,
    take_profit: pd.Series | None = None,
) -> pd.DataFrame:
    """Build the sparse signal frame from boolean masks; reasons are formatted only at signal
    bars (by position), so the cost is per signal, not per bar."""
    entry_pos = np.flatnonzero(entries.to_numpy(dtype=bool))
    exit_pos = np.flatnonzero(exits.to_numpy(dtype=bool) & ~entries.to_numpy(dtype=bool))
    pos = np.concatenate([entry_pos, exit_pos])
    order = np.argsort(pos, kind="stable")
    pos = pos[order]
    is_entry = np.concatenate([np.ones(len(entry_pos), bool), np.zeros(len(exit_pos), bool)])[order]
    conf_all = (
        np.full(len(index), float(confidence))
        if isinstance(confidence, float | int)
        else confidence.to_numpy(dtype="float64")
    )
    conf = np.clip(np.nan_to_num(conf_all[pos], nan=0.5), 0.0, 1.0)
    close_v = close.to_numpy(dtype="float64")[pos]
    nan = np.full(len(pos), np.nan)
    stops = stop_loss.to_numpy(dtype="float64")[pos] if stop_loss is not None else nan
    targets = take_profit.to_numpy(dtype="float64")[pos] if take_profit is not None else nan
    reasons = [entry_reason(p) if e else exit_reason(p) for p, e in zip(pos, is_entry, strict=True)]
    return pd.DataFrame(
        {
            "action": np.where(is_entry, ENTRY, EXIT),
            "confidence": conf,
            "reason": reasons,
            "price": close_v,
            "stop_loss": np.where(is_entry, stops, np.nan),
            "take_profit": np.where(is_entry, targets, np.nan),
        },
        index=index[pos],
    )


def empty_signals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "action": pd.Series(dtype=object),
            "confidence": pd.Series(dtype="float64"),
            "reason": pd.Series(dtype=object),
            "price": pd.Series(dtype="float64"),
            "stop_loss": pd.Series(dtype="float64"),
            "take_profit": pd.Series(dtype="float64"),
        },
        index=pd.DatetimeIndex([], name="date"),
    )


def with_signals(strategy: Strategy, frames: Mapping[str, pd.DataFrame]) -> Strategy:
    """The same strategy (name, parameters, needs) answering from signals already computed,
    so a second engine run over the same data does not compute them again."""
    computed = dict(frames)

    class Computed(type(strategy)):  # type: ignore[misc]
        def generate(self, universe: Mapping[str, Series]) -> dict[str, pd.DataFrame]:
            return {s: f for s, f in computed.items() if s in universe}

    Computed.__name__ = f"Computed{type(strategy).__name__}"
    return Computed(**strategy.model_dump())
