"""The one error every parser raises for a file it cannot accept, and the checks that raise it.

The checks are shared by the per-source parsers: file-name timestamps, reading a delimited
text file as strings with the file line of every row, values that do not parse, keys that
repeat with different values, and pandera failures turned into a file line or JSON location.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandera.errors
import pandera.polars as pa
import polars as pl

from flexpower_assets.schemas import validate

#: Extra column carrying the 1-based file line of a CSV row until the frame is validated.
LINE = "_line"


class InputFileError(ValueError):
    """A file that cannot be accepted as a whole: names the file, the line and the problem.

    ``line`` is the 1-based line of a text file; for JSON documents it is ``None`` and
    ``location`` names the place inside the document instead (e.g. ``values[3][17]``).
    """

    def __init__(self, path: Path | str, problem: str, line: int | None = None,
                 location: str | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        self.line = line
        self.location = location
        where = f"line {line}" if line is not None else (location or "whole file")
        super().__init__(f"{self.path.name}: {where}: {problem}")

    def __reduce__(self):
        # rebuilt from its fields when it crosses a process boundary (parsing runs in workers)
        return (type(self), (self.path, self.problem, self.line, self.location))

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else (self.location or "whole file")


# --- file names -----------------------------------------------------------------------------

def match_name(path: Path, pattern: re.Pattern[str]) -> re.Match[str]:
    """The match of the whole file name against ``pattern``; any other name rejects the file."""
    match = pattern.fullmatch(path.name)
    if match is None:
        raise InputFileError(path, f"file name does not match the pattern {pattern.pattern!r}")
    return match


def utc_from_name(path: Path, text: str, fmt: str) -> datetime:
    """A UTC timestamp written in a file name with the ``strptime`` format ``fmt``."""
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
    except ValueError:
        raise InputFileError(path, f"file name holds no valid timestamp: {text!r}") from None


# --- delimited text -------------------------------------------------------------------------

def read_csv_strings(path: Path, header: Sequence[str] | None, separator: str = ",",
                     title_comment: bool = False) -> pl.DataFrame:
    """Every field of a delimited UTF-8 file as a stripped string (empty -> null), plus ``LINE``.

    ``header`` is the exact expected header (``None``: any header, the caller checks it).
    With ``title_comment`` a first line starting with ``#`` is skipped. Blank lines are skipped.
    Rejects an empty file, a file that is not UTF-8, a wrong header and a row whose number of
    fields differs from the header's.
    """
    raw = path.read_bytes()
    if not raw.strip():
        raise InputFileError(path, f"file is empty ({len(raw)} bytes)")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InputFileError(path, f"not UTF-8 text: {error.reason}", line=line) from None
    body = raw.removeprefix(b"\xef\xbb\xbf")
    header_line = 1
    if title_comment and body.startswith(b"#"):
        body = body[body.find(b"\n") + 1:] if b"\n" in body else b""
        header_line = 2
    found = body.split(b"\n", 1)[0].decode("utf-8").rstrip("\r").split(separator)
    if header is not None and found != list(header):
        raise InputFileError(
            path, f"wrong header {separator.join(found)!r}; expected {separator.join(header)!r}",
            line=header_line)
    _check_field_counts(path, body, separator.encode(), len(found), header_line)
    try:
        frame = pl.read_csv(body, separator=separator, has_header=True, infer_schema=False,
                            truncate_ragged_lines=True)
    except pl.exceptions.PolarsError as error:
        raise InputFileError(path, f"cannot be read as CSV: {str(error).splitlines()[0]}") from None
    stripped = {name: pl.col(name).str.strip_chars() for name in frame.columns}
    frame = frame.select([pl.when(text != "").then(text).alias(name) for name, text in stripped.items()])
    lines = pl.int_range(header_line + 1, header_line + 1 + frame.height, dtype=pl.Int64, eager=True)
    frame = frame.with_columns(lines.alias(LINE))
    return frame.filter(~pl.all_horizontal(pl.exclude(LINE).is_null()))


def _check_field_counts(path: Path, body: bytes, separator: bytes, n_fields: int,
                        header_line: int) -> None:
    """Reject the first non-blank line with more or fewer fields than the header.

    Without quotes a field count is a count of separators (fast, for the large exports); a file
    with quotes is counted by the ``csv`` module, so a quoted separator is not a field boundary
    and a quoted line with a field too many is rejected, not silently cut to the header's width.
    """
    if b'"' in body:
        _check_quoted_field_counts(path, body, separator, n_fields, header_line)
        return
    lines = body.split(b"\n")[1:]
    if lines and not lines[-1].strip():
        lines.pop()
    counts = [line.count(separator) for line in lines]
    if counts.count(n_fields - 1) == len(counts):
        return
    for offset, (line, count) in enumerate(zip(lines, counts), start=header_line + 1):
        if count != n_fields - 1 and line.strip():
            raise InputFileError(
                path, f"{line.count(separator) + 1} fields where the header has {n_fields}", line=offset)


def _check_quoted_field_counts(path: Path, body: bytes, separator: bytes, n_fields: int,
                               header_line: int) -> None:
    """``_check_field_counts`` for a file with quoted fields (read as CSV, quotes honoured)."""
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""), delimiter=separator.decode(),
                        quotechar='"', strict=True)
    started = 0  # lines of the body read before the current record
    try:
        for record in reader:
            line = header_line + started  # the body's first line is the header
            started = reader.line_num
            if line == header_line or not any(field.strip() for field in record):
                continue
            if len(record) != n_fields:
                raise InputFileError(path, f"{len(record)} fields where the header has {n_fields}", line=line)
    except csv.Error as error:
        raise InputFileError(path, f"cannot be read as CSV: {error}", line=header_line + started) from None


def parse_column(frame: pl.DataFrame, path: Path, column: str, parsed: pl.Expr,
                 what: str) -> pl.Series:
    """``parsed`` (an expression over ``frame`` that yields null where it fails) as a series.

    A value present in ``column`` whose parse is null or not finite rejects the file at its line.
    """
    values = frame.select(parsed.alias(column)).to_series()
    bad = frame[column].is_not_null() & values.is_null()
    if values.dtype.is_float():
        bad = bad | ~values.is_finite().fill_null(True)
    if bad.any():
        row = bad.arg_true()[0]
        raise InputFileError(path, f"column {column!r}: cannot read {frame[column][row]!r} as {what}",
                             line=frame[LINE][row])
    return values


def reject_rows(frame: pl.DataFrame, path: Path, bad: pl.Expr, problem: Callable[[dict], str]) -> None:
    """Reject the file at the first row where ``bad`` holds; ``problem`` words it from that row."""
    offending = frame.filter(bad.fill_null(False))
    if offending.height:
        row = offending.row(0, named=True)
        raise InputFileError(path, problem(row), line=row.get(LINE))


def collapse_duplicates(frame: pl.DataFrame, key: Sequence[str], path: Path) -> pl.DataFrame:
    """Identical rows (apart from ``LINE``) collapse to the first; a key repeated with different
    values rejects the file, naming both lines."""
    values = [name for name in frame.columns if name != LINE]
    if frame.select(pl.struct(key).is_duplicated().any()).item() is False:
        return frame
    deduped = frame.unique(subset=values, keep="first", maintain_order=True)
    clashes = deduped.filter(pl.struct(key).is_duplicated())
    if clashes.height:
        first = clashes.row(0, named=True)
        same = clashes.filter(pl.all_horizontal([pl.col(k).eq_missing(first[k]) for k in key]))
        shown = ", ".join(f"{k}={first[k]!r}" if isinstance(first[k], str) else f"{k}={first[k]}"
                          for k in key)
        if LINE not in same.columns:
            raise InputFileError(path, f"{shown} appears twice with different values")
        lines = same[LINE].to_list()
        raise InputFileError(
            path, f"{shown} appears on lines {lines[0]} and {lines[1]} with different values", line=lines[1])
    return deduped


# --- schema validation ----------------------------------------------------------------------

def validate_rows(frame: pl.DataFrame, model: type[pa.DataFrameModel], path: Path,
                  names: dict[str, str] | None = None,
                  location: Callable[[int, str | None], str] | None = None) -> pl.DataFrame:
    """The frame validated against ``model``, without ``LINE``; pandera failures reject the file.

    The first failing row is named by its ``LINE`` (CSV) or by ``location(row, column)`` (JSON);
    ``names`` maps model columns to the names the file uses, for the message.
    """
    try:
        checked = validate(frame, model)
    except pandera.errors.SchemaErrors as errors:
        raise schema_problem(path, frame, model, errors, names, location) from None
    return checked.drop(LINE, strict=False)


def schema_problem(path: Path, frame: pl.DataFrame, model: type[pa.DataFrameModel],
                   errors: pandera.errors.SchemaErrors, names: dict[str, str] | None = None,
                   location: Callable[[int, str | None], str] | None = None) -> InputFileError:
    """The first failure of a pandera validation as an ``InputFileError``."""
    cases = errors.failure_cases.sort("index", nulls_last=True)
    case = cases.row(0, named=True)
    row, column = case["index"], case["column"]
    names = names or {}
    if column in names or column in frame.columns:
        label = f"column {names.get(column, column)!r}"
        if case["check"] == "not_nullable":
            problem = f"{label}: missing value"
        else:
            problem = f"{label}: value {case['failure_case']!r} fails {case['check']}"
    elif case["check"] == "multiple_fields_uniqueness":
        key = [names.get(k, k) for k in model.to_schema().unique or []]
        problem = f"duplicate key {key}: {case['failure_case']}"
        column = None
    else:
        problem = f"{case['check']}: {case['failure_case']}"
        column = None
    if len(cases) > 1:
        problem += f" ({len(cases) - 1} more failures)"
    if row is None:
        return InputFileError(path, problem)
    if LINE in frame.columns:
        return InputFileError(path, problem, line=frame[LINE][row])
    return InputFileError(path, problem, location=location(row, column) if location else f"row {row}")
