"""The landing catalog as an asset: every inbound file, its status, and the rejected ones.

Materializing ``landing_files`` registers every new file of every kind (the raw assets do the
same for their own kinds) and publishes the catalog overview. ``no_rejected_files`` fails when
this run rejected a file, naming it with the parser's message (file, line, problem); rejections
of earlier runs stay listed in the catalog but do not fail later runs. The ``*_on_time`` checks
judge the arrival windows of FORMATS.md (``quality/freshness.py``; the ``late_data_sensor``
records the same verdicts between runs and alerts on them).
"""


import dagster as dg
import polars as pl

from flexpower_assets.assets.metadata import markdown_table
from flexpower_assets.ingestion.catalog import registered_files, sync_landing
from flexpower_assets.quality.freshness import arrivals
from resources.landing import LandingZone
from resources.warehouse_resource import WarehouseResource


@dg.asset(
    group_name="landing",
    check_specs=[dg.AssetCheckSpec("no_rejected_files", asset="landing_files",
                                   description="Every file this run registered was accepted (rejections listed)."),
                 *[dg.AssetCheckSpec(name, asset="landing_files", description=description) for name, description in (
                     ("crm_snapshot_on_time", "The weekly CRM snapshot (Sundays 04:30-05:00 UTC) arrived."),
                     ("technical_data_on_time", "The daily VPP technical data (12:30-13:00 UTC) arrived."),
                     ("dso_final_on_time", "DSO final production arrived the day after its UTC day."))]],
    kinds={"duckdb"},
    description="Catalog of every inbound file: path, size, sha256, arrival, kind, days, status, error.",
)
def landing_files(context: dg.AssetExecutionContext, landing: LandingZone, warehouse: WarehouseResource):
    report = sync_landing(landing.root, warehouse.get(), workers=landing.parse_workers,
                          min_age_s=landing.min_file_age_s)
    catalog = registered_files(warehouse.get())
    by_status = (catalog.group_by("kind", "status").len().sort("kind", "status")
                 if catalog.height else pl.DataFrame())
    rejected_now = pl.DataFrame(report.rejected, schema={"path": pl.String, "error": pl.String}, orient="row")
    rejected_ever = int((catalog["status"] == "rejected").sum()) if catalog.height else 0
    yield dg.MaterializeResult(metadata={
        "files_registered_now": report.n_new,
        "files_total": catalog.height,
        "files_by_kind_and_status": dg.MetadataValue.md(markdown_table(by_status)),
    })
    yield dg.AssetCheckResult(
        check_name="no_rejected_files",
        passed=rejected_now.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{rejected_now.height} of the {report.n_new} file(s) registered by this run rejected",
        metadata={
            "rejected_files": rejected_now.height,
            "rejected_files_all_runs": rejected_ever,
            "rejections": dg.MetadataValue.md(markdown_table(rejected_now)),
        },
    )
    for verdict in arrivals(warehouse.get(), landing.clock()):
        yield dg.AssetCheckResult(
            check_name=verdict.check_name, passed=not verdict.late, severity=dg.AssetCheckSeverity.WARN,
            description=f"{verdict.due}: {'late' if verdict.late else 'arrived'} ({verdict.newest})",
            metadata={"due": verdict.due, "deadline_utc": verdict.deadline.isoformat(), "newest": verdict.newest})
