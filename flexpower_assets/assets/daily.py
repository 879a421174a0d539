"""Core and published daily tables: thin per-day functions around the domain rules.

Each table function takes the day and its upstream frames (that day's rows), calls the domain
rule, and returns the frame with metadata for the UI and its check results. Published tables
(the data contract of DOMAIN.md) are conformed to the schema registry and carry a blocking
``matches_schema`` check; data-quality findings are checks next to the table that finds them,
as warnings unless bad numbers would flow downstream. All of them, with the raw layer, run as
one step (``daily_tables``, see ``steps.py``): each is still its own asset, table and lineage.
"""


import dagster as dg
import polars as pl

from flexpower_assets.assets.metadata import (
    markdown_table,
    partitioned_check_spec,
    schema_check,
    schema_check_spec,
)
from flexpower_assets.assets.raw import RAW_ASSET_KEYS, RAW_TABLES, prefetch_raw, sync_selected
from flexpower_assets.assets.steps import Built, Day, Table, table_step
from flexpower_assets.domain import contracts as contract_rules
from flexpower_assets.domain import forecasts, imbalance, infeed, portfolio, redispatch, trading
from flexpower_assets.ingestion.catalog import registered_files
from flexpower_assets.partitions import daily_backfill_policy, daily_partitions, partition_delivery_days
from flexpower_assets.schemas import published as contract
from flexpower_assets.schemas import validate
from flexpower_assets.schemas.core import ContractDay
from resources.acknowledgements import Acknowledgements

WARN = dg.AssetCheckSeverity.WARN
# FORMATS.md: volume is MW over the period, and the export labels it MWH; an unknown unit rejects the file
DOCUMENTED_VOLUME_LABELS = ("MWH", "MW")
ERROR = dg.AssetCheckSeverity.ERROR


def raw(kind: str) -> dg.AssetKey:
    return RAW_ASSET_KEYS[kind]


def core(name: str) -> dg.AssetKey:
    return dg.AssetKey(["core", name])


def main(name: str) -> dg.AssetKey:
    return dg.AssetKey(name)


def _check(d: Day, name: str, asset: str, passed: bool, severity=WARN, **metadata) -> dg.AssetCheckResult:
    """A check result that names its delivery day (in its description and metadata, besides its partition)."""
    day = d.day.isoformat()
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

def portfolio_assets(d: Day, contracts: pl.DataFrame, technical: pl.DataFrame) -> Built:
    day, end = d.day, d.end
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
    frame = d.with_day(active.join(capacity_vpp, on="asset_id", how="left").sort("asset_id"))
    metadata = {
        "n_assets": frame.height,
        "snapshot_created_at": str(snapshot["snapshot_created_at"].max()),
        "capacity_mw": round(float(frame["capacity_mw"].sum()), 3) if frame.height else 0.0,
        "preview": dg.MetadataValue.md(markdown_table(frame.select(
            "contract_id", "asset_id", "technology", "capacity_mw", "capacity_vpp_kw", "price_model", "fee_model"))),
    }
    issues, acknowledged_issues = _with_acknowledgements(
        d.resources.acknowledgements, "core/portfolio_assets:contracts_consistent", issues)
    mismatches, acknowledged_mismatches = _with_acknowledgements(
        d.resources.acknowledgements, "core/portfolio_assets:capacity_agrees", mismatches)
    return Built(frame, metadata, [
        _check(d, "contracts_consistent", "core/portfolio_assets", issues.is_empty(),
               n_issues=issues.height, issues=dg.MetadataValue.md(markdown_table(issues)), **acknowledged_issues),
        _check(d, "capacity_agrees", "core/portfolio_assets", mismatches.is_empty(),
               n_mismatches=mismatches.height, mismatches=dg.MetadataValue.md(markdown_table(mismatches)),
               **acknowledged_mismatches),
        _check(d, "contracts_unique", "core/portfolio_assets", conflicts.is_empty(), severity=ERROR,
               n_conflicts=conflicts.height, conflicts=dg.MetadataValue.md(markdown_table(conflicts)),
               contracts_left_out=", ".join(sorted(set(every_active["contract_id"]) - set(active["contract_id"])))
               or "none"),
    ])


def contract_days(d: Day, contracts: pl.DataFrame) -> Built:
    snapshot = portfolio.applicable_snapshot(contracts, d.end) if contracts.height else pl.DataFrame()
    frame = validate(contract_rules.contract_days(d.with_day(snapshot) if snapshot.height else snapshot),
                     ContractDay)
    return Built(frame, {"n_contracts": frame.height, "n_active": int(frame["is_active"].sum())})


