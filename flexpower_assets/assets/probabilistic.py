"""Probabilistic forecasts: the gate-closure forecast, quantiles per method, skill and champion.

Thin assets over ``domain.probabilistic``. Past days (training and evaluation) are read from the
warehouse with parametrised queries over the days the domain's windows name (D-2 and earlier),
so a day's quantiles never see an outcome that was not known at its gate closure.
"""


from datetime import date

import dagster as dg
import polars as pl

from flexpower_assets.assets.metadata import markdown_table, partitioned_check_spec, schema_check, schema_check_spec
from flexpower_assets.assets.raw import RAW_ASSET_KEYS
from flexpower_assets.domain import probabilistic as prob
from flexpower_assets.partitions import daily_partitions, partition_day
from flexpower_assets.schemas import probabilistic as contract
from resources.forecasting import ForecastingResource
from resources.warehouse import Warehouse
from resources.warehouse_resource import WarehouseResource

CORE = {"partitions_def": daily_partitions, "metadata": {"partition_expr": "delivery_day"},
        "kinds": {"duckdb", "polars"}}
PUBLISHED = {"partitions_def": daily_partitions, "metadata": {"partition_expr": "delivery_day", "schema": "main"},
             "kinds": {"duckdb", "polars"}}
WARN = dg.AssetCheckSeverity.WARN
COVERAGE_BAND = (0.70, 0.90)


def _assets(portfolio_frame: pl.DataFrame) -> pl.DataFrame:
    return portfolio_frame.select(
        "asset_id", "technology", capacity_kw=pl.coalesce(pl.col("capacity_mw") * 1000.0, pl.col("capacity_vpp_kw")))


def _read(warehouse: Warehouse, schema: str, table: str, sql: str, params: list) -> pl.DataFrame | None:
    return warehouse.read(sql, params) if warehouse.table_exists(schema, table) else None


def history_rows(warehouse: Warehouse, first: date, last: date) -> pl.DataFrame:
    """Gate forecasts of the days ``first .. last`` next to their realised (best-of-infeed) power."""
    if not (warehouse.table_exists("core", "gate_forecast") and warehouse.table_exists("main", "best_of_infeed")):
        return pl.DataFrame()
    return warehouse.read(
        "select g.asset_id, g.delivery_start, g.power_kw, g.lead_hours, b.power_kw as realised_kw "
        "from core.gate_forecast g join main.best_of_infeed b using (asset_id, delivery_start) "
        "where g.delivery_day between ? and ? and b.delivery_day between ? and ?", [first, last, first, last])


def pins(warehouse: Warehouse) -> list[prob.Pin]:
    frame = _read(warehouse, "main", "champion_pin", "select * from main.champion_pin order by pinned_at", [])
    if frame is None:
        return []
    return [prob.Pin(method=r["method"], from_day=r["from_day"], asset_id=r["asset_id"], pinned_by=r["pinned_by"],
                     reason=r["reason"]) for r in frame.iter_rows(named=True)]


@dg.asset(
    key_prefix=["core"], group_name="forecasts", **CORE,
    ins={"forecast_rows": dg.AssetIn(key=RAW_ASSET_KEYS["forecast"]), "portfolio_frame": dg.AssetIn(key=["core", "portfolio_assets"])},
    description="The forecast available at the day's gate closure: per asset and QH the newest version "
                "<= D-1 12:00 Europe/Berlin, with its lead time.",
)
def gate_forecast(context: dg.AssetExecutionContext, forecast_rows: pl.DataFrame, portfolio_frame: pl.DataFrame) -> pl.DataFrame:
    day = partition_day(context)
    frame = prob.gate_forecasts(
        forecast_rows.filter(pl.col("asset_id").is_in(portfolio_frame["asset_id"].implode())), day)
    frame = frame.with_columns(delivery_day=pl.lit(day, dtype=pl.Date)).select("delivery_day", pl.exclude("delivery_day"))
    context.add_output_metadata({"gate_closure_utc": prob.gate_closure(day).isoformat(),
                                 "assets": frame["asset_id"].n_unique() if frame.height else 0, "rows": frame.height})
    return frame


