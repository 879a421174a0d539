"""Exchange: private and public trade exports (``exchange/{Private,Public}_Trades-*.csv``).

Both exports share one layout: a ``#`` title line, then a semicolon-separated header.
``Volume`` is power in MW over the delivery period whatever ``VolumeUnit`` says; the label is
kept as published (``volume_unit_label``) so that a data-quality check can report it. Public
exports hold hundreds of thousands of rows: every check here is a polars expression.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl

from flexpower_assets.parsers.errors import (
    LINE,
    collapse_duplicates,
    match_name,
    parse_column,
    read_csv_strings,
    reject_rows,
    utc_from_name,
    validate_rows,
)
from flexpower_assets.schemas.inbound import Trade

_EXPORT = r"_Trades-(?P<day>\d{8})-(?P<exported>\d{8}T\d{9}Z)\.csv"
PRIVATE_TRADES_NAME = re.compile("Private" + _EXPORT)
PUBLIC_TRADES_NAME = re.compile("Public" + _EXPORT)
TRADES_NAME = re.compile("(?:Private|Public)" + _EXPORT)
#: The volume labels the exchange is known to write (FORMATS.md); any other is an unknown unit.
VOLUME_UNITS = ["MWH"]
HEADER = ["TradeId", "Side", "DeliveryStart", "DeliveryEnd", "ExecutionTime", "Price", "Currency",
          "Volume", "VolumeUnit"]
TIME_WITH_OFFSET = "%Y-%m-%d %H:%M:%S%.f%:z"
PRODUCT_LENGTHS = [dt.timedelta(minutes=15), dt.timedelta(minutes=60)]
FILE_NAMES = {
    "trade_id": "TradeId", "side": "Side", "delivery_start": "DeliveryStart",
    "delivery_end": "DeliveryEnd", "execution_time": "ExecutionTime", "price_eur_per_mwh": "Price",
    "currency": "Currency", "volume_mw": "Volume", "volume_unit_label": "VolumeUnit",
}


def parse_trades(path: Path) -> pl.DataFrame:
    """One row per trade of a private or public export; ``exported_at`` from the file name.

    Rejects an empty file, a wrong header, an unparsable number or time, a side other than
    BUY/SELL, a currency other than EUR, a VolumeUnit other than the documented ``MWH`` (an
    unknown unit: ``GWH`` would mean another magnitude, so it is not guessed), a product that is neither 15 nor 60 minutes long and a
    TradeId repeated with different values (identical repeats are kept once).
    """
    path = Path(path)
    exported = utc_from_name(path, match_name(path, TRADES_NAME)["exported"], "%Y%m%dT%H%M%S%fZ")
    raw = read_csv_strings(path, HEADER, separator=";", title_comment=True)
    reject_rows(raw, path, ~pl.col("Side").is_in(["BUY", "SELL"]),
                lambda row: f"column 'Side': {row['Side']!r} is not BUY or SELL")
    reject_rows(raw, path, pl.col("Currency") != "EUR",
                lambda row: f"column 'Currency': unknown currency {row['Currency']!r} (only EUR)")
    reject_rows(raw, path, ~pl.col("VolumeUnit").is_in(VOLUME_UNITS) | pl.col("VolumeUnit").is_null(),
                lambda row: f"column 'VolumeUnit': unknown unit {row['VolumeUnit']!r} "
                            f"(the exchange documents {', '.join(VOLUME_UNITS)})")
    frame = pl.DataFrame({
        "trade_id": raw["TradeId"],
        "side": raw["Side"],
        "delivery_start": _time(raw, path, "DeliveryStart"),
        "delivery_end": _time(raw, path, "DeliveryEnd"),
        "execution_time": _time(raw, path, "ExecutionTime"),
        "price_eur_per_mwh": _number(raw, path, "Price"),
        "currency": raw["Currency"],
        "volume_mw": _number(raw, path, "Volume"),
        "volume_unit_label": raw["VolumeUnit"],
        LINE: raw[LINE],
    }).with_columns(exported_at=pl.lit(exported, dtype=pl.Datetime("us", "UTC")))
    length = pl.col("delivery_end") - pl.col("delivery_start")
    reject_rows(frame, path, ~length.is_in(PRODUCT_LENGTHS),
                lambda row: f"product {row['delivery_start']:%Y-%m-%d %H:%M} to "
                            f"{row['delivery_end']:%Y-%m-%d %H:%M} UTC is neither 15 nor 60 minutes long")
    start = pl.col("delivery_start")
    reject_rows(frame, path, start.dt.truncate("15m") != start,
                lambda row: f"product starts at {row['delivery_start']:%Y-%m-%d %H:%M:%S} UTC, "
                            "not on a quarter-hour")
    frame = collapse_duplicates(frame, ["trade_id"], path)
    return validate_rows(frame, Trade, path, names=FILE_NAMES)


def _time(raw: pl.DataFrame, path: Path, column: str) -> pl.Series:
    parsed = pl.col(column).str.to_datetime(TIME_WITH_OFFSET, time_unit="us", time_zone="UTC",
                                            strict=False)
    return parse_column(raw, path, column, parsed, "a time like '2025-06-08 00:00:00+00:00'")


def _number(raw: pl.DataFrame, path: Path, column: str) -> pl.Series:
    return parse_column(raw, path, column, pl.col(column).cast(pl.Float64, strict=False), "a number")
