"""`validate_bars`: the check every frame passes before it leaves a provider (synthetic frames)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from alphatrader.data.providers.base import strict_float, validate_bars
from alphatrader.errors import DataError

DAYS = ["2024-01-02", "2024-01-03", "2024-01-04"]
START, END = date(2024, 1, 1), date(2024, 1, 31)


def _frame(days: list[str] = DAYS, **columns: list[float]) -> pd.DataFrame:
    data = columns or {
        "open": [10.0, 11.0, 12.0],
        "high": [11.0, 12.0, 13.0],
        "low": [9.0, 10.0, 11.0],
        "close": [10.5, 11.5, 12.5],
        "volume": [100.0, 200.0, 0.0],
    }
    return pd.DataFrame(data, index=pd.DatetimeIndex(pd.to_datetime(days), name="date"))


def test_a_good_frame_comes_out_canonical() -> None:
    frame = _frame().astype({"volume": "int64"})
    frame.index = pd.DatetimeIndex(frame.index).as_unit("us")
    out = validate_bars("p", "ACME", frame[["close", "volume", "open", "low", "high"]], START, END)
    assert list(out.columns) == ["open", "high", "low", "close", "volume"]
    assert (out.dtypes == "float64").all()
    assert str(out.index.dtype) == "datetime64[ns]" and out.index.name == "date"


def test_close_only_is_fine() -> None:
    out = validate_bars("p", "ACME", _frame(close=[1.0, 2.0, 3.0]), START, END)
    assert list(out.columns) == ["close"]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_frame(open=[1.0, 1.0, 1.0]), "no close prices"),
        (
            _frame(close=[1.0, 1.0, 1.0], high=[2.0, 2.0, 2.0]),
            "open, high and low must come together",
        ),
        (_frame(close=[1.0, 1.0, 1.0], adj=[1.0, 1.0, 1.0]), "unexpected column"),
        (_frame(close=[1.0, np.nan, 1.0]), "close is not a positive finite price on 2024-01-03"),
        (_frame(close=[1.0, np.inf, 1.0]), "close is not a positive finite price on 2024-01-03"),
        (_frame(close=[1.0, 1.0, -1.0]), "close is not a positive finite price on 2024-01-04"),
        (_frame(close=[1.0, 1.0, 1.0], volume=[1.0, -1.0, 1.0]), "volume is not a finite number"),
        (_frame(["2024-01-03", "2024-01-02", "2024-01-04"], close=[1.0, 1.0, 1.0]), "increasing"),
        (
            _frame(["2024-01-02", "2024-01-02", "2024-01-04"], close=[1.0, 1.0, 1.0]),
            "appears twice",
        ),
        (_frame(["2023-12-29", "2024-01-02", "2024-01-03"], close=[1.0, 1.0, 1.0]), "outside"),
        (_frame(["2024-01-01", "2024-01-02", "2024-01-03"], close=[1.0, 1.0, 1.0]), "2024-01-01"),
    ],
)
def test_bad_frames_are_refused(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(DataError, match=message) as caught:
        validate_bars("vendor", "ACME", frame, START, END)
    assert str(caught.value).startswith("vendor: ACME: ")


def test_intraday_or_zoned_indexes_are_refused() -> None:
    frame = _frame(close=[1.0, 1.0, 1.0])
    zoned = frame.tz_localize("UTC")
    with pytest.raises(DataError, match="tz-naive session dates"):
        validate_bars("p", "ACME", zoned, START, END)
    frame.index = frame.index + pd.Timedelta(hours=16)
    with pytest.raises(DataError, match="tz-naive session dates"):
        validate_bars("p", "ACME", frame, START, END)


@pytest.mark.parametrize("value", [1, 1.5, "2.25", "-3", "1e3"])
def test_strict_float_accepts_numbers(value: object) -> None:
    assert strict_float(value) == float(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", [True, None, "", " 1", "nan", "inf", "1_000", "N/A", [1], float("nan")]
)
def test_strict_float_refuses_the_rest(value: object) -> None:
    with pytest.raises(ValueError, match="number"):
        strict_float(value)
