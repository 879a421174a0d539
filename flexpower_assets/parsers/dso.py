"""DSO: final measured production, redispatch flags and redispatch compensation prices (CSV).

DSO files are keyed by metering point, never by asset. Timestamps are UTC, either in the DSO
style ``2025-06-08 00:00:00.000000 UTC`` or as ISO ``2025-06-08T10:15:00Z`` (flags).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl

from flexpower_assets.parsers.errors import (
    LINE,
    InputFileError,
    collapse_duplicates,
    match_name,
    parse_column,
    read_csv_strings,
    reject_rows,
    utc_from_name,
    validate_rows,
)
from flexpower_assets.schemas.inbound import FinalProduction, RedispatchCompensation, RedispatchFlag

FINAL_PRODUCTION_NAME = re.compile(r"final_production_(?P<mp>.+)_(?P<date>\d{8})\.csv")
REDISPATCH_FLAG_NAME = re.compile(r"redispatch_flag_(?P<mp>.+)_(?P<issued>\d{8}_\d{4})\.csv")
REDISPATCH_COMPENSATION_NAME = re.compile(r"redispatch_compensation_(?P<date>\d{4}-\d{2}-\d{2})\.csv")

DSO_TIME = "%Y-%m-%d %H:%M:%S%.f UTC"
ISO_UTC_TIME = "%Y-%m-%dT%H:%M:%S%.fZ"
QH = dt.timedelta(minutes=15)
UTC_US = pl.Datetime("us", "UTC")
POWER_COLUMN = re.compile(r"(?P<mp>.+)__kw_")


def parse_final_production(path: Path) -> pl.DataFrame:
    """QH average power (kW) of one metering point; ``file_date`` (from the name) orders corrections.

    The metering point is read from the power column's name ``<mp>__kw_`` and must be the one
    in the file name.
    """
    path = Path(path)
    name = match_name(path, FINAL_PRODUCTION_NAME)
    file_date = _date_of(path, name["date"], "%Y%m%d")
    raw = read_csv_strings(path, None)
    start_column, power_column = _final_production_header(path, raw.columns, name["mp"])
    frame = pl.DataFrame({
        "metering_point_id": pl.Series([name["mp"]] * raw.height, dtype=pl.String),
        "delivery_start": _time(raw, path, start_column, DSO_TIME),
        "power_kw": _number(raw, path, power_column),
        "file_date": pl.Series([file_date] * raw.height, dtype=pl.Date),
        LINE: raw[LINE],
    })
    _reject_off_quarter_hour(frame, path, start_column)
    frame = collapse_duplicates(frame, ["delivery_start"], path)
    return validate_rows(frame, FinalProduction, path,
                         names={"delivery_start": start_column, "power_kw": power_column})


def _final_production_header(path: Path, columns: list[str], mp: str) -> tuple[str, str]:
    expected = f"delivery_start__utc_,{mp}__kw_"
    found = [c for c in columns if c != LINE]
    power = POWER_COLUMN.fullmatch(found[1]) if len(found) == 2 else None
    if len(found) != 2 or found[0] != "delivery_start__utc_" or power is None:
        raise InputFileError(path, f"wrong header {','.join(found)!r}; expected {expected!r}", line=1)
    if power["mp"] != mp:
        raise InputFileError(path, f"the column {found[1]!r} names metering point {power['mp']!r}, "
                             f"the file name {mp!r}", line=1)
    return found[0], found[1]


def parse_redispatch_flags(path: Path) -> pl.DataFrame:
    """Curtailed QHs of one metering point (from the name); ``issued_at`` is the name's UTC
    date and HHMM. ``is_redispatched`` is 0 or 1; ``delivery_end`` must be start + 15 min."""
    path = Path(path)
    name = match_name(path, REDISPATCH_FLAG_NAME)
    issued_at = utc_from_name(path, name["issued"], "%Y%m%d_%H%M")
    raw = read_csv_strings(path, ["delivery_start", "delivery_end", "is_redispatched"])
    reject_rows(raw, path, ~pl.col("is_redispatched").is_in(["0", "1"]),
                lambda row: f"column 'is_redispatched': {row['is_redispatched']!r} is not 0 or 1")
    frame = pl.DataFrame({
        "metering_point_id": pl.Series([name["mp"]] * raw.height, dtype=pl.String),
        "delivery_start": _time(raw, path, "delivery_start", ISO_UTC_TIME),
        "delivery_end": _time(raw, path, "delivery_end", ISO_UTC_TIME),
        "is_redispatched": raw["is_redispatched"] == "1",
        "issued_at": pl.Series([issued_at] * raw.height, dtype=UTC_US),
        LINE: raw[LINE],
    })
    _reject_off_quarter_hour(frame, path, "delivery_start")
    _reject_not_one_quarter_hour(frame, path)
    frame = collapse_duplicates(frame.drop("delivery_end"), ["delivery_start"], path)
    return validate_rows(frame, RedispatchFlag, path)


def parse_redispatch_compensation(path: Path) -> pl.DataFrame:
    """The DSO's compensation price per QH; ``file_date`` is the date in the name (a file spans
    several days whatever its name says)."""
    path = Path(path)
    file_date = _date_of(path, match_name(path, REDISPATCH_COMPENSATION_NAME)["date"], "%Y-%m-%d")
    header = ["delivery_start__utc_", "delivery_end__utc_", "price__euro_per_mwh_"]
    raw = read_csv_strings(path, header)
    frame = pl.DataFrame({
        "delivery_start": _time(raw, path, "delivery_start__utc_", DSO_TIME),
        "delivery_end": _time(raw, path, "delivery_end__utc_", DSO_TIME),
        "price_eur_per_mwh": _number(raw, path, "price__euro_per_mwh_"),
        "file_date": pl.Series([file_date] * raw.height, dtype=pl.Date),
        LINE: raw[LINE],
    })
    _reject_off_quarter_hour(frame, path, "delivery_start__utc_")
    _reject_not_one_quarter_hour(frame, path)
    frame = collapse_duplicates(frame.drop("delivery_end"), ["delivery_start"], path)
    return validate_rows(frame, RedispatchCompensation, path,
                         names={"delivery_start": header[0], "price_eur_per_mwh": header[2]})


def _date_of(path: Path, text: str, fmt: str) -> dt.date:
    return utc_from_name(path, text, fmt).date()


def _time(raw: pl.DataFrame, path: Path, column: str, fmt: str) -> pl.Series:
    parsed = pl.col(column).str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False)
    return parse_column(raw, path, column, parsed, f"a UTC time like {fmt!r}")


def _number(raw: pl.DataFrame, path: Path, column: str) -> pl.Series:
    return parse_column(raw, path, column, pl.col(column).cast(pl.Float64, strict=False), "a number")


def _reject_off_quarter_hour(frame: pl.DataFrame, path: Path, label: str) -> None:
    reject_rows(frame, path, pl.col("delivery_start").dt.truncate("15m") != pl.col("delivery_start"),
                lambda row: f"column {label!r}: {row['delivery_start']:%Y-%m-%d %H:%M:%S} UTC is not "
                            "the start of a quarter-hour")


def _reject_not_one_quarter_hour(frame: pl.DataFrame, path: Path) -> None:
    reject_rows(frame, path, pl.col("delivery_end") - pl.col("delivery_start") != QH,
                lambda row: f"delivery_end {row['delivery_end']:%Y-%m-%d %H:%M} is not delivery_start "
                            f"{row['delivery_start']:%Y-%m-%d %H:%M} + 15 min")
