"""Columnar JSON documents read many at a time: the generic batch reader of the VPP files.

A columnar document (``key``, ``column_ids``, ``units``, ``values``) holds its columns by
name: ``values[i]`` is the column ``column_ids[i]`` in the unit ``units[i]``. ``Batch`` reads
many of them into one polars frame:

- the fast path: a document laid out exactly as expected (``in_layout``) passes with a few
  comparisons, its values become polars columns a few dozen documents at a time, one frame is
  built for the whole batch, its values are checked there (``Batch.drop_bad_rows``) and it is
  validated once (``Batch.validate``);
- the detailed path: a document that is not in the layout is checked step by step
  (``check_columnar``), and a file in which the fast path finds a problem is read again and
  walked value by value (``first_bad_value``), which words its error (file, JSON location,
  problem).

The batch readers also run with ``fast=False``: every document then takes the detailed path
(checked step by step, every value walked, every file validated alone). Both paths accept and
reject the same files with the same messages; a test holds them to it. Key order, whitespace
and number spelling (``1749333600000`` or ``1749333600000.0``) change neither the result nor
the path: the values of one JSON type convert together at full speed.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pandera.errors
import pandera.polars as pa
import polars as pl

from flexpower_assets.parsers.errors import InputFileError, schema_problem
from flexpower_assets.schemas import conform, validate

FILE_INDEX = "file_index"
UTC_US = pl.Datetime("us", "UTC")
MAX_EPOCH_MS = 2**53 / 1000  # beyond this, float milliseconds lose microseconds
MAX_WHOLE_MS = 9_007_199_254_741  # the least integer >= MAX_EPOCH_MS

@dataclass(frozen=True)
class Columnar:
    """One columnar document checked as a whole: its asset and its columns by name."""

    asset_id: str
    index: dict[str, int]          # column name -> position in ``values``
    values: dict[str, list]        # column name -> its values
    length: int


def load(path: Path, raw: bytes | None = None) -> object:
    """The parsed document of ``path`` (its bytes ``raw`` if already read); an empty file or
    one that is not JSON raises ``InputFileError`` naming the line."""
    if raw is None:
        raw = path.read_bytes()
    if not raw.strip():
        raise InputFileError(path, f"file is empty ({len(raw)} bytes)")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InputFileError(path, f"not valid JSON: {error.msg}", line=error.lineno) from None


def read_raw(path: Path) -> bytes:
    """A file's bytes, read in one call."""
    with open(path, "rb", buffering=0) as file:
        return file.readall()


def load_quickly(path: Path, raw: bytes | None = None) -> object:
    """The parsed document, or None if the file is not valid JSON (``load`` then words why)."""
    if raw is None:
        raw = read_raw(path)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def read_columnar(path: Path, units: dict[str, str], optional: frozenset[str] = frozenset(),
                  raw: bytes | None = None) -> Columnar:
    """Read a columnar document (from ``raw`` if given) and check its key, column names, units
    and column lengths."""
    return check_columnar(path, load(path, raw), units, optional)


def check_columnar(path: Path, doc: object, units: dict[str, str], optional: frozenset[str]) -> Columnar:
    """Check a parsed columnar document: its key, column names, units and column lengths."""
    if not isinstance(doc, dict):
        raise InputFileError(path, "expected a JSON object", location="$")
    asset = asset_of(path, doc.get("key"))
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
    return Columnar(asset, {name: index[name] for name in columns}, columns, len(columns[first]))


@dataclass
class Layout:
    """The columns a reader wants (``column_ids`` with their ``units``), and for each column
    order met so far, where those columns sit in it (None: not the same columns and units)."""

    column_ids: list[str]
    units: list[str]
    orders: dict[tuple, list[int] | None] = field(default_factory=dict)

    def positions(self, column_ids: object, units: object) -> list[int] | None:
        """Where each wanted column sits in a document with these ``column_ids`` and ``units``."""
        if column_ids == self.column_ids and units == self.units:
            return list(range(len(self.column_ids)))
        if type(column_ids) is not list or type(units) is not list \
                or not all(type(c) is str for c in column_ids) or not all(type(u) is str for u in units):
            return None
        seen = (tuple(column_ids), tuple(units))
        if seen not in self.orders:
            self.orders[seen] = self._order(column_ids, units)
        return self.orders[seen]

    def _order(self, column_ids: list[str], units: list[str]) -> list[int] | None:
        if sorted(column_ids) != sorted(self.column_ids) or len(units) != len(column_ids):
            return None
        where = {name: i for i, name in enumerate(column_ids)}
        order = [where[name] for name in self.column_ids]
        return order if [units[i] for i in order] == self.units else None


