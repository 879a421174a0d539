"""Clearing a bid matrix at the auction's prices (BIDDING.md, "Clearing").

Per MTU the clearing price P is given; the accepted volume is the step curve's volume at P, i.e.
the volume of the highest point whose price <= P (0 MW when every point is above P);
revenue = P x volume_mw x 0.25 (a 15-minute MTU). Used by the mock exchange's results and by
anything that replays an auction. Plain polars, no Dagster.
"""

from __future__ import annotations

import polars as pl

MTU_HOURS = 0.25


def clear(matrix: pl.DataFrame, prices: pl.DataFrame) -> pl.DataFrame:
    """``matrix``: delivery_start, point, price_eur_per_mwh, volume_mw; ``prices``: delivery_start,
    price_eur_per_mwh (the clearing price). One row per MTU of the matrix: delivery_start,
    clearing_price_eur_per_mwh, accepted_mw, revenue_eur. An MTU without a clearing price is an
    error (a result for it would be invented)."""
    mtus = matrix.select("delivery_start").unique()
    cleared = mtus.join(prices.select("delivery_start", pl.col("price_eur_per_mwh").alias("clearing_price_eur_per_mwh")),
                        on="delivery_start", how="left")
    missing = cleared.filter(pl.col("clearing_price_eur_per_mwh").is_null())
    if missing.height:
        first = missing.sort("delivery_start")["delivery_start"][0]
        raise ValueError(f"no clearing price for {missing.height} MTU(s) of the matrix, the first {first}")
    accepted = (
        matrix.join(cleared, on="delivery_start")
        .filter(pl.col("price_eur_per_mwh") <= pl.col("clearing_price_eur_per_mwh"))
        .sort("delivery_start", "price_eur_per_mwh")
        .group_by("delivery_start").agg(pl.col("volume_mw").last().alias("accepted_mw"))
    )
    return (
        cleared.join(accepted, on="delivery_start", how="left")
        .with_columns(pl.col("accepted_mw").fill_null(0.0))
        .with_columns(revenue_eur=pl.col("clearing_price_eur_per_mwh") * pl.col("accepted_mw") * MTU_HOURS)
        .select("delivery_start", "clearing_price_eur_per_mwh", "accepted_mw", "revenue_eur")
        .sort("delivery_start")
    )
