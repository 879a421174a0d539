"""VPP: technical data, forecast versions and live measured infeed (JSON documents).

Forecasts and live data are columnar documents (``key``, ``column_ids``, ``units``,
``values``): columns are read by name and their units checked. A day brings ~100,000 forecast
files, so the batch readers check each document as a whole in plain Python, build one polars
frame for the whole batch, check the values there and validate once; only a file that fails is
walked value by value, to word its error. A bad file never drops rows of another file.
"""

from __future__ import annotations

import copy
import datetime as dt
import gc
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import pandera.errors
import pandera.polars as pa
import polars as pl

from flexpower_assets.parsers.errors import InputFileError, match_name, schema_problem, utc_from_name
from flexpower_assets.schemas import conform, validate
from flexpower_assets.schemas.inbound import ForecastRow, LivePoint, TechnicalAsset

TECHNICAL_DATA_NAME = re.compile(r"technical_data_(?P<created>\d{4}-\d{2}-\d{2}T\d{6}Z)\.json")
FORECAST_NAME = re.compile(r"(?P<asset_id>.+)_(?P<version>\d{8}T\d{4}Z)\.json")
LIVE_NAME = re.compile(r"(?P<label>.+)_(?P<day>\d{8})\.json")

QH_MS = 15 * 60 * 1000
FORECAST_UNITS = {"start": "ms", "end": "ms", "version": "ms", "power": "kW"}
LIVE_UNITS = {"timestamp": "ms", "value": "kW", "quality": "factor"}
FILE_INDEX = "file_index"
UTC_US = pl.Datetime("us", "UTC")
MAX_EPOCH_MS = 2**53 / 1000  # beyond this, float milliseconds lose microseconds

#: ForecastRow without its key check: a batch holds one file per (asset, version), checked
#: when the files are read, and each file's starts are checked distinct, so pandera's costly
#: uniqueness pass over millions of rows would find nothing.
_FORECAST_VALUES = copy.deepcopy(ForecastRow.to_schema())
_FORECAST_VALUES.unique = None


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
TECHNICAL_SCHEMA = {
    "asset_id": pl.String, "asset_name": pl.String, "technology": pl.String,
    "capacity_kw": pl.Float64, "commissioning_date": pl.Date, "status": pl.String,
    "owner_name": pl.String, "latitude": pl.Float64, "longitude": pl.Float64,
}


def parse_technical_data(path: Path) -> pl.DataFrame:
    """One row per asset of a technical-data file; ``capacity_kw`` may be an int or a float.

    ``file_created_at`` is the UTC time in the name. An asset listed twice with different
    values rejects the file; listed twice identically, it is kept once.
    """
    path = Path(path)
    created = utc_from_name(path, match_name(path, TECHNICAL_DATA_NAME)["created"], "%Y-%m-%dT%H%M%SZ")
    doc = _load(path)
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
            if value is not None and not _is_number(value):
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


# --- columnar documents (forecast, live) ----------------------------------------------------

@dataclass(frozen=True)
class _Columnar:
    """One columnar document checked as a whole: its asset and its columns by name."""

    asset_id: str
    index: dict[str, int]          # column name -> position in ``values``
    values: dict[str, list]        # column name -> its values
    length: int


def _load(path: Path) -> object:
    raw = path.read_bytes()
    if not raw.strip():
        raise InputFileError(path, f"file is empty ({len(raw)} bytes)")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InputFileError(path, f"not valid JSON: {error.msg}", line=error.lineno) from None


def _columnar(path: Path, units: dict[str, str], optional: frozenset[str] = frozenset()) -> _Columnar:
    """Read a columnar document and check its key, column names, units and column lengths."""
    doc = _load(path)
    if not isinstance(doc, dict):
        raise InputFileError(path, "expected a JSON object", location="$")
    asset = _asset_of(path, doc.get("key"))
    column_ids, unit_list, values = doc.get("column_ids"), doc.get("units"), doc.get("values")
    for name, part in (("column_ids", column_ids), ("units", unit_list), ("values", values)):
        if not isinstance(part, list):
            raise InputFileError(path, f"missing list {name!r}", location=name)
    if not len(column_ids) == len(unit_list) == len(values):
        raise InputFileError(path, f"{len(column_ids)} column_ids, {len(unit_list)} units and "
                             f"{len(values)} value columns", location="values")
    index: dict[str, int] = {}
    for i, name in enumerate(column_ids):
        if name in index:
            raise InputFileError(path, f"column {name!r} appears twice", location=f"column_ids[{i}]")
        index[name] = i
    columns: dict[str, list] = {}
    for name, unit in units.items():
        if name not in index:
            if name in optional:
                continue
            raise InputFileError(path, f"no column {name!r} in column_ids {column_ids}",
                                 location="column_ids")
        i = index[name]
        if unit_list[i] != unit:
            raise InputFileError(path, f"unknown unit {unit_list[i]!r} for column {name!r} "
                                 f"(expected {unit!r})", location=f"units[{i}]")
        if not isinstance(values[i], list):
            raise InputFileError(path, f"column {name!r} is not a list", location=f"values[{i}]")
        columns[name] = values[i]
    first = next(iter(columns))
    for name, column in columns.items():
        if len(column) != len(columns[first]):
            raise InputFileError(path, f"column {name!r} has {len(column)} values, column {first!r} "
                                 f"has {len(columns[first])}", location=f"values[{index[name]}]")
    return _Columnar(asset, {name: index[name] for name in columns}, columns, len(columns[first]))


