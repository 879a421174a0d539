"""Jobs: the daily pipeline (every delivery-day asset) and the monthly one."""

from __future__ import annotations

import dagster as dg

from flexpower_assets.partitions import daily_partitions, monthly_partitions

DAILY_GROUPS = ("raw", "core", "forecasts", "infeed", "trading", "imbalance", "reports_daily")

daily_selection = dg.AssetSelection.groups(*DAILY_GROUPS)

daily_job = dg.define_asset_job(
    "daily_job",
    selection=daily_selection,
    partitions_def=daily_partitions,
    description="Every delivery-day asset for one day: ingestion, forecasts, infeed, trading, imbalance.",
    tags={"flexpower/job": "daily"},
)

MONTHLY_GROUPS = ("invoicing", "reports_monthly")

monthly_selection = dg.AssetSelection.groups(*MONTHLY_GROUPS)

monthly_job = dg.define_asset_job(
    "monthly_job",
    selection=monthly_selection,
    partitions_def=monthly_partitions,
    description="A month's invoices (and monthly reports) from the daily partitions already built.",
    tags={"flexpower/job": "monthly"},
)
