"""VPP: technical data, forecast versions and live measured infeed (JSON documents).

Forecasts and live data are columnar documents (``key``, ``column_ids``, ``units``,
``values``): columns are read by name and their units checked. A day brings ~100,000 forecast
files, so they are read in batches by the generic reader of ``parsers.columnar`` (fast path
for documents in the documented layout, detailed path that words every problem); this module
holds what is VPP's: file names, versions, the row rules of forecasts and live points, and
the rules across the files of a batch. A bad file never drops rows of another file.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path

import pandera.errors
import polars as pl

from flexpower_assets.parsers.columnar import (
    FILE_INDEX,
    MAX_EPOCH_MS,
    NUMBER_TYPES,
    UTC_US,
    Batch,
    Columnar,
    epoch_ms_values,
    epoch_us,
    gc_paused,
    in_layout,
    is_number,
    layout_of,
    load,
    load_quickly,
    numbers,
    one_file,
    problem_alone,
    read_columnar,
    rising_in_each_file,
    utc,
    whole_ms,
)
from flexpower_assets.parsers.errors import InputFileError, match_name, schema_problem, utc_from_name
from flexpower_assets.schemas import columns_of, validate
from flexpower_assets.schemas.inbound import ForecastRow, LivePoint, TechnicalAsset

TECHNICAL_DATA_NAME = re.compile(r"technical_data_(?P<created>\d{4}-\d{2}-\d{2}T\d{6}Z)\.json")
FORECAST_NAME = re.compile(r"(?P<asset_id>.+)_(?P<version>\d{8}T\d{4}Z)\.json")
LIVE_NAME = re.compile(r"(?P<label>.+)_(?P<day>\d{8})\.json")

QH_MS = 15 * 60 * 1000
FORECAST_UNITS = {"start": "ms", "end": "ms", "version": "ms", "power": "kW"}
LIVE_UNITS = {"timestamp": "ms", "value": "kW", "quality": "factor"}

#: ForecastRow without its key check: a batch holds one file per (asset, version), checked
#: when the files are read, and each file's starts are checked distinct, so pandera's costly
#: uniqueness pass over millions of rows would find nothing.
_FORECAST_VALUES = copy.deepcopy(ForecastRow.to_schema())
_FORECAST_VALUES.unique = None

#: LivePoint without its key check: a batch holds several files, and two files of one asset
#: may share timestamps (a later delivery of the same day; the newest file wins per timestamp
#: when the day is built, ``domain.infeed.newest_live_points``). Within a file the key is
#: checked: timestamps that strictly increase cannot repeat (``rising_in_each_file``), and
#: the files where they do not are checked one by one (``_reject_repeated_points``).
_LIVE_VALUES = copy.deepcopy(LivePoint.to_schema())
_LIVE_VALUES.unique = None


# --- technical data -------------------------------------------------------------------------

#: Where each TechnicalAsset column sits inside one entry of ``assets``.
TECHNICAL_FIELDS = {
    "asset_id": ("asset_id",),
    "asset_name": ("name",),
    "technology": ("type",),
    "capacity_kw": ("technical_attributes", "capacity_kw"),
    "commissioning_date": ("technical_attributes", "commissioning_date"),
    "status": ("status",),
    "owner_name": ("owner", "name"),
    "latitude": ("location", "latitude"),
    "longitude": ("location", "longitude"),
}
NUMBER_FIELDS = {"capacity_kw", "latitude", "longitude"}
#: The columns read from the file (the registry's TechnicalAsset without the name's timestamp).
TECHNICAL_SCHEMA = {name: dtype for name, dtype in columns_of(TechnicalAsset).items() if name in TECHNICAL_FIELDS}


def parse_technical_data(path: Path) -> pl.DataFrame:
    """One row per asset of a technical-data file; ``capacity_kw`` may be an int or a float.

    ``file_created_at`` is the UTC time in the name. An asset listed twice with different
    values rejects the file; listed twice identically, it is kept once.
    """
    path = Path(path)
    created = utc_from_name(path, match_name(path, TECHNICAL_DATA_NAME)["created"], "%Y-%m-%dT%H%M%SZ")
    doc = load(path)
    assets = doc.get("assets") if isinstance(doc, dict) else None
    if not isinstance(assets, list):
        raise InputFileError(path, "expected an object with a list 'assets'", location="assets")
    rows: dict[str, dict] = {}
    positions: dict[str, int] = {}
    for i, entry in enumerate(assets):
        row = _technical_row(path, i, entry)
        asset = row["asset_id"]
        if asset in rows and rows[asset] != row:
            raise InputFileError(path, f"asset {asset!r} is listed at assets[{positions[asset]}] and "
                                 f"assets[{i}] with different values", location=f"assets[{i}]")
        rows.setdefault(asset, row)
        positions.setdefault(asset, i)
    frame = pl.DataFrame(list(rows.values()), schema=TECHNICAL_SCHEMA)
    frame = frame.with_columns(file_created_at=pl.lit(created, dtype=UTC_US))
    position = list(positions.values())

    def location(row: int, column: str | None) -> str:
        inside = ".".join(TECHNICAL_FIELDS[column]) if column in TECHNICAL_FIELDS else ""
        return f"assets[{position[row]}]" + (f".{inside}" if inside else "")

    try:
        return validate(frame, TechnicalAsset)
    except pandera.errors.SchemaErrors as errors:
        raise schema_problem(path, frame, TechnicalAsset, errors, location=location) from None


def _technical_row(path: Path, i: int, entry: object) -> dict:
    """The TechnicalAsset columns of ``assets[i]``, each checked for its JSON type."""
    if not isinstance(entry, dict):
        raise InputFileError(path, "expected an object", location=f"assets[{i}]")
    row: dict = {}
    for column, keys in TECHNICAL_FIELDS.items():
        value: object = entry
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        where = f"assets[{i}]." + ".".join(keys)
        if column == "asset_id" and (not isinstance(value, str) or not value):
            raise InputFileError(path, "missing asset_id", location=where)
        if column in NUMBER_FIELDS:
            if value is not None and not is_number(value):
                raise InputFileError(path, f"{value!r} is not a number", location=where)
        elif value is not None and not isinstance(value, str):
            raise InputFileError(path, f"{value!r} is not a text", location=where)
        elif column == "commissioning_date" and value is not None:
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise InputFileError(path, f"cannot read {value!r} as a date YYYY-MM-DD",
                                     location=where) from None
        row[column] = value
    return row


# --- forecasts ------------------------------------------------------------------------------

FORECAST_NAMES = {"delivery_start": "start", "version": "version", "power_kw": "power"}
FORECAST_LAYOUT = layout_of(FORECAST_UNITS)


def parse_forecast(path: Path) -> pl.DataFrame:
    """The rows of one forecast file (see ``read_forecast_batch``), without ``file_index``."""
    return one_file(read_forecast_batch, path)


def read_forecast_batch(paths: list[Path], fast: bool = True,
                        contents: list[bytes] | None = None) -> tuple[pl.DataFrame, list[InputFileError]]:
    """Rows of every good forecast file (ForecastRow plus ``file_index`` into ``paths``) and one
    error per bad file, in the order of ``paths``.

    Per file: the name ``<asset_id>_<YYYYMMDDTHHMMZ>.json`` agrees with the content's asset and
    version; the version is on a quarter-hour; every row carries that version; starts are
    distinct. Per row: ``start`` on a quarter-hour, ``end = start + 15 min``, numbers present.
    A second file of the same asset and version is rejected. ``fast=False`` takes the detailed
    path of ``parsers.columnar`` for every file (same result, same messages, slower).
    ``contents`` are the files' bytes when the caller has read them already.
    """
    batch = Batch(paths, FORECAST_UNITS,
                  {"start": epoch_ms_values, "end": epoch_ms_values, "power": numbers}, fast=fast,
                  contents=contents)
    versions: list[int] = []  # epoch ms of each kept document
    known: dict[str, int] = {}
    with gc_paused():
        for i, path in enumerate(batch.paths):
            try:
                source, asset, version_ms, columns = _forecast_document(path, known, fast, batch.raw(i))
            except InputFileError as error:
                batch.reject(i, error)
                continue
            batch.keep(i, source, asset, columns)
            versions.append(version_ms)
        start, end, power = batch.column("start"), batch.column("end"), batch.column("power")
    frame = batch.frame({"start": start, "end": end, "power": power},
                        per_file={"version": [version_ms * 1000 for version_ms in versions]})
    # in this order: a file rejected for repeated starts does not count as read
    batch.reject_repeats(start, "start")
    _reject_second_versions(batch, versions)
    frame = batch.without_rejected(frame)
    frame = frame.with_columns(whole_ms("start", start.dtype), whole_ms("end", end.dtype))
    frame = batch.drop_bad_rows(
        frame,
        pl.col("start").is_null() | pl.col("end").is_null() | pl.col("power").is_null()
        | (pl.col("start") % QH_MS != 0) | (pl.col("end") - pl.col("start") != QH_MS),
        _forecast_rule,
    )
    frame = frame.select(
        "asset_id",
        utc(pl.col("start") * 1000).alias("delivery_start"),
        utc(pl.col("version")).alias("version"),
        pl.col("power").alias("power_kw"),
        FILE_INDEX,
    )
    schema = _FORECAST_VALUES if fast else ForecastRow.to_schema()
    return batch.validate(frame, ForecastRow, schema, FORECAST_NAMES), batch.sorted_errors()


def _forecast_document(path: Path, known: dict[str, int],
                       fast: bool = True, raw: bytes | None = None) -> tuple[Columnar | None, str, int, list[list]]:
    """A forecast file checked as a whole: its ``Columnar`` (None if it passed at once), its
    asset, its version in epoch ms and its start, end and power columns. ``known`` caches the
    versions of file names.

    A document laid out as documented, whose asset and versions agree with its name, passes
    at once; any other goes through ``_checked_forecast``, which words its problem.
    """
    match = FORECAST_NAME.fullmatch(path.name) if fast else None
    if match is not None:
        text = match["version"]
        version_ms = known.get(text)
        if version_ms is None:
            version_ms = known[text] = int(_version_of(path, text).timestamp()) * 1000
        found = in_layout(load_quickly(path, raw), FORECAST_LAYOUT)
        if found is not None:
            asset, (start, end, versions, power) = found
            # counted as the type the file writes: float == int compares slowly (same result)
            same = float(version_ms) if versions and type(versions[0]) is float else version_ms
            if asset == match["asset_id"] and versions.count(same) == len(versions):
                return None, asset, version_ms, [start, end, power]
    checked, version_ms = _checked_forecast(path, raw)
    return checked, checked.asset_id, version_ms, [checked.values[name] for name in ("start", "end", "power")]


def _checked_forecast(path: Path, raw: bytes | None = None) -> tuple[Columnar, int]:
    """A forecast document checked as a whole, step by step, with its version in epoch ms.

    The repeated starts are checked by ``Batch.reject_repeats``."""
    name = match_name(path, FORECAST_NAME)
    version = _version_of(path, name["version"])
    doc = read_columnar(path, FORECAST_UNITS, raw=raw)
    if doc.asset_id != name["asset_id"]:
        raise InputFileError(path, f"the file name names asset {name['asset_id']!r}, the content "
                             f"{doc.asset_id!r}", location="key")
    version_ms = int(version.timestamp()) * 1000
    versions = doc.values["version"]
    if versions.count(version_ms) != doc.length:
        j = next(j for j, value in enumerate(versions) if value != version_ms)
        raise InputFileError(path, f"version {versions[j]!r} ms differs from the file name's version "
                             f"{version:%Y-%m-%d %H:%M} UTC ({version_ms} ms)",
                             location=f"values[{doc.index['version']}][{j}]")
    return doc, version_ms


def _reject_second_versions(batch: Batch, versions: list[int]) -> None:
    """Reject a file of an asset and version already read from an earlier file of the batch."""
    pairs = pl.DataFrame({"asset": batch.assets, "version": versions}, schema={"asset": pl.String, "version": pl.Int64})
    if not pairs.is_duplicated().any():  # the usual batch: one file per asset and version
        return
    seen: dict[tuple[str, int], int] = {}
    for i, asset, version_ms in zip(batch.kept, batch.assets, versions):
        if i not in batch.sources:
            continue
        if (asset, version_ms) in seen:
            other = batch.paths[seen[asset, version_ms]].name
            batch.reject(i, InputFileError(batch.paths[i], f"asset {asset!r} at this version was "
                                           f"already read from {other}"))
            continue
        seen[asset, version_ms] = i


def _version_of(path: Path, text: str) -> dt.datetime:
    """The UTC version ``YYYYMMDDTHHMMZ`` of a forecast file name; it must be on a quarter-hour."""
    try:
        version = dt.datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[9:11]),
                              int(text[11:13]), tzinfo=dt.timezone.utc)
    except ValueError:
        raise InputFileError(path, f"file name holds no valid version: {text!r}") from None
    if version.minute % 15:
        raise InputFileError(path, f"version {version:%Y-%m-%d %H:%M} UTC is not on a quarter-hour: "
                             "no such version exists")
    return version


def _forecast_rule(row: dict[str, object]) -> tuple[str, str] | None:
    start, end = row["start"], row["end"]
    if abs(start) >= MAX_EPOCH_MS or start != int(start) or int(start) % QH_MS:
        return "start", f"start {start!r} ms is not on a quarter-hour"
    if end - start != QH_MS:
        return "end", f"end {end!r} ms is not start + 15 min ({start!r} ms)"
    return None


# --- live -----------------------------------------------------------------------------------

LIVE_NAMES = {"timestamp": "timestamp", "power_kw": "value", "quality": "quality"}
LIVE_OPTIONAL = frozenset({"quality"})
LIVE_LAYOUT = layout_of(LIVE_UNITS)


def parse_live(path: Path) -> pl.DataFrame:
    """The points of one live file (see ``read_live_batch``), without ``file_index``."""
    return one_file(read_live_batch, path)


def read_live_batch(paths: list[Path], fast: bool = True,
                    contents: list[bytes] | None = None) -> tuple[pl.DataFrame, list[InputFileError]]:
    """Points of every good live file (LivePoint plus ``file_index`` into ``paths``) and one
    error per bad file, in the order of ``paths``.

    The asset comes from ``key.asset_id`` or ``key.entity_id`` (not from the name); negative
    values are measurements and kept; ``quality`` may be absent (null). Files of the same asset
    may overlap in time: both are kept, and which one wins per timestamp is a domain rule applied
    when the day is built (the newest file), so reading them in one batch or in two syncs gives
    the same rows. ``fast=False`` takes the detailed path of ``parsers.columnar`` for every file
    (same result, same messages).
    """
    batch = Batch(paths, LIVE_UNITS, {"timestamp": numbers, "value": numbers, "quality": numbers},
                  LIVE_OPTIONAL, fast=fast, contents=contents)
    bad_quality: list[int] = []  # files whose quality holds something other than a number or null
    with gc_paused():
        for i, path in enumerate(batch.paths):
            try:
                source, asset, columns = _live_document(path, fast, batch.raw(i))
            except InputFileError as error:
                batch.reject(i, error)
                continue
            batch.keep(i, source, asset, columns)
            if not set(map(type, columns[2])) <= NUMBER_TYPES:
                bad_quality.append(i)
        timestamp, value, quality = batch.column("timestamp"), batch.column("value"), batch.column("quality")
    frame = batch.frame({"timestamp": timestamp, "value": value, "quality": quality})
    batch.reject_repeats(timestamp, "timestamp")
    frame = batch.without_rejected(frame).with_columns(epoch_us("timestamp").alias("timestamp_us"))
    frame = batch.drop_bad_rows(
        frame,
        pl.col("timestamp_us").is_null() | pl.col("value").is_null() | pl.col(FILE_INDEX).is_in(bad_quality),
        _live_rule, nullable=LIVE_OPTIONAL,
    )
    frame = frame.select(
        "asset_id",
        utc(pl.col("timestamp_us")).alias("timestamp"),
        pl.col("value").alias("power_kw"),
        "quality",
        FILE_INDEX,
    )
    if not rising_in_each_file(frame, "timestamp"):
        frame = _reject_repeated_points(batch, frame)
    return batch.validate(frame, LivePoint, _LIVE_VALUES, LIVE_NAMES), batch.sorted_errors()


def _live_document(path: Path, fast: bool = True, raw: bytes | None = None) -> tuple[Columnar | None, str, list[list]]:
    """A live file checked as a whole: its ``Columnar`` (None if it passed at once), its asset
    and its columns in the order of LIVE_UNITS (a missing quality as nulls). Repeated
    timestamps are checked by ``Batch.reject_repeats``."""
    match_name(path, LIVE_NAME)
    found = in_layout(load_quickly(path, raw), LIVE_LAYOUT) if fast else None
    if found is not None:
        return None, *found
    checked = read_columnar(path, LIVE_UNITS, LIVE_OPTIONAL, raw)
    return checked, checked.asset_id, [checked.values.get(name) or [None] * checked.length
                                       for name in LIVE_UNITS]


def _live_rule(row: dict[str, object]) -> tuple[str, str] | None:
    if abs(row["timestamp"]) >= MAX_EPOCH_MS:
        return "timestamp", f"timestamp {row['timestamp']!r} ms is out of range"
    return None


def _reject_repeated_points(batch: Batch, frame: pl.DataFrame) -> pl.DataFrame:
    """Reject each file in which an asset's timestamp appears twice (pandera words the problem)."""
    repeated = frame.filter(pl.struct(FILE_INDEX, "asset_id", "timestamp").is_duplicated())[FILE_INDEX]
    bad = repeated.unique().sort().to_list()
    for i in bad:
        part = frame.filter(pl.col(FILE_INDEX) == i).drop(FILE_INDEX)
        batch.reject_worded(i, problem_alone, part, LivePoint, LIVE_NAMES)
    return frame.filter(~pl.col(FILE_INDEX).is_in(bad)) if bad else frame
