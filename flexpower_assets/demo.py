"""The main command: every delivery day of the landing zone, then its months, then a summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

import polars as pl

from flexpower_assets.definitions import build_defs
from flexpower_assets.domain.time import month_start
from flexpower_assets.ingestion.catalog import registered_files, sync_landing
from flexpower_assets.runner import instance, materialize_days, run_partition
from flexpower_assets.settings import Settings
from resources.warehouse import Warehouse

SUMMARY_TABLES = ["asset_forecast", "portfolio_forecast", "best_of_infeed", "portfolio_best_of_infeed",
                  "trading_pnl", "trading_daily", "asset_imbalance", "portfolio_imbalance",
                  "invoice", "invoice_line", "asset_forecast_quantile", "forecast_skill", "champion_history"]


def landing_days(warehouse: Warehouse) -> list[date]:
    """The delivery days our trades cover: the days the business actually ran."""
    catalog = registered_files(warehouse).filter(
        (pl.col("kind") == "private_trades") & (pl.col("status") == "accepted"))
    days = {day for days in catalog["delivery_days"].to_list() for day in days}
    return sorted(days)


def run_demo(settings: Settings, echo: Callable[[str], None] = print) -> int:
    warehouse = Warehouse(settings.warehouse_path)
    began = time.perf_counter()
    echo(f"landing zone: {settings.landing_dir}")
    report = sync_landing(settings.landing_dir, warehouse, workers=settings.parse_workers,
                          min_age_s=settings.min_file_age_s)
    echo(f"registered {report.n_new} new file(s); {len(report.rejected)} rejected")
    if report.unsettled:
        echo(f"  {len(report.unsettled)} file(s) changed in the last {settings.min_file_age_s:g} s: not read yet")
    for path, message in report.rejected:
        echo(f"  rejected {path}: {message}")
    days = landing_days(warehouse)
    if not days:
        echo("no delivery day found in the landing zone (no accepted private trades file)")
        return 1
    defs = build_defs(settings)
    dagster_instance = instance()
    echo(f"building {len(days)} delivery day(s), {days[0]} to {days[-1]} (one run per range of days)")
    failed_days = materialize_days(defs, dagster_instance, days, reports=True, echo=echo)
    failures = len(failed_days)
    months = sorted({month_start(day) for day in days})
    for month in months:
        summary = run_partition(defs, "monthly_job", month.isoformat(), dagster_instance)
        failures += not summary.success
        echo(f"month {month:%Y-%m}: {'ok' if summary.success else 'FAILED: ' + str(summary.error)}")
    echo("")
    echo(f"warehouse: {settings.warehouse_path}")
    for table in SUMMARY_TABLES:
        if warehouse.table_exists("main", table):
            n = warehouse.read(f"select count(*) as n from main.{table}")["n"][0]
            echo(f"  {table:<28}{n:>10} rows")
    if warehouse.table_exists("main", "invoice"):
        current = warehouse.read(
            "select status, count(*) as n from main.invoice where is_current group by 1 order by 1")
        echo("invoices: " + ", ".join(f"{row['n']} {row['status']}" for row in current.iter_rows(named=True)))
        echo(f"invoice PDFs: {settings.documents_root / 'invoices'}")
    reports = settings.documents_root / "reports"
    if reports.exists():
        echo(f"reports: {reports}")
    from flexpower_assets.backtest_cli import run_demo_backtest

    failures += run_demo_backtest(settings, warehouse, echo)
    from flexpower_assets.bidding.demo import run_bid_demo

    failures += run_bid_demo(settings, echo)
    from flexpower_assets.position_demo import run_position_demo

    failures += run_position_demo(settings, echo)
    echo(f"done in {time.perf_counter() - began:.0f} s; open the Dagster UI with `make ui`")
    return 1 if failures else 0