def layout_of(units: dict[str, str]) -> Layout:
    """The layout of a document with exactly the columns of ``units``, in any order."""
    return Layout(list(units), list(units.values()))


def in_layout(doc: object, layout: Layout) -> tuple[str, list[list]] | None:
    """The asset and columns (in the order of ``layout``) of a document with exactly the
    columns and units of ``layout``, in any order, all of one length, which ``check_columnar``
    would accept as it is; None for any other document, which ``check_columnar`` then checks in
    detail. Whitespace, key order and number spelling make no difference here."""
    if type(doc) is not dict:
        return None
    order = layout.positions(doc.get("column_ids"), doc.get("units"))
    if order is None:
        return None
    key, values = doc.get("key"), doc.get("values")
    if type(key) is not dict or type(values) is not list or len(values) != len(order) \
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
    if type(asset) is not str or not asset:
        return None
    return asset, values if order == sorted(order) else [values[i] for i in order]


def asset_of(path: Path, key: object) -> str:
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


def reject_repeats(path: Path, doc: Columnar, column: str) -> None:
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


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: The types of the values that ``is_number`` accepts or a nullable column may hold, as orjson
#: makes them (``bool`` is a type of its own).
NUMBER_TYPES = frozenset({int, float, type(None)})


Rule = Callable[[dict[str, object]], "tuple[str, str] | None"]


def first_bad_value(path: Path, doc: Columnar, rule: Rule, nullable: frozenset[str]) -> InputFileError:
    """Walk a document known to be bad value by value and word its first problem."""
    return bad_value(path, doc, rule, nullable) or InputFileError(path, "a value fails the checks of its batch")


def bad_value(path: Path, doc: Columnar, rule: Rule, nullable: frozenset[str]) -> InputFileError | None:
    """The first problem of a document, walked value by value: a value that is not a number (or
    null where ``nullable``), or a row that breaks ``rule``; None if there is none."""
    for j in range(doc.length):
        row = {name: column[j] for name, column in doc.values.items()}
        for name, value in row.items():
            if not is_number(value) and not (name in nullable and value is None):
                return InputFileError(path, f"column {name!r}: {value!r} is not a number",
                                      location=f"values[{doc.index[name]}][{j}]")
        found = rule(row)
        if found is not None:
            name, problem = found
            return InputFileError(path, problem, location=f"values[{doc.index[name]}][{j}]")
    return None


#: Rows gathered before they become polars columns: the values of a few dozen documents are
#: converted while still in the CPU caches and then released, which roughly halves the cost of
#: reading a batch against converting (and freeing) all of them at the end.
CHUNK_ROWS = 16_384


