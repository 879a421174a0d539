"""The simulated period and the quarter-hour grid every signal lives on.

The period is a run of Europe/Berlin delivery days. The grid is a UTC quarter-hour axis that starts
a week before the period (estimates and contracts look back) and ends five days after it (each
forecast version looks 48 hours ahead). Index ``i`` of the grid is the QH starting at
``grid.start + i * 15 min``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property

import numpy as np

from flexpower_assets.domain.time import QH, UTC, day_window

QH_MS = 15 * 60 * 1000
HORIZON_QH = 192  # a forecast version covers 48 h
RUN_QH = 24  # the weather behind the forecasts is re-run every 6 h
LOOKBACK_DAYS = 7
LOOKAHEAD_DAYS = 5


def to_ms(ts: datetime) -> int:
    """Epoch milliseconds of a timezone-aware timestamp."""
    return int(round(ts.timestamp() * 1000))


def utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    """``n_days`` Europe/Berlin delivery days from ``first_day``."""

    first_day: date
    n_days: int

    @cached_property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.n_days)]

    @property
    def last_day(self) -> date:
        return self.days[-1]

    @property
    def start(self) -> datetime:
        """UTC start of the first delivery day."""
        return day_window(self.first_day)[0]

    @property
    def end(self) -> datetime:
        """UTC end of the last delivery day."""
        return day_window(self.last_day)[1]

    @cached_property
    def utc_days(self) -> list[date]:
        """The UTC days the delivery days touch (the DSO delivers one file per UTC day)."""
        first = self.start.date()
        last = (self.end - QH).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass(frozen=True)
class Grid:
    """A UTC quarter-hour axis."""

    start: datetime
    n: int

    @classmethod
    def for_period(cls, period: Period) -> "Grid":
        start = utc_midnight(period.first_day - timedelta(days=LOOKBACK_DAYS))
        end = utc_midnight(period.last_day + timedelta(days=LOOKAHEAD_DAYS))
        return cls(start=start, n=int((end - start) / QH))

    def index(self, ts: datetime) -> int:
        """Grid index of a QH start; ``ts`` must lie on the grid."""
        steps, rest = divmod(ts.astimezone(UTC) - self.start, QH)
        if rest or not 0 <= steps <= self.n:
            raise ValueError(f"{ts} is not a quarter-hour of the simulated grid")
        return int(steps)

    def time(self, i: int) -> datetime:
        return self.start + i * QH

    @cached_property
    def ms(self) -> np.ndarray:
        """Epoch ms of every QH start (one extra entry: the end of the last QH)."""
        return to_ms(self.start) + QH_MS * np.arange(self.n + 1, dtype=np.int64)

    def day_slice(self, day: date) -> slice:
        """Grid indices of a Europe/Berlin delivery day."""
        start, end = day_window(day)
        return slice(self.index(start), self.index(end))

    def utc_day_slice(self, day: date) -> slice:
        start = utc_midnight(day)
        return slice(self.index(start), self.index(start + timedelta(days=1)))
