"""Execution algorithms: a large parent order worked as smaller child orders.

Every child goes through the same order path as any other order: the algorithm is given a
`submit(child_request, leg) -> client_order_id` callable (the backtest's `OrderManager`, the
live order manager, a test double) and a `Clock`, so it runs the same in a backtest and live.

- **TWAP**: N equal slices, one at each of N instants (a window cut in N, or N sessions).
- **VWAP**: slices proportional to an expected volume profile, one weight per instant. The
  profile is passed in: from intraday bars, the average share of a day's volume by time bucket
  (`intraday_volume_profile`); from daily bars only, the expected volume of each session
  (`daily_volume_profile`: the same weekday's mean over a trailing window before the first
  session, scaled down on early-close days), for a VWAP spread over several sessions.
- **Iceberg**: shows `display` shares at a time; when the visible child is completely filled,
  the next one is sent, until the parent is done.

Quantities are exact Decimals that sum to the parent's: each slice is rounded down to whole
shares (to 1e-9 share when the parent is fractional) and the last slice takes the remainder.
A slice that rounds to nothing is not sent. Children are named deterministically: the leg of
slice k of parent P is `P-k` (k from 1), so a re-run sends the same ids and an order manager
that refuses duplicate ids makes a restart safe. Children copy the parent's type, prices and
time in force, never its OCO group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Literal

import pandas as pd

from alphatrader.clock import Clock
from alphatrader.data import calendar
from alphatrader.domain.orders import Fill, OrderRequest

Submit = Callable[[OrderRequest, str], str]  # (child request, leg) -> client order id
"""Sends one child order through the order manager; returns the client order id it got."""

_FRACTION_STEP = Decimal("0.000000001")
FULL_SESSION_MINUTES = 390


def child_leg(parent_id: str, n: int) -> str:
    """The deterministic leg name of a parent's n-th child (n from 1)."""
    return f"{parent_id}-{n}"


@dataclass(frozen=True, slots=True)
class ChildOrder:
    parent_id: str
    slice: int  # 1-based position in the parent's schedule
    at: datetime  # when it is (or was) sent
    request: OrderRequest

    @property
    def leg(self) -> str:
        return child_leg(self.parent_id, self.slice)

    @property
    def qty(self) -> Decimal:
        assert self.request.qty is not None
        return self.request.qty


# -- splitting a quantity exactly ---------------------------------------------------------------
def _step(fractional: bool) -> Decimal:
    return _FRACTION_STEP if fractional else Decimal(1)


def _check_total(total: Decimal, fractional: bool) -> None:
    if total <= 0:
        raise ValueError(f"a parent quantity must be positive, got {total}")
    if total % _step(fractional) != 0:
        kind = "a billionth of a share" if fractional else "a whole share"
        raise ValueError(f"{total} is not a multiple of {kind}")


def split_equal(total: Decimal, n: int, fractional: bool = False) -> list[Decimal]:
    """`total` in `n` equal slices rounded down, the remainder on the last; sums to `total`."""
    if n < 1:
        raise ValueError(f"need at least one slice, got {n}")
    _check_total(total, fractional)
    base = (total / n).quantize(_step(fractional), rounding=ROUND_FLOOR)
    return [base] * (n - 1) + [total - base * (n - 1)]


def split_weighted(
    total: Decimal, weights: Sequence[Decimal | float], fractional: bool = False
) -> list[Decimal]:
    """`total` in proportion to `weights`, each slice rounded down, the remainder on the last;
    sums to `total`."""
    if not weights:
        raise ValueError("need at least one weight")
    _check_total(total, fractional)
    exact = [w if isinstance(w, Decimal) else Decimal(repr(float(w))) for w in weights]
    if any(w < 0 or not w.is_finite() for w in exact):
        raise ValueError(f"weights must be finite and non-negative, got {list(weights)}")
    whole = sum(exact, Decimal(0))
    if whole <= 0:
        raise ValueError("the weights sum to zero")
    step = _step(fractional)
    head = [(total * w / whole).quantize(step, rounding=ROUND_FLOOR) for w in exact[:-1]]
    return [*head, total - sum(head, Decimal(0))]


# -- schedules -----------------------------------------------------------------------------------
def window_times(start: datetime, end: datetime, n: int) -> list[datetime]:
    """The starts of `n` equal buckets of [start, end): start, start + (end - start) / n, …"""
    if n < 1 or end <= start:
        raise ValueError(f"need n ≥ 1 and end after start, got n={n}, {start} .. {end}")
    width = (end - start) / n
    return [start + width * k for k in range(n)]


