"""VPP: technical data, forecast versions and live measured infeed (JSON documents).

Forecasts and live data are columnar documents (``key``, ``column_ids``, ``units``,
``values``): columns are read by name and their units checked. A day brings ~100,000 forecast
files, so the batch readers check each document as a whole in plain Python (a document laid
out as documented passes with a few comparisons; any other is checked step by step, which
words its problem), turn the values into polars columns a few dozen documents at a time, build
one frame for the whole batch, check the values there and validate once; only a file that
fails is read again and walked value by value, to word its error. A bad file never drops rows
of another file.
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

import numpy as np
import orjson
import pandera.errors
import pandera.polars as pa
import polars as pl

from flexpower_assets.parsers.errors import InputFileError, match_name, schema_problem, utc_from_name
from flexpower_assets.schemas import columns_of, conform, validate
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
MAX_WHOLE_MS = 9_007_199_254_741  # the least integer >= MAX_EPOCH_MS

#: ForecastRow without its key check: a batch holds one file per (asset, version), checked
#: when the files are read, and each file's starts are checked distinct, so pandera's costly
#: uniqueness pass over millions of rows would find nothing.
_FORECAST_VALUES = copy.deepcopy(ForecastRow.to_schema())
_FORECAST_VALUES.unique = None

#: LivePoint without its key check: a batch holds several files, and two files of one asset
#: may share timestamps (a later delivery of the same day; the newest file wins per timestamp
#: when the day is built, ``domain.infeed.newest_live_points``). Within a file the key is
#: checked: timestamps that strictly increase cannot repeat (``_rising_in_each_file``), and
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


def _load_quickly(path: Path) -> object:
    """The parsed document, or None if the file is not valid JSON (``_load`` then words why)."""
    with open(path, "rb", buffering=0) as file:
        raw = file.readall()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _columnar(path: Path, units: dict[str, str], optional: frozenset[str] = frozenset()) -> _Columnar:
    """Read a columnar document and check its key, column names, units and column lengths."""
    return _columnar_of(path, _load(path), units, optional)


def _columnar_of(path: Path, doc: object, units: dict[str, str], optional: frozenset[str]) -> _Columnar:
    """Check a parsed columnar document: its key, column names, units and column lengths."""
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


def _layout(units: dict[str, str]) -> tuple[list[str], list[str]]:
    """The ``column_ids`` and ``units`` of a document laid out exactly as ``units`` lists them."""
    return list(units), list(units.values())


def _in_layout(doc: object, layout: tuple[list[str], list[str]]) -> tuple[str, list[list]] | None:
    """The asset and columns of a document in ``layout`` (same columns, same order, same units,
    all of one length), which ``_columnar_of`` would accept as it is; None for any other
    document, which ``_columnar_of`` then checks in detail."""
    column_ids, units = layout
    if type(doc) is not dict or doc.get("column_ids") != column_ids or doc.get("units") != units:
        return None
    key, values = doc.get("key"), doc.get("values")
    if type(key) is not dict or type(values) is not list or len(values) != len(column_ids) \
            or type(values[0]) is not list:
        return None
    length = len(values[0])
    for column in values:
        if type(column) is not list or len(column) != length:
            return None
    asset, entity = key.get("asset_id"), key.get("entity_id")
    if asset is None:
        asset = entity
    elif entity is not None and entity != asset:
        return None
    return (asset, values) if type(asset) is str and asset else None


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


#: The types of the values that ``_is_number`` accepts or a nullable column may hold, as orjson
#: makes them (``bool`` is a type of its own).
NUMBER_TYPES = frozenset({int, float, type(None)})


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


#: Rows gathered before they become polars columns: the values of a few dozen documents are
#: converted while still in the CPU caches and then released, which roughly halves the cost of
#: reading a batch against converting (and freeing) all of them at the end.
CHUNK_ROWS = 16_384


class _Batch:
    """The documents of a batch: the columns of every document accepted as a whole, and one
    error per rejected file, by file index.

    ``convert`` names the columns to keep and turns a list of their values into a polars
    series. Only the values are kept: a document in which the batch frame later finds a problem
    is read again (or taken from the ``_Columnar`` its detailed check made) to word it.
    """

    def __init__(self, paths: list[Path], units: dict[str, str],
                 convert: dict[str, Callable[[list], pl.Series]],
                 optional: frozenset[str] = frozenset()) -> None:
        self.paths = [p if isinstance(p, Path) else Path(p) for p in paths]
        self.units, self.optional, self.convert = units, optional, convert
        self.kept: list[int] = []            # file index of each kept document, in order
        self.assets: list[str] = []
        self.lengths: list[int] = []
        self.sources: dict[int, _Columnar | None] = {}
        self.errors: dict[int, InputFileError] = {}
        self._pending: dict[str, list] = {name: [] for name in convert}
        self._pending_rows = 0
        self._pending_types: list[type | None] = []
        self._chunks: dict[str, list[pl.Series]] = {name: [] for name in convert}

    def keep(self, i: int, source: _Columnar | None, asset: str, columns: list[list]) -> None:
        """Keep document ``i`` with its columns in the order of ``convert``."""
        self.kept.append(i)
        self.assets.append(asset)
        self.lengths.append(len(columns[0]))
        self.sources[i] = source
        # values of one JSON type per chunk: a chunk of integers and one of floats each convert
        # at full speed, while a chunk mixing them would take polars' slow path
        types = [type(column[0]) if column else None for column in columns]
        if types != self._pending_types:
            if self._pending_rows:
                self._convert_pending()
            self._pending_types = types
        for pending, column in zip(self._pending.values(), columns):
            pending.extend(column)
        self._pending_rows += len(columns[0])
        if self._pending_rows >= CHUNK_ROWS:
            self._convert_pending()

    def _convert_pending(self) -> None:
        for name, values in self._pending.items():
            self._chunks[name].append(self.convert[name](values))
            self._pending[name] = []
        self._pending_rows = 0

    def column(self, name: str) -> pl.Series:
        """Column ``name`` of every kept document, document after document (chunks read as
        Int64 and as Float64 meet as Float64)."""
        self._convert_pending()
        chunks = self._chunks[name]
        if len({chunk.dtype for chunk in chunks}) > 1:
            chunks = [chunk.cast(pl.Float64) for chunk in chunks]
        return pl.concat(chunks, rechunk=True) if chunks else self.convert[name]([])

    def reject(self, i: int, error: InputFileError) -> None:
        self.errors[i] = error
        self.sources.pop(i, None)

    def sorted_errors(self) -> list[InputFileError]:
        return [self.errors[i] for i in sorted(self.errors)]

    def columnar(self, i: int) -> _Columnar:
        """Kept document ``i`` as checked by ``_columnar_of`` (read again if it passed at once)."""
        return self.sources[i] or _columnar(self.paths[i], self.units, self.optional)

    def reject_worded(self, i: int, word: Callable[..., InputFileError], *args: object) -> None:
        """Reject kept document ``i`` with the error ``word(path, columnar, *args)`` finds in it
        (or the one that reading it again raises, should the file have changed meanwhile)."""
        try:
            error = word(self.paths[i], self.columnar(i), *args)
        except InputFileError as changed:
            error = changed
        self.reject(i, error)

    def frame(self, columns: dict[str, pl.Series], per_file: dict[str, list] | None = None) -> pl.DataFrame:
        """``columns`` (one value per row of every kept document) with ``file_index``,
        ``asset_id`` and the ``per_file`` values (one per kept document) repeated on every row
        of their document."""
        repeat = np.asarray(self.lengths, dtype=np.int64)
        owner = np.repeat(np.arange(len(self.kept), dtype=np.uint32), repeat)
        return pl.DataFrame({
            **columns,
            FILE_INDEX: np.repeat(np.asarray(self.kept, dtype=np.int32), repeat),
            "asset_id": pl.Series(self.assets, dtype=pl.String).gather(owner),
            **{name: np.repeat(np.asarray(values, dtype=np.int64), repeat)
               for name, values in (per_file or {}).items()},
        })

    def reject_repeats(self, values: pl.Series, column: str) -> None:
        """Reject each kept document whose ``column`` (read as ``values``) holds a value twice.

        Values that strictly increase within a document cannot repeat (equal values read as
        equal numbers or null), so only the other documents are looked at one by one.
        """
        numbers = values.cast(pl.Float64).to_numpy()  # null -> NaN, which compares False
        ends = np.cumsum(np.asarray(self.lengths, dtype=np.int64))
        rising = numbers[1:] > numbers[:-1]
        first_rows = ends[:-1][(ends[:-1] > 0) & (ends[:-1] < len(numbers))]
        rising[first_rows - 1] = True  # a document's first row follows another document
        for k in np.unique(np.searchsorted(ends, np.flatnonzero(~rising) + 1, side="right")).tolist():
            i = self.kept[k]
            try:
                _reject_repeats(self.paths[i], self.columnar(i), column)
            except InputFileError as error:
                self.reject(i, error)

    def without_rejected(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` without the rows of files rejected since it was built."""
        rejected = [i for i in self.kept if i not in self.sources]
        return frame.filter(~pl.col(FILE_INDEX).is_in(rejected)) if rejected else frame

    def drop_bad_rows(self, frame: pl.DataFrame, bad_row: pl.Expr, rule: Rule,
                      nullable: frozenset[str] = frozenset()) -> pl.DataFrame:
        """Reject every file with a row where ``bad_row`` holds (or is null)."""
        bad = frame.filter(bad_row.fill_null(True))[FILE_INDEX].unique().to_list()
        for i in bad:
            self.reject_worded(i, _first_bad_value, rule, nullable)
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
                    self.reject_worded(i, _problem_alone, part, model, names)
                frame = frame.filter(~pl.col(FILE_INDEX).is_in(culprits))
        return schema.validate(conform(frame, model), lazy=True)