@dg.multi_asset(
    group_name="forecasts", partitions_def=daily_partitions,
    ins={"portfolio_frame": dg.AssetIn(key=["core", "portfolio_assets"])},
    outs={
        "forecast_skill": dg.AssetOut(metadata={"partition_expr": "delivery_day", "schema": "main"},
                                      kinds={"duckdb", "polars"},
                                      description="Rolling skill per method and asset for the forecast of the day "
                                                  "(evaluated on the window ending at D-2)."),
        "champion_history": dg.AssetOut(metadata={"partition_expr": "delivery_day", "schema": "main"},
                                        kinds={"duckdb", "polars"},
                                        description="The champion of each asset for the day, with the rule's evidence."),
    },
    check_specs=[
        schema_check_spec("forecast_skill", contract.ForecastSkill),
        partitioned_check_spec("coverage_80_in_band", asset="forecast_skill",
                          description="The champion's 80 % interval covered 70-90 % of the window's outcomes."),
    ],
)
def forecast_skill(context: dg.AssetExecutionContext, portfolio_frame: pl.DataFrame,
                   warehouse: WarehouseResource, forecasting: ForecastingResource):
    day = partition_day(context)
    settings = forecasting.settings()
    store = warehouse.get()
    first, last = prob.evaluation_window(day, settings.window_days)
    quantiles = _read(store, "main", "asset_forecast_quantile",
                      "select asset_id, delivery_start, quantile_level, power_kw, method from main.asset_forecast_quantile "
                      "where delivery_day between ? and ?", [first, last])
    realised = _read(store, "main", "best_of_infeed",
                     "select asset_id, delivery_start, power_kw as realised_kw from main.best_of_infeed "
                     "where delivery_day between ? and ?", [first, last])
    assets = portfolio_frame["asset_id"].implode()
    if quantiles is not None and realised is not None and quantiles.height:
        scored = prob.score_rows(quantiles.filter(pl.col("asset_id").is_in(assets)), realised)
        today = prob.skill(scored, day, settings.window_days)
    else:
        today = pl.DataFrame(schema={"method": pl.Utf8, "asset_id": pl.Utf8, "evaluated_on": pl.Date,
                                     "window_days": pl.Int64, "crps_kw": pl.Float64, "rcrps": pl.Float64,
                                     "coverage_80": pl.Float64, "mean_width_kw": pl.Float64, "n_qh": pl.Int64,
                                     "n_days": pl.Int64})
    past = _read(store, "main", "forecast_skill",
                 "select method, asset_id, evaluated_on, crps_kw from main.forecast_skill where evaluated_on < ?", [day])
    sequence_input = pl.concat([past if past is not None else today.select("method", "asset_id", "evaluated_on", "crps_kw").clear(),
                                today.select("method", "asset_id", "evaluated_on", "crps_kw")])
    # the champion needs a row per asset even before any skill exists: the initial champion
    sequence = prob.champion_sequence(sequence_input.filter(pl.col("method") != prob.FALLBACK), settings, pins(store))
    champions = sequence.filter(pl.col("evaluated_on") == day)
    without = portfolio_frame.select("asset_id").join(champions, on="asset_id", how="anti")
    initial = without.with_columns(evaluated_on=pl.lit(day, dtype=pl.Date), champion=pl.lit(settings.initial_champion),
                                   previous_champion=pl.lit(None, dtype=pl.Utf8), is_switch=pl.lit(False),
                                   reason=pl.lit("initial: no skill yet in the window"),
                                   champion_crps_kw=pl.lit(None, dtype=pl.Float64), challenger=pl.lit(None, dtype=pl.Utf8),
                                   challenger_crps_kw=pl.lit(None, dtype=pl.Float64), days_better=pl.lit(0, dtype=pl.Int64))
    champions = pl.concat([champions.filter(pl.col("asset_id").is_in(assets)), initial.select(champions.columns)]).sort("asset_id")
    history = champions.with_columns(delivery_day=pl.lit(day, dtype=pl.Date)).select("delivery_day", pl.exclude("delivery_day"))
    # where the window's forecasts were the fallback band (too little history), that band was what was served
    served = pl.when(pl.col("champion").is_in(pl.col("method").implode().over("asset_id"))).then(pl.col("champion")) \
        .otherwise(pl.lit(prob.FALLBACK))
    frame = today.join(champions.select("asset_id", "champion"), on="asset_id", how="left").with_columns(
        is_champion=pl.col("method") == served, delivery_day=pl.lit(day, dtype=pl.Date)).drop("champion")
    frame, schema_result = schema_check(frame, contract.ForecastSkill, "forecast_skill", day)
    champ_rows = frame.filter(pl.col("is_champion"))
    coverage = champ_rows["coverage_80"].drop_nulls()
    mean_coverage = float(coverage.mean()) if len(coverage) else None
    by_method = frame.group_by("method").agg(pl.col("crps_kw", "rcrps", "coverage_80", "mean_width_kw").mean().round(4)).sort("method")
    switches = history.filter(pl.col("is_switch") | pl.col("reason").str.starts_with("pinned"))
    yield dg.Output(frame, output_name="forecast_skill", metadata={
        "window": f"{first} .. {last}", "skill_by_method": dg.MetadataValue.md(markdown_table(by_method)),
        "champions": dg.MetadataValue.md(markdown_table(champions.group_by("champion").len("assets").sort("champion"))),
    })
    yield dg.Output(history, output_name="champion_history", metadata={
        "switches_today": int(history["is_switch"].sum()),
        "switches_and_pins": dg.MetadataValue.md(markdown_table(switches.select(
            "asset_id", "previous_champion", "champion", "reason", "champion_crps_kw", "challenger_crps_kw"))),
        "champion_by_asset": dg.MetadataValue.md(markdown_table(champions.select(
            "asset_id", "champion", "reason", "champion_crps_kw", "challenger", "challenger_crps_kw", "days_better"))),
    })
    yield schema_result
    in_band = mean_coverage is None or COVERAGE_BAND[0] <= mean_coverage <= COVERAGE_BAND[1]
    outside = champ_rows.filter(~pl.col("coverage_80").is_between(*COVERAGE_BAND))
    yield dg.AssetCheckResult(check_name="coverage_80_in_band", asset_key=dg.AssetKey("forecast_skill"),
                              passed=bool(in_band and outside.is_empty()), severity=WARN,
                              description=f"delivery day {day}", metadata={
                                  "delivery_day": day.isoformat(), "mean_champion_coverage_80": mean_coverage,
                                  "assets_outside_70_90": dg.MetadataValue.md(markdown_table(outside.select(
                                      "asset_id", "method", "coverage_80", "crps_kw")))})


