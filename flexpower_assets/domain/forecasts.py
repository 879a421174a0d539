"""Forecasts per asset and for the portfolio (DOMAIN.md, Forecasts).

For a QH the **latest** forecast is the one with the greatest version <= delivery_start, the
**latest tradeable** one the greatest version <= delivery_start - 15 min (gate closure). Both are
kept with their version. A missing forecast stays null and is counted, never taken as zero.
"""

from __future__ import annotations

import polars as pl

from flexpower_assets.domain.exact import exact_sum
from flexpower_assets.domain.time import QH, QH_HOURS

KEY = ["asset_id", "delivery_start"]
VERSION_COLUMNS = ["latest_power_kw", "latest_version", "tradeable_power_kw", "tradeable_version"]


def energy_mwh(power_kw: pl.Expr) -> pl.Expr:
    """Energy of one QH at a constant power in kW."""
    return power_kw / 1000.0 * QH_HOURS


def latest_forecasts(forecast_rows: pl.DataFrame, asset_grid: pl.DataFrame) -> pl.DataFrame:
    """One row per asset x QH of ``asset_grid`` (published ``AssetForecast``), null where no version
    qualifies.

    A version every 15 minutes is the regular case: then the latest forecast of a QH is the version
    made at its start and the tradeable one the version made 15 minutes earlier, found by an exact
    filter that touches each row once. Only the QHs this leaves open (a version was skipped, an
    asset has no forecast) go through the general rule, the newest version <= the cut-off, on
    just their assets' rows. Both paths apply the same rule; the first is merely cheaper.
    """
    grid = asset_grid.select("delivery_day", "asset_id", "delivery_start")
    rows = forecast_rows.select("asset_id", "delivery_start", "version", "power_kw").filter(
        pl.col("delivery_start").is_between(grid["delivery_start"].min(), grid["delivery_start"].max())
    )
    found = grid.join(_exact_versions(rows), on=KEY, how="left")
    open_keys = found.filter(pl.col("latest_version").is_null() | pl.col("tradeable_version").is_null())
    if not open_keys.is_empty():
        open_rows = rows.filter(pl.col("asset_id").is_in(open_keys["asset_id"].unique().implode()))
        general = _newest_versions(open_rows.join(open_keys.select(KEY), on=KEY, how="semi"))
        found = found.join(general, on=KEY, how="left", suffix="_general").with_columns(
            pl.coalesce(name, f"{name}_general").alias(name) for name in VERSION_COLUMNS
        ).drop(f"{name}_general" for name in VERSION_COLUMNS)
    return found.with_columns(
        latest_energy_mwh=energy_mwh(pl.col("latest_power_kw")),
        tradeable_energy_mwh=energy_mwh(pl.col("tradeable_power_kw")),
    ).sort(KEY)


def _exact_versions(rows: pl.DataFrame) -> pl.DataFrame:
    """Latest and tradeable forecast where the version made at the QH start (latest) or one QH
    before it (tradeable) exists: no version can be newer within the cut-off."""
    latest = rows.filter(pl.col("version") == pl.col("delivery_start")).select(
        *KEY, latest_power_kw="power_kw", latest_version="version"
    ).unique(KEY, keep="last")
    tradeable = rows.filter(pl.col("version") == pl.col("delivery_start") - QH).select(
        *KEY, tradeable_power_kw="power_kw", tradeable_version="version"
    ).unique(KEY, keep="last")
    return latest.join(tradeable, on=KEY, how="full", coalesce=True)


def _newest_versions(rows: pl.DataFrame) -> pl.DataFrame:
    """The general rule: per (asset, QH) the newest version <= delivery_start (latest) and the newest
    version <= delivery_start - 15 min (tradeable), each with its power."""
    tradeable_version = pl.when(pl.col("version") <= pl.col("delivery_start") - QH).then(pl.col("version"))
    return (
        rows.filter(pl.col("version") <= pl.col("delivery_start"))
        .with_columns(tradeable_version=tradeable_version)
        .group_by(KEY)
        .agg(
            latest_power_kw=pl.col("power_kw").get(pl.col("version").arg_max()),
            latest_version=pl.col("version").max(),
            tradeable_power_kw=pl.col("power_kw").get(pl.col("tradeable_version").arg_max()),
            tradeable_version=pl.col("tradeable_version").max(),
        )
    )


def _sum_if_any(column: str) -> pl.Expr:
    """Sum of the non-null values, or null when every value is null (never a silent 0)."""
    return pl.when(pl.col(column).count() > 0).then(exact_sum(pl.col(column))).alias(column)


def portfolio_forecast(asset_forecast: pl.DataFrame) -> pl.DataFrame:
    """Per QH (published ``PortfolioForecast``): sums over the assets that have a forecast.

    ``n_assets`` counts the portfolio assets on the grid; ``n_missing_latest`` and
    ``n_missing_tradeable`` the assets without a forecast of that kind. If no asset has one, the
    sum is null, not 0.
    """
    return (
        asset_forecast.group_by("delivery_day", "delivery_start")
        .agg(
            _sum_if_any("latest_power_kw"),
            _sum_if_any("tradeable_power_kw"),
            _sum_if_any("latest_energy_mwh"),
            _sum_if_any("tradeable_energy_mwh"),
            n_assets=pl.col("asset_id").n_unique().cast(pl.Int64),
            n_missing_latest=pl.col("latest_power_kw").null_count().cast(pl.Int64),
            n_missing_tradeable=pl.col("tradeable_power_kw").null_count().cast(pl.Int64),
        )
        .sort("delivery_start")
    )


def missing_forecasts(asset_forecast: pl.DataFrame) -> pl.DataFrame:
    """Assets with at least one QH lacking a forecast: ``asset_id, n_missing_latest,
    n_missing_tradeable`` (number of QHs without a latest / tradeable forecast)."""
    return (
        asset_forecast.group_by("asset_id")
        .agg(
            n_missing_latest=pl.col("latest_power_kw").null_count().cast(pl.Int64),
            n_missing_tradeable=pl.col("tradeable_power_kw").null_count().cast(pl.Int64),
        )
        .filter((pl.col("n_missing_latest") > 0) | (pl.col("n_missing_tradeable") > 0))
        .sort("asset_id")
    )