def _problem_alone(path: Path, doc: _Columnar, part: pl.DataFrame, model: type[pa.DataFrameModel],
                   names: dict[str, str]) -> InputFileError:
    """The pandera failure of one file's rows ``part``, validated alone, at its JSON location."""
    first = next(iter(doc.index))

    def location(row: int, column: str | None) -> str:
        return f"values[{doc.index.get(names.get(column or '', first), doc.index[first])}][{row}]"

    try:
        validate(part, model)
    except pandera.errors.SchemaErrors as errors:
        return schema_problem(path, part, model, errors, names=names, location=location)
    return InputFileError(path, "rows clash with another file of the same batch")


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


def _numbers(values: list) -> pl.Series:
    """Values as Float64, null where one is not a JSON number (a number written as text, such
    as ``"1.5"``, is not one: the row is then rejected as not a number).

    Integers are read as Int64 first: polars builds Float64 from Python integers slowly."""
    if values and type(values[0]) is int:
        try:
            return pl.Series(values, dtype=pl.Int64).cast(pl.Float64)
        except (TypeError, OverflowError, pl.exceptions.PolarsError):
            pass
    try:
        return pl.Series(values, dtype=pl.Float64)
    except (TypeError, OverflowError, pl.exceptions.PolarsError):
        return pl.Series([v if type(v) in (int, float) else None for v in values], dtype=pl.Float64, strict=False)