@dg.asset(
    group_name="forecasts", **PUBLISHED,
    ins={"gate": dg.AssetIn(key=["core", "gate_forecast"]), "portfolio_frame": dg.AssetIn(key=["core", "portfolio_assets"]),
         "champion_history": dg.AssetIn(key=["champion_history"])},
    check_specs=[schema_check_spec("asset_forecast_quantile", contract.AssetForecastQuantile),
                 partitioned_check_spec("enough_history", asset="asset_forecast_quantile",
                                   description="At least min_history_days days of past errors: else the documented "
                                               "fallback band (by technology) is served instead of the methods.")],
    description="19 quantiles (0.05 .. 0.95) per asset, QH and method from the gate-closure forecast and past "
                "errors; sorted, within 0 .. capacity; the champion's rows flagged.",
)
def asset_forecast_quantile(context: dg.AssetExecutionContext, gate: pl.DataFrame, portfolio_frame: pl.DataFrame,
                            champion_history: pl.DataFrame, warehouse: WarehouseResource,
                            forecasting: ForecastingResource):
    day = partition_day(context)
    settings = forecasting.settings()
    assets = _assets(portfolio_frame)
    first, last = prob.history_days(day, settings)
    history = history_rows(warehouse.get(), first, last)
    training = prob.training_rows(history, history, assets) if history.height else pl.DataFrame()
    quantiles, n_days = prob.quantile_forecast(gate, training, assets, settings)
    champion = champion_history.select("asset_id", "champion")
    frame = quantiles.join(champion, on="asset_id", how="left").with_columns(
        is_champion=(pl.col("method") == pl.col("champion")) | (pl.col("method") == prob.FALLBACK),
        delivery_day=pl.lit(day, dtype=pl.Date)).drop("champion")
    frame, schema_result = schema_check(frame, contract.AssetForecastQuantile, "asset_forecast_quantile", day)
    methods = sorted(frame["method"].unique().to_list()) if frame.height else []
    yield dg.Output(frame, metadata={"methods": ", ".join(methods), "history_days": n_days,
                                     "history_window": f"{first} .. {last}", "assets": frame["asset_id"].n_unique()
                                     if frame.height else 0})
    yield schema_result
    yield dg.AssetCheckResult(check_name="enough_history", asset_key=dg.AssetKey("asset_forecast_quantile"),
                              passed=n_days >= settings.min_history_days, severity=WARN,
                              description=f"delivery day {day}",
                              metadata={"delivery_day": day.isoformat(), "history_days": n_days, "min_history_days": settings.min_history_days,
                                        "method_served": ", ".join(methods)})


probabilistic_assets = [gate_forecast, forecast_skill, asset_forecast_quantile]