def _asset_grid(d: Day, portfolio_frame: pl.DataFrame) -> pl.DataFrame:
    return portfolio.asset_grid(portfolio_frame, d.grid())


# ---------------------------------------------------------------- forecasts

def asset_forecast(d: Day, forecast_rows: pl.DataFrame, portfolio_frame: pl.DataFrame) -> Built:
    frame = forecasts.latest_forecasts(forecast_rows, _asset_grid(d, portfolio_frame))
    frame, schema_result = schema_check(frame, contract.AssetForecast, "asset_forecast", day=d.day)
    missing = forecasts.missing_forecasts(frame)
    implausible = infeed.forecasts_outside_capacity(frame, portfolio_frame)
    return Built(frame, {
        "latest_energy_mwh": round(float(frame["latest_energy_mwh"].sum()), 3),
        "tradeable_energy_mwh": round(float(frame["tradeable_energy_mwh"].sum()), 3),
        "assets_with_gaps": missing.height,
    }, [
        schema_result,
        _check(d, "forecast_coverage", "asset_forecast", missing.is_empty(),
               assets_missing=missing.height, missing=dg.MetadataValue.md(markdown_table(missing))),
        _check(d, "forecast_within_capacity", "asset_forecast", implausible.is_empty(), severity=ERROR,
               n_implausible=implausible.height, implausible=dg.MetadataValue.md(markdown_table(implausible))),
    ])


def portfolio_forecast(d: Day, asset_forecast: pl.DataFrame) -> Built:
    frame, schema_result = schema_check(forecasts.portfolio_forecast(asset_forecast), contract.PortfolioForecast,
                                        "portfolio_forecast", day=d.day)
    return Built(frame, {
        "latest_energy_mwh": round(float(frame["latest_energy_mwh"].sum()), 3),
        "tradeable_energy_mwh": round(float(frame["tradeable_energy_mwh"].sum()), 3),
        "qh_with_missing_assets": int((frame["n_missing_latest"] > 0).sum()),
    }, [schema_result])


# ---------------------------------------------------------------- infeed

LIVE_FILES = ("catalog", "live")  # the live files' catalog rows, read with the raw rows
LIVE_FILE_COLUMNS = ["file_id", "arrived_at", "path"]


def live_infeed_qh(d: Day, points: pl.DataFrame) -> Built:
    files = d.prefetched.get(LIVE_FILES)
    if files is None:
        files = registered_files(d.warehouse, kinds=["live"], columns=LIVE_FILE_COLUMNS)
    newest = infeed.newest_live_points(points, files)
    frame = d.with_day(infeed.live_quarter_hours(newest, d.start, d.end))
    return Built(frame, {"assets_with_live": frame["asset_id"].n_unique() if frame.height else 0,
                         "points_superseded_by_a_newer_file": points.height - newest.height})


def final_production_qh(d: Day, final_rows: pl.DataFrame, portfolio_frame: pl.DataFrame) -> Built:
    frame = d.with_day(infeed.final_production_by_asset(final_rows, portfolio_frame))
    n_qh = d.grid().height
    counts = frame.group_by("asset_id").len("final_qh")
    gaps = (portfolio_frame.select("asset_id", "metering_point_id", day=d.day).join(counts, on="asset_id", how="left")
            .with_columns(pl.col("final_qh").fill_null(0)).filter(pl.col("final_qh") < n_qh)
            .with_columns(missing_qh=n_qh - pl.col("final_qh")).sort("asset_id"))
    return Built(frame, {"assets_with_final": counts.height}, [
        _check(d, "final_complete", "core/final_production_qh", gaps.is_empty(),
               assets_incomplete=gaps.height, gaps=dg.MetadataValue.md(markdown_table(gaps))),
    ])


def redispatched_qh(d: Day, flags: pl.DataFrame, portfolio_frame: pl.DataFrame) -> Built:
    frame = d.with_day(infeed.redispatched_quarter_hours(flags, portfolio_frame))
    return Built(frame, {"redispatched_qh": frame.height})


def redispatch_compensation(d: Day, prices: pl.DataFrame) -> Built:
    return Built(d.with_day(redispatch.compensation_prices(prices)))