def session_times(
    first: date, count: int, when: Literal["open", "close"] = "close"
) -> list[datetime]:
    """The open or close instant (UTC, early closes included) of `count` XNYS sessions from
    `first` on. On daily bars a child sent at a session's close fills at the next open."""
    schedule = calendar.xnys().schedule
    rows = schedule.loc[schedule.index >= pd.Timestamp(first)].iloc[:count]
    if len(rows) < count:
        raise ValueError(f"the calendar has fewer than {count} sessions from {first}")
    return [pd.Timestamp(t).to_pydatetime() for t in rows[when]]


def _parent_qty(parent: OrderRequest) -> Decimal:
    if parent.qty is None:
        raise ValueError("an execution algorithm needs a parent with a quantity, not a notional")
    return parent.qty


def _child(
    parent: OrderRequest, parent_id: str, n: int, at: datetime, qty: Decimal, label: str
) -> ChildOrder:
    request = replace(
        parent, qty=qty, notional=None, oco_group=None, reason=f"{parent.reason} [{label}]"
    )
    return ChildOrder(parent_id, n, at, request)


def _children(
    parent: OrderRequest,
    parent_id: str,
    algo: str,
    times: Sequence[datetime],
    slices: Sequence[Decimal],
) -> list[ChildOrder]:
    if list(times) != sorted(times):
        raise ValueError("the instants must be in order")
    n = len(slices)
    return [
        _child(parent, parent_id, k, at, qty, f"{algo} {k}/{n}")
        for k, (at, qty) in enumerate(zip(times, slices, strict=True), start=1)
        if qty > 0
    ]


def twap(parent: OrderRequest, parent_id: str, times: Sequence[datetime]) -> list[ChildOrder]:
    """The children of a TWAP: equal slices, one at each instant."""
    slices = split_equal(_parent_qty(parent), len(times), parent.fractional)
    return _children(parent, parent_id, "twap", times, slices)


def vwap(
    parent: OrderRequest,
    parent_id: str,
    times: Sequence[datetime],
    profile: Sequence[Decimal | float],
) -> list[ChildOrder]:
    """The children of a VWAP: slices in proportion to `profile` (one expected-volume weight per
    instant)."""
    if len(profile) != len(times):
        raise ValueError(f"{len(profile)} profile weights for {len(times)} instants")
    slices = split_weighted(_parent_qty(parent), profile, parent.fractional)
    return _children(parent, parent_id, "vwap", times, slices)


# -- volume profiles -----------------------------------------------------------------------------
def intraday_volume_profile(volume: pd.Series, bucket: str = "30min") -> pd.Series:
    """The average share of a day's volume traded in each time-of-day bucket, from intraday
    bars (a DatetimeIndex in exchange time). Indexed by the bucket's start time; sums to 1."""
    index = pd.DatetimeIndex(volume.index)
    by_day_bucket = volume.groupby([index.normalize(), index.floor(bucket).time]).sum()
    day_totals = by_day_bucket.groupby(level=0).transform("sum")
    shares = (by_day_bucket / day_totals).groupby(level=1).mean()
    return shares / shares.sum()


def intraday_weights(
    profile: pd.Series, times: Sequence[datetime], tz: str = "America/New_York"
) -> list[float]:
    """Each instant's weight: the profile's share for the bucket the instant falls in (the
    instants in exchange time `tz`); an instant in no bucket weighs nothing."""
    starts = list(profile.index)
    out: list[float] = []
    for at in times:
        local = pd.Timestamp(at).tz_convert(tz).time() if at.tzinfo else at.time()
        inside = [s for s in starts if s <= local]
        out.append(float(profile[inside[-1]]) if inside else 0.0)
    return out


