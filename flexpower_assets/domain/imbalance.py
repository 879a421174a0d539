"""Imbalance prices, per-asset imbalance and the balancing group's net (DOMAIN.md, Imbalance).

``imbalance_mwh = best_of_infeed_mwh - tradeable_forecast_mwh`` (positive = long); 0 in a
redispatched QH. It is priced with the final reBAP where published (short price when short,
long price when long), else the newest estimate covering the QH, else not at all: then the cost
is null and flagged (``price_source = 'missing'``), never 0. ``imbalance_cost_eur = -imbalance_mwh
* price``: positive is a cost, and an imbalance of exactly 0 costs exactly 0.
"""

from __future__ import annotations

import polars as pl

from flexpower_assets.domain.exact import exact_sum
from flexpower_assets.domain.time import delivery_day_of

KEY = ["asset_id", "delivery_start"]


def _newest_per_qh(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per QH: the row of the newest file (``file_created_at``) that covers it."""
    return frame.sort("file_created_at").unique("delivery_start", keep="last")


def imbalance_prices(final: pl.DataFrame, estimates: pl.DataFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """Per QH of the grid: ``delivery_day, delivery_start, price_short_eur_per_mwh,
    price_long_eur_per_mwh, price_source``.

    The final reBAP where a final file covers the QH (the newest such file if several do);
    otherwise the estimate of the newest estimate file covering it, used for both directions;
    otherwise null prices with ``price_source = 'missing'``.
    """
    final_prices = _newest_per_qh(final).select(
        "delivery_start", final_short="price_short_eur_per_mwh", final_long="price_long_eur_per_mwh"
    )
    estimated = _newest_per_qh(estimates).select("delivery_start", estimate="price_eur_per_mwh")
    joined = (
        grid.select("delivery_day", "delivery_start")
        .join(final_prices, on="delivery_start", how="left")
        .join(estimated, on="delivery_start", how="left")
    )
    has_final = pl.col("final_short").is_not_null()
    return joined.select(
        "delivery_day",
        "delivery_start",
        price_short_eur_per_mwh=pl.when(has_final).then("final_short").otherwise("estimate"),
        price_long_eur_per_mwh=pl.when(has_final).then("final_long").otherwise("estimate"),
        price_source=pl.when(has_final).then(pl.lit("final"))
        .when(pl.col("estimate").is_not_null()).then(pl.lit("estimate"))
        .otherwise(pl.lit("missing")),
    ).sort("delivery_start")


def _priced(imbalance: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Price and cost of an imbalance: the short price when short, the long price when long.

    An imbalance of exactly 0 has no direction, so no price, and costs exactly 0 (also when the
    price is missing); a null imbalance has neither price nor cost.
    """
    price = (
        pl.when(imbalance < 0).then(pl.col("price_short_eur_per_mwh"))
        .when(imbalance > 0).then(pl.col("price_long_eur_per_mwh"))
    )
    cost = pl.when(imbalance == 0).then(pl.lit(0.0)).otherwise(-imbalance * price)
    return price, cost


def asset_imbalance(best_of_infeed: pl.DataFrame, asset_forecast: pl.DataFrame, prices: pl.DataFrame) -> pl.DataFrame:
    """Per asset and QH of ``best_of_infeed`` (published ``AssetImbalance``).

    ``imbalance_mwh`` is null when the best-of-infeed or the tradeable forecast is missing, and 0
    in a redispatched QH (the grid operator balances it) whatever is missing. ``price_source``
    is the QH's price source even where no price applies (imbalance 0 or null).
    """
    forecast = asset_forecast.select(*KEY, tradeable_forecast_mwh="tradeable_energy_mwh")
    price_columns = prices.select("delivery_start", "price_short_eur_per_mwh", "price_long_eur_per_mwh", "price_source")
    joined = (
        best_of_infeed.select("delivery_day", *KEY, "is_redispatched", best_of_infeed_mwh="energy_mwh")
        .join(forecast, on=KEY, how="left")
        .join(price_columns, on="delivery_start", how="left")
        .with_columns(
            pl.col("price_source").fill_null("missing"),
            imbalance_mwh=pl.when(pl.col("is_redispatched")).then(pl.lit(0.0))
            .otherwise(pl.col("best_of_infeed_mwh") - pl.col("tradeable_forecast_mwh")),
        )
    )
    price, cost = _priced(pl.col("imbalance_mwh"))
    return joined.select(
        "delivery_day", *KEY, "best_of_infeed_mwh", "tradeable_forecast_mwh", "is_redispatched",
        "imbalance_mwh", price_eur_per_mwh=price, price_source="price_source", imbalance_cost_eur=cost,
    ).sort(KEY)


def portfolio_imbalance(asset_imbalance: pl.DataFrame, prices: pl.DataFrame) -> pl.DataFrame:
    """Per QH of ``prices`` (published ``PortfolioImbalance``): the balancing group on its net.

    ``imbalance_mwh`` sums the assets that have an imbalance (null if none has) and is priced by
    the direction of that net. ``standalone_cost_eur`` sums the asset costs over the same assets:
    it is null when one of them has no cost (a non-zero imbalance without a price), so that the
    two figures always cover the same assets. ``netting_benefit_eur = standalone_cost_eur -
    imbalance_cost_eur`` (positive: netting saved money). ``n_assets_missing`` counts the assets
    whose imbalance is null.
    """
    has_imbalance = pl.col("imbalance_mwh").is_not_null()
    per_qh = asset_imbalance.group_by("delivery_start").agg(
        imbalance_mwh=pl.when(has_imbalance.any()).then(exact_sum(pl.col("imbalance_mwh"))),
        standalone_cost_eur=pl.when(
            has_imbalance.any() & pl.col("imbalance_cost_eur").filter(has_imbalance).is_not_null().all()
        ).then(exact_sum(pl.col("imbalance_cost_eur"))),
        n_assets=pl.col("asset_id").n_unique().cast(pl.Int64),
        n_assets_missing=pl.col("imbalance_mwh").null_count().cast(pl.Int64),
    )
    base = prices if "delivery_day" in prices.columns else prices.with_columns(
        delivery_day=delivery_day_of(pl.col("delivery_start"))
    )
    joined = (
        base.select("delivery_day", "delivery_start", "price_short_eur_per_mwh", "price_long_eur_per_mwh", "price_source")
        .join(per_qh, on="delivery_start", how="left")
        .with_columns(pl.col("n_assets", "n_assets_missing").fill_null(0))
    )
    price, cost = _priced(pl.col("imbalance_mwh"))
    return (
        joined.with_columns(price_eur_per_mwh=price, imbalance_cost_eur=cost)
        .with_columns(netting_benefit_eur=pl.col("standalone_cost_eur") - pl.col("imbalance_cost_eur"))
        .select(
            "delivery_day", "delivery_start", "imbalance_mwh", "price_eur_per_mwh", "price_source",
            "imbalance_cost_eur", "standalone_cost_eur", "netting_benefit_eur", "n_assets", "n_assets_missing",
        )
        .sort("delivery_start")
    )
