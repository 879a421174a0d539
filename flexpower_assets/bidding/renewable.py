"""Renewable assets of the company's own portfolio: sell the configured forecast quantile.

BIDDING.md: the sell volume per MTU is the configured quantile of the asset's probabilistic
forecast at prices >= the curtailment price, 0 below. There is nothing to optimise per price
scenario, so the type makes a single solve (``uses_price_scenarios = False``) whose volumes are
the quantile (clipped to 0 .. capacity), and its bid points are exactly the step
``(price_min, 0 MW), (curtailment price, quantile)`` per MTU.

The quantile forecast is the warehouse table ``main.asset_forecast_quantile`` of the delivery day,
the champion method's rows (made from the forecast available at gate closure; read by
``bidding.inputs.champion_quantiles``, so the bid run depends on that asset in the lineage). The
level is the client's ``renewable_quantile``, or with ``renewable_quantile: critical_ratio`` the
level ``domain.probabilistic.critical_ratio_level`` picks from the reBAP and auction prices of the
14 days up to D-2 (the rule the backtest's ``quantile`` strategy sells by). ``quantile_mw`` reads
the level from the frame, interpolating linearly between the two nearest levels when it is not
one of them. The solve's input hash covers the quantile values, the level, the method and the
forecast version.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import polars as pl
from pydantic import Field

from flexpower_assets.bidding.asset_types import POINT_SCHEMA, AssetType
from flexpower_assets.bidding.config import CRITICAL_RATIO, BiddingConfig, ClientConfig
from flexpower_assets.bidding.model import OPTIMAL, AssetTechnicalData, DayContext, SolveInput, SolveResult
from flexpower_assets.domain.probabilistic import critical_ratio_level

NAME = "renewable"
MODEL_VERSION = "renewable-quantile-1"
#: the inputs the type reads (warehouse inputs registered in ``bidding.inputs``)
QUANTILES, IMBALANCE_PRICES, DAY_AHEAD_PRICES = "asset_forecast_quantile", "imbalance_price_history", "day_ahead_price_history"


class RenewableAsset(AssetTechnicalData):
    """A wind or solar asset of the portfolio (capacity from the CRM / VPP technical data)."""

    capacity_mw: float = Field(gt=0)
    technology: str | None = None

    @property
    def max_sell_mw(self) -> float:
        return self.capacity_mw


def quantile_mw(forecast: pl.DataFrame, asset_id: str, level: float,
                delivery_starts: Sequence[datetime]) -> tuple[float, ...]:
    """The asset's forecast at quantile ``level`` for each MTU, in MW.

    ``forecast`` has ``asset_id``, ``delivery_start``, ``quantile_level``, ``power_kw``. A level
    between two forecast levels is interpolated linearly; a level outside the forecast's levels
    or an MTU without a forecast raises ``ValueError``.
    """
    rows = forecast.filter(pl.col("asset_id") == asset_id)
    levels = sorted(set(rows["quantile_level"].to_list()))
    if not levels or level < levels[0] - 1e-12 or level > levels[-1] + 1e-12:
        raise ValueError(f"{asset_id}: no quantile forecast brackets level {level} (levels {levels})")
    below = max(x for x in levels if x <= level + 1e-12)
    above = min(x for x in levels if x >= level - 1e-12)
    weight = 0.0 if above == below else (level - below) / (above - below)
    wide = rows.filter(pl.col("quantile_level").is_in([below, above])).pivot(
        on="quantile_level", index="delivery_start", values="power_kw", aggregate_function="first")
    wide = wide.rename({str(below): "lo", str(above): "hi"} if above != below else {str(below): "lo"})
    if "hi" not in wide.columns:
        wide = wide.with_columns(hi=pl.col("lo"))
    grid = pl.DataFrame({"delivery_start": list(delivery_starts)},
                        schema={"delivery_start": POINT_SCHEMA["delivery_start"]})
    joined = grid.join(wide, on="delivery_start", how="left")
    missing = joined.filter(pl.col("lo").is_null() | pl.col("hi").is_null())
    if missing.height:
        raise ValueError(f"{asset_id}: no quantile forecast for {missing['delivery_start'][0]:%Y-%m-%d %H:%M} UTC")
    power_kw = joined.select(pl.col("lo") + (pl.col("hi") - pl.col("lo")) * weight).to_series()
    return tuple(float(v) / 1000.0 for v in power_kw)


def sell_level(day: DayContext, frames: Mapping[str, pl.DataFrame]) -> float:
    """The quantile level the client sells: the configured one, or the critical-ratio level of the day."""
    level = day.client.renewable_quantile
    if level != CRITICAL_RATIO:
        return float(level)
    empty = pl.DataFrame()
    return critical_ratio_level(day.delivery_day, frames.get(IMBALANCE_PRICES, empty), frames.get(DAY_AHEAD_PRICES, empty))


def prepare_renewable(asset: RenewableAsset, frames: Mapping[str, pl.DataFrame], day: DayContext
                      ) -> tuple[dict[str, tuple[float, ...]], dict[str, float | str]]:
    """The quantile the client sells per MTU, from the champion's rows of ``asset_forecast_quantile``.

    Raises ``ValueError`` when the asset has no quantiles for the day (the asset then has no solve
    and falls back) or when they mix methods (the champion is one method per asset and day).
    """
    forecast = frames.get(QUANTILES, pl.DataFrame())
    rows = forecast.filter(pl.col("asset_id") == asset.asset_id) if forecast.height else forecast
    if rows.is_empty():
        raise ValueError(f"{asset.asset_id}: no asset_forecast_quantile rows for {day.delivery_day} "
                         "(build the forecasts of the day first)")
    methods = sorted(rows["method"].unique().to_list())
    if len(methods) != 1:
        raise ValueError(f"{asset.asset_id}: the champion quantiles of {day.delivery_day} mix methods {methods}")
    level = sell_level(day, frames)
    volumes = quantile_mw(rows, asset.asset_id, level, day.delivery_starts)
    return {"quantile_mw": volumes}, {"quantile_level": level, "forecast_method": methods[0],
                                      "forecast_version": rows["forecast_version"].max().isoformat()}


def solve_renewable(solve_input: SolveInput) -> SolveResult:
    """The one "solve" of a renewable asset: the quantile per MTU, within 0 .. capacity."""
    began = time.perf_counter()
    asset: RenewableAsset = solve_input.technical  # type: ignore[assignment]
    volumes = tuple(min(max(float(q), 0.0), asset.capacity_mw) for q in solve_input.series["quantile_mw"])
    level = solve_input.values.get("quantile_level", solve_input.settings.get("renewable_quantile"))
    method = solve_input.values.get("forecast_method")
    return SolveResult(solve_input.input_hash, OPTIMAL, None, time.perf_counter() - began, 0,
                       f"quantile {level} of the probabilistic forecast" + (f" ({method})" if method else ""),
                       volumes_mw=volumes)


def renewable_points(solves: Sequence[tuple[SolveInput, SolveResult]], config: BiddingConfig) -> pl.DataFrame:
    """Per MTU: 0 MW from the minimum price, the quantile from the curtailment price on."""
    price_min = config.market.price_min_eur_per_mwh
    curtailment = max(config.policy.curtailment_price_eur_per_mwh, price_min)
    starts: list = []
    prices: list[float] = []
    volumes: list[float] = []
    for solve_input, result in solves:
        if not result.is_optimal:
            continue
        for start, volume in zip(solve_input.delivery_starts, result.volumes_mw):
            if curtailment > price_min:
                starts.append(start)
                prices.append(price_min)
                volumes.append(0.0)
            starts.append(start)
            prices.append(curtailment)
            volumes.append(volume)
    return pl.DataFrame({"delivery_start": starts, "price_eur_per_mwh": prices, "volume_mw": volumes},
                        schema=POINT_SCHEMA)


def renewable_settings(config: BiddingConfig, client: ClientConfig) -> Mapping[str, Any]:
    return {"renewable_quantile": client.renewable_quantile,
            "curtailment_price_eur_per_mwh": config.policy.curtailment_price_eur_per_mwh,
            "mtu_minutes": config.market.mtu_minutes}


ASSET_TYPE = AssetType(
    name=NAME,
    technical_model=RenewableAsset,
    solve=solve_renewable,
    model_version=MODEL_VERSION,
    prepare=prepare_renewable,
    input_kinds=(QUANTILES, IMBALANCE_PRICES, DAY_AHEAD_PRICES),
    uses_price_scenarios=False,
    bid_points=renewable_points,
    solve_settings=renewable_settings,
    description="portfolio wind/solar asset: the configured quantile at prices >= curtailment",
)