def _asset_of(path: Path, key: object) -> str:
    """The asset named in ``key.asset_id`` or, in some files, ``key.entity_id``."""
    if not isinstance(key, dict):
        raise InputFileError(path, "missing object 'key'", location="key")
    asset_id, entity_id = key.get("asset_id"), key.get("entity_id")
    if asset_id is not None and entity_id is not None and asset_id != entity_id:
        raise InputFileError(path, f"asset_id {asset_id!r} and entity_id {entity_id!r} disagree",
                             location="key")
    asset = asset_id if asset_id is not None else entity_id
    if not isinstance(asset, str) or not asset:
        raise InputFileError(path, "no asset in key.asset_id or key.entity_id", location="key")
    return asset


def _reject_repeats(path: Path, doc: _Columnar, column: str) -> None:
    """Reject a document whose ``column`` holds a value twice (naming the second place)."""
    values = doc.values[column]
    try:
        if len(set(values)) == doc.length:
            return
    except TypeError:  # an unhashable value: the value checks of the batch word it
        return
    seen: set = set()
    j = next(j for j, value in enumerate(values) if value in seen or seen.add(value))
    raise InputFileError(path, f"{column} {values[j]!r} ms appears twice",
                         location=f"values[{doc.index[column]}][{j}]")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


Rule = Callable[[dict[str, object]], "tuple[str, str] | None"]


def _first_bad_value(path: Path, doc: _Columnar, rule: Rule, nullable: frozenset[str]) -> InputFileError:
    """Walk a document known to be bad value by value and word its first problem."""
    for j in range(doc.length):
        row = {name: column[j] for name, column in doc.values.items()}
        for name, value in row.items():
            if not _is_number(value) and not (name in nullable and value is None):
                return InputFileError(path, f"column {name!r}: {value!r} is not a number",
                                      location=f"values[{doc.index[name]}][{j}]")
        found = rule(row)
        if found is not None:
            name, problem = found
            return InputFileError(path, problem, location=f"values[{doc.index[name]}][{j}]")
    return InputFileError(path, "a value fails the checks of its batch")


