"""Measured infeed per asset and QH, and best-of-infeed (DOMAIN.md, Live infeed; Best-of-infeed).

Live points become QH values as a step signal; DSO final production and redispatch flags are
resolved to one value per metering point and QH (later files win) and mapped to assets through
the contracts; best-of-infeed then picks, per asset and QH, final > live > latest forecast.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from flexpower_assets.domain.exact import exact_sum
from flexpower_assets.domain.forecasts import energy_mwh
from flexpower_assets.domain.time import QH, to_utc

KEY = ["asset_id", "delivery_start"]
HOLD_LIMIT = QH
"""A live value holds until the next point, but never longer than this."""
MIN_COVERED_SECONDS = QH.total_seconds() / 2
"""A QH whose live signal is defined for less than this has no live value."""


def newest_live_points(points: pl.DataFrame, files: pl.DataFrame) -> pl.DataFrame:
    """One point per asset and timestamp: where several live files hold the same timestamp (a
    second file for the same asset and day, delivered later), the newest file's value wins.

    ``files`` has ``file_id, arrived_at, path`` (the landing catalog). The newest file is the
    one that arrived last in the landing zone (``arrived_at``: the later of its mtime and ctime);
    files that arrived at the same instant are ordered by their path (the later name wins), so
    the rule gives the same points whatever order the rows come in, and whether the files were
    registered in one sync or in several. Timestamps only one file holds are kept as they are.

    A file's timestamps are distinct (the parser checks it), so only assets with points from
    more than one file can hold a timestamp twice: only their points are ranked and sorted (a
    day of 1,000 assets with one file each costs a group-by, not a sort of every point). Rows of
    such assets come sorted by ``asset_id, timestamp``, after the rows of the other assets, which
    keep their order.
    """
    several_files = (points.group_by("asset_id").agg(pl.col("file_id").n_unique())
                     .filter(pl.col("file_id") > 1)["asset_id"])
    if several_files.is_empty():
        return points
    rank = (files.select("file_id", "arrived_at", "path").sort("arrived_at", "path", nulls_last=False)
            .select("file_id", file_rank=pl.int_range(pl.len(), dtype=pl.UInt32)))
    shared = pl.col("asset_id").is_in(several_files.implode())
    newest = (
        points.filter(shared).join(rank, on="file_id", how="left")
        .sort("asset_id", "timestamp", "file_rank", nulls_last=False)
        .unique(["asset_id", "timestamp"], keep="last", maintain_order=True)
        .drop("file_rank")
    )
    return pl.concat([points.filter(~shared), newest])


def live_quarter_hours(points: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """QH values of irregular live points for the QHs in ``[start, end)``.

    Columns ``asset_id, delivery_start, power_kw, covered_seconds``. Each point's value holds from
    its timestamp until the asset's next point, at most 15 minutes; a QH's power is the
    time-weighted mean over the part of the QH where that signal is defined (``covered_seconds``).
    QHs covered for less than 7.5 minutes get no row; exactly 7.5 minutes is enough. A point up to
    15 minutes before ``start`` counts for the first QH. Negative values (a solar park's night
    consumption) are measurements and are kept.

    A held value spans at most 15 minutes, so it touches at most two QHs: each is cut into the part
    in the QH it starts in and the part in the next one, and the parts are summed per QH.
    """
    start, end = to_utc(start), to_utc(end)
    timestamp = pl.col("timestamp")
    next_point = pl.when(pl.col("asset_id").shift(-1) == pl.col("asset_id")).then(timestamp.shift(-1))
    held = (
        points.lazy()
        .select("asset_id", "timestamp", "power_kw")
        .filter(timestamp >= start - HOLD_LIMIT, timestamp < end)
        .sort("asset_id", "timestamp")
        .with_columns(
            until=pl.min_horizontal(next_point, timestamp + HOLD_LIMIT),  # no next point: the limit
            qh_start=timestamp.dt.truncate("15m"),
        )
    )
    first_part = held.select(
        "asset_id", "power_kw", delivery_start="qh_start",
        part_start="timestamp", part_end=pl.min_horizontal("until", pl.col("qh_start") + QH),
    )
    second_part = held.select(
        "asset_id", "power_kw", delivery_start=pl.col("qh_start") + QH,
        part_start=pl.col("qh_start") + QH, part_end="until",
    )
    seconds = (pl.col("part_end") - pl.col("part_start")).dt.total_microseconds() / 1e6
    return (
        pl.concat([first_part, second_part])
        .with_columns(seconds=seconds)
        .filter(pl.col("seconds") > 0, pl.col("delivery_start") >= start, pl.col("delivery_start") < end)
        .group_by(KEY)
        .agg(
            power_kw=exact_sum(pl.col("power_kw") * pl.col("seconds")) / exact_sum(pl.col("seconds")),
            covered_seconds=exact_sum(pl.col("seconds")),
        )
        .filter(pl.col("covered_seconds") >= MIN_COVERED_SECONDS)
        .sort(KEY)
        .collect()
    )


def _metering_points(contracts: pl.DataFrame) -> pl.DataFrame:
    """metering_point_id -> asset_id, once per pair (contracts may hold several snapshots)."""
    return contracts.select("metering_point_id", "asset_id").unique()


def final_production_by_asset(final_rows: pl.DataFrame, contracts: pl.DataFrame) -> pl.DataFrame:
    """DSO final production per asset and QH: ``asset_id, delivery_start, power_kw``.

    Of several files for the same metering point, the later one (``file_date``) replaces the
    earlier values QH by QH; QHs it lacks keep their earlier value. Metering points without a
    contract are dropped (they are not in the portfolio).
    """
    newest = (
        final_rows.select("metering_point_id", "delivery_start", "power_kw", "file_date")
        .sort("file_date")
        .unique(["metering_point_id", "delivery_start"], keep="last")
    )
    return (
        newest.join(_metering_points(contracts), on="metering_point_id", how="inner")
        .select(*KEY, "power_kw")
        .sort(KEY)
    )


def redispatched_quarter_hours(flags: pl.DataFrame, contracts: pl.DataFrame) -> pl.DataFrame:
    """Redispatched QHs per asset: ``asset_id, delivery_start``.

    Flag files of the same metering point add up (union); where a later file (``issued_at``)
    lists a QH again, its value wins, so a later 0 clears an earlier 1.
    """
    newest = (
        flags.select("metering_point_id", "delivery_start", "is_redispatched", "issued_at")
        .sort("issued_at")
        .unique(["metering_point_id", "delivery_start"], keep="last")
        .filter(pl.col("is_redispatched"))
    )
    return (
        newest.join(_metering_points(contracts), on="metering_point_id", how="inner")
        .select(KEY)
        .unique()
        .sort(KEY)
    )


def best_of_infeed(asset_grid: pl.DataFrame, final_qh: pl.DataFrame, live_qh: pl.DataFrame,
                   asset_forecast: pl.DataFrame, redispatched: pl.DataFrame) -> pl.DataFrame:
    """Per asset and QH of ``asset_grid`` (published ``BestOfInfeed``): the best available value.

    Priority: final (``final``) > live (``live``) > latest forecast (``forecast``). Final and live
    values in a redispatched QH are used as measured. A redispatched QH with neither is 0 kW with
    source ``forecast_redispatched`` -- also when the forecast is missing, because the value does
    not depend on it. Nothing at all: power null, source ``missing``.
    """
    final = final_qh.select(*KEY, final_kw="power_kw")
    live = live_qh.select(*KEY, live_kw="power_kw")
    forecast = asset_forecast.select(*KEY, forecast_kw="latest_power_kw")
    flagged = redispatched.select(KEY).unique().with_columns(is_redispatched=pl.lit(True))
    joined = (
        asset_grid.select("delivery_day", *KEY)
        .join(final, on=KEY, how="left")
        .join(live, on=KEY, how="left")
        .join(forecast, on=KEY, how="left")
        .join(flagged, on=KEY, how="left")
        .with_columns(pl.col("is_redispatched").fill_null(False))
    )
    source = (
        pl.when(pl.col("final_kw").is_not_null()).then(pl.lit("final"))
        .when(pl.col("live_kw").is_not_null()).then(pl.lit("live"))
        .when(pl.col("is_redispatched")).then(pl.lit("forecast_redispatched"))
        .when(pl.col("forecast_kw").is_not_null()).then(pl.lit("forecast"))
        .otherwise(pl.lit("missing"))
    )
    power = (
        pl.when(pl.col("source") == "forecast_redispatched").then(pl.lit(0.0))
        .otherwise(pl.coalesce("final_kw", "live_kw", "forecast_kw"))
    )
    return (
        joined.with_columns(source=source)
        .with_columns(power_kw=power)
        .select("delivery_day", *KEY, "power_kw", energy_mwh=energy_mwh(pl.col("power_kw")),
                source="source", is_redispatched="is_redispatched")
        .sort(KEY)
    )


def portfolio_best_of_infeed(best_of_infeed: pl.DataFrame) -> pl.DataFrame:
    """Per QH (published ``PortfolioBestOfInfeed``): summed production and the share of each source.

    Sums run over the assets that have a value (null if none has). A share is the fraction of
    the QH's *absolute* energy that came from a source: ``sum(|energy|) of the source /
    sum(|energy|)``. Negative night values of solar parks are real measurements, so they count
    with their size; shares of signed energies would leave 0..1 whenever a negative value meets a
    positive one (e.g. -0.01 and +0.03 MWh would give shares -0.5 and 1.5). Shares are null when
    the QH's energy is 0 or null. ``forecast_share`` includes ``forecast_redispatched``.
    """
    magnitude = pl.col("energy_mwh").abs()
    source = pl.col("source")
    sums = best_of_infeed.group_by("delivery_day", "delivery_start").agg(
        power_kw=pl.when(pl.col("power_kw").count() > 0).then(exact_sum(pl.col("power_kw"))),
        energy_mwh=pl.when(pl.col("energy_mwh").count() > 0).then(exact_sum(pl.col("energy_mwh"))),
        magnitude=exact_sum(magnitude),
        final_magnitude=exact_sum(magnitude.filter(source == "final")),
        live_magnitude=exact_sum(magnitude.filter(source == "live")),
        forecast_magnitude=exact_sum(magnitude.filter(source.is_in(["forecast", "forecast_redispatched"]))),
        n_assets=pl.col("asset_id").n_unique().cast(pl.Int64),
        n_missing=(source == "missing").sum().cast(pl.Int64),
    )
    has_energy = pl.col("energy_mwh").is_not_null() & (pl.col("energy_mwh") != 0)
    return (
        sums.with_columns(
            (pl.when(has_energy).then(pl.col(f"{name}_magnitude") / pl.col("magnitude"))).alias(f"{name}_share")
            for name in ["final", "live", "forecast"]
        )
        .select("delivery_day", "delivery_start", "power_kw", "energy_mwh", "final_share", "live_share",
                "forecast_share", "n_assets", "n_missing")
        .sort("delivery_start")
    )


CAPACITY_TOLERANCE = 1.1  # best-of-infeed above 110 % of the contracted capacity is not plausible


def max_qh_energy_mwh(capacity_mw: pl.Expr) -> pl.Expr:
    """The most energy an asset can plausibly produce in a QH: 110 % of its capacity for 15 min."""
    return CAPACITY_TOLERANCE * capacity_mw * 0.25


def forecasts_outside_capacity(asset_forecast: pl.DataFrame, contracts: pl.DataFrame,
                               tolerance: float = CAPACITY_TOLERANCE) -> pl.DataFrame:
    """Forecast QHs that are not plausible: latest or tradeable power above ``tolerance`` x the
    CRM capacity, or negative (a forecast is of production; it feeds best-of-infeed, the
    imbalance and the redispatch payout). Columns ``asset_id, delivery_start, latest_power_kw,
    tradeable_power_kw, capacity_kw``."""
    limits = contracts.select("asset_id", (pl.col("capacity_mw") * 1000).alias("capacity_kw")).unique("asset_id")
    bad = pl.lit(False)
    for column in ("latest_power_kw", "tradeable_power_kw"):
        bad = bad | (pl.col(column) > tolerance * pl.col("capacity_kw")) | (pl.col(column) < 0)
    return (asset_forecast.join(limits, on="asset_id", how="left").filter(bad.fill_null(False))
            .select("asset_id", "delivery_start", "latest_power_kw", "tradeable_power_kw", "capacity_kw")
            .sort("asset_id", "delivery_start"))


def imbalances_outside_capacity(asset_imbalance: pl.DataFrame, contracts: pl.DataFrame) -> pl.DataFrame:
    """Imbalance QHs that are not plausible: ``|imbalance_mwh|`` above 110 % of the asset's
    capacity for 15 minutes (production and forecast each within 0..110 % cannot be further
    apart; a little negative night-time solar stays far inside). Columns ``asset_id,
    delivery_start, imbalance_mwh, limit_mwh, imbalance_cost_eur``."""
    limits = contracts.select("asset_id", max_qh_energy_mwh(pl.col("capacity_mw")).alias("limit_mwh")).unique("asset_id")
    return (asset_imbalance.join(limits, on="asset_id", how="left")
            .filter((pl.col("imbalance_mwh").abs() > pl.col("limit_mwh")).fill_null(False))
            .select("asset_id", "delivery_start", "imbalance_mwh", "limit_mwh", "imbalance_cost_eur")
            .sort("asset_id", "delivery_start"))


def outside_capacity(best_of_infeed: pl.DataFrame, contracts: pl.DataFrame,
                     tolerance: float = CAPACITY_TOLERANCE) -> pl.DataFrame:
    """Quarter-hours whose best-of-infeed is not plausible: above ``tolerance`` x the CRM capacity,
    or negative, except measured (final or live) solar values, which are night-time consumption.

    Columns ``asset_id, delivery_start, power_kw, capacity_kw, source``.
    """
    limits = contracts.select("asset_id", "technology", (pl.col("capacity_mw") * 1000).alias("capacity_kw"))
    measured_solar = (pl.col("technology") == "solar") & pl.col("source").is_in(["final", "live"])
    return (best_of_infeed.join(limits, on="asset_id", how="left")
            .filter((pl.col("power_kw") > tolerance * pl.col("capacity_kw"))
                    | ((pl.col("power_kw") < 0) & ~measured_solar))
            .select("asset_id", "delivery_start", "power_kw", "capacity_kw", "source"))