def daily_volume_profile(
    volume: pd.Series, sessions: Sequence[date], lookback: int = 60
) -> list[float]:
    """Expected volume of each of `sessions` from daily bars, with no look-ahead: the mean
    volume on the same weekday over the `lookback` bars before the first of them (the overall
    mean when a weekday has no bar there), times the session's length over a full 6.5-hour
    session (early closes trade less)."""
    if not sessions:
        raise ValueError("no session to profile")
    first = pd.Timestamp(min(sessions))
    history = volume.loc[volume.index < first].dropna().iloc[-lookback:]
    if history.empty:
        raise ValueError(f"no volume before {first.date()} to build a profile from")
    by_weekday = history.groupby(pd.DatetimeIndex(history.index).day_of_week).mean()
    labels = pd.DatetimeIndex([pd.Timestamp(s) for s in sessions])
    schedule = calendar.xnys().schedule.reindex(labels)
    minutes = (schedule["close"] - schedule["open"]).dt.total_seconds() / 60
    minutes = minutes.fillna(FULL_SESSION_MINUTES)
    overall = float(history.mean())
    return [
        float(by_weekday.get(label.weekday(), overall)) * float(m) / FULL_SESSION_MINUTES
        for label, m in zip(labels, minutes, strict=True)
    ]


# -- running an algorithm on a clock --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SentChild:
    child: ChildOrder
    client_order_id: str


class ScheduledAlgo:
    """Sends a TWAP's or VWAP's children when the clock reaches their instants."""

    def __init__(self, children: Sequence[ChildOrder], submit: Submit, clock: Clock) -> None:
        self.children = list(children)
        self.submit = submit
        self.clock = clock
        self.sent: list[SentChild] = []
        self.stopped = False

    def poll(self) -> list[SentChild]:
        """Send every child whose instant has come and that was not sent yet, in order."""
        if self.stopped:
            return []
        now = self.clock.now()
        out: list[SentChild] = []
        for child in self.children[len(self.sent) :]:
            if child.at > now:
                break
            sent = SentChild(child, self.submit(child.request, child.leg))
            self.sent.append(sent)
            out.append(sent)
        return out

    def next_at(self) -> datetime | None:
        """When the next child is due; None when all were sent (or the algo was stopped)."""
        if self.stopped or len(self.sent) == len(self.children):
            return None
        return self.children[len(self.sent)].at

    def stop(self) -> list[ChildOrder]:
        """Send nothing more; returns the children that will not be sent."""
        self.stopped = True
        return self.children[len(self.sent) :]

    @property
    def done(self) -> bool:
        return self.next_at() is None


class Iceberg:
    """Works a parent by showing `display` shares at a time, replenished on each complete fill."""

    def __init__(
        self,
        parent: OrderRequest,
        parent_id: str,
        display: Decimal,
        submit: Submit,
        clock: Clock,
    ) -> None:
        _check_total(_parent_qty(parent), parent.fractional)
        if display <= 0 or display % _step(parent.fractional) != 0:
            raise ValueError(f"display quantity {display} must be a positive tradable size")
        self.parent = parent
        self.parent_id = parent_id
        self.display = display
        self.submit = submit
        self.clock = clock
        self.sent: list[SentChild] = []
        self.filled = Decimal(0)  # over all children
        self._visible_filled = Decimal(0)  # of the current child

    @property
    def total(self) -> Decimal:
        return _parent_qty(self.parent)

    @property
    def unsent(self) -> Decimal:
        return self.total - sum((s.child.qty for s in self.sent), Decimal(0))

    @property
    def done(self) -> bool:
        return self.filled == self.total

    @property
    def visible(self) -> SentChild | None:
        """The child working now, if any."""
        if not self.sent or self._visible_filled == self.sent[-1].child.qty:
            return None
        return self.sent[-1]

    def start(self) -> SentChild:
        if self.sent:
            raise ValueError(f"iceberg {self.parent_id} is already started")
        return self._send_next()

    def on_fill(self, fill: Fill) -> SentChild | None:
        """Count a fill of the visible child; when it completes it, send the next child.
        Returns the child sent, if any. Fills of other orders are ignored."""
        current = self.visible
        if current is None or fill.client_order_id != current.client_order_id:
            return None
        left = current.child.qty - self._visible_filled
        if fill.qty > left:
            raise ValueError(f"fill of {fill.qty} exceeds the {left} left on {current.child.leg}")
        self._visible_filled += fill.qty
        self.filled += fill.qty
        if self._visible_filled < current.child.qty or self.unsent == 0:
            return None
        return self._send_next()

    def _send_next(self) -> SentChild:
        n = len(self.sent) + 1
        qty = min(self.display, self.unsent)
        child = _child(self.parent, self.parent_id, n, self.clock.now(), qty, f"iceberg {n}")
        sent = SentChild(child, self.submit(child.request, child.leg))
        self.sent.append(sent)
        self._visible_filled = Decimal(0)
        return sent