class Batch:
    """The documents of a batch: the columns of every document accepted as a whole, and one
    error per rejected file, by file index.

    ``convert`` names the columns to keep and turns a list of their values into a polars
    series. Only the values are kept: a document in which the batch frame later finds a problem
    is read again (or taken from the ``Columnar`` its detailed check made) to word it.
    """

    def __init__(self, paths: list[Path], units: dict[str, str],
                 convert: dict[str, Callable[[list], pl.Series]],
                 optional: frozenset[str] = frozenset(), fast: bool = True,
                 contents: list[bytes] | None = None) -> None:
        self.paths = [p if isinstance(p, Path) else Path(p) for p in paths]
        # the files' bytes when the caller has read them already (to hash them): each file is
        # then read once, and every check sees the very bytes that were hashed
        self.contents = contents
        self.units, self.optional, self.convert = units, optional, convert
        self.fast = fast  # False: every check on the detailed path, document by document
        self.kept: list[int] = []            # file index of each kept document, in order
        self.assets: list[str] = []
        self.lengths: list[int] = []
        self.sources: dict[int, Columnar | None] = {}
        self.errors: dict[int, InputFileError] = {}
        self._pending: dict[str, list] = {name: [] for name in convert}
        self._pending_rows = 0
        self._pending_types: list[type | None] = []
        self._chunks: dict[str, list[pl.Series]] = {name: [] for name in convert}

    def keep(self, i: int, source: Columnar | None, asset: str, columns: list[list]) -> None:
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

    def columnar(self, i: int) -> Columnar:
        """Kept document ``i`` as checked by ``check_columnar`` (read again if it passed at once)."""
        return self.sources[i] or read_columnar(self.paths[i], self.units, self.optional, self.raw(i))

    def raw(self, i: int) -> bytes | None:
        """The bytes of file ``i`` if they were handed over, else None (read from disk)."""
        return self.contents[i] if self.contents is not None else None

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
        equal numbers or null), so only the other documents are looked at one by one (on the
        detailed path, every document is).
        """
        if not self.fast:
            for i in list(self.kept):
                if i in self.sources:
                    try:
                        reject_repeats(self.paths[i], self.columnar(i), column)
                    except InputFileError as error:
                        self.reject(i, error)
            return
        numbers = values.cast(pl.Float64).to_numpy()  # null -> NaN, which compares False
        ends = np.cumsum(np.asarray(self.lengths, dtype=np.int64))
        rising = numbers[1:] > numbers[:-1]
        first_rows = ends[:-1][(ends[:-1] > 0) & (ends[:-1] < len(numbers))]
        rising[first_rows - 1] = True  # a document's first row follows another document
        for k in np.unique(np.searchsorted(ends, np.flatnonzero(~rising) + 1, side="right")).tolist():
            i = self.kept[k]
            try:
                reject_repeats(self.paths[i], self.columnar(i), column)
            except InputFileError as error:
                self.reject(i, error)

    def without_rejected(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` without the rows of files rejected since it was built."""
        rejected = [i for i in self.kept if i not in self.sources]
        return frame.filter(~pl.col(FILE_INDEX).is_in(rejected)) if rejected else frame

    def drop_bad_rows(self, frame: pl.DataFrame, bad_row: pl.Expr, rule: Rule,
                      nullable: frozenset[str] = frozenset()) -> pl.DataFrame:
        """Reject every file with a row where ``bad_row`` holds (or is null); on the detailed
        path, every file whose values, walked one by one, break ``rule`` or are not numbers."""
        if not self.fast:
            bad = []
            for i in self.kept:
                if i in self.sources:
                    error = bad_value(self.paths[i], self.columnar(i), rule, nullable)
                    if error is not None:
                        self.reject(i, error)
                        bad.append(i)
        else:
            bad = frame.filter(bad_row.fill_null(True))[FILE_INDEX].unique().to_list()
            for i in bad:
                self.reject_worded(i, first_bad_value, rule, nullable)
        return frame.filter(~pl.col(FILE_INDEX).is_in(bad)) if bad else frame

    def validate(self, frame: pl.DataFrame, model: type[pa.DataFrameModel], schema: pa.DataFrameSchema,
                 names: dict[str, str]) -> pl.DataFrame:
        """Validate the whole batch once. If that fails, the files of pandera's failing rows are
        each validated alone to word their error, and the rest is validated again. On the
        detailed path every file is validated alone first, then the rest together."""
        if not self.fast:
            culprits = []
            for i in frame[FILE_INDEX].unique(maintain_order=True).to_list():
                part = frame.filter(pl.col(FILE_INDEX) == i).drop(FILE_INDEX)
                try:
                    validate(part, model)
                except pandera.errors.SchemaErrors:
                    self.reject_worded(i, problem_alone, part, model, names)
                    culprits.append(i)
            frame = frame.filter(~pl.col(FILE_INDEX).is_in(culprits)) if culprits else frame
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
                    self.reject_worded(i, problem_alone, part, model, names)
                frame = frame.filter(~pl.col(FILE_INDEX).is_in(culprits))
        return schema.validate(conform(frame, model), lazy=True)