def _measurements(values: list) -> pl.Series:
    """Like ``_numbers``, and a JSON boolean is not a number either (polars would read it as 1/0)."""
    if bool in set(map(type, values)):
        return pl.Series([v if type(v) in (int, float) else None for v in values], dtype=pl.Float64, strict=False)
    return _numbers(values)


def _epoch_ms_values(values: list) -> pl.Series:
    """Epoch milliseconds as written: Int64 if all are integers (read exactly), else ``_numbers``.

    Floats (``1749333600000.0``, as the real files write them) go to Float64 at once: asking
    polars for Int64 first would walk them slowly only to fail."""
    if values and type(values[0]) is float:
        return _numbers(values)
    try:
        return pl.Series(values, dtype=pl.Int64)
    except (TypeError, OverflowError, pl.exceptions.PolarsError):
        return _numbers(values)


def _epoch_us(column: str) -> pl.Expr:
    """Float epoch milliseconds as integer microseconds (null where out of range)."""
    return pl.when(pl.col(column).abs() < MAX_EPOCH_MS) \
        .then((pl.col(column) * 1000).round().cast(pl.Int64, strict=False))


def _whole_ms(column: str, dtype: pl.DataType) -> pl.Expr:
    """Epoch milliseconds (Int64 or Float64) as an integer; null where not a whole number or
    out of range.

    Integer arithmetic on purpose: polars' float modulo of epoch milliseconds is not exact.
    """
    ms = pl.col(column)
    if dtype == pl.Int64:  # |ms| < MAX_EPOCH_MS, in integers
        return pl.when((ms > -MAX_WHOLE_MS) & (ms < MAX_WHOLE_MS)).then(ms).alias(column)
    whole = pl.when(ms.abs() < MAX_EPOCH_MS).then(ms.cast(pl.Int64, strict=False))
    return pl.when(whole.cast(pl.Float64) == ms).then(whole).alias(column)