def best_of_infeed(d: Day, portfolio_frame: pl.DataFrame, final_qh: pl.DataFrame, live_qh: pl.DataFrame,
                   asset_forecast: pl.DataFrame, redispatched: pl.DataFrame) -> Built:
    grid = _asset_grid(d, portfolio_frame)
    frame = infeed.best_of_infeed(grid, final_qh, live_qh, asset_forecast, redispatched)
    if frame.height and (frame["source"] == "missing").all():
        raise dg.Failure(description=(
            f"No production data at all for {d.day}: no final DSO value, no live point "
            f"and no forecast for any of the {portfolio_frame.height} portfolio assets. "
            "Check that the landing zone holds files for this day."))
    frame, schema_result = schema_check(frame, contract.BestOfInfeed, "best_of_infeed", day=d.day)
    by_source = frame.group_by("asset_id", "source").len("qh").pivot(
        on="source", index="asset_id", values="qh").fill_null(0).sort("asset_id")
    missing = frame.filter(pl.col("source") == "missing").group_by("asset_id").len("missing_qh").sort("asset_id")
    implausible = infeed.outside_capacity(frame, portfolio_frame)
    energy_by_source = frame.group_by("source").agg(pl.col("energy_mwh").sum().round(3)).sort("source")
    return Built(frame, {
        "energy_mwh": round(float(frame["energy_mwh"].sum()), 3),
        "energy_by_source": dg.MetadataValue.md(markdown_table(energy_by_source)),
    }, [
        schema_result,
        _check(d, "qh_completeness", "best_of_infeed", missing.is_empty(),
               qh_by_asset_and_source=dg.MetadataValue.md(markdown_table(by_source, max_rows=50)),
               missing=dg.MetadataValue.md(markdown_table(missing))),
        _check(d, "within_capacity", "best_of_infeed", implausible.is_empty(), severity=ERROR,
               n_implausible=implausible.height, implausible=dg.MetadataValue.md(markdown_table(implausible))),
    ])


def portfolio_best_of_infeed(d: Day, best_of_infeed: pl.DataFrame) -> Built:
    frame, schema_result = schema_check(infeed.portfolio_best_of_infeed(best_of_infeed),
                                        contract.PortfolioBestOfInfeed, "portfolio_best_of_infeed", day=d.day)
    energy = best_of_infeed.group_by("source").agg(pl.col("energy_mwh").sum())
    total = float(energy["energy_mwh"].sum()) if energy.height else 0.0
    shares = {f"share_{row['source']}": round(row["energy_mwh"] / total, 4) if total else None
              for row in energy.iter_rows(named=True)}
    return Built(frame, {"energy_mwh": round(total, 3), **shares}, [schema_result])


# ---------------------------------------------------------------- trading

def _slices(trades: pl.DataFrame) -> pl.DataFrame:
    return trading.slice_trades(trading.deduplicate_trades(trades))


def trading_pnl(d: Day, private_trades: pl.DataFrame, public_trades: pl.DataFrame) -> Built:
    frame = trading.trading_pnl(_slices(private_trades), _slices(public_trades), d.grid())
    frame, schema_result = schema_check(frame, contract.TradingPnl, "trading_pnl", day=d.day)
    labels = sorted(set(private_trades["volume_unit_label"].unique().to_list())
                    | set(public_trades["volume_unit_label"].unique().to_list()))
    undocumented = [label for label in labels if label not in DOCUMENTED_VOLUME_LABELS]
    return Built(frame, {
        "revenue_eur": round(float(frame["revenue_eur"].sum()), 2),
        "sold_mwh": round(float(frame["sold_mwh"].sum()), 3),
        "bought_mwh": round(float(frame["bought_mwh"].sum()), 3),
    }, [
        schema_result,
        _check(d, "volume_unit_documented", "trading_pnl", not undocumented,
               labels_seen=", ".join(labels) or "none", undocumented=", ".join(undocumented) or "none",
               note="Volume is power in MW over the delivery period (exchange documentation); the export "
                    "labels it MWH (FORMATS.md). Energy is MW x hours whatever the label says."),
    ])


def trading_daily(d: Day, private_trades: pl.DataFrame, public_trades: pl.DataFrame) -> Built:
    frame = trading.trading_daily(_slices(private_trades), _slices(public_trades), d.grid())
    frame, schema_result = schema_check(frame, contract.TradingDaily, "trading_daily", day=d.day)
    return Built(frame, {"summary": dg.MetadataValue.md(markdown_table(frame))}, [schema_result])


# ---------------------------------------------------------------- imbalance

def imbalance_prices(d: Day, final: pl.DataFrame, estimates: pl.DataFrame) -> Built:
    frame = d.with_day(imbalance.imbalance_prices(final, estimates, d.grid()))
    counts = {source: int((frame["price_source"] == source).sum()) for source in ("final", "estimate", "missing")}
    return Built(frame, {f"qh_{k}": v for k, v in counts.items()}, [
        _check(d, "price_coverage", "core/imbalance_prices", counts["missing"] == 0,
               **{f"qh_{k}": v for k, v in counts.items()}),
    ])