class _Batch:
    """The documents of a batch read so far and one error per rejected file, by file index."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = [p if isinstance(p, Path) else Path(p) for p in paths]
        self.docs: dict[int, _Columnar] = {}
        self.errors: dict[int, InputFileError] = {}

    def reject(self, i: int, error: InputFileError) -> None:
        self.errors[i] = error
        self.docs.pop(i, None)

    def sorted_errors(self) -> list[InputFileError]:
        return [self.errors[i] for i in sorted(self.errors)]

    def frame(self, names: list[str], per_file: dict[str, pl.Series] | None = None) -> pl.DataFrame:
        """The named columns of every document (Float64, null where not a number), with
        ``file_index``, ``asset_id`` and the ``per_file`` values (one per document, in order)
        repeated on every row of their document."""
        columns: dict[str, list] = {name: [] for name in names}
        for doc in self.docs.values():
            for name in names:
                columns[name].extend(doc.values.get(name) or [None] * doc.length)
        counts = pl.Series([doc.length for doc in self.docs.values()], dtype=pl.Int64)
        repeated = {
            FILE_INDEX: pl.Series(list(self.docs), dtype=pl.Int32),
            "asset_id": pl.Series([doc.asset_id for doc in self.docs.values()], dtype=pl.String),
            **(per_file or {}),
        }
        frame = pl.DataFrame({name: pl.Series(values, dtype=pl.Float64, strict=False)
                              for name, values in columns.items()})
        return frame.with_columns(
            [values.repeat_by(counts).explode().drop_nulls().alias(name) for name, values in repeated.items()]
        )

    def drop_bad_rows(self, frame: pl.DataFrame, bad_row: pl.Expr, rule: Rule,
                      nullable: frozenset[str] = frozenset()) -> pl.DataFrame:
        """Reject every file with a row where ``bad_row`` holds (or is null)."""
        bad = frame.filter(bad_row.fill_null(True))[FILE_INDEX].unique().to_list()
        for i in bad:
            self.reject(i, _first_bad_value(self.paths[i], self.docs[i], rule, nullable))
        return frame.filter(~pl.col(FILE_INDEX).is_in(bad)) if bad else frame

    def validate(self, frame: pl.DataFrame, model: type[pa.DataFrameModel], schema: pa.DataFrameSchema,
                 names: dict[str, str]) -> pl.DataFrame:
        """Validate the whole batch once. If that fails, the files of pandera's failing rows are
        each validated alone to word their error, and the rest is validated again."""
        for _ in range(3):
            try:
                return schema.validate(conform(frame, model), lazy=True)
            except pandera.errors.SchemaErrors as failure:
                rows = failure.failure_cases["index"].drop_nulls()
                culprits = frame[FILE_INDEX].gather(rows).unique().to_list()
                if not culprits:
                    raise
                for i in culprits:
                    part = frame.filter(pl.col(FILE_INDEX) == i).drop(FILE_INDEX)
                    self.reject(i, self._problem_alone(i, part, model, names))
                frame = frame.filter(~pl.col(FILE_INDEX).is_in(culprits))
        return schema.validate(conform(frame, model), lazy=True)

    def _problem_alone(self, i: int, part: pl.DataFrame, model: type[pa.DataFrameModel],
                       names: dict[str, str]) -> InputFileError:
        doc = self.docs[i]
        first = next(iter(doc.index))

        def location(row: int, column: str | None) -> str:
            return f"values[{doc.index.get(names.get(column or '', first), doc.index[first])}][{row}]"

        try:
            validate(part, model)
        except pandera.errors.SchemaErrors as errors:
            return schema_problem(self.paths[i], part, model, errors, names=names, location=location)
        return InputFileError(self.paths[i], "rows clash with another file of the same batch")


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cycle collector while many documents are parsed: they hold no cycles, and
    its passes over the growing heap cost ~15 % of a batch."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _epoch_us(column: str) -> pl.Expr:
    """Float epoch milliseconds as integer microseconds (null where out of range)."""
    return pl.when(pl.col(column).abs() < MAX_EPOCH_MS) \
        .then((pl.col(column) * 1000).round().cast(pl.Int64, strict=False))


def _whole_ms(column: str) -> pl.Expr:
    """Float epoch milliseconds as an integer; null where not a whole number or out of range.

    Integer arithmetic on purpose: polars' float modulo of epoch milliseconds is not exact.
    """
    whole = pl.when(pl.col(column).abs() < MAX_EPOCH_MS).then(pl.col(column).cast(pl.Int64, strict=False))
    return pl.when(whole.cast(pl.Float64) == pl.col(column)).then(whole)


def _utc(microseconds: pl.Expr) -> pl.Expr:
    return pl.from_epoch(microseconds, time_unit="us").dt.replace_time_zone("UTC")


# --- forecasts ------------------------------------------------------------------------------

FORECAST_NAMES = {"delivery_start": "start", "version": "version", "power_kw": "power"}


def _one_file(read_batch, path: Path) -> pl.DataFrame:
    """One file through its batch reader: its rows without ``file_index``, or its error raised."""
    frame, errors = read_batch([Path(path)])
    if errors:
        raise errors[0]
    return frame.drop(FILE_INDEX)


def parse_forecast(path: Path) -> pl.DataFrame:
    """The rows of one forecast file (see ``read_forecast_batch``), without ``file_index``."""
    return _one_file(read_forecast_batch, path)


def read_forecast_batch(paths: list[Path]) -> tuple[pl.DataFrame, list[InputFileError]]:
    """Rows of every good forecast file (ForecastRow plus ``file_index`` into ``paths``) and one
    error per bad file, in the order of ``paths``.

    Per file: the name ``<asset_id>_<YYYYMMDDTHHMMZ>.json`` agrees with the content's asset and
    version; the version is on a quarter-hour; every row carries that version; starts are
    distinct. Per row: ``start`` on a quarter-hour, ``end = start + 15 min``, numbers present.
    A second file of the same asset and version is rejected.
    """
    batch = _Batch(paths)
    seen: dict[tuple[str, int], int] = {}
    versions: dict[int, int] = {}
    with _gc_paused():
        for i, path in enumerate(batch.paths):
            try:
                doc, version_ms = _forecast_document(path)
            except InputFileError as error:
                batch.reject(i, error)
                continue
            if (doc.asset_id, version_ms) in seen:
                other = batch.paths[seen[doc.asset_id, version_ms]].name
                batch.reject(i, InputFileError(path, f"asset {doc.asset_id!r} at this version was "
                                               f"already read from {other}"))
                continue
            seen[doc.asset_id, version_ms] = i
            batch.docs[i] = doc
            versions[i] = version_ms
    version_us = pl.Series([versions[i] * 1000 for i in batch.docs], dtype=pl.Int64)
    frame = batch.frame(["start", "end", "power"], per_file={"version": version_us})
    frame = frame.with_columns(_whole_ms("start").alias("start"), _whole_ms("end").alias("end"))
    frame = batch.drop_bad_rows(
        frame,
        pl.col("start").is_null() | pl.col("end").is_null() | pl.col("power").is_null()
        | (pl.col("start") % QH_MS != 0) | (pl.col("end") - pl.col("start") != QH_MS),
        _forecast_rule,
    )
    frame = frame.select(
        "asset_id",
        _utc(pl.col("start") * 1000).alias("delivery_start"),
        _utc(pl.col("version")).alias("version"),
        pl.col("power").alias("power_kw"),
        FILE_INDEX,
    )
    return batch.validate(frame, ForecastRow, _FORECAST_VALUES, FORECAST_NAMES), batch.sorted_errors()


def _forecast_document(path: Path) -> tuple[_Columnar, int]:
    """A forecast document checked as a whole, with its version in epoch ms."""
    name = match_name(path, FORECAST_NAME)
    version = _version_of(path, name["version"])
    doc = _columnar(path, FORECAST_UNITS)
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
    _reject_repeats(path, doc, "start")
    return doc, version_ms


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


def parse_live(path: Path) -> pl.DataFrame:
    """The points of one live file (see ``read_live_batch``), without ``file_index``."""
    return _one_file(read_live_batch, path)


def read_live_batch(paths: list[Path]) -> tuple[pl.DataFrame, list[InputFileError]]:
    """Points of every good live file (LivePoint plus ``file_index`` into ``paths``) and one
    error per bad file, in the order of ``paths``.

    The asset comes from ``key.asset_id`` or ``key.entity_id`` (not from the name); negative
    values are measurements and kept; ``quality`` may be absent (null). A file whose time range
    overlaps an earlier file of the same asset in the batch is rejected.
    """
    batch = _Batch(paths)
    with _gc_paused():
        for i, path in enumerate(batch.paths):
            try:
                match_name(path, LIVE_NAME)
                doc = _columnar(path, LIVE_UNITS, optional=frozenset({"quality"}))
                _reject_repeats(path, doc, "timestamp")
                batch.docs[i] = doc
            except InputFileError as error:
                batch.reject(i, error)
    frame = batch.frame(["timestamp", "value", "quality"])
    frame = batch.drop_bad_rows(
        frame,
        _epoch_us("timestamp").is_null() | pl.col("value").is_null() | _quality_is_not_number(batch),
        _live_rule, nullable=frozenset({"quality"}),
    )
    frame = frame.select(
        "asset_id",
        _utc(_epoch_us("timestamp")).alias("timestamp"),
        pl.col("value").alias("power_kw"),
        "quality",
        FILE_INDEX,
    )
    frame = _drop_overlapping(batch, frame)
    return batch.validate(frame, LivePoint, LivePoint.to_schema(), LIVE_NAMES), batch.sorted_errors()


def _quality_is_not_number(batch: _Batch) -> pl.Expr:
    """Rows of files whose quality column holds something other than a number or null."""
    bad = [i for i, doc in batch.docs.items()
           if any(v is not None and not _is_number(v) for v in doc.values.get("quality", ()))]
    return pl.col(FILE_INDEX).is_in(bad)


def _live_rule(row: dict[str, object]) -> tuple[str, str] | None:
    if abs(row["timestamp"]) >= MAX_EPOCH_MS:
        return "timestamp", f"timestamp {row['timestamp']!r} ms is out of range"
    return None


def _drop_overlapping(batch: _Batch, frame: pl.DataFrame) -> pl.DataFrame:
    """Reject a file whose time range overlaps that of an earlier file of the same asset."""
    spans = frame.group_by(FILE_INDEX, "asset_id").agg(
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last")
    ).sort(FILE_INDEX)
    kept: dict[str, list[tuple[int, dt.datetime, dt.datetime]]] = {}
    rejected: list[int] = []
    for i, asset, first, last in spans.iter_rows():
        clash = next((other for other, a, b in kept.get(asset, []) if first <= b and a <= last), None)
        if clash is None:
            kept.setdefault(asset, []).append((i, first, last))
            continue
        batch.reject(i, InputFileError(
            batch.paths[i], f"asset {asset!r} from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} "
            f"UTC overlaps {batch.paths[clash].name} of the same batch"))
        rejected.append(i)
    return frame.filter(~pl.col(FILE_INDEX).is_in(rejected)) if rejected else frame
