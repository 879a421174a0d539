"""Performance reports: a daily and a monthly HTML report for the portfolio and every asset.

The asset functions read the published tables of their period (the reports depend on them, they
do not load them through the IO manager), call the pure report builder and write one HTML file
per scope under ``<documents>/reports/<kind>/<period>/``, next to one copy of plotly.js that makes
the folder open offline; every file's SHA-256 goes into the warehouse's document index (which the
portal lists and checks), paths and the written summary go to the Dagster UI. Over a range of days
(a backfill run) every day gets its own reports, each read from one warehouse connection.
"""

import dagster as dg

from flexpower_assets.assets.steps import merge_metadata
from flexpower_assets.domain.reporting import build_daily_report, build_monthly_report, report_markdown_summary
from flexpower_assets.partitions import (
    daily_backfill_policy,
    daily_partitions,
    monthly_partitions,
    partition_days,
    partition_month,
)
from flexpower_assets.reports import record_report_documents, render_reports
from flexpower_assets.reports.inputs import load_report_inputs
from resources.documents import DocumentStore
from resources.warehouse import as_utc
from resources.warehouse_resource import WarehouseResource

DAILY_TABLES = ["asset_forecast", "best_of_infeed", "trading_pnl", "trading_daily", "asset_imbalance",
                "portfolio_imbalance", ["core", "redispatch_compensation"], ["core", "portfolio_assets"]]


class _Connection:
    """``read(sql, params)`` over one open connection: a report's tables in one go."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def read(self, sql: str, params: list | None = None):
        return as_utc(self.conn.execute(sql, params or []).pl())


def _metadata(report, documents: DocumentStore, warehouse: WarehouseResource) -> dict:
    written = render_reports(report, documents.root)
    record_report_documents(warehouse.get(), documents.root, report, written)  # outside any reader
    paths = [str(path) for path in written]
    return {
        "reports": len(paths),
        "portfolio_report": dg.MetadataValue.path(paths[0]) if paths else "none",
        "summary": dg.MetadataValue.md(report_markdown_summary(report)),
        "files": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in paths)),
    }


def _write(report, documents: DocumentStore, warehouse: WarehouseResource) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=_metadata(report, documents, warehouse))


@dg.asset(
    partitions_def=daily_partitions, group_name="reports_daily", deps=DAILY_TABLES, kinds={"html", "plotly"},
    backfill_policy=daily_backfill_policy,
    description="Daily performance report (HTML) for the portfolio and every asset.",
)
def daily_performance_reports(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                              documents: DocumentStore) -> dg.MaterializeResult:
    per_day = []
    for day in partition_days(context):
        with warehouse.get().reader() as conn:
            inputs = load_report_inputs(_Connection(conn), day, day)
        per_day.append((day, _metadata(build_daily_report(day, inputs), documents, warehouse)))
    return dg.MaterializeResult(metadata=merge_metadata(per_day))


@dg.asset(
    partitions_def=monthly_partitions, group_name="reports_monthly", deps=[*DAILY_TABLES, "invoice"],
    kinds={"html", "plotly"},
    description="Monthly performance report (HTML) for the portfolio and every asset, with invoice money.",
)
def monthly_performance_reports(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                                documents: DocumentStore) -> dg.MaterializeResult:
    days = partition_days(context)
    report = build_monthly_report(partition_month(context), load_report_inputs(warehouse.get(), days[0], days[-1]))
    return _write(report, documents, warehouse)


report_assets = [daily_performance_reports, monthly_performance_reports]
