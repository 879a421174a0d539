"""The series behind a report's charts: per scope and per QH, hour or day."""

from __future__ import annotations

import polars as pl

from flexpower_assets.domain.reporting.model import INFEED_SOURCES, KW_PER_MWH_IN_QH, PORTFOLIO


def production_series(aq: pl.DataFrame, bucket: str) -> pl.DataFrame:
    """scope x bucket (QH or day): energy by source and both forecasts (MWh)."""
    aggs = [
        *[pl.col("actual_mwh").filter(pl.col("source") == s).sum().alias(f"{s}_mwh") for s in INFEED_SOURCES[:4]],
        pl.col("latest_mwh").sum().alias("latest_forecast_mwh"),
        pl.col("tradeable_mwh").sum().alias("tradeable_forecast_mwh"),
    ]
    per_asset = aq.group_by("asset_id", bucket).agg(aggs).rename({"asset_id": "scope"})
    whole = aq.group_by(bucket).agg(aggs).with_columns(scope=pl.lit(PORTFOLIO))
    return pl.concat([whole.select(per_asset.columns), per_asset]).rename({bucket: "t"}).sort("scope", "t")


def error_series(evaluable: pl.DataFrame, bucket: str) -> pl.DataFrame:
    """scope x bucket (UTC hour or day): summed forecast errors (MWh) of both forecasts."""
    rows = evaluable.with_columns(hour=pl.col("delivery_start").dt.truncate("1h"))
    aggs = [
        (pl.col("latest_error_kw").sum() / KW_PER_MWH_IN_QH).alias("latest_error_mwh"),
        (pl.col("tradeable_error_kw").sum() / KW_PER_MWH_IN_QH).alias("tradeable_error_mwh"),
    ]
    per_asset = rows.group_by("asset_id", bucket).agg(aggs).rename({"asset_id": "scope"})
    whole = rows.group_by(bucket).agg(aggs).with_columns(scope=pl.lit(PORTFOLIO))
    return pl.concat([whole.select(per_asset.columns), per_asset]).rename({bucket: "t"}).sort("scope", "t")


def trading_series(pnl: pl.DataFrame, bucket: str) -> pl.DataFrame:
    """bucket: PnL, volumes and both VWAPs (volume-weighted within a day bucket)."""
    volume = pl.col("sold_mwh") + pl.col("bought_mwh")
    return (
        pnl.group_by(bucket)
        .agg(
            revenue_eur=pl.col("revenue_eur").sum(),
            sold_mwh=pl.col("sold_mwh").sum(),
            bought_mwh=pl.col("bought_mwh").sum(),
            vwap_private=(pl.col("vwap_private") * volume).sum()
            / volume.filter(pl.col("vwap_private").is_not_null()).sum(),
            vwap_public=(pl.col("vwap_public") * pl.col("public_mwh")).sum()
            / pl.col("public_mwh").filter(pl.col("vwap_public").is_not_null()).sum(),
        )
        .with_columns(pl.col("vwap_private", "vwap_public").fill_nan(None))
        .rename({bucket: "t"})
        .sort("t")
    )


def imbalance_series(asset_imbalance: pl.DataFrame, portfolio_imbalance: pl.DataFrame, bucket: str) -> pl.DataFrame:
    """scope x bucket: imbalance (MWh) and its cost; the portfolio's is the net settlement."""
    aggs = [pl.col("imbalance_mwh").sum(), pl.col("imbalance_cost_eur").sum()]
    per_asset = asset_imbalance.group_by("asset_id", bucket).agg(aggs).rename({"asset_id": "scope"}).with_columns(
        standalone_cost_eur=pl.col("imbalance_cost_eur")
    )
    whole = portfolio_imbalance.group_by(bucket).agg(*aggs, pl.col("standalone_cost_eur").sum()).with_columns(
        scope=pl.lit(PORTFOLIO)
    )
    return pl.concat([whole.select(per_asset.columns), per_asset]).rename({bucket: "t"}).sort("scope", "t")
