"""Core and published daily assets: thin wrappers around the domain functions.

Each asset takes its upstream frames, calls the domain rule, and returns the frame with
metadata for the UI. Published tables (the data contract of DOMAIN.md) are conformed to the
schema registry and carry a blocking ``matches_schema`` check; data-quality findings are checks
next to the asset that finds them, as warnings unless bad numbers would flow downstream.
"""


import dagster as dg
import polars as pl

from flexpower_assets.assets.metadata import (
    markdown_table, partitioned_check_spec, schema_check, schema_check_spec,
)
from flexpower_assets.assets.raw import RAW_ASSET_KEYS
from flexpower_assets.domain import contracts as contract_rules
from flexpower_assets.domain import forecasts, imbalance, infeed, portfolio, redispatch, trading
from flexpower_assets.domain.time import quarter_hours
from flexpower_assets.ingestion.catalog import registered_files
from flexpower_assets.partitions import daily_partitions, partition_day, partition_window
from flexpower_assets.schemas import published as contract
from flexpower_assets.schemas import validate
from flexpower_assets.schemas.core import ContractDay
from resources.acknowledgements import Acknowledgements
from resources.warehouse_resource import WarehouseResource

# core tables live in the schema of their key prefix; published ones in DuckDB's default schema
CORE = {"partitions_def": daily_partitions, "metadata": {"partition_expr": "delivery_day"},
        "kinds": {"duckdb", "polars"}}
PUBLISHED = {"partitions_def": daily_partitions, "metadata": {"partition_expr": "delivery_day", "schema": "main"},
             "kinds": {"duckdb", "polars"}}
WARN = dg.AssetCheckSeverity.WARN
# FORMATS.md: volume is MW over the period, and the export labels it MWH; an unknown unit rejects the file
DOCUMENTED_VOLUME_LABELS = ("MWH", "MW")
ERROR = dg.AssetCheckSeverity.ERROR


def raw(kind: str) -> dg.AssetIn:
    return dg.AssetIn(key=RAW_ASSET_KEYS[kind])


def core(name: str) -> dg.AssetIn:
    return dg.AssetIn(key=["core", name])


def _grid(context: dg.AssetExecutionContext) -> pl.DataFrame:
    return quarter_hours(*partition_window(context))


def _with_day(frame: pl.DataFrame, context: dg.AssetExecutionContext) -> pl.DataFrame:
    return frame.with_columns(delivery_day=pl.lit(partition_day(context), dtype=pl.Date)).select(
        "delivery_day", pl.exclude("delivery_day"))


def _check(context: dg.AssetExecutionContext, name: str, asset: str, passed: bool, severity=WARN,
           **metadata) -> dg.AssetCheckResult:
    """A check result that names its delivery day (in its description and metadata, besides its partition)."""
    day = partition_day(context).isoformat()
    return dg.AssetCheckResult(check_name=name, asset_key=dg.AssetKey.from_user_string(asset),
                               passed=bool(passed), severity=severity, description=f"delivery day {day}",
                               metadata={"delivery_day": day, **metadata})


