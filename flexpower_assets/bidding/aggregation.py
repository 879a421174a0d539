"""From scenario results to one bid curve per asset and MTU, and the client's bid matrix.

Per asset and MTU (BIDDING.md, "Aggregation"):

1. the points (scenario price, net volume) of every optimal solve, from the asset type's
   ``bid_points``;
2. sorted by price and made non-decreasing in price with **pool adjacent violators** (isotonic
   regression, equal weights; equal prices are pooled first). PAV is the least-squares monotone
   fit, so a curve sells what the scenarios sell on average around a price; the running maximum
   would instead sell the most any lower-priced scenario sold, which over-commits the reservoir;
3. clipped to the policy (prices to the market's limits, volumes to ``max_volume_share_of_capacity``
   of the asset's sell and buy capacity);
4. evaluated on the client's price grid for the MTU as a step curve: the volume at a grid price is
   that of the highest point priced at or below it; below the lowest point the lowest point's volume
   holds. Prices are rounded to the tick, volumes to the step (half away from zero), and sell
   volumes never above the clipped capacity.

Coverage = share of the asset's solves that are optimal. Below ``min_scenario_coverage`` the asset
gets its fallback curve, trying from the client's configured fallback on: ``previous_day`` (the
previous day's accepted curve, same local time of day), ``deterministic`` (the solve at the mean
scenario price: sell its volume from the mean price up, or buy its volume up to the mean price),
``zero`` (0 MW at every price). Status: ``fallback``, else ``complete`` (every solve optimal) or
``partial``.

The client's price grid of an MTU is the union of its assets' point prices (rounded to the tick)
with the minimum and maximum price; with more than ``max_points`` prices it keeps the minimum, the
maximum and prices evenly spaced by rank in between. The bid matrix sums the assets' grid curves
per MTU and point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from flexpower_assets.bidding.asset_types import POINT_SCHEMA
from flexpower_assets.bidding.config import BiddingConfig, ClientConfig, MarketConfig
from flexpower_assets.bidding.model import (
    COMPLETE,
    FALLBACK,
    PARTIAL,
    AssetTechnicalData,
    SolveInput,
    SolveResult,
)

CURVE_SCHEMA = {"delivery_start": POINT_SCHEMA["delivery_start"], "point": pl.Int64,
                "price_eur_per_mwh": pl.Float64, "volume_mw": pl.Float64}


@dataclass(frozen=True)
class AssetCurve:
    """The aggregated curve of one asset before it is put on the client's grid.

    ``points``: delivery_start, price_eur_per_mwh, volume_mw (monotone and clipped per MTU).
    """

    asset_id: str
    client_id: str
    status: str
    coverage: float
    points: pl.DataFrame
    fallback_source: str | None = None
    message: str = ""


# --- steps 2 and 3 --------------------------------------------------------------------------------

def pool_adjacent_violators(volumes: Sequence[float], weights: Sequence[float] | None = None) -> list[float]:
    """The non-decreasing sequence closest (weighted least squares) to ``volumes``."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value, weight in zip(volumes, weights or [1.0] * len(volumes)):
        blocks.append([float(value), float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean_b, weight_b, count_b = blocks.pop()
            mean_a, weight_a, count_a = blocks.pop()
            total = weight_a + weight_b
            blocks.append([(mean_a * weight_a + mean_b * weight_b) / total, total, count_a + count_b])
    return [mean for mean, _, count in blocks for _ in range(count)]


def monotone_points(points: pl.DataFrame) -> pl.DataFrame:
    """Per MTU: equal prices pooled (mean volume), sorted by price, volumes made non-decreasing by PAV."""
    pooled = (points.group_by("delivery_start", "price_eur_per_mwh")
              .agg(volume_mw=pl.col("volume_mw").mean(), weight=pl.len())
              .sort("delivery_start", "price_eur_per_mwh"))
    parts = []
    for part in pooled.partition_by("delivery_start", maintain_order=True):
        fitted = pool_adjacent_violators(part["volume_mw"].to_list(), part["weight"].to_list())
        parts.append(part.with_columns(volume_mw=pl.Series(fitted, dtype=pl.Float64)))
    if not parts:
        return pl.DataFrame(schema=POINT_SCHEMA)
    return pl.concat(parts).select(list(POINT_SCHEMA))


def clip_to_policy(points: pl.DataFrame, technical: AssetTechnicalData, config: BiddingConfig) -> pl.DataFrame:
    """Prices within the market's limits, volumes within the policy's share of capacity."""
    market, share = config.market, config.policy.max_volume_share_of_capacity
    sell, buy = share * technical.max_sell_mw, share * technical.max_buy_mw
    return points.with_columns(
        price_eur_per_mwh=pl.col("price_eur_per_mwh").clip(market.price_min_eur_per_mwh, market.price_max_eur_per_mwh),
        volume_mw=pl.col("volume_mw").clip(-buy, sell),
    ).group_by("delivery_start", "price_eur_per_mwh", maintain_order=True).agg(
        pl.col("volume_mw").max()).sort("delivery_start", "price_eur_per_mwh")


# --- coverage, status and fallbacks -------------------------------------------------------------

def coverage_of(results: Sequence[SolveResult], expected: int) -> float:
    """Share of the ``expected`` solves that came back optimal (missing ones count as failed)."""
    if expected <= 0:
        return 0.0
    return sum(1 for r in results if r.is_optimal) / expected


def aggregate_asset(client: ClientConfig, technical: AssetTechnicalData, points: pl.DataFrame, coverage: float,
                    config: BiddingConfig, delivery_starts: Sequence[datetime],
                    previous_day_curve: pl.DataFrame | None = None,
                    deterministic: tuple[SolveInput, SolveResult] | None = None) -> AssetCurve:
    """The asset's curve (steps 2-3 and the fallback chain; see the module docstring).

    ``points``: the type's bid points of the optimal solves; ``previous_day_curve``: the previous
    delivery day's accepted curve (delivery_start, price_eur_per_mwh, volume_mw) if there is one;
    ``deterministic``: the solve at the mean scenario price, if it was made.
    """
    if coverage >= config.policy.min_scenario_coverage and not points.is_empty():
        curve = clip_to_policy(monotone_points(points), technical, config)
        status = COMPLETE if coverage >= 1.0 else PARTIAL
        return AssetCurve(technical.asset_id, client.id, status, coverage, curve)
    reason = f"coverage {coverage:.2f} below the policy minimum {config.policy.min_scenario_coverage:.2f}"
    for source in client.fallback_chain():
        curve = _fallback(source, delivery_starts, config, previous_day_curve, deterministic)
        if curve is not None:
            curve = clip_to_policy(monotone_points(curve), technical, config)
            return AssetCurve(technical.asset_id, client.id, FALLBACK, coverage, curve, source,
                              f"{reason}: {source} fallback")
    raise AssertionError("the fallback chain always ends with zero")  # pragma: no cover


def _fallback(source: str, delivery_starts: Sequence[datetime], config: BiddingConfig,
              previous_day_curve: pl.DataFrame | None,
              deterministic: tuple[SolveInput, SolveResult] | None) -> pl.DataFrame | None:
    price_min = config.market.price_min_eur_per_mwh
    if source == "previous_day":
        if previous_day_curve is None or previous_day_curve.is_empty():
            return None
        return _shift_to_day(previous_day_curve, delivery_starts, config.market)
    if source == "deterministic":
        if deterministic is None or not deterministic[1].is_optimal:
            return None
        solve_input, result = deterministic
        rows = []
        for start, mean_price, volume in zip(solve_input.delivery_starts, solve_input.prices_eur_per_mwh,
                                             result.volumes_mw):
            if volume >= 0:  # sell from the mean price up
                rows += [(start, price_min, 0.0), (start, max(mean_price, price_min), volume)]
            else:  # buy up to the mean price
                rows += [(start, price_min, volume), (start, max(mean_price, price_min) + 1e-9, 0.0)]
        return pl.DataFrame(rows, schema=POINT_SCHEMA, orient="row")
    return pl.DataFrame({"delivery_start": list(delivery_starts), "price_eur_per_mwh": [price_min] * len(delivery_starts),
                         "volume_mw": [0.0] * len(delivery_starts)}, schema=POINT_SCHEMA)


def _shift_to_day(curve: pl.DataFrame, delivery_starts: Sequence[datetime], market: MarketConfig) -> pl.DataFrame | None:
    """The previous day's curve moved to the same local time of day; None if an MTU has no match."""
    zone = ZoneInfo(market.timezone)
    wanted = {}
    for start in delivery_starts:
        local = start.astimezone(zone)
        wanted[(local - timedelta(days=1)).replace(tzinfo=None)] = start
    local_start = pl.col("delivery_start").dt.convert_time_zone(market.timezone).dt.replace_time_zone(None)
    shifted = curve.with_columns(_local=local_start).filter(pl.col("_local").is_in(list(wanted)))
    if shifted.select(pl.col("_local").n_unique()).item() != len(wanted):
        return None
    mapping = pl.DataFrame({"_local": list(wanted), "_new": list(wanted.values())},
                           schema={"_local": pl.Datetime("us"), "_new": POINT_SCHEMA["delivery_start"]})
    return (shifted.join(mapping, on="_local").select(pl.col("_new").alias("delivery_start"), "price_eur_per_mwh",
                                                      "volume_mw"))


# --- step 4: the client's grid, rounding, the matrix ---------------------------------------------

def round_to(values: np.ndarray | pl.Expr, step: float):
    """Round to a multiple of ``step``, halves away from zero (float noise removed)."""
    if isinstance(values, pl.Expr):
        scaled = values / step
        return ((scaled.abs() + 0.5 + 1e-9).floor() * scaled.sign() * step).round(10)
    scaled = np.asarray(values, dtype=float) / step
    return np.round(np.floor(np.abs(scaled) + 0.5 + 1e-9) * np.sign(scaled) * step, 10)


def client_price_grid(curves: Sequence[AssetCurve], market: MarketConfig,
                      delivery_starts: Sequence[datetime]) -> pl.DataFrame:
    """Per MTU the client's grid prices (delivery_start, price_eur_per_mwh), at most ``max_points``."""
    frames = [c.points.select("delivery_start", "price_eur_per_mwh") for c in curves]
    ends = pl.DataFrame({"delivery_start": [s for s in delivery_starts for _ in range(2)],
                         "price_eur_per_mwh": [market.price_min_eur_per_mwh, market.price_max_eur_per_mwh]
                         * len(delivery_starts)}, schema={k: POINT_SCHEMA[k] for k in ("delivery_start",
                                                                                        "price_eur_per_mwh")})
    prices = pl.concat([*frames, ends]).with_columns(
        price_eur_per_mwh=round_to(pl.col("price_eur_per_mwh"), market.price_tick_eur_per_mwh)
        .clip(market.price_min_eur_per_mwh, market.price_max_eur_per_mwh)
    ).unique().sort("delivery_start", "price_eur_per_mwh")
    grids = []
    for part in prices.partition_by("delivery_start", maintain_order=True):
        if part.height > market.max_points:
            keep = np.unique(np.round(np.linspace(0, part.height - 1, market.max_points)).astype(int))
            part = part[keep.tolist()]
        grids.append(part)
    return pl.concat(grids)


def curve_on_grid(curve: AssetCurve, grid: pl.DataFrame, technical: AssetTechnicalData,
                  config: BiddingConfig) -> pl.DataFrame:
    """The asset's step curve at the grid prices: delivery_start, point, price_eur_per_mwh, volume_mw.

    The volume at a grid price is that of the highest point priced at or below it (the lowest
    point's below it), rounded to the volume step within the clipped capacity.
    """
    market, share = config.market, config.policy.max_volume_share_of_capacity
    step = market.volume_step_mw
    sell = np.floor(share * technical.max_sell_mw / step + 1e-9) * step
    buy = np.floor(share * technical.max_buy_mw / step + 1e-9) * step
    points = curve.points.sort("delivery_start", "price_eur_per_mwh")
    on_grid = grid.sort("delivery_start", "price_eur_per_mwh").join_asof(
        points.rename({"price_eur_per_mwh": "_point_price"}).sort("_point_price"),
        left_on="price_eur_per_mwh", right_on="_point_price", by="delivery_start", strategy="backward",
        check_sortedness=False)  # sorted by price within each MTU, which is what the join needs
    first = points.group_by("delivery_start").agg(_first=pl.col("volume_mw").first())
    on_grid = on_grid.join(first, on="delivery_start", how="left").with_columns(
        volume_mw=pl.coalesce("volume_mw", "_first"))
    if on_grid["volume_mw"].is_null().any():
        missing = on_grid.filter(pl.col("volume_mw").is_null())["delivery_start"][0]
        raise ValueError(f"{curve.asset_id}: no curve for the MTU {missing:%Y-%m-%d %H:%M} UTC")
    return (on_grid.with_columns(volume_mw=round_to(pl.col("volume_mw"), step).clip(-buy, sell),
                                 point=pl.int_range(1, pl.len() + 1).over("delivery_start").cast(pl.Int64))
            .select(list(CURVE_SCHEMA)).sort("delivery_start", "point"))


def bid_matrix(grid_curves: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The client's matrix: the sum of its assets' grid curves per MTU and point."""
    if not grid_curves:
        return pl.DataFrame(schema=CURVE_SCHEMA)
    return (pl.concat(grid_curves).group_by("delivery_start", "point", "price_eur_per_mwh")
            .agg(pl.col("volume_mw").sum()).with_columns(volume_mw=pl.col("volume_mw").round(10))
            .select(list(CURVE_SCHEMA)).sort("delivery_start", "point"))


def asset_bid_curve_rows(curve: AssetCurve, grid_curve: pl.DataFrame, delivery_day: date) -> pl.DataFrame:
    """Rows of the ``asset_bid_curve`` contract table for one asset."""
    return grid_curve.with_columns(
        delivery_day=pl.lit(delivery_day), client_id=pl.lit(curve.client_id), asset_id=pl.lit(curve.asset_id),
        curve_status=pl.lit(curve.status), coverage=pl.lit(curve.coverage, dtype=pl.Float64),
        fallback_source=pl.lit(curve.fallback_source, dtype=pl.String))


def capacities(technicals: Mapping[str, AssetTechnicalData]) -> tuple[float, float]:
    """Summed sell and buy capacity (MW) of a client's assets."""
    return (sum(t.max_sell_mw for t in technicals.values()), sum(t.max_buy_mw for t in technicals.values()))
