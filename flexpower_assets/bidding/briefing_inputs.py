"""What the trader briefings of a delivery day read from the warehouse (no Dagster).

Per client of the bidding configuration: the latest matrix version of the day, its assets'
``asset_bid_curve`` status, the price scenarios a bid run of the day uses (the newest file
created by min(now, gate closure)), the served quantile forecast (``asset_forecast_quantile``
rows flagged ``is_champion``) of the client's assets, the capacity the volume cap is measured
against (the assets' technical data, as the bid run reads it), the matrix's rule violations, and
the figures of the client's briefing of the day before. Every query is parametrised.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import polars as pl

from flexpower_assets.bidding import aggregation, validation
from flexpower_assets.bidding.asset_types import asset_type
from flexpower_assets.bidding.briefing import BriefingInputs, Limits
from flexpower_assets.bidding.config import BiddingConfig
from flexpower_assets.bidding.inputs import load_day_inputs
from flexpower_assets.bidding.plan import plan_day
from flexpower_assets.bidding.store import BidStore
from resources.warehouse import Warehouse

FIGURE_TABLE = ("main", "briefing_figure")
_CURVES = pl.DataFrame(schema={"asset_id": pl.String, "curve_status": pl.String, "coverage": pl.Float64,
                               "fallback_source": pl.String})
_QUANTILES = pl.DataFrame(schema={"asset_id": pl.String, "delivery_start": pl.Datetime("us", "UTC"),
                                  "quantile_level": pl.Float64, "power_kw": pl.Float64})
_MATRIX = pl.DataFrame(schema={"delivery_start": pl.Datetime("us", "UTC"), "point": pl.Int64,
                               "price_eur_per_mwh": pl.Float64, "volume_mw": pl.Float64})


def load_briefing_inputs(warehouse: Warehouse, config: BiddingConfig, day: date, now: datetime) -> list[BriefingInputs]:
    """One ``BriefingInputs`` per client of the configuration that has assets."""
    as_of = min(now, config.market.gate_closure_utc(day))
    types = {t for c in config.clients for t in c.asset_types().values()}
    kinds = {k for t in types for k in asset_type(t).input_kinds}
    day_inputs = load_day_inputs(warehouse, day, as_of, kinds, types)
    plan = plan_day(config, "", day_inputs, day, now, solve_deadline=0.0)
    scenarios = day_inputs.scenarios.select("scenario_id", "delivery_start", "price_eur_per_mwh") \
        if day_inputs.scenarios.height else pl.DataFrame(schema={"scenario_id": pl.Int64,
                                                                 "delivery_start": pl.Datetime("us", "UTC"),
                                                                 "price_eur_per_mwh": pl.Float64})
    store = BidStore(warehouse)
    starts = config.market.mtu_starts(day)
    result = []
    for client in config.clients:
        entries = [p for p in plan.assets.values() if p.client_id == client.id]
        if not entries:
            continue
        technicals = {p.asset_id: p.technical for p in entries if p.technical is not None}
        sell, buy = aggregation.capacities(technicals)
        try:
            latest = store.version(client.id, day)
            version, matrix = latest.version, store.matrix(client.id, day, latest.version)
        except LookupError:
            version, matrix = None, _MATRIX
        violations = Counter(v.rule for v in validation.validate_bids(matrix, config, starts, sell, buy)) \
            if matrix.height else Counter()
        result.append(BriefingInputs(
            client_id=client.id, delivery_day=day, timezone=config.market.timezone, matrix_version=version,
            matrix=matrix, curves=_curves(warehouse, client.id, day), scenarios=scenarios,
            quantiles=_quantiles(warehouse, list(client.asset_ids), day),
            limits=Limits(capacity_mw=sell, max_volume_share=config.policy.max_volume_share_of_capacity,
                          max_points=config.market.max_points, volume_step_mw=config.market.volume_step_mw,
                          p90_deviation_share=config.policy.max_renewable_deviation_from_p90_share),
            violations=dict(violations), previous=previous_figures(warehouse, client.id, day)))
    return result


def _curves(warehouse: Warehouse, client_id: str, day: date) -> pl.DataFrame:
    if not warehouse.table_exists("main", "asset_bid_curve"):
        return _CURVES
    return warehouse.read("select distinct asset_id, curve_status, coverage, fallback_source from main.asset_bid_curve "
                          "where delivery_day = ? and client_id = ? order by asset_id", [day, client_id])


def _quantiles(warehouse: Warehouse, asset_ids: list[str], day: date) -> pl.DataFrame:
    if not asset_ids or not warehouse.table_exists("main", "asset_forecast_quantile"):
        return _QUANTILES
    placeholders = ", ".join("?" for _ in asset_ids)
    return warehouse.read(
        "select asset_id, delivery_start, quantile_level, power_kw from main.asset_forecast_quantile "
        f"where delivery_day = ? and is_champion and asset_id in ({placeholders})", [day, *asset_ids])


def previous_figures(warehouse: Warehouse, client_id: str, day: date) -> pl.DataFrame | None:
    """The figures of the client's briefing of the day before, or None."""
    if not warehouse.table_exists(*FIGURE_TABLE):
        return None
    rows = warehouse.read("select key, value, decimals from main.briefing_figure where client_id = ? "
                          "and delivery_day = ?", [client_id, day - timedelta(days=1)])
    return rows if rows.height else None


def stored_figures(warehouse: Warehouse, day: date, client_id: str | None = None) -> pl.DataFrame:
    """The stored figures of a day (one client or all), empty when none."""
    if not warehouse.table_exists(*FIGURE_TABLE):
        return pl.DataFrame(schema={"delivery_day": pl.Date, "client_id": pl.String, "key": pl.String,
                                    "value": pl.Float64, "unit": pl.String, "decimals": pl.Int64})
    sql, params = "select * from main.briefing_figure where delivery_day = ?", [day]
    if client_id:
        sql, params = sql + " and client_id = ?", [*params, client_id]
    return warehouse.read(sql + " order by client_id", params)