def _utc(microseconds: pl.Expr) -> pl.Expr:
    return pl.from_epoch(microseconds, time_unit="us").dt.replace_time_zone("UTC")


# --- forecasts ------------------------------------------------------------------------------

FORECAST_NAMES = {"delivery_start": "start", "version": "version", "power_kw": "power"}
FORECAST_LAYOUT = _layout(FORECAST_UNITS)


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
    batch = _Batch(paths, FORECAST_UNITS,
                   {"start": _epoch_ms_values, "end": _epoch_ms_values, "power": _measurements})
    versions: list[int] = []  # epoch ms of each kept document
    known: dict[str, int] = {}
    with _gc_paused():
        for i, path in enumerate(batch.paths):
            try:
                source, asset, version_ms, columns = _forecast_document(path, known)
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
    frame = frame.with_columns(_whole_ms("start", start.dtype), _whole_ms("end", end.dtype))
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


def _forecast_document(path: Path, known: dict[str, int]) -> tuple[_Columnar | None, str, int, list[list]]:
    """A forecast file checked as a whole: its ``_Columnar`` (None if it passed at once), its
    asset, its version in epoch ms and its start, end and power columns. ``known`` caches the
    versions of file names.

    A document laid out as documented, whose asset and versions agree with its name, passes
    at once; any other goes through ``_checked_forecast``, which words its problem.
    """
    match = FORECAST_NAME.fullmatch(path.name)
    if match is not None:
        text = match["version"]
        version_ms = known.get(text)
        if version_ms is None:
            version_ms = known[text] = int(_version_of(path, text).timestamp()) * 1000
        found = _in_layout(_load_quickly(path), FORECAST_LAYOUT)
        if found is not None:
            asset, (start, end, versions, power) = found
            # counted as the type the file writes: float == int compares slowly (same result)
            same = float(version_ms) if versions and type(versions[0]) is float else version_ms
            if asset == match["asset_id"] and versions.count(same) == len(versions):
                return None, asset, version_ms, [start, end, power]
    checked, version_ms = _checked_forecast(path)
    return checked, checked.asset_id, version_ms, [checked.values[name] for name in ("start", "end", "power")]


def _checked_forecast(path: Path) -> tuple[_Columnar, int]:
    """A forecast document checked as a whole, step by step, with its version in epoch ms.

    The repeated starts are checked by ``_Batch.reject_repeats``."""
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
    return doc, version_ms


def _reject_second_versions(batch: _Batch, versions: list[int]) -> None:
    """Reject a file of an asset and version already read from an earlier file of the batch."""
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
LIVE_LAYOUT = _layout(LIVE_UNITS)


def parse_live(path: Path) -> pl.DataFrame:
    """The points of one live file (see ``read_live_batch``), without ``file_index``."""
    return _one_file(read_live_batch, path)


