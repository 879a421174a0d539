"""The one place that defines how time is partitioned.

Daily assets are partitioned by delivery day (a Europe/Berlin calendar day: 92, 96 or 100
quarter-hours); invoices and monthly reports by calendar month in Europe/Berlin. Asset code
reads a partition's UTC window, its days or its month from the context (``partition_window``,
``partition_days``, ``partition_month``), never by hand; calendar months themselves are
``domain.time.month_days`` (pure, for the domain).
"""

from __future__ import annotations

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
