"""The backtest as an asset: launched from the UI (job ``backtest_job``, dates in the run config)
or by ``flexpower backtest``; replaces ``backtest_result`` with the run's rows and writes the
HTML report under ``<documents>/reports/backtest/`` (the documents folder of the warehouse)."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from flexpower_assets.assets.metadata import markdown_table, schema_check
from flexpower_assets.backtest_run import STRATEGIES, run_backtest
from flexpower_assets.reports.backtest import render_backtest_report, report_path
from flexpower_assets.schemas import probabilistic as contract
from resources.bidding import BiddingResource
from resources.documents import DocumentStore
from resources.landing import LandingZone
from resources.warehouse_resource import WarehouseResource


class BacktestConfig(dg.Config):
    first_day: str  # YYYY-MM-DD
    last_day: str
    strategies: list[str] = list(STRATEGIES)
    curtailment_price_eur_per_mwh: float = 0.0


@dg.asset(
    group_name="backtest", metadata={"schema": "main"}, kinds={"duckdb", "polars"},
    check_specs=[dg.AssetCheckSpec("matches_schema", asset="backtest_result", blocking=True,
                                   description="Columns, types and keys of BacktestResult (schema registry).")],
    description="Per strategy, asset and delivery day of the last backtest run: accepted volume, revenue at the "
                "realised auction price, imbalance and its reBAP cost, net and capture rate (renewables: point, "
                "quantile; hydro plants: scenario_curves with re-dispatch and end water value; perfect foresight).",
)
def backtest_result(context: dg.AssetExecutionContext, config: BacktestConfig, warehouse: WarehouseResource,
                    landing: LandingZone, documents: DocumentStore, bidding: BiddingResource):
    unknown = sorted(set(config.strategies) - set(STRATEGIES))
    if unknown:
        raise dg.Failure(description=f"unknown strategies {unknown}: choose from {', '.join(STRATEGIES)}")
    first, last = date.fromisoformat(config.first_day), date.fromisoformat(config.last_day)
    # the hydro clients' scenario curves need the bidding configuration (its plants, scenarios, policy)
    bidding_config = bidding.load()[0] if Path(bidding.config_path).is_file() else None
    run = run_backtest(warehouse.get(), landing.root, first, last, tuple(config.strategies),
                       config.curtailment_price_eur_per_mwh, bidding_config, landing.min_file_age_s)
    for row in run.skipped.head(20).iter_rows(named=True):
        context.log.warning(f"left out of the backtest: {row['delivery_day']} {row['asset_id']}: {row['reason']}")
    frame, schema_result = schema_check(run.results.with_columns(backtest_from=pl.lit(first), backtest_to=pl.lit(last)),
                                        contract.BacktestResult, "backtest_result")
    path = render_backtest_report(run.results, run.summary, run.quality, run.levels,
                                  report_path(documents.root, first, last), skipped=run.skipped)
    yield dg.Output(frame, metadata={
        "summary": dg.MetadataValue.md(markdown_table(run.summary.with_columns(pl.col(pl.Float64).round(3)))),
        "quantile_levels": dg.MetadataValue.md(markdown_table(run.levels)),
        "left_out": dg.MetadataValue.md(markdown_table(run.skipped.head(50))) if run.skipped.height else "none",
        "report": dg.MetadataValue.path(str(path)),
    })
    yield schema_result


backtest_job = dg.define_asset_job("backtest_job", selection=dg.AssetSelection.assets(backtest_result),
                                   description="Replay past delivery days with each strategy (dates in the run config).")
backtest_assets = [backtest_result]
