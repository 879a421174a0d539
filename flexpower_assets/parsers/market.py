"""Day-ahead market: price scenarios from the vendor and the auction results (``market/``).

- ``price_scenarios_<YYYYMMDD>_<YYYYMMDDTHHMMSSZ>.csv``: ``scenario_id,delivery_start,price_eur_per_mwh``;
  the first stamp is the delivery day, the second the file's creation (UTC). Every scenario
  must give a price for every MTU of the delivery day and nothing else: a scenario with a gap
  would make its solves meaningless, so the file is rejected whole.
- ``day_ahead_prices_<YYYYMMDD>.csv``: ``delivery_start,price_eur_per_mwh``, every MTU of the day.

Times are ISO 8601 UTC (``2025-10-14T22:00:00Z``) on the 15-minute MTU grid.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl

from flexpower_assets.domain.time import day_window
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
from flexpower_assets.schemas.bidding import DayAheadPrice, PriceScenario

PRICE_SCENARIOS_NAME = re.compile(r"price_scenarios_(?P<day>\d{8})_(?P<created>\d{8}T\d{6}Z)\.csv")
DAY_AHEAD_PRICES_NAME = re.compile(r"day_ahead_prices_(?P<day>\d{8})\.csv")
SCENARIO_HEADER = ["scenario_id", "delivery_start", "price_eur_per_mwh"]
DAY_AHEAD_HEADER = ["delivery_start", "price_eur_per_mwh"]
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
MTU = dt.timedelta(minutes=15)


def parse_price_scenarios(path: Path) -> pl.DataFrame:
    """One row per scenario and MTU; ``delivery_day`` and ``file_created_at`` from the name."""
    path = Path(path)
    match = match_name(path, PRICE_SCENARIOS_NAME)
    day = _day_from_name(path, match["day"])
    created = utc_from_name(path, match["created"], "%Y%m%dT%H%M%SZ")
    raw = read_csv_strings(path, SCENARIO_HEADER)
    _not_empty(path, raw)
    scenario = parse_column(raw, path, "scenario_id", pl.col("scenario_id").str.to_integer(strict=False),
                            "a whole number")
    frame = pl.DataFrame({
        "scenario_id": scenario,
        "delivery_start": iso_utc(raw, path, "delivery_start"),
        "price_eur_per_mwh": number(raw, path, "price_eur_per_mwh"),
        LINE: raw[LINE],
    })
    reject_rows(frame, path, pl.col("scenario_id") < 1,
                lambda row: f"column 'scenario_id': {row['scenario_id']} is not a scenario number (1, 2, ...)")
    check_mtus_of_day(frame, path, day)
    frame = collapse_duplicates(frame, ["scenario_id", "delivery_start"], path)
    _every_mtu_per_scenario(frame, path, day)
    frame = frame.with_columns(delivery_day=pl.lit(day), file_created_at=pl.lit(created, dtype=pl.Datetime("us", "UTC")))
    return validate_rows(frame, PriceScenario, path)


def parse_day_ahead_prices(path: Path) -> pl.DataFrame:
    """The auction's clearing price per MTU of the day in the name."""
    path = Path(path)
    day = _day_from_name(path, match_name(path, DAY_AHEAD_PRICES_NAME)["day"])
    raw = read_csv_strings(path, DAY_AHEAD_HEADER)
    _not_empty(path, raw)
    frame = pl.DataFrame({
        "delivery_start": iso_utc(raw, path, "delivery_start"),
        "price_eur_per_mwh": number(raw, path, "price_eur_per_mwh"),
        LINE: raw[LINE],
    })
    check_mtus_of_day(frame, path, day)
    frame = collapse_duplicates(frame, ["delivery_start"], path)
    expected = _day_mtus(day)
    missing = sorted(set(expected) - set(frame["delivery_start"].to_list()))
    if missing:
        raise InputFileError(path, f"no price for {len(missing)} of the day's {len(expected)} MTUs "
                                   f"(first {missing[0]:%Y-%m-%dT%H:%M}Z)")
    return validate_rows(frame.with_columns(delivery_day=pl.lit(day)), DayAheadPrice, path)


# --- shared with the hydro parsers --------------------------------------------------------------

def iso_utc(raw: pl.DataFrame, path: Path, column: str) -> pl.Series:
    """An ISO 8601 UTC time column (``2025-10-14T22:00:00Z``)."""
    parsed = pl.col(column).str.to_datetime(ISO_UTC, time_unit="us", strict=False).dt.replace_time_zone("UTC")
    return parse_column(raw, path, column, parsed, "a UTC time like '2025-10-14T22:00:00Z'")


def number(raw: pl.DataFrame, path: Path, column: str) -> pl.Series:
    return parse_column(raw, path, column, pl.col(column).cast(pl.Float64, strict=False), "a number")


def on_mtu_grid(frame: pl.DataFrame, path: Path, column: str = "delivery_start") -> None:
    """Reject a time that is not the start of a 15-minute MTU."""
    reject_rows(frame, path, pl.col(column).dt.truncate("15m") != pl.col(column),
                lambda row: f"column {column!r}: {row[column]:%Y-%m-%dT%H:%M:%S}Z is not the start of a "
                            "15-minute MTU")


def check_mtus_of_day(frame: pl.DataFrame, path: Path, day: dt.date) -> None:
    """Every ``delivery_start`` is an MTU start within the Europe/Berlin delivery day ``day``."""
    on_mtu_grid(frame, path)
    start, end = day_window(day)
    reject_rows(frame, path, (pl.col("delivery_start") < start) | (pl.col("delivery_start") >= end),
                lambda row: f"column 'delivery_start': {row['delivery_start']:%Y-%m-%dT%H:%M}Z is not in "
                            f"delivery day {day} (Europe/Berlin)")


def _day_mtus(day: dt.date) -> list[dt.datetime]:
    start, end = day_window(day)
    return [start + i * MTU for i in range(int((end - start) / MTU))]


def _every_mtu_per_scenario(frame: pl.DataFrame, path: Path, day: dt.date) -> None:
    expected = len(_day_mtus(day))
    counts = frame.group_by("scenario_id").agg(n=pl.len(), line=pl.col(LINE).max()).sort("scenario_id")
    short = counts.filter(pl.col("n") != expected)
    if short.height:
        row = short.row(0, named=True)
        raise InputFileError(path, f"scenario {row['scenario_id']} has prices for {row['n']} of the "
                                   f"day's {expected} MTUs", line=row["line"])


def _day_from_name(path: Path, text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise InputFileError(path, f"file name holds no valid delivery day: {text!r}") from None


def _not_empty(path: Path, raw: pl.DataFrame) -> None:
    if raw.is_empty():
        raise InputFileError(path, "the file holds a header and no rows", line=2)