def read_live_batch(paths: list[Path]) -> tuple[pl.DataFrame, list[InputFileError]]:
    """Points of every good live file (LivePoint plus ``file_index`` into ``paths``) and one
    error per bad file, in the order of ``paths``.

    The asset comes from ``key.asset_id`` or ``key.entity_id`` (not from the name); negative
    values are measurements and kept; ``quality`` may be absent (null). Files of the same asset
    may overlap in time: both are kept, and which one wins per timestamp is a domain rule applied
    when the day is built (the newest file), so reading them in one batch or in two syncs gives
    the same rows.
    """
    batch = _Batch(paths, LIVE_UNITS, {"timestamp": _numbers, "value": _measurements, "quality": _numbers},
                   LIVE_OPTIONAL)
    bad_quality: list[int] = []  # files whose quality holds something other than a number or null
    with _gc_paused():
        for i, path in enumerate(batch.paths):
            try:
                source, asset, columns = _live_document(path)
            except InputFileError as error:
                batch.reject(i, error)
                continue
            batch.keep(i, source, asset, columns)
            if not set(map(type, columns[2])) <= NUMBER_TYPES:
                bad_quality.append(i)
        timestamp, value, quality = batch.column("timestamp"), batch.column("value"), batch.column("quality")
    frame = batch.frame({"timestamp": timestamp, "value": value, "quality": quality})
    batch.reject_repeats(timestamp, "timestamp")
    frame = batch.without_rejected(frame).with_columns(_epoch_us("timestamp").alias("timestamp_us"))
    frame = batch.drop_bad_rows(
        frame,
        pl.col("timestamp_us").is_null() | pl.col("value").is_null() | pl.col(FILE_INDEX).is_in(bad_quality),
        _live_rule, nullable=LIVE_OPTIONAL,
    )
    frame = frame.select(
        "asset_id",
        _utc(pl.col("timestamp_us")).alias("timestamp"),
        pl.col("value").alias("power_kw"),
        "quality",
        FILE_INDEX,
    )
    if not _rising_in_each_file(frame, "timestamp"):
        frame = _reject_repeated_points(batch, frame)
    return batch.validate(frame, LivePoint, _LIVE_VALUES, LIVE_NAMES), batch.sorted_errors()


def _live_document(path: Path) -> tuple[_Columnar | None, str, list[list]]:
    """A live file checked as a whole: its ``_Columnar`` (None if it passed at once), its asset
    and its columns in the order of LIVE_UNITS (a missing quality as nulls). Repeated
    timestamps are checked by ``_Batch.reject_repeats``."""
    match_name(path, LIVE_NAME)
    found = _in_layout(_load_quickly(path), LIVE_LAYOUT)
    if found is not None:
        return None, *found
    checked = _columnar(path, LIVE_UNITS, LIVE_OPTIONAL)
    return checked, checked.asset_id, [checked.values.get(name) or [None] * checked.length
                                       for name in LIVE_UNITS]


def _live_rule(row: dict[str, object]) -> tuple[str, str] | None:
    if abs(row["timestamp"]) >= MAX_EPOCH_MS:
        return "timestamp", f"timestamp {row['timestamp']!r} ms is out of range"
    return None


def _file_rows(frame: pl.DataFrame) -> np.ndarray:
    """The first row of each file in ``frame``, whose rows come file after file."""
    file_index = frame[FILE_INDEX].to_numpy()
    if not len(file_index):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, file_index[1:] != file_index[:-1]])


def _rising_in_each_file(frame: pl.DataFrame, column: str) -> bool:
    """Whether ``column`` strictly increases from row to row within each file of ``frame``."""
    values = frame[column].to_physical().to_numpy()
    rising = values[1:] > values[:-1]
    rising[_file_rows(frame)[1:] - 1] = True
    return bool(rising.all())


def _reject_repeated_points(batch: _Batch, frame: pl.DataFrame) -> pl.DataFrame:
    """Reject each file in which an asset's timestamp appears twice (pandera words the problem)."""
    repeated = frame.filter(pl.struct(FILE_INDEX, "asset_id", "timestamp").is_duplicated())[FILE_INDEX]
    bad = repeated.unique().sort().to_list()
    for i in bad:
        part = frame.filter(pl.col(FILE_INDEX) == i).drop(FILE_INDEX)
        batch.reject_worded(i, _problem_alone, part, LivePoint, LIVE_NAMES)
    return frame.filter(~pl.col(FILE_INDEX).is_in(bad)) if bad else frame

