"""Parquet staging: parsed rows filed under the delivery day of their own time.

``<warehouse>.staging/<kind>/<day>/<chunk>.parquet`` (``all`` for kinds whose rows carry no
delivery time). Building a day reads only that day's folders (and the evening before), so its
cost does not grow with the days stored. Per-file figures (rows, first and last delivery time,
the days a file feeds) are computed here too, once per chunk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from flexpower_assets.domain.time import day_window, delivery_day_of

if TYPE_CHECKING:  # the parse workers stage rows without DuckDB: they need not import it
    from resources.warehouse import Warehouse

# the column holding each row's time, per kind (kinds without one feed days by their own rule)
TIME_COLUMN = {
    "forecast": "delivery_start",
    "live": "timestamp",
    "final_production": "delivery_start",
    "redispatch_flags": "delivery_start",
    "redispatch_compensation": "delivery_start",
    "private_trades": "delivery_start",
    "public_trades": "delivery_start",
    "imbalance_estimate": "delivery_start",
    "imbalance_final": "delivery_start",
    "price_scenarios": "delivery_start",
    "day_ahead_prices": "delivery_start",
    "inflow_forecast": "delivery_start",
    "reservoir_level": "measured_at",
}
# how far past its time a row still feeds a day: a live point holds for up to 15 minutes (into
# the next day's first QH); a product runs until its delivery end
REACH = {
    "live": pl.col("timestamp") + timedelta(minutes=15) - timedelta(microseconds=1),
    "private_trades": pl.col("delivery_end") - timedelta(microseconds=1),
    "public_trades": pl.col("delivery_end") - timedelta(microseconds=1),
}


def _with_day(frame: pl.DataFrame, column: str, name: str = "day") -> pl.DataFrame:
    """Add the Berlin delivery day of a UTC time column (converted once per distinct time)."""
    lookup = frame.select(pl.col(column).unique()).with_columns(delivery_day_of(pl.col(column)).alias(name))
    return frame.join(lookup, on=column, how="left")


PER_FILE_COLUMNS = {"file_index": pl.Int32, "n_rows": pl.Int64, "first_delivery_start": pl.Datetime("us", "UTC"),
                    "last_delivery_start": pl.Datetime("us", "UTC"), "first_day": pl.Date, "last_day": pl.Date}


def per_file_stats(kind: str | None, rows: pl.DataFrame) -> pl.DataFrame:
    """Rows, first and last delivery time and the days spanned, one row per file of a chunk.

    The days are the span from the first row's day to the day the last row reaches into: every
    inbound series is contiguous in time, and one time-zone conversion per file instead of per
    row keeps this cheap for ~100k forecast files.
    """
    if rows.is_empty():
        return pl.DataFrame(schema=PER_FILE_COLUMNS)
    column = TIME_COLUMN.get(kind)
    if column is None:
        stats = rows.group_by("file_index").agg(n_rows=pl.len())
    else:
        stats = rows.group_by("file_index").agg(
            n_rows=pl.len(), first_delivery_start=pl.col(column).min(),
            last_delivery_start=pl.col(column).max(), reach=REACH.get(kind, pl.col(column)).max(),
        ).with_columns(first_day=delivery_day_of(pl.col("first_delivery_start")),
                       last_day=delivery_day_of(pl.col("reach")))
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in PER_FILE_COLUMNS.items()
               if name not in stats.columns]
    return stats.with_columns(missing).select([pl.col(n).cast(t) for n, t in PER_FILE_COLUMNS.items()])


def days_of(per_file: pl.DataFrame) -> list[date]:
    """Every day spanned by some file of ``per_file``."""
    spans = per_file.filter(pl.col("first_day").is_not_null())
    if spans.is_empty():
        return []
    return spans.select(pl.date_ranges("first_day", "last_day").explode().unique().sort()).to_series().to_list()


def staging_dir(warehouse: Warehouse) -> Path:
    return Path(f"{warehouse.path}.staging")


def stage(rows: pl.DataFrame, kind: str, staging: Path, chunk_name: str) -> None:
    """Write a chunk's rows as Parquet, one file per delivery day of the rows' own time."""
    column = TIME_COLUMN.get(kind)
    groups = {"all": rows} if column is None else by_delivery_day(rows, column)
    for day, part in groups.items():
        folder = staging / kind / day
        folder.mkdir(parents=True, exist_ok=True)
        # written under a temporary name and renamed: a reader never sees half a file
        target = folder / f"{chunk_name}.parquet"
        partial_file = folder / f"{chunk_name}.parquet.partial"
        part.write_parquet(partial_file, compression="lz4", statistics=True)
        os.replace(partial_file, target)


def by_delivery_day(rows: pl.DataFrame, column: str) -> dict[str, pl.DataFrame]:
    """The rows of each Berlin delivery day of ``column`` (a UTC time), by day (``YYYY-MM-DD``).

    A chunk spans a few days: each row's day is found by one binary search among the days' UTC
    starts (no time-zone conversion per row), and the rows are split by it in one pass, in their
    order. Rows without a time go under ``None``.
    """
    if rows.is_empty():
        return {}
    if rows[column].null_count():
        keyed = _with_day(rows, column, "_day")
        return {str(day): part.drop("_day") for (day,), part in keyed.partition_by("_day", as_dict=True).items()}
    bounds = rows.select(first=delivery_day_of(pl.col(column).min()), last=delivery_day_of(pl.col(column).max()))
    first, last = bounds.row(0)
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    if len(days) == 1:
        return {str(first): rows}
    # day k holds [start of day k, start of day k + 1): the days' windows meet end to start
    starts = pl.Series([day_window(day)[0] for day in days]).cast(rows[column].dtype)
    which = starts.search_sorted(rows[column], side="right") - 1
    parts = rows.with_columns(which.alias("_day")).partition_by("_day", as_dict=True, maintain_order=True)
    return {str(days[k]): part.drop("_day") for (k,), part in sorted(parts.items())}


def file_days(kind: str, frame: pl.DataFrame) -> list[date]:
    """Delivery days a file's rows feed (empty for kinds whose rows carry no delivery time)."""
    return days_of(per_file_stats(kind, frame.with_columns(file_index=pl.lit(0, dtype=pl.Int32))))


def staged_files(warehouse: Warehouse, kind: str, days: Iterable[date] | None = None) -> list[str]:
    """The Parquet files staged for a kind: all of them, or those of some delivery days."""
    root = staging_dir(warehouse) / kind
    if TIME_COLUMN.get(kind) is None:
        folders = [root / "all"]
    elif days is None:
        folders = [folder for folder in root.iterdir() if folder.is_dir()] if root.exists() else []
    else:
        folders = [root / str(day) for day in days]
    return sorted(str(path) for folder in folders if folder.is_dir() for path in folder.glob("*.parquet"))
