from __future__ import annotations

from dataclasses import dataclass

OHLCV_FIELDS = frozenset({"open", "high", "low", "close", "volume"})


@dataclass(frozen=True, slots=True)
class Instrument:
    """What the store knows about one series: where it came from and what it may be used for."""

    symbol: str
    dataset: str
    asset_class: str
    fields: frozenset[str]
    source: str
    adjustment: str
    tradable: bool
    license: str = ""

    @property
    def close_only(self) -> bool:
        return not ({"open", "high", "low"} <= self.fields)

    @property
    def has_volume(self) -> bool:
        return "volume" in self.fields