def asset_imbalance(d: Day, best_of_infeed: pl.DataFrame, asset_forecast: pl.DataFrame,
                    prices: pl.DataFrame, portfolio_frame: pl.DataFrame) -> Built:
    frame = imbalance.asset_imbalance(best_of_infeed, asset_forecast, prices)
    frame, schema_result = schema_check(frame, contract.AssetImbalance, "asset_imbalance", day=d.day)
    implausible = infeed.imbalances_outside_capacity(frame, portfolio_frame)
    return Built(frame, {
        "imbalance_mwh": round(float(frame["imbalance_mwh"].sum()), 3),
        "imbalance_cost_eur": round(float(frame["imbalance_cost_eur"].sum()), 2),
        "qh_without_cost": int(frame["imbalance_cost_eur"].is_null().sum()),
    }, [
        schema_result,
        _check(d, "imbalance_within_capacity", "asset_imbalance", implausible.is_empty(), severity=ERROR,
               n_implausible=implausible.height, implausible=dg.MetadataValue.md(markdown_table(implausible))),
    ])


def portfolio_imbalance(d: Day, asset_imbalance: pl.DataFrame, prices: pl.DataFrame) -> Built:
    frame = imbalance.portfolio_imbalance(asset_imbalance, prices)
    frame, schema_result = schema_check(frame, contract.PortfolioImbalance, "portfolio_imbalance", day=d.day)
    return Built(frame, {
        "net_cost_eur": round(float(frame["imbalance_cost_eur"].sum()), 2),
        "standalone_cost_eur": round(float(frame["standalone_cost_eur"].sum()), 2),
        "netting_benefit_eur": round(float(frame["netting_benefit_eur"].sum()), 2),
    }, [schema_result])


# ---------------------------------------------------------------- the tables and their step

def _core(name, compute, description, inputs=None, checks=()) -> Table:
    return Table(key=core(name), group="core", description=description, compute=compute,
                 inputs=inputs or {}, checks=checks, schema="core")


def _published(name, group, compute, description, inputs, model, checks=()) -> Table:
    return Table(key=main(name), group=group, description=description, compute=compute, inputs=inputs,
                 checks=[schema_check_spec(name, model), *checks], schema="main")


def _spec(name: str, asset: str, description: str, blocking: bool = False) -> dg.AssetCheckSpec:
    return partitioned_check_spec(name, asset=dg.AssetKey.from_user_string(asset), description=description,
                                  blocking=blocking)


PORTFOLIO = {"portfolio_frame": core("portfolio_assets")}

