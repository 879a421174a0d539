"""Hydro plants of the bidding clients (``hydro/``).

- ``technical_data_<YYYY-MM-DD>T<HHMMSS>Z.json``: ``{"plants": [{...}, ...]}``, one object per
  reservoir plant with the keys of ``HydroPlant`` (numbers are JSON numbers, never text or
  booleans). A plant listed twice with different values rejects the file.
- ``inflow_forecast_<asset_id>_<YYYYMMDDTHHMMZ>.csv``: ``delivery_start,inflow_mwh`` per QH.
- ``reservoir_level_<asset_id>_<YYYYMMDDTHHMMZ>.csv``: ``measured_at,content_mwh``.

The asset and the creation time (UTC) come from the file name.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import polars as pl

from flexpower_assets.parsers.errors import (
    LINE,
    InputFileError,
    collapse_duplicates,
    match_name,
    read_csv_strings,
    reject_rows,
    utc_from_name,
    validate_rows,
)
from flexpower_assets.parsers.market import iso_utc, number, on_mtu_grid
from flexpower_assets.schemas import columns_of
from flexpower_assets.schemas.bidding import HydroPlant, InflowForecast, ReservoirLevel

TECHNICAL_DATA_NAME = re.compile(r"technical_data_(?P<created>\d{4}-\d{2}-\d{2}T\d{6}Z)\.json")
INFLOW_FORECAST_NAME = re.compile(r"inflow_forecast_(?P<asset>[A-Za-z0-9][A-Za-z0-9_-]*?)_(?P<created>\d{8}T\d{4}Z)\.csv")
RESERVOIR_LEVEL_NAME = re.compile(r"reservoir_level_(?P<asset>[A-Za-z0-9][A-Za-z0-9_-]*?)_(?P<created>\d{8}T\d{4}Z)\.csv")
TEXT_KEYS = ("asset_id", "client_id")
NUMBER_KEYS = tuple(name for name in columns_of(HydroPlant) if name not in (*TEXT_KEYS, "file_created_at"))
UTC_US = pl.Datetime("us", "UTC")


def parse_hydro_technical_data(path: Path) -> pl.DataFrame:
    """One row per plant; ``file_created_at`` from the name."""
    path = Path(path)
    created = utc_from_name(path, match_name(path, TECHNICAL_DATA_NAME)["created"], "%Y-%m-%dT%H%M%SZ")
    raw = path.read_bytes()
    if not raw.strip():
        raise InputFileError(path, f"file is empty ({len(raw)} bytes)")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InputFileError(path, f"not valid JSON: {error.msg}", line=error.lineno) from None
    plants = doc.get("plants") if isinstance(doc, dict) else None
    if not isinstance(plants, list) or not plants:
        raise InputFileError(path, "expected an object with a non-empty list 'plants'", location="plants")
    rows: dict[str, dict] = {}
    where: dict[str, int] = {}
    for i, entry in enumerate(plants):
        row = _plant(path, i, entry)
        asset = row["asset_id"]
        if asset in rows and rows[asset] != row:
            raise InputFileError(path, f"plant {asset!r} is listed at plants[{where[asset]}] and plants[{i}] "
                                       "with different values", location=f"plants[{i}]")
        rows.setdefault(asset, row)
        where.setdefault(asset, i)
    positions = list(where.values())
    frame = pl.DataFrame(list(rows.values()),
                         schema={k: (pl.String if k in TEXT_KEYS else pl.Float64) for k in (*TEXT_KEYS, *NUMBER_KEYS)})
    frame = frame.with_columns(file_created_at=pl.lit(created, dtype=UTC_US))
    for i, row in enumerate(frame.iter_rows(named=True)):
        if row["reservoir_min_mwh"] > row["reservoir_max_mwh"]:
            raise InputFileError(path, f"reservoir_min_mwh {row['reservoir_min_mwh']} exceeds reservoir_max_mwh "
                                       f"{row['reservoir_max_mwh']}", location=f"plants[{positions[i]}]")
        if row["pump_max_mw"] > 0 and row["pump_efficiency"] <= 0:
            raise InputFileError(path, "a plant with a pump needs a pump_efficiency above 0",
                                 location=f"plants[{positions[i]}].pump_efficiency")
    return validate_rows(frame, HydroPlant, path,
                         location=lambda row, column: f"plants[{positions[row]}]" + (f".{column}" if column else ""))


def _plant(path: Path, i: int, entry: object) -> dict:
    if not isinstance(entry, dict):
        raise InputFileError(path, "expected an object", location=f"plants[{i}]")
    row: dict = {}
    for key in (*TEXT_KEYS, *NUMBER_KEYS):
        if key not in entry:
            raise InputFileError(path, f"missing key {key!r}", location=f"plants[{i}]")
        value = entry[key]
        if key in TEXT_KEYS and (not isinstance(value, str) or not value.strip()):
            raise InputFileError(path, f"{value!r} is not a non-empty text", location=f"plants[{i}].{key}")
        if key in NUMBER_KEYS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputFileError(path, f"{value!r} is not a number", location=f"plants[{i}].{key}")
            value = float(value)
        row[key] = value
    unknown = sorted(set(entry) - set(row))
    if unknown:
        raise InputFileError(path, f"unknown key {unknown[0]!r}", location=f"plants[{i}]")
    return row


def parse_inflow_forecast(path: Path) -> pl.DataFrame:
    """Forecast inflow (MWh) per QH of one plant."""
    path = Path(path)
    match = match_name(path, INFLOW_FORECAST_NAME)
    created = utc_from_name(path, match["created"], "%Y%m%dT%H%MZ")
    raw = _rows(path, ["delivery_start", "inflow_mwh"])
    frame = pl.DataFrame({"delivery_start": iso_utc(raw, path, "delivery_start"),
                          "inflow_mwh": number(raw, path, "inflow_mwh"), LINE: raw[LINE]})
    on_mtu_grid(frame, path)
    frame = collapse_duplicates(frame, ["delivery_start"], path)
    frame = frame.with_columns(asset_id=pl.lit(match["asset"]), file_created_at=pl.lit(created, dtype=UTC_US))
    return validate_rows(frame, InflowForecast, path)


def parse_reservoir_level(path: Path) -> pl.DataFrame:
    """Measured contents (MWh) of one plant; a measurement after the file's creation is rejected."""
    path = Path(path)
    match = match_name(path, RESERVOIR_LEVEL_NAME)
    created = utc_from_name(path, match["created"], "%Y%m%dT%H%MZ")
    raw = _rows(path, ["measured_at", "content_mwh"])
    frame = pl.DataFrame({"measured_at": iso_utc(raw, path, "measured_at"),
                          "content_mwh": number(raw, path, "content_mwh"), LINE: raw[LINE]})
    reject_rows(frame, path, pl.col("measured_at") > created,
                lambda row: f"column 'measured_at': {row['measured_at']:%Y-%m-%dT%H:%M:%S}Z is after the file "
                            f"was created ({created:%Y-%m-%dT%H:%M}Z)")
    frame = collapse_duplicates(frame, ["measured_at"], path)
    frame = frame.with_columns(asset_id=pl.lit(match["asset"]), file_created_at=pl.lit(created, dtype=UTC_US))
    return validate_rows(frame, ReservoirLevel, path)


def _rows(path: Path, header: list[str]) -> pl.DataFrame:
    raw = read_csv_strings(path, header)
    if raw.is_empty():
        raise InputFileError(path, "the file holds a header and no rows", line=2)
    return raw
