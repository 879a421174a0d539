"""Jobs: the daily pipeline, the daily reports, and the monthly invoices and reports."""

import dagster as dg

from flexpower_assets.partitions import daily_partitions, monthly_partitions

DAILY_GROUPS = ("raw", "core", "forecasts", "infeed", "trading", "imbalance")
MONTHLY_GROUPS = ("invoicing", "reports_monthly")

daily_selection = dg.AssetSelection.groups(*DAILY_GROUPS)
daily_reports_selection = dg.AssetSelection.groups("reports_daily")
monthly_selection = dg.AssetSelection.groups(*MONTHLY_GROUPS)

daily_job = dg.define_asset_job(
    "daily_job",
    selection=daily_selection,
    partitions_def=daily_partitions,
    description="Every delivery-day table for one day: ingestion, forecasts, infeed, trading, imbalance.",
    tags={"flexpower/job": "daily"},
)

# Reports are for people, not for the numbers' deadline: they run after the day's tables, so a
# thousand asset reports never hold up the contract tables (nor their benchmark).
daily_reports_job = dg.define_asset_job(
    "daily_reports_job",
    selection=daily_reports_selection,
    partitions_def=daily_partitions,
    description="The day's performance reports (portfolio and every asset) from the built tables.",
    tags={"flexpower/job": "daily_reports"},
)

monthly_job = dg.define_asset_job(
    "monthly_job",
    selection=monthly_selection,
    partitions_def=monthly_partitions,
    description="A month's invoices and monthly reports from the daily partitions already built.",
    tags={"flexpower/job": "monthly"},
)
