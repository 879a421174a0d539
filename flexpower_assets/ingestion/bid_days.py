"""Which delivery days' bids a newly accepted market or hydro file affects (no Dagster here).

- price scenarios: the delivery days of their rows (recorded with the registration);
- inflow forecasts: the days their rows cover (likewise);
- reservoir levels and hydro technical data: the state of the plants now, which only the next
  bid can use: the next delivery day whose gate closure has not passed;
- day-ahead prices are the auction's results: they feed the open position and the backtest,
  never a bid (their day's gate closure has passed by the time they exist).

A day whose gate closure has passed is never requested: a bid run for it would only be refused
(``closed``, for the sensor to log).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

DAYS_OF_ROWS_KINDS = ("price_scenarios", "inflow_forecast")
NEXT_OPEN_DAY_KINDS = ("reservoir_level", "hydro_technical_data")
NO_BID_KINDS = ("day_ahead_prices",)


def next_open_day(gate_closure_utc: Callable[[date], datetime], now: datetime) -> date:
    """The first delivery day whose gate closure is still ahead of ``now``.

    Gate closure grows with the day, so the search starts two days before ``now``'s UTC date
    (any time zone's delivery day is within a day of it) and steps forward.
    """
    day = now.date() - timedelta(days=2)
    while gate_closure_utc(day) <= now:
        day += timedelta(days=1)
    return day


@dataclass
class BidDays:
    """The days to bid again (with the kinds that ask for each) and the days already closed."""

    open: dict[date, set[str]] = field(default_factory=dict)
    closed: dict[date, set[str]] = field(default_factory=dict)


def bid_days(days_by_kind: Mapping[str, Collection[date]], accepted_kinds: Collection[str],
             gate_closure_utc: Callable[[date], datetime], now: datetime) -> BidDays:
    """Split the delivery days the new files affect into those still open for bids and those closed."""
    wanted: dict[date, set[str]] = {}
    for kind in DAYS_OF_ROWS_KINDS:
        for day in days_by_kind.get(kind, ()):
            wanted.setdefault(day, set()).add(kind)
    snapshots = [kind for kind in NEXT_OPEN_DAY_KINDS if kind in accepted_kinds]
    if snapshots:
        wanted.setdefault(next_open_day(gate_closure_utc, now), set()).update(snapshots)
    result = BidDays()
    for day in sorted(wanted):
        target = result.open if gate_closure_utc(day) > now else result.closed
        target[day] = wanted[day]
    return result
