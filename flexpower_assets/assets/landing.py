"""The landing catalog as an asset: every inbound file, its status, and the rejected ones.

Materializing ``landing_files`` registers every new file of every kind (the raw assets do the
same for their own kinds) and publishes the catalog overview; its check turns each rejected
file into a visible data-quality alert with the parser's message (file, line, problem).
"""


import dagster as dg
import polars as pl

from flexpower_assets.assets.metadata import markdown_table
from flexpower_assets.ingestion.catalog import registered_files, sync_landing
from resources.landing import LandingZone
from resources.warehouse_resource import WarehouseResource


@dg.asset(
    group_name="landing",
    check_specs=[dg.AssetCheckSpec("no_rejected_files", asset="landing_files",
                                   description="Every inbound file was accepted (rejections listed).")],
    kinds={"duckdb"},
    description="Catalog of every inbound file: path, size, sha256, arrival, kind, days, status, error.",
)
def landing_files(context: dg.AssetExecutionContext, landing: LandingZone, warehouse: WarehouseResource):
    report = sync_landing(landing.root, warehouse.get(), workers=landing.parse_workers,
                          min_age_s=landing.min_file_age_s)
    catalog = registered_files(warehouse.get())
    by_status = (catalog.group_by("kind", "status").len().sort("kind", "status")
                 if catalog.height else pl.DataFrame())
    rejected = catalog.filter(pl.col("status") == "rejected").select("path", "error", "registered_at")
    yield dg.MaterializeResult(metadata={
        "files_registered_now": report.n_new,
        "files_total": catalog.height,
        "files_by_kind_and_status": dg.MetadataValue.md(markdown_table(by_status)),
    })
    yield dg.AssetCheckResult(
        check_name="no_rejected_files",
        passed=rejected.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rejected_files": rejected.height,
            "rejections": dg.MetadataValue.md(markdown_table(rejected)),
        },
    )