def _with_acknowledgements(acknowledgements: Acknowledgements, check: str,
                           findings: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """The open findings, and the metadata naming the acknowledged ones (who, when, why)."""
    open_findings, acknowledged = acknowledgements.split(check, findings)
    return open_findings, {"n_acknowledged": acknowledged.height,
                           "acknowledged": dg.MetadataValue.md(markdown_table(acknowledged))}


# ---------------------------------------------------------------- portfolio

@dg.asset(
    key_prefix=["core"], group_name="core", **CORE,
    ins={"contracts": raw("contracts"), "technical": raw("technical_data")},
    check_specs=[
        partitioned_check_spec("contracts_consistent", asset=["core", "portfolio_assets"],
                          description="Every active contract's terms fit its price and fee model."),
        partitioned_check_spec("capacity_agrees", asset=["core", "portfolio_assets"],
                          description="CRM capacity (MW) agrees with the VPP technical data (kW)."),
        partitioned_check_spec("contracts_unique", asset=["core", "portfolio_assets"],
                          description="No asset has two active contracts and no metering point is on two "
                                      "assets (else the production is counted once and the invoices of the "
                                      "contracts involved are blocked)."),
    ],
    description="Assets in the portfolio on the day: active contracts of the applicable CRM snapshot, "
                "with the VPP capacity next to the CRM one.",
)
def portfolio_assets(context: dg.AssetExecutionContext, contracts: pl.DataFrame, technical: pl.DataFrame,
                     acknowledgements: Acknowledgements):
    start, end = partition_window(context)
    day = partition_day(context)
    snapshot = portfolio.applicable_snapshot(contracts, end)
    if snapshot.is_empty():
        raise dg.Failure(
            description=f"No CRM snapshot applies to {day}: no accepted crm/asset_contracts_*.csv was "
                        f"created before {end:%Y-%m-%d %H:%M} UTC, so the day has no portfolio.",
        )
    every_active = portfolio.active_contracts(snapshot, day)
    conflicts = portfolio.contract_conflicts(every_active)
    active = portfolio.portfolio_members(every_active)
    technical_now = portfolio.latest_technical_data(technical, end)
    issues = portfolio.contract_issues(active)
    mismatches = portfolio.capacity_mismatches(active, technical_now)
    capacity_vpp = technical_now.select("asset_id", pl.col("capacity_kw").alias("capacity_vpp_kw"))
    frame = _with_day(active.join(capacity_vpp, on="asset_id", how="left").sort("asset_id"), context)
    yield dg.Output(frame, metadata={
        "n_assets": frame.height,
        "snapshot_created_at": str(snapshot["snapshot_created_at"].max()),
        "capacity_mw": round(float(frame["capacity_mw"].sum()), 3) if frame.height else 0.0,
        "preview": dg.MetadataValue.md(markdown_table(frame.select(
            "contract_id", "asset_id", "technology", "capacity_mw", "capacity_vpp_kw", "price_model", "fee_model"))),
    })
    issues, acknowledged_issues = _with_acknowledgements(
        acknowledgements, "core/portfolio_assets:contracts_consistent", issues)
    mismatches, acknowledged_mismatches = _with_acknowledgements(
        acknowledgements, "core/portfolio_assets:capacity_agrees", mismatches)
    yield _check(context, "contracts_consistent", "core/portfolio_assets", issues.is_empty(),
                 n_issues=issues.height, issues=dg.MetadataValue.md(markdown_table(issues)), **acknowledged_issues)
    yield _check(context, "capacity_agrees", "core/portfolio_assets", mismatches.is_empty(),
                 n_mismatches=mismatches.height, mismatches=dg.MetadataValue.md(markdown_table(mismatches)),
                 **acknowledged_mismatches)
    yield _check(context, "contracts_unique", "core/portfolio_assets", conflicts.is_empty(), severity=ERROR,
                 n_conflicts=conflicts.height, conflicts=dg.MetadataValue.md(markdown_table(conflicts)),
                 contracts_left_out=", ".join(sorted(set(every_active["contract_id"]) - set(active["contract_id"])))
                 or "none")


@dg.asset(
    key_prefix=["core"], group_name="core", **CORE, ins={"contracts": raw("contracts")},
    description="Every contract of the day's CRM snapshot and whether it is active on the day "
                "(domain.contracts): the table the portal's row filters join.",
)
def contract_days(context: dg.AssetExecutionContext, contracts: pl.DataFrame) -> pl.DataFrame:
    snapshot = (portfolio.applicable_snapshot(contracts, partition_window(context)[1]) if contracts.height
                else pl.DataFrame())
    frame = validate(contract_rules.contract_days(_with_day(snapshot, context) if snapshot.height else snapshot),
                     ContractDay)
    context.add_output_metadata({"n_contracts": frame.height, "n_active": int(frame["is_active"].sum())})
    return frame


def _asset_grid(context, portfolio_frame: pl.DataFrame) -> pl.DataFrame:
    return portfolio.asset_grid(portfolio_frame, _grid(context))


# ---------------------------------------------------------------- forecasts

@dg.asset(
    group_name="forecasts", **PUBLISHED,
    ins={"forecast_rows": raw("forecast"), "portfolio_frame": core("portfolio_assets")},
    check_specs=[schema_check_spec("asset_forecast", contract.AssetForecast),
                 partitioned_check_spec("forecast_coverage", asset="asset_forecast",
                                   description="Every portfolio asset has a latest and a tradeable forecast "
                                               "for every quarter-hour."),
                 partitioned_check_spec("forecast_within_capacity", asset="asset_forecast", blocking=True,
                                   description="0 <= forecast power <= 1.1 x capacity (it feeds best-of-infeed, "
                                               "imbalance and redispatch payouts).")],
    description="Latest and latest tradeable forecast per asset and quarter-hour, with their versions.",
)
def asset_forecast(context: dg.AssetExecutionContext, forecast_rows: pl.DataFrame, portfolio_frame: pl.DataFrame):
    frame = forecasts.latest_forecasts(forecast_rows, _asset_grid(context, portfolio_frame))
    frame, schema_result = schema_check(frame, contract.AssetForecast, "asset_forecast",
                                        day=partition_day(context))
    missing = forecasts.missing_forecasts(frame)
    yield dg.Output(frame, metadata={
        "latest_energy_mwh": round(float(frame["latest_energy_mwh"].sum()), 3),
        "tradeable_energy_mwh": round(float(frame["tradeable_energy_mwh"].sum()), 3),
        "assets_with_gaps": missing.height,
    })
    yield schema_result
    yield _check(context, "forecast_coverage", "asset_forecast", missing.is_empty(),
                 assets_missing=missing.height, missing=dg.MetadataValue.md(markdown_table(missing)))
    implausible = infeed.forecasts_outside_capacity(frame, portfolio_frame)
    yield _check(context, "forecast_within_capacity", "asset_forecast", implausible.is_empty(), severity=ERROR,
                 n_implausible=implausible.height, implausible=dg.MetadataValue.md(markdown_table(implausible)))


@dg.asset(
    group_name="forecasts", **PUBLISHED,
    check_specs=[schema_check_spec("portfolio_forecast", contract.PortfolioForecast)],
    description="Portfolio forecast per quarter-hour: sums over the assets that have one; missing ones counted.",
)
def portfolio_forecast(context: dg.AssetExecutionContext, asset_forecast: pl.DataFrame):
    frame, schema_result = schema_check(forecasts.portfolio_forecast(asset_forecast), contract.PortfolioForecast, "portfolio_forecast",
                                        day=partition_day(context))
    yield dg.Output(frame, metadata={
        "latest_energy_mwh": round(float(frame["latest_energy_mwh"].sum()), 3),
        "tradeable_energy_mwh": round(float(frame["tradeable_energy_mwh"].sum()), 3),
        "qh_with_missing_assets": int((frame["n_missing_latest"] > 0).sum()),
    })
    yield schema_result


# ---------------------------------------------------------------- infeed

@dg.asset(
    key_prefix=["core"], group_name="core", **CORE, ins={"points": raw("live")},
    description="Live infeed per asset and quarter-hour (step signal, held at most 15 minutes; of two "
                "files with the same timestamp the newest wins).",
)
def live_infeed_qh(context: dg.AssetExecutionContext, points: pl.DataFrame,
                   warehouse: WarehouseResource) -> pl.DataFrame:
    files = registered_files(warehouse.get(), kinds=["live"], columns=["file_id", "arrived_at", "path"])
    newest = infeed.newest_live_points(points, files)
    frame = _with_day(infeed.live_quarter_hours(newest, *partition_window(context)), context)
    context.add_output_metadata({"assets_with_live": frame["asset_id"].n_unique() if frame.height else 0,
                                 "points_superseded_by_a_newer_file": points.height - newest.height})
    return frame


@dg.asset(
    key_prefix=["core"], group_name="core", **CORE,
    ins={"final_rows": raw("final_production"), "portfolio_frame": core("portfolio_assets")},
    check_specs=[partitioned_check_spec("final_complete", asset=["core", "final_production_qh"],
                                   description="Every portfolio asset has final DSO data for every quarter-hour.")],
    description="DSO final production per asset and quarter-hour, corrections applied QH by QH.",
)
def final_production_qh(context: dg.AssetExecutionContext, final_rows: pl.DataFrame, portfolio_frame: pl.DataFrame):
    frame = _with_day(infeed.final_production_by_asset(final_rows, portfolio_frame), context)
    n_qh = _grid(context).height
    counts = frame.group_by("asset_id").len("final_qh")
    gaps = (portfolio_frame.select("asset_id", "metering_point_id").join(counts, on="asset_id", how="left")
            .with_columns(pl.col("final_qh").fill_null(0)).filter(pl.col("final_qh") < n_qh)
            .with_columns(missing_qh=n_qh - pl.col("final_qh")).sort("asset_id"))
    yield dg.Output(frame, metadata={"assets_with_final": counts.height})
    yield _check(context, "final_complete", "core/final_production_qh", gaps.is_empty(),
                 assets_incomplete=gaps.height, gaps=dg.MetadataValue.md(markdown_table(gaps)))


@dg.asset(
    key_prefix=["core"], group_name="core", **CORE,
    ins={"flags": raw("redispatch_flags"), "portfolio_frame": core("portfolio_assets")},
    description="Quarter-hours the DSO curtailed, per asset.",
)
def redispatched_qh(context: dg.AssetExecutionContext, flags: pl.DataFrame, portfolio_frame: pl.DataFrame) -> pl.DataFrame:
    frame = _with_day(infeed.redispatched_quarter_hours(flags, portfolio_frame), context)
    context.add_output_metadata({"redispatched_qh": frame.height})
    return frame


@dg.asset(
    key_prefix=["core"], group_name="core", **CORE, ins={"prices": raw("redispatch_compensation")},
    description="The DSO's redispatch compensation price per quarter-hour (newest file wins).",
)
def redispatch_compensation(context: dg.AssetExecutionContext, prices: pl.DataFrame) -> pl.DataFrame:
    return _with_day(redispatch.compensation_prices(prices), context)


@dg.asset(
    group_name="infeed", **PUBLISHED,
    ins={"portfolio_frame": core("portfolio_assets"), "final_qh": core("final_production_qh"),
         "live_qh": core("live_infeed_qh"), "redispatched": core("redispatched_qh")},
    check_specs=[
        schema_check_spec("best_of_infeed", contract.BestOfInfeed),
        partitioned_check_spec("qh_completeness", asset="best_of_infeed",
                          description="Quarter-hours per asset and source; fails when a quarter-hour has no value."),
        partitioned_check_spec("within_capacity", asset="best_of_infeed", blocking=True,
                          description="0 <= power <= 1.1 x capacity, except measured negative solar at night."),
    ],
    description="Best available production per asset and quarter-hour: final > live > forecast "
                "(0 when redispatched), with its source.",
)
def best_of_infeed(context: dg.AssetExecutionContext, portfolio_frame: pl.DataFrame, final_qh: pl.DataFrame,
                   live_qh: pl.DataFrame, asset_forecast: pl.DataFrame, redispatched: pl.DataFrame):
    grid = _asset_grid(context, portfolio_frame)
    frame = infeed.best_of_infeed(grid, final_qh, live_qh, asset_forecast, redispatched)
    if frame.height and (frame["source"] == "missing").all():
        raise dg.Failure(description=(
            f"No production data at all for {partition_day(context)}: no final DSO value, no live point "
            f"and no forecast for any of the {portfolio_frame.height} portfolio assets. "
            "Check that the landing zone holds files for this day."))
    frame, schema_result = schema_check(frame, contract.BestOfInfeed, "best_of_infeed",
                                        day=partition_day(context))
    by_source = frame.group_by("asset_id", "source").len("qh").pivot(
        on="source", index="asset_id", values="qh").fill_null(0).sort("asset_id")
    missing = frame.filter(pl.col("source") == "missing").group_by("asset_id").len("missing_qh").sort("asset_id")
    implausible = infeed.outside_capacity(frame, portfolio_frame)
    energy_by_source = frame.group_by("source").agg(pl.col("energy_mwh").sum().round(3)).sort("source")
    yield dg.Output(frame, metadata={
        "energy_mwh": round(float(frame["energy_mwh"].sum()), 3),
        "energy_by_source": dg.MetadataValue.md(markdown_table(energy_by_source)),
    })
    yield schema_result
    yield _check(context, "qh_completeness", "best_of_infeed", missing.is_empty(),
                 qh_by_asset_and_source=dg.MetadataValue.md(markdown_table(by_source, max_rows=50)),
                 missing=dg.MetadataValue.md(markdown_table(missing)))
    yield _check(context, "within_capacity", "best_of_infeed", implausible.is_empty(), severity=ERROR,
                 n_implausible=implausible.height, implausible=dg.MetadataValue.md(markdown_table(implausible)))


@dg.asset(
    group_name="infeed", **PUBLISHED,
    check_specs=[schema_check_spec("portfolio_best_of_infeed", contract.PortfolioBestOfInfeed)],
    description="Portfolio production per quarter-hour and the share of energy from each source.",
)
def portfolio_best_of_infeed(context: dg.AssetExecutionContext, best_of_infeed: pl.DataFrame):
    frame, schema_result = schema_check(infeed.portfolio_best_of_infeed(best_of_infeed),
                                        contract.PortfolioBestOfInfeed, "portfolio_best_of_infeed",
                                        day=partition_day(context))
    energy = best_of_infeed.group_by("source").agg(pl.col("energy_mwh").sum())
    total = float(energy["energy_mwh"].sum()) if energy.height else 0.0
    shares = {f"share_{row['source']}": round(row["energy_mwh"] / total, 4) if total else None
              for row in energy.iter_rows(named=True)}
    yield dg.Output(frame, metadata={"energy_mwh": round(total, 3), **shares})
    yield schema_result


# ---------------------------------------------------------------- trading

def _slices(trades: pl.DataFrame) -> pl.DataFrame:
    return trading.slice_trades(trading.deduplicate_trades(trades))


@dg.asset(
    group_name="trading", **PUBLISHED,
    ins={"private_trades": raw("private_trades"), "public_trades": raw("public_trades")},
    check_specs=[
        schema_check_spec("trading_pnl", contract.TradingPnl),
        partitioned_check_spec("volume_unit_documented", asset="trading_pnl",
                          description="Trade volume label matches the documented unit (MW over the period)."),
    ],
    description="Trading PnL, volumes and VWAPs (ours and the market's) per quarter-hour.",
)
def trading_pnl(context: dg.AssetExecutionContext, private_trades: pl.DataFrame, public_trades: pl.DataFrame):
    frame = trading.trading_pnl(_slices(private_trades), _slices(public_trades), _grid(context))
    frame, schema_result = schema_check(frame, contract.TradingPnl, "trading_pnl",
                                        day=partition_day(context))
    labels = sorted(set(private_trades["volume_unit_label"].unique().to_list())
                    | set(public_trades["volume_unit_label"].unique().to_list()))
    yield dg.Output(frame, metadata={
        "revenue_eur": round(float(frame["revenue_eur"].sum()), 2),
        "sold_mwh": round(float(frame["sold_mwh"].sum()), 3),
        "bought_mwh": round(float(frame["bought_mwh"].sum()), 3),
    })
    yield schema_result
    undocumented = [label for label in labels if label not in DOCUMENTED_VOLUME_LABELS]
    yield _check(context, "volume_unit_documented", "trading_pnl", not undocumented,
                 labels_seen=", ".join(labels) or "none", undocumented=", ".join(undocumented) or "none",
                 note="Volume is power in MW over the delivery period (exchange documentation); the export "
                      "labels it MWH (FORMATS.md). Energy is MW x hours whatever the label says.")


@dg.asset(
    group_name="trading", **PUBLISHED,
    ins={"private_trades": raw("private_trades"), "public_trades": raw("public_trades")},
    check_specs=[schema_check_spec("trading_daily", contract.TradingDaily)],
    description="The day's trades, revenue, volumes and VWAPs.",
)
def trading_daily(context: dg.AssetExecutionContext, private_trades: pl.DataFrame, public_trades: pl.DataFrame):
    frame = trading.trading_daily(_slices(private_trades), _slices(public_trades), _grid(context))
    frame, schema_result = schema_check(frame, contract.TradingDaily, "trading_daily",
                                        day=partition_day(context))
    yield dg.Output(frame, metadata={"summary": dg.MetadataValue.md(markdown_table(frame))})
    yield schema_result


# ---------------------------------------------------------------- imbalance

@dg.asset(
    key_prefix=["core"], group_name="core", **CORE,
    ins={"final": raw("imbalance_final"), "estimates": raw("imbalance_estimate")},
    check_specs=[partitioned_check_spec("price_coverage", asset=["core", "imbalance_prices"],
                                   description="Quarter-hours priced final / by estimate / not at all.")],
    description="Imbalance price per quarter-hour: final reBAP, else the newest estimate, else missing.",
)
def imbalance_prices(context: dg.AssetExecutionContext, final: pl.DataFrame, estimates: pl.DataFrame):
    frame = _with_day(imbalance.imbalance_prices(final, estimates, _grid(context)), context)
    counts = {source: int((frame["price_source"] == source).sum()) for source in ("final", "estimate", "missing")}
    yield dg.Output(frame, metadata={f"qh_{k}": v for k, v in counts.items()})
    yield _check(context, "price_coverage", "core/imbalance_prices", counts["missing"] == 0,
                 **{f"qh_{k}": v for k, v in counts.items()})


@dg.asset(
    group_name="imbalance", **PUBLISHED,
    ins={"prices": core("imbalance_prices"), "portfolio_frame": core("portfolio_assets")},
    check_specs=[schema_check_spec("asset_imbalance", contract.AssetImbalance),
                 partitioned_check_spec("imbalance_within_capacity", asset="asset_imbalance", blocking=True,
                                   description="|imbalance| <= 1.1 x capacity x 0.25 h per quarter-hour.")],
    description="Imbalance per asset and quarter-hour (production minus tradeable forecast) and its cost.",
)
def asset_imbalance(context: dg.AssetExecutionContext, best_of_infeed: pl.DataFrame,
                    asset_forecast: pl.DataFrame, prices: pl.DataFrame, portfolio_frame: pl.DataFrame):
    frame = imbalance.asset_imbalance(best_of_infeed, asset_forecast, prices)
    frame, schema_result = schema_check(frame, contract.AssetImbalance, "asset_imbalance",
                                        day=partition_day(context))
    implausible = infeed.imbalances_outside_capacity(frame, portfolio_frame)
    yield dg.Output(frame, metadata={
        "imbalance_mwh": round(float(frame["imbalance_mwh"].sum()), 3),
        "imbalance_cost_eur": round(float(frame["imbalance_cost_eur"].sum()), 2),
        "qh_without_cost": int(frame["imbalance_cost_eur"].is_null().sum()),
    })
    yield schema_result
    yield _check(context, "imbalance_within_capacity", "asset_imbalance", implausible.is_empty(), severity=ERROR,
                 n_implausible=implausible.height, implausible=dg.MetadataValue.md(markdown_table(implausible)))


@dg.asset(
    group_name="imbalance", **PUBLISHED, ins={"prices": core("imbalance_prices")},
    check_specs=[schema_check_spec("portfolio_imbalance", contract.PortfolioImbalance)],
    description="The balancing group's net imbalance per quarter-hour, its cost, and the stand-alone sum.",
)
def portfolio_imbalance(context: dg.AssetExecutionContext, asset_imbalance: pl.DataFrame, prices: pl.DataFrame):
    frame = imbalance.portfolio_imbalance(asset_imbalance, prices)
    frame, schema_result = schema_check(frame, contract.PortfolioImbalance, "portfolio_imbalance",
                                        day=partition_day(context))
    yield dg.Output(frame, metadata={
        "net_cost_eur": round(float(frame["imbalance_cost_eur"].sum()), 2),
        "standalone_cost_eur": round(float(frame["standalone_cost_eur"].sum()), 2),
        "netting_benefit_eur": round(float(frame["netting_benefit_eur"].sum()), 2),
    })
    yield schema_result


daily_assets = [
    portfolio_assets, contract_days, asset_forecast, portfolio_forecast, live_infeed_qh, final_production_qh,
    redispatched_qh, redispatch_compensation, best_of_infeed, portfolio_best_of_infeed,
    trading_pnl, trading_daily, imbalance_prices, asset_imbalance, portfolio_imbalance,
]