CORE_AND_PUBLISHED = [
    _core("portfolio_assets", portfolio_assets,
          "Assets in the portfolio on the day: active contracts of the applicable CRM snapshot, "
          "with the VPP capacity next to the CRM one.",
          {"contracts": raw("contracts"), "technical": raw("technical_data")},
          [_spec("contracts_consistent", "core/portfolio_assets",
                 "Every active contract's terms fit its price and fee model."),
           _spec("capacity_agrees", "core/portfolio_assets",
                 "CRM capacity (MW) agrees with the VPP technical data (kW)."),
           _spec("contracts_unique", "core/portfolio_assets",
                 "No asset has two active contracts and no metering point is on two assets (else the "
                 "production is counted once and the invoices of the contracts involved are blocked).")]),
    _core("contract_days", contract_days,
          "Every contract of the day's CRM snapshot and whether it is active on the day "
          "(domain.contracts): the table the portal's row filters join.",
          {"contracts": raw("contracts")}),
    _published("asset_forecast", "forecasts", asset_forecast,
               "Latest and latest tradeable forecast per asset and quarter-hour, with their versions.",
               {"forecast_rows": raw("forecast"), **PORTFOLIO}, contract.AssetForecast,
               [_spec("forecast_coverage", "asset_forecast",
                      "Every portfolio asset has a latest and a tradeable forecast for every quarter-hour."),
                _spec("forecast_within_capacity", "asset_forecast",
                      "0 <= forecast power <= 1.1 x capacity (it feeds best-of-infeed, imbalance and "
                      "redispatch payouts).", blocking=True)]),
    _published("portfolio_forecast", "forecasts", portfolio_forecast,
               "Portfolio forecast per quarter-hour: sums over the assets that have one; missing ones counted.",
               {"asset_forecast": main("asset_forecast")}, contract.PortfolioForecast),
    _core("live_infeed_qh", live_infeed_qh,
          "Live infeed per asset and quarter-hour (step signal, held at most 15 minutes; of two "
          "files with the same timestamp the newest wins).",
          {"points": raw("live")}),
    _core("final_production_qh", final_production_qh,
          "DSO final production per asset and quarter-hour, corrections applied QH by QH.",
          {"final_rows": raw("final_production"), **PORTFOLIO},
          [_spec("final_complete", "core/final_production_qh",
                 "Every portfolio asset has final DSO data for every quarter-hour.")]),
    _core("redispatched_qh", redispatched_qh, "Quarter-hours the DSO curtailed, per asset.",
          {"flags": raw("redispatch_flags"), **PORTFOLIO}),
    _core("redispatch_compensation", redispatch_compensation,
          "The DSO's redispatch compensation price per quarter-hour (newest file wins).",
          {"prices": raw("redispatch_compensation")}),
    _published("best_of_infeed", "infeed", best_of_infeed,
               "Best available production per asset and quarter-hour: final > live > forecast "
               "(0 when redispatched), with its source.",
               {**PORTFOLIO, "final_qh": core("final_production_qh"), "live_qh": core("live_infeed_qh"),
                "asset_forecast": main("asset_forecast"), "redispatched": core("redispatched_qh")},
               contract.BestOfInfeed,
               [_spec("qh_completeness", "best_of_infeed",
                      "Quarter-hours per asset and source; fails when a quarter-hour has no value."),
                _spec("within_capacity", "best_of_infeed",
                      "0 <= power <= 1.1 x capacity, except measured negative solar at night.", blocking=True)]),
    _published("portfolio_best_of_infeed", "infeed", portfolio_best_of_infeed,
               "Portfolio production per quarter-hour and the share of energy from each source.",
               {"best_of_infeed": main("best_of_infeed")}, contract.PortfolioBestOfInfeed),
    _published("trading_pnl", "trading", trading_pnl,
               "Trading PnL, volumes and VWAPs (ours and the market's) per quarter-hour.",
               {"private_trades": raw("private_trades"), "public_trades": raw("public_trades")},
               contract.TradingPnl,
               [_spec("volume_unit_documented", "trading_pnl",
                      "Trade volume label matches the documented unit (MW over the period).")]),
    _published("trading_daily", "trading", trading_daily, "The day's trades, revenue, volumes and VWAPs.",
               {"private_trades": raw("private_trades"), "public_trades": raw("public_trades")},
               contract.TradingDaily),
    _core("imbalance_prices", imbalance_prices,
          "Imbalance price per quarter-hour: final reBAP, else the newest estimate, else missing.",
          {"final": raw("imbalance_final"), "estimates": raw("imbalance_estimate")},
          [_spec("price_coverage", "core/imbalance_prices",
                 "Quarter-hours priced final / by estimate / not at all.")]),
    _published("asset_imbalance", "imbalance", asset_imbalance,
               "Imbalance per asset and quarter-hour (production minus tradeable forecast) and its cost.",
               {"best_of_infeed": main("best_of_infeed"), "asset_forecast": main("asset_forecast"),
                "prices": core("imbalance_prices"), **PORTFOLIO}, contract.AssetImbalance,
               [_spec("imbalance_within_capacity", "asset_imbalance",
                      "|imbalance| <= 1.1 x capacity x 0.25 h per quarter-hour.", blocking=True)]),
    _published("portfolio_imbalance", "imbalance", portfolio_imbalance,
               "The balancing group's net imbalance per quarter-hour, its cost, and the stand-alone sum.",
               {"asset_imbalance": main("asset_imbalance"), "prices": core("imbalance_prices")},
               contract.PortfolioImbalance),
]

DAILY_TABLES = [*RAW_TABLES, *CORE_AND_PUBLISHED]


def _prepare(context: dg.AssetExecutionContext, days):
    """Register new landing files, then read the raw layer's rows of every day and the live files'
    catalog rows, on one connection (before any write; the catalog is the same for every day)."""
    warehouse = context.resources.warehouse.get()
    synced = sync_selected(context, context.resources.landing, warehouse)
    with warehouse.session() as session:
        prefetched = prefetch_raw(context, session, days)
        if core("live_infeed_qh") in context.selected_asset_keys:
            prefetched[LIVE_FILES] = registered_files(session, kinds=["live"], columns=LIVE_FILE_COLUMNS)
    return warehouse, synced, prefetched


daily_tables = table_step(
    "daily_tables", DAILY_TABLES,
    "Every table of a delivery day (raw layer, core, and the published contract tables) in one step.",
    prepare=_prepare, partitions_def=daily_partitions, backfill_policy=daily_backfill_policy,
    partition_days=partition_delivery_days, required_resource_keys={"warehouse", "landing", "acknowledgements"},
)

daily_assets = [daily_tables]
