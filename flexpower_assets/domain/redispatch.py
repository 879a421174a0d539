"""Redispatch compensation prices: the DSO's price per quarter-hour."""

from __future__ import annotations

import polars as pl


def compensation_prices(rows: pl.DataFrame) -> pl.DataFrame:
    """One price per quarter-hour: where several files cover a QH, the newest file (file_date) wins."""
    if rows.is_empty():
        return pl.DataFrame(schema={"delivery_start": pl.Datetime("us", "UTC"), "price_eur_per_mwh": pl.Float64})
    return (rows.sort("file_date")
            .group_by("delivery_start").agg(pl.col("price_eur_per_mwh").last())
            .sort("delivery_start"))
