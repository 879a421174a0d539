"""Delivery days, quarter-hours and time zones.

A delivery day is a calendar day in Europe/Berlin; every timestamp is stored in UTC as
``pl.Datetime("us", "UTC")``. A quarter-hour (QH) is identified by its UTC ``delivery_start``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
QH = timedelta(minutes=15)
QH_HOURS = 0.25
UTC_DATETIME = pl.Datetime("us", "UTC")
MONTH = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})")


def day_window(day: date) -> tuple[datetime, datetime]:
    """UTC start and end of a Europe/Berlin delivery day (23, 24 or 25 hours long)."""
    start = datetime(day.year, day.month, day.day, tzinfo=BERLIN)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=BERLIN)
    return start.astimezone(UTC), end.astimezone(UTC)


def quarter_hours(start: datetime, end: datetime) -> pl.DataFrame:
    """One row per QH in ``[start, end)``: ``delivery_start`` (UTC) and ``delivery_day`` (Berlin)."""
    starts = pl.datetime_range(
        start.astimezone(UTC), end.astimezone(UTC) - QH, interval="15m", eager=True,
        time_unit="us", time_zone="UTC",
    ).alias("delivery_start")
    frame = pl.DataFrame({"delivery_start": starts})
    return frame.with_columns(delivery_day=delivery_day_of(pl.col("delivery_start")))


def delivery_day_of(expr: pl.Expr) -> pl.Expr:
    """The Europe/Berlin delivery day of a UTC timestamp expression."""
    return expr.dt.convert_time_zone("Europe/Berlin").dt.date()


def days_covered(starts: pl.Series) -> list[date]:
    """Sorted distinct delivery days of a series of UTC delivery starts."""
    if starts.len() == 0:
        return []
    frame = pl.DataFrame({"s": starts})
    return sorted(frame.select(delivery_day_of(pl.col("s")).unique())["s"].to_list())


def days_between(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last`` inclusive."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def month_days(month: str) -> list[date]:
    """The calendar days of month ``'YYYY-MM'`` (the days of a monthly partition)."""
    match = MONTH.fullmatch(month)
    if match is None or not 1 <= int(match["month"]) <= 12:
        raise ValueError(f"month {month!r} is not of the form 'YYYY-MM'")
    first = date(int(match["year"]), int(match["month"]), 1)
    return days_between(first, month_end(first))


def month_of(day: date) -> str:
    """``'YYYY-MM'`` of a day."""
    return f"{day:%Y-%m}"


def month_start(day: date) -> date:
    """The first day of the month of ``day``."""
    return day.replace(day=1)


def month_end(day: date) -> date:
    """The last day of the month of ``day``."""
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def days_in_month(day: date) -> int:
    """28 to 31: the days of the month of ``day``."""
    return month_end(day).day


def quarter_hours_in_day(day: date) -> int:
    """QHs of a delivery day: 96, 92 on the spring DST day, 100 on the autumn one."""
    start, end = day_window(day)
    return (end - start) // QH


def day_ranges(days: Iterable[date]) -> str:
    """Sorted distinct days as compact ranges: ``2025-06-01..2025-06-03, 2025-06-07``."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and day - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs)


def to_utc(ts: datetime) -> datetime:
    """A timezone-aware timestamp in UTC (naive timestamps are taken as UTC)."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)