def problem_alone(path: Path, doc: Columnar, part: pl.DataFrame, model: type[pa.DataFrameModel],
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
def gc_paused() -> Iterator[None]:
    """Pause the cycle collector while many documents are parsed: they hold no cycles, and
    its passes over the growing heap cost ~15 % of a batch."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def numbers(values: list) -> pl.Series:
    """Values as Float64, null where one is not a JSON number: a number written as text (``"1.5"``)
    is not one, nor is a JSON boolean (polars would read it as 1/0); the row is then rejected as
    not a number, as on the detailed path.

    Integers are read as Int64 first: polars builds Float64 from Python integers slowly."""
    if bool in map(type, values):  # compares each type with bool, stops at the first: no set built
        return pl.Series([v if type(v) in (int, float) else None for v in values], dtype=pl.Float64, strict=False)
    if values and type(values[0]) is int:
        try:
            return pl.Series(values, dtype=pl.Int64).cast(pl.Float64)
        except (TypeError, OverflowError, pl.exceptions.PolarsError):
            pass
    try:
        return pl.Series(values, dtype=pl.Float64)
    except (TypeError, OverflowError, pl.exceptions.PolarsError):
        return pl.Series([v if type(v) in (int, float) else None for v in values], dtype=pl.Float64, strict=False)


def epoch_ms_values(values: list) -> pl.Series:
    """Epoch milliseconds as written: Int64 if all are integers (read exactly), else ``numbers``.

    Floats (``1749333600000.0``, as the real files write them) go to Float64 at once: asking
    polars for Int64 first would walk them slowly only to fail. A boolean among integers (which
    polars would read as 1/0) goes to ``numbers`` too, which makes it null."""
    if values and type(values[0]) is float or bool in map(type, values):
        return numbers(values)
    try:
        return pl.Series(values, dtype=pl.Int64)
    except (TypeError, OverflowError, pl.exceptions.PolarsError):
        return numbers(values)


def epoch_us(column: str) -> pl.Expr:
    """Float epoch milliseconds as integer microseconds (null where out of range)."""
    return pl.when(pl.col(column).abs() < MAX_EPOCH_MS) \
        .then((pl.col(column) * 1000).round().cast(pl.Int64, strict=False))


def whole_ms(column: str, dtype: pl.DataType) -> pl.Expr:
    """Epoch milliseconds (Int64 or Float64) as an integer; null where not a whole number or
    out of range.

    Integer arithmetic on purpose: polars' float modulo of epoch milliseconds is not exact.
    """
    ms = pl.col(column)
    if dtype == pl.Int64:  # |ms| < MAX_EPOCH_MS, in integers
        return pl.when((ms > -MAX_WHOLE_MS) & (ms < MAX_WHOLE_MS)).then(ms).alias(column)
    whole = pl.when(ms.abs() < MAX_EPOCH_MS).then(ms.cast(pl.Int64, strict=False))
    return pl.when(whole.cast(pl.Float64) == ms).then(whole).alias(column)


def utc(microseconds: pl.Expr) -> pl.Expr:
    return pl.from_epoch(microseconds, time_unit="us").dt.replace_time_zone("UTC")


def one_file(read_batch, path: Path) -> pl.DataFrame:
    """One file through its batch reader: its rows without ``file_index``, or its error raised."""
    frame, errors = read_batch([Path(path)])
    if errors:
        raise errors[0]
    return frame.drop(FILE_INDEX)


def file_rows(frame: pl.DataFrame) -> np.ndarray:
    """The first row of each file in ``frame``, whose rows come file after file."""
    file_index = frame[FILE_INDEX].to_numpy()
    if not len(file_index):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, file_index[1:] != file_index[:-1]])


def rising_in_each_file(frame: pl.DataFrame, column: str) -> bool:
    """Whether ``column`` strictly increases from row to row within each file of ``frame``."""
    values = frame[column].to_physical().to_numpy()
    rising = values[1:] > values[:-1]
    rising[file_rows(frame)[1:] - 1] = True
    return bool(rising.all())
