"""The one place that defines how time is partitioned.

Daily assets are partitioned by delivery day (a Europe/Berlin calendar day: 92, 96 or 100
quarter-hours); invoices and monthly reports by calendar month in Europe/Berlin. Asset code
reads a partition's UTC window from the context (``partition_window``), never by hand.
"""

from __future__ import annotations

from datetime import date, datetime

import dagster as dg

from flexpower_assets.domain.time import UTC

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
