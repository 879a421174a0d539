"""Jobs: the daily pipeline, the daily reports, and the monthly invoices and reports."""

import dagster as dg

from flexpower_assets.partitions import daily_partitions, monthly_partitions

DAILY_GROUPS = ("raw", "core", "forecasts", "infeed", "trading", "imbalance")
MONTHLY_GROUPS = ("invoicing", "reports_monthly")

daily_selection = dg.AssetSelection.groups(*DAILY_GROUPS)
daily_reports_selection = dg.AssetSelection.groups("reports_daily")
monthly_selection = dg.AssetSelection.groups(*MONTHLY_GROUPS)

# The landing sensors hand new files to this job: hashing, parsing and registering happen in a
# run, never in a sensor tick.
ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets("landing_files"),
    description="Register every new or changed landing file in the catalog (accepted / rejected / duplicate).",
    tags={"flexpower/job": "ingest"},
)

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

# The bid run of one delivery day. Stage limits are enforced inside the steps; this tag is the
# outer net: run monitoring (dagster.yaml) fails a run that exceeds the sum of the default stage
# limits (dispatch 30 + solve 600 + aggregate 60 + submit 30 s) plus three minutes of start-up.
BID_RUN_MAX_RUNTIME_S = 30 + 600 + 60 + 30 + 180

bidding_job = dg.define_asset_job(
    "bidding_job",
    selection=dg.AssetSelection.groups("bidding"),
    partitions_def=daily_partitions,
    description="Day-ahead bids for one delivery day: solves, curves, matrices, approval, submission.",
    tags={"flexpower/job": "bidding", "dagster/max_runtime": str(BID_RUN_MAX_RUNTIME_S)},
)
