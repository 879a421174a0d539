"""Imbalance prices: AEP estimates and final reBAP (official German CSV exports).

Semicolon-separated UTF-8 with German headers, decimal commas (``-14,35``), dates
``DD.MM.YYYY`` and times ``HH:MM`` in the zone named in ``Zeitzone``. Only ``UTC`` is
accepted: in a local zone the repeated autumn hour cannot be told apart.
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
from flexpower_assets.schemas.inbound import ImbalanceEstimate, ImbalanceFinal

ESTIMATE_NAME = re.compile(r"imbalance_price_estimation_(?P<created>\d{4}-\d{2}-\d{2}T\d{6}Z)\.csv")
FINAL_NAME = re.compile(r"imbalance_price_final_(?P<created>\d{8}_\d{6})\.csv")
COMMON_HEADER = ["Datum", "Zeitzone", "von", "bis", "Datenkategorie", "Datentyp", "Einheit"]
ESTIMATE_HEADER = [*COMMON_HEADER, "AEP-Schätzer", "Status"]
FINAL_HEADER = [*COMMON_HEADER, "reBAP unterdeckt", "reBAP ueberdeckt"]
PRICE_UNIT = "EUR/MWh"
LOCAL_ZONES = {"CET", "CEST", "MEZ", "MESZ", "Europe/Berlin", "MEZ/MESZ", "CET/CEST", "Lokalzeit"}
#: A German number: optional sign, digits (optionally grouped by dots), optional decimal comma.
GERMAN_NUMBER = r"^-?(\d+|\d{1,3}(\.\d{3})+)(,\d+)?$"
QH = dt.timedelta(minutes=15)


def parse_imbalance_estimate(path: Path) -> pl.DataFrame:
    """One AEP estimate per QH; ``status`` kept as the published text; ``file_created_at`` from
    the name ``imbalance_price_estimation_<YYYY-MM-DDTHHMMSSZ>.csv``."""
    path = Path(path)
    created = utc_from_name(path, match_name(path, ESTIMATE_NAME)["created"], "%Y-%m-%dT%H%M%SZ")
    raw = read_csv_strings(path, ESTIMATE_HEADER, separator=";")
    frame = _quarter_hours(raw, path).with_columns(
        price_eur_per_mwh=_german_number(raw, path, "AEP-Schätzer"),
        status=raw["Status"],
        file_created_at=pl.lit(created, dtype=pl.Datetime("us", "UTC")),
    )
    frame = collapse_duplicates(frame, ["delivery_start"], path)
    return validate_rows(frame, ImbalanceEstimate, path,
                         names={"price_eur_per_mwh": "AEP-Schätzer", "status": "Status"})


def parse_imbalance_final(path: Path) -> pl.DataFrame:
    """Final reBAP per QH: ``price_short`` (unterdeckt) and ``price_long`` (ueberdeckt);
    ``file_created_at`` from the name ``imbalance_price_final_<YYYYMMDD>_<HHMMSS>.csv`` (UTC)."""
    path = Path(path)
    created = utc_from_name(path, match_name(path, FINAL_NAME)["created"], "%Y%m%d_%H%M%S")
    raw = read_csv_strings(path, FINAL_HEADER, separator=";")
    frame = _quarter_hours(raw, path).with_columns(
        price_short_eur_per_mwh=_german_number(raw, path, "reBAP unterdeckt"),
        price_long_eur_per_mwh=_german_number(raw, path, "reBAP ueberdeckt"),
        file_created_at=pl.lit(created, dtype=pl.Datetime("us", "UTC")),
    )
    frame = collapse_duplicates(frame, ["delivery_start"], path)
    return validate_rows(frame, ImbalanceFinal, path, names={
        "price_short_eur_per_mwh": "reBAP unterdeckt", "price_long_eur_per_mwh": "reBAP ueberdeckt"})


def _quarter_hours(raw: pl.DataFrame, path: Path) -> pl.DataFrame:
    """``delivery_start`` (UTC) of every row, with ``LINE``; checks zone, unit and QH length.

    ``bis`` at or before ``von`` is on the next day (``23:45``-``00:00`` ends at midnight).
    """
    reject_rows(raw, path, pl.col("Zeitzone").is_null() | (pl.col("Zeitzone") != "UTC"),
                lambda row: _zone_problem(row["Zeitzone"]))
    reject_rows(raw, path, pl.col("Einheit").is_null() | (pl.col("Einheit") != PRICE_UNIT),
                lambda row: f"column 'Einheit': unknown unit {row['Einheit']!r} (expected {PRICE_UNIT!r})")
    day = parse_column(raw, path, "Datum", pl.col("Datum").str.to_date("%d.%m.%Y", strict=False),
                       "a date DD.MM.YYYY")
    start = parse_column(raw, path, "von", pl.col("von").str.to_time("%H:%M", strict=False), "a time HH:MM")
    end = parse_column(raw, path, "bis", pl.col("bis").str.to_time("%H:%M", strict=False), "a time HH:MM")
    frame = pl.DataFrame({"day": day, "von": start, "bis": end, LINE: raw[LINE]}).with_columns(
        delivery_start=pl.col("day").dt.combine(pl.col("von"), time_unit="us").dt.replace_time_zone("UTC"),
        delivery_end=pl.col("day").dt.combine(pl.col("bis"), time_unit="us").dt.replace_time_zone("UTC"),
    ).with_columns(
        delivery_end=pl.when(pl.col("bis") <= pl.col("von"))
        .then(pl.col("delivery_end").dt.offset_by("1d")).otherwise(pl.col("delivery_end")),
    )
    reject_rows(frame, path, pl.col("delivery_start").dt.truncate("15m") != pl.col("delivery_start"),
                lambda row: f"column 'von': {row['von']:%H:%M} is not the start of a quarter-hour")
    reject_rows(frame, path, pl.col("delivery_end") - pl.col("delivery_start") != QH,
                lambda row: f"von {row['von']:%H:%M} to bis {row['bis']:%H:%M} is not one quarter-hour")
    return frame.select("delivery_start", LINE)


def _zone_problem(zone: str | None) -> str:
    if zone in LOCAL_ZONES:
        return (f"column 'Zeitzone': {zone!r} is a local time zone: the repeated hour of the autumn "
                "clock change cannot be told apart; only UTC files are accepted")
    return f"column 'Zeitzone': unknown time zone {zone!r} (only UTC is accepted)"


def _german_number(raw: pl.DataFrame, path: Path, column: str) -> pl.Series:
    """A number with a decimal comma (and optional thousands dots), e.g. ``-1.234,5``."""
    text = pl.col(column)
    parsed = pl.when(text.str.contains(GERMAN_NUMBER)).then(
        text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
        .cast(pl.Float64, strict=False))
    return parse_column(raw, path, column, parsed, "a number with a decimal comma")
