"""Probabilistic forecasts: the gate-closure forecast, quantiles per method, skill and champion.

Thin assets over ``domain.probabilistic``, in one step (``forecast_quantiles``) that builds a
day or a range of days. A day's skill and champion are made from earlier days' quantiles and
skill, so a range is built day by day in order inside the step: each day reads the stored rows
of the days it may see, with the days this run has already built taking the place of their
stored rows, exactly as if the days had run one at a time. Past days (training and evaluation)
are read with parametrised queries over the days the domain's windows name (D-2 and earlier),
so a day's quantiles never see an outcome that was not known at its gate closure.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import polars as pl

from flexpower_assets.assets.metadata import markdown_table, partitioned_check_spec, schema_check, schema_check_spec
from flexpower_assets.assets.raw import RAW_ASSET_KEYS
from flexpower_assets.assets.steps import Built, OutputStore, check_events, merge_metadata
from flexpower_assets.domain import probabilistic as prob
from flexpower_assets.partitions import daily_backfill_policy, daily_partitions, partition_delivery_days
from flexpower_assets.schemas import probabilistic as contract
from resources.warehouse import WarehouseSession

WARN = dg.AssetCheckSeverity.WARN
COVERAGE_BAND = (0.70, 0.90)
GATE, SKILL, CHAMPION, QUANTILE = (dg.AssetKey(["core", "gate_forecast"]), dg.AssetKey("forecast_skill"),
                                   dg.AssetKey("champion_history"), dg.AssetKey("asset_forecast_quantile"))
PORTFOLIO = dg.AssetKey(["core", "portfolio_assets"])
FORECAST_ROWS = RAW_ASSET_KEYS["forecast"]
SKILL_SCHEMA = {"method": pl.Utf8, "asset_id": pl.Utf8, "evaluated_on": pl.Date, "window_days": pl.Int64,
                "crps_kw": pl.Float64, "rcrps": pl.Float64, "coverage_80": pl.Float64, "mean_width_kw": pl.Float64,
                "n_qh": pl.Int64, "n_days": pl.Int64}


def _assets(portfolio_frame: pl.DataFrame) -> pl.DataFrame:
    return portfolio_frame.select(
        "asset_id", "technology", capacity_kw=pl.coalesce(pl.col("capacity_mw") * 1000.0, pl.col("capacity_vpp_kw")))


def _with_day(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    return frame.with_columns(delivery_day=pl.lit(day, dtype=pl.Date)).select("delivery_day", pl.exclude("delivery_day"))


@dataclass
class Seen:
    """What the days of a run read back: the warehouse, with the days this run has built so far
    in place of their stored rows (they replace them when the run writes)."""

    store: WarehouseSession
    built: dict[dg.AssetKey, dict[date, pl.DataFrame]] = field(default_factory=dict)

    def rows(self, key: dg.AssetKey, columns: Sequence[str], where: str, params: list,
             keep: pl.Expr) -> pl.DataFrame | None:
        """The rows of ``key``'s table that match ``where`` (stored) and ``keep`` (built this run);
        None when the table neither exists nor has a day built by this run."""
        schema, table = ("main", key.path[0]) if len(key.path) == 1 else (key.path[0], key.path[-1])
        ours = self.built.get(key, {})
        frames = []
        if self.store.table_exists(schema, table):
            stored = self.store.read(f"select delivery_day, {', '.join(columns)} from {schema}.{table} where {where}",
                                     params)
            frames.append(stored.filter(~pl.col("delivery_day").is_in(list(ours))) if ours else stored)
        elif not ours:
            return None
        frames += [frame.filter(keep).select("delivery_day", *columns) for _day, frame in sorted(ours.items())]
        frames = [frame for frame in frames if frame.height] or frames[:1]
        return pl.concat(frames, how="vertical_relaxed").drop("delivery_day")

    def realised(self, first: date, last: date) -> pl.DataFrame | None:
        if not self.store.table_exists("main", "best_of_infeed"):
            return None
        return self.store.read("select asset_id, delivery_start, power_kw as realised_kw from main.best_of_infeed "
                               "where delivery_day between ? and ?", [first, last])

    def of_day(self, key: dg.AssetKey, day: date, columns: Sequence[str] = ("*",), where: str = "true",
               params: Sequence = ()) -> pl.DataFrame:
        """One day's rows of ``key`` (as the IO manager loads an input: empty when there is no table),
        or of a stored table only some columns and rows (``where``: fixed SQL, values in ``params``)."""
        if day in self.built.get(key, {}):
            return self.built[key][day]
        schema, table = ("main", key.path[0]) if len(key.path) == 1 else (key.path[0], key.path[-1])
        if not self.store.table_exists(schema, table):
            return pl.DataFrame()
        return self.store.read(f"select {', '.join(columns)} from {schema}.{table} where delivery_day = ? "
                               f"and ({where})", [day, *params])


def history_rows(seen: Seen, first: date, last: date) -> pl.DataFrame:
    """Gate forecasts of the days ``first .. last`` next to their realised (best-of-infeed) power."""
    in_window = pl.col("delivery_day").is_between(first, last)
    gate = seen.rows(GATE, ["asset_id", "delivery_start", "power_kw", "lead_hours"],
                     "delivery_day between ? and ?", [first, last], in_window)
    realised = seen.realised(first, last)
    if gate is None or realised is None:
        return pl.DataFrame()
    return gate.join(realised, on=["asset_id", "delivery_start"], how="inner")


def pins(store: WarehouseSession) -> list[prob.Pin]:
    if not store.table_exists("main", "champion_pin"):
        return []
    frame = store.read("select * from main.champion_pin order by pinned_at")
    return [prob.Pin(method=r["method"], from_day=r["from_day"], asset_id=r["asset_id"], pinned_by=r["pinned_by"],
                     reason=r["reason"]) for r in frame.iter_rows(named=True)]


# ---------------------------------------------------------------- one day of each table


def gate_forecast(day: date, forecast_rows: pl.DataFrame, portfolio_frame: pl.DataFrame) -> Built:
    """The forecast available at the day's gate closure (see the asset's description)."""
    if not forecast_rows.height and "asset_id" not in forecast_rows.columns:
        forecast_rows = pl.DataFrame(schema={"asset_id": pl.Utf8, "delivery_start": pl.Datetime("us", "UTC"),
                                             "version": pl.Datetime("us", "UTC"), "power_kw": pl.Float64})
    frame = prob.gate_forecasts(
        forecast_rows.filter(pl.col("asset_id").is_in(portfolio_frame["asset_id"].implode())), day)
    frame = _with_day(frame, day)
    return Built(frame, {"gate_closure_utc": prob.gate_closure(day).isoformat(),
                         "assets": frame["asset_id"].n_unique() if frame.height else 0, "rows": frame.height})


def forecast_skill(day: date, portfolio_frame: pl.DataFrame, seen: Seen, settings: prob.ForecastingSettings,
                   champion_pins: list[prob.Pin]) -> tuple[Built, Built]:
    """The day's skill per method and asset, and its champions (the rule over every earlier day's skill)."""
    first, last = prob.evaluation_window(day, settings.window_days)
    in_window = pl.col("delivery_day").is_between(first, last)
    quantiles = seen.rows(QUANTILE, ["asset_id", "delivery_start", "quantile_level", "power_kw", "method"],
                          "delivery_day between ? and ?", [first, last], in_window)
    realised = seen.realised(first, last)
    assets = portfolio_frame["asset_id"].implode()
    if quantiles is not None and realised is not None and quantiles.height:
        # in one order whatever the rows' origin (stored, or built by this run): the same sums
        quantiles = quantiles.sort("method", "asset_id", "delivery_start", "quantile_level")
        scored = prob.score_rows(quantiles.filter(pl.col("asset_id").is_in(assets)), realised)
        today = prob.skill(scored, day, settings.window_days)
    else:
        today = pl.DataFrame(schema=SKILL_SCHEMA)
    past = seen.rows(SKILL, ["method", "asset_id", "evaluated_on", "crps_kw"], "evaluated_on < ?", [day],
                     pl.col("evaluated_on") < day)
    sequence_input = pl.concat([past if past is not None else today.select("method", "asset_id", "evaluated_on", "crps_kw").clear(),
                                today.select("method", "asset_id", "evaluated_on", "crps_kw")], how="vertical_relaxed")
    # the champion needs a row per asset even before any skill exists: the initial champion
    sequence = prob.champion_sequence(sequence_input.filter(pl.col("method") != prob.FALLBACK), settings, champion_pins)
    champions = sequence.filter(pl.col("evaluated_on") == day)
    without = portfolio_frame.select("asset_id").join(champions, on="asset_id", how="anti")
    initial = without.with_columns(evaluated_on=pl.lit(day, dtype=pl.Date), champion=pl.lit(settings.initial_champion),
                                   previous_champion=pl.lit(None, dtype=pl.Utf8), is_switch=pl.lit(False),
                                   reason=pl.lit("initial: no skill yet in the window"),
                                   champion_crps_kw=pl.lit(None, dtype=pl.Float64), challenger=pl.lit(None, dtype=pl.Utf8),
                                   challenger_crps_kw=pl.lit(None, dtype=pl.Float64), days_better=pl.lit(0, dtype=pl.Int64))
    champions = pl.concat([champions.filter(pl.col("asset_id").is_in(assets)), initial.select(champions.columns)]).sort("asset_id")
    history = _with_day(champions, day)
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
    in_band = mean_coverage is None or COVERAGE_BAND[0] <= mean_coverage <= COVERAGE_BAND[1]
    outside = champ_rows.filter(~pl.col("coverage_80").is_between(*COVERAGE_BAND))
    coverage_result = dg.AssetCheckResult(
        check_name="coverage_80_in_band", asset_key=SKILL, passed=bool(in_band and outside.is_empty()), severity=WARN,
        description=f"delivery day {day}", metadata={
            "delivery_day": day.isoformat(), "mean_champion_coverage_80": mean_coverage,
            "assets_outside_70_90": dg.MetadataValue.md(markdown_table(outside.select(
                "asset_id", "method", "coverage_80", "crps_kw")))})
    skill_built = Built(frame, {
        "window": f"{first} .. {last}", "skill_by_method": dg.MetadataValue.md(markdown_table(by_method)),
        "champions": dg.MetadataValue.md(markdown_table(champions.group_by("champion").len("assets").sort("champion"))),
    }, [schema_result, coverage_result])
    champion_built = Built(history, {
        "switches_today": int(history["is_switch"].sum()),
        "switches_and_pins": dg.MetadataValue.md(markdown_table(switches.select(
            "asset_id", "previous_champion", "champion", "reason", "champion_crps_kw", "challenger_crps_kw"))),
        "champion_by_asset": dg.MetadataValue.md(markdown_table(champions.select(
            "asset_id", "champion", "reason", "champion_crps_kw", "challenger", "challenger_crps_kw", "days_better"))),
    })
    return skill_built, champion_built


def asset_forecast_quantile(day: date, gate: pl.DataFrame, portfolio_frame: pl.DataFrame,
                            champion_history: pl.DataFrame, seen: Seen, settings: prob.ForecastingSettings) -> Built:
    """The day's 19 quantiles per asset, QH and method (see the asset's description)."""
    assets = _assets(portfolio_frame)
    first, last = prob.history_days(day, settings)
    history = history_rows(seen, first, last)
    training = prob.training_rows(history, history, assets) if history.height else pl.DataFrame()
    quantiles, n_days = prob.quantile_forecast(gate, training, assets, settings)
    champion = (champion_history.select("asset_id", "champion") if "champion" in champion_history.columns
                else pl.DataFrame(schema={"asset_id": pl.Utf8, "champion": pl.Utf8}))
    frame = quantiles.join(champion, on="asset_id", how="left").with_columns(
        is_champion=(pl.col("method") == pl.col("champion")) | (pl.col("method") == prob.FALLBACK),
        delivery_day=pl.lit(day, dtype=pl.Date)).drop("champion")
    frame, schema_result = schema_check(frame, contract.AssetForecastQuantile, "asset_forecast_quantile", day)
    methods = sorted(frame["method"].unique().to_list()) if frame.height else []
    return Built(frame, {"methods": ", ".join(methods), "history_days": n_days,
                         "history_window": f"{first} .. {last}",
                         "assets": frame["asset_id"].n_unique() if frame.height else 0}, [
        schema_result,
        dg.AssetCheckResult(check_name="enough_history", asset_key=QUANTILE,
                            passed=n_days >= settings.min_history_days, severity=WARN,
                            description=f"delivery day {day}",
                            metadata={"delivery_day": day.isoformat(), "history_days": n_days,
                                      "min_history_days": settings.min_history_days,
                                      "method_served": ", ".join(methods)}),
    ])


def build_days(store_of_day, days: Sequence[date], selected: set[dg.AssetKey],
               settings: prob.ForecastingSettings) -> dict[dg.AssetKey, list[tuple[date, Built]]]:
    """Every selected table for every day, in day order; ``store_of_day()`` opens a read session
    for one day (a short shared lock per day, not one for the whole range)."""
    built: dict[dg.AssetKey, list[tuple[date, Built]]] = {key: [] for key in (GATE, SKILL, CHAMPION, QUANTILE)}
    frames: dict[dg.AssetKey, dict[date, pl.DataFrame]] = {key: {} for key in built}
    champion_pins = None
    for day in days:
        with store_of_day() as store:
            seen = Seen(store, {key: frames[key] for key in selected})
            if champion_pins is None:
                champion_pins = pins(store)
            portfolio_frame = seen.of_day(PORTFOLIO, day)
            if not portfolio_frame.height and "asset_id" not in portfolio_frame.columns:
                portfolio_frame = pl.DataFrame(schema={"asset_id": pl.Utf8, "technology": pl.Utf8,
                                                       "capacity_mw": pl.Float64, "capacity_vpp_kw": pl.Float64})
            outputs: dict[dg.AssetKey, Built] = {}
            if GATE in selected:
                # only the versions the gate closure can see (the rule itself is ``prob.gate_forecasts``)
                outputs[GATE] = gate_forecast(day, seen.of_day(
                    FORECAST_ROWS, day, ["asset_id", "delivery_start", "version", "power_kw"], "version <= ?",
                    [prob.gate_closure(day)]), portfolio_frame)
                frames[GATE][day] = outputs[GATE].frame
            if SKILL in selected or CHAMPION in selected:
                outputs[SKILL], outputs[CHAMPION] = forecast_skill(day, portfolio_frame, seen, settings, champion_pins)
                frames[SKILL][day], frames[CHAMPION][day] = outputs[SKILL].frame, outputs[CHAMPION].frame
            if QUANTILE in selected:
                outputs[QUANTILE] = asset_forecast_quantile(day, seen.of_day(GATE, day), portfolio_frame,
                                                            seen.of_day(CHAMPION, day), seen, settings)
                frames[QUANTILE][day] = outputs[QUANTILE].frame
        for key, one in outputs.items():
            if key in selected:
                built[key].append((day, one))
    return {key: per_day for key, per_day in built.items() if per_day}


def _out(key: dg.AssetKey, description: str, schema: str) -> dg.AssetOut:
    return dg.AssetOut(key=key, group_name="forecasts", description=description, is_required=False,
                       metadata={"partition_expr": "delivery_day", "schema": schema}, kinds={"duckdb", "polars"})


OUTS = {
    "gate_forecast": _out(GATE, "The forecast available at the day's gate closure: per asset and QH the newest version "
                                "<= D-1 12:00 Europe/Berlin, with its lead time.", "core"),
    "forecast_skill": _out(SKILL, "Rolling skill per method and asset for the forecast of the day "
                                  "(evaluated on the window ending at D-2).", "main"),
    "champion_history": _out(CHAMPION, "The champion of each asset for the day, with the rule's evidence.", "main"),
    "asset_forecast_quantile": _out(
        QUANTILE, "19 quantiles (0.05 .. 0.95) per asset, QH and method from the gate-closure forecast and past "
                  "errors; sorted, within 0 .. capacity; the champion's rows flagged.", "main"),
}
CHECKS = [
    schema_check_spec("forecast_skill", contract.ForecastSkill),
    partitioned_check_spec("coverage_80_in_band", asset="forecast_skill",
                           description="The champion's 80 % interval covered 70-90 % of the window's outcomes."),
    schema_check_spec("asset_forecast_quantile", contract.AssetForecastQuantile),
    partitioned_check_spec("enough_history", asset="asset_forecast_quantile",
                           description="At least min_history_days days of past errors: else the documented "
                                       "fallback band (by technology) is served instead of the methods."),
]


@dg.multi_asset(
    name="forecast_quantiles", outs=OUTS, can_subset=True, check_specs=CHECKS,
    deps=[FORECAST_ROWS, PORTFOLIO],
    internal_asset_deps={"gate_forecast": {FORECAST_ROWS, PORTFOLIO}, "forecast_skill": {PORTFOLIO},
                         "champion_history": {PORTFOLIO}, "asset_forecast_quantile": {GATE, PORTFOLIO, CHAMPION}},
    partitions_def=daily_partitions, backfill_policy=daily_backfill_policy,
    required_resource_keys={"warehouse", "forecasting", "io_manager"},
    description="The gate-closure forecast, skill, champion and quantiles of a day or a range of days, built day "
                "by day in order (each day sees only days <= D-2 and the skill of the days before it).",
)
def forecast_quantiles(context) -> Iterator[dg.Output | dg.MaterializeResult | dg.AssetCheckResult]:
    days = [day.day for day in partition_delivery_days(context)]
    warehouse = context.resources.warehouse.get()
    built = build_days(warehouse.session, days, set(context.selected_asset_keys), context.resources.forecasting.settings())
    # written after every day was built: the run's own reads are over (the IO manager takes the write lock),
    # all outputs in one transaction when the IO manager can (as the daily step's tables)
    frames, metadata = {}, {}
    for name, out in OUTS.items():
        if out.key not in built:
            continue
        per_day = built[out.key]
        frames[name] = (per_day[0][1].frame if len(per_day) == 1
                        else pl.concat([one.frame for _day, one in per_day], how="vertical_relaxed"))
        metadata[name] = merge_metadata([(day, one.metadata) for day, one in per_day])
    io_manager = context.resources.io_manager
    stored = io_manager.store_outputs(context, frames) if isinstance(io_manager, OutputStore) else None
    for name, frame in frames.items():
        key = OUTS[name].key
        if stored is not None:
            yield dg.MaterializeResult(asset_key=key, metadata={**metadata[name], **stored[name]})
        else:
            yield dg.Output(frame, output_name=name, metadata=metadata[name])
        yield from check_events(CHECKS, [(day, one.checks) for day, one in built[key]])


probabilistic_assets = [forecast_quantiles]
