"""The one place that defines how time is partitioned.

Daily assets are partitioned by delivery day (a Europe/Berlin calendar day: 92, 96 or 100
quarter-hours); invoices and monthly reports by calendar month in Europe/Berlin. Asset code
reads a partition's UTC window, its days or its month from the context (``partition_window``,
``partition_days``, ``partition_month``), never by hand; calendar months themselves are
``domain.time.month_days`` (pure, for the domain). A run over a range of days reads each day's
UTC window with ``partition_delivery_days``.

A backfill of daily partitions runs as one run per ``DAYS_PER_RUN`` days (a month is one run,
not thirty): the fixed cost of a run (run start, its step, the event log, warehouse connections)
is paid once per range instead of once per day. A run holds its days' frames in memory, so its
memory grows with its days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import dagster as dg

from flexpower_assets.domain.time import UTC, days_between, month_of

PARTITIONS_START = "2024-01-01"
TIMEZONE = "Europe/Berlin"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone=TIMEZONE, end_offset=1
)
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone=TIMEZONE, end_offset=1
)

DAYS_PER_RUN = 31
daily_backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=DAYS_PER_RUN)


def partition_window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """The UTC start and end of the partition being materialized."""
    window = context.partition_time_window
    return window.start.astimezone(UTC), window.end.astimezone(UTC)


def partition_day(context: dg.AssetExecutionContext) -> date:
    """The delivery day of a daily partition."""
    return date.fromisoformat(context.partition_key)


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The delivery days of the partition: one for a daily partition, every day of a monthly one."""
    window = context.partition_time_window
    return days_between(window.start.date(), (window.end - timedelta(days=1)).date())


def partition_month(context: dg.AssetExecutionContext) -> str:
    """``YYYY-MM`` of a monthly partition."""
    return month_of(context.partition_time_window.start.date())


@dataclass(frozen=True)
class DeliveryDay:
    """One daily partition: its delivery day and UTC window."""

    day: date
    start: datetime
    end: datetime


def partition_delivery_days(context: dg.AssetExecutionContext) -> list[DeliveryDay]:
    """Every delivery day of the daily partition (or partition range) being materialized, in order."""
    days = []
    for key in context.partition_keys:
        window = daily_partitions.time_window_for_partition_key(key)
        days.append(DeliveryDay(date.fromisoformat(key), window.start.astimezone(UTC), window.end.astimezone(UTC)))
    return days
