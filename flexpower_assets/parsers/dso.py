"""DSO: final measured production, redispatch flags and redispatch compensation prices (CSV).

DSO files are keyed by metering point, never by asset. Timestamps are UTC, either in the DSO
style ``2025-06-08 00:00:00.000000 UTC`` or as ISO ``2025-06-08T10:15:00Z`` (flags).
A day brings ~2,000 final-production files, so they are also read in batches
(``read_final_production_batch``), with the same rows and errors as file by file.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
from pathlib import Path

import numpy as np
import pandera.errors
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
from flexpower_assets.schemas import conform
from flexpower_assets.schemas.inbound import FinalProduction, RedispatchCompensation, RedispatchFlag

FINAL_PRODUCTION_NAME = re.compile(r"final_production_(?P<mp>.+)_(?P<date>\d{8})\.csv")
REDISPATCH_FLAG_NAME = re.compile(r"redispatch_flag_(?P<mp>.+)_(?P<issued>\d{8}_\d{4})\.csv")
REDISPATCH_COMPENSATION_NAME = re.compile(r"redispatch_compensation_(?P<date>\d{4}-\d{2}-\d{2})\.csv")

DSO_TIME = "%Y-%m-%d %H:%M:%S%.f UTC"
ISO_UTC_TIME = "%Y-%m-%dT%H:%M:%S%.fZ"
QH = dt.timedelta(minutes=15)
UTC_US = pl.Datetime("us", "UTC")
POWER_COLUMN = re.compile(r"(?P<mp>.+)__kw_")
FILE_INDEX = "file_index"

#: FinalProduction without its key check, for a batch: files of one metering point overlap
#: (corrections), and the starts of each file are checked distinct before validation.
_FINAL_PRODUCTION_VALUES = copy.deepcopy(FinalProduction.to_schema())
_FINAL_PRODUCTION_VALUES.unique = None


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


def read_final_production_batch(paths: list[Path]) -> tuple[pl.DataFrame, list[InputFileError]]:
    """Rows of every good final-production file (FinalProduction plus ``file_index`` into
    ``paths``) and one error per bad file, in the order of ``paths``.

    Each file gives exactly the rows and the error of ``parse_final_production``. A plain file
    (the expected header, one comma per line, no quotes or carriage returns, UTF-8) is split
    into lines here and its values are parsed and checked with those of the whole batch; any
    other file, and any file with a value the batch flags, is read again by
    ``parse_final_production``, which words its error (or collapses its repeated rows).
    """
    paths = [Path(p) for p in paths]
    kept: list[int] = []
    metering_points: list[str] = []
    file_dates: list[dt.date] = []
    lengths: list[int] = []
    lines: list[str] = []
    again: list[int] = []  # files to read again with parse_final_production
    for i, path in enumerate(paths):
        plain = _plain_final_production(path)
        if plain is None:
            again.append(i)
            continue
        mp, file_date, rows = plain
        kept.append(i)
        metering_points.append(mp)
        file_dates.append(file_date)
        lengths.append(len(rows))
        lines.extend(rows)
    frame = _final_production_values(kept, metering_points, file_dates, lengths, lines)
    bad = frame.filter(pl.col("is_bad"))[FILE_INDEX].unique().to_list()
    frame = frame.filter(~pl.col(FILE_INDEX).is_in(bad)).drop("is_bad")
    errors: dict[int, InputFileError] = {}
    frame = _with_parsed_alone(frame, paths, sorted(again + bad), errors)
    # validated once; only if that fails are the failing rows' files read alone to word it
    while True:
        try:
            frame = _FINAL_PRODUCTION_VALUES.validate(conform(frame, FinalProduction), lazy=True)
            return frame, [errors[i] for i in sorted(errors)]
        except pandera.errors.SchemaErrors as failure:
            rows = failure.failure_cases["index"].drop_nulls()
            culprits = frame[FILE_INDEX].gather(rows).unique().to_list()
            if not culprits:
                raise
            frame = frame.filter(~pl.col(FILE_INDEX).is_in(culprits))
            frame = _with_parsed_alone(frame, paths, sorted(culprits), errors, keep_rows=False)


def _plain_final_production(path: Path) -> tuple[str, dt.date, list[str]] | None:
    """The metering point, file date and data lines of a plain final-production file (see
    ``read_final_production_batch``); None for any other file."""
    name = FINAL_PRODUCTION_NAME.fullmatch(path.name)
    if name is None:
        return None
    mp = name["mp"]
    file_date = _date_in_name(name["date"])
    if file_date is None or "," in mp or '"' in mp or mp != mp.strip():
        return None
    raw = path.read_bytes()
    if b'"' in raw or b"\r" in raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != f"delivery_start__utc_,{mp}__kw_":
        return None
    return mp, file_date, lines[1:]


@functools.lru_cache(maxsize=256)
def _date_in_name(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def _final_production_values(kept: list[int], metering_points: list[str], file_dates: list[dt.date],
                             lengths: list[int], lines: list[str]) -> pl.DataFrame:
    """The FinalProduction columns and ``file_index`` of the data lines of plain files, with
    ``is_bad`` on a row that ``parse_final_production`` would not take as it is: not two
    fields, blank, a value missing or unreadable, a start off the quarter-hour or repeated."""
    repeat = np.asarray(lengths, dtype=np.int64)
    owner = np.repeat(np.arange(len(kept), dtype=np.uint32), repeat)
    text = pl.Series("text", lines, dtype=pl.String)
    fields = text.str.split_exact(",", 1).struct.unnest()
    stripped = [fields[name].str.strip_chars() for name in ("field_0", "field_1")]
    start_text, power_text = (pl.when(column != "").then(column) for column in stripped)
    frame = pl.DataFrame({
        "metering_point_id": pl.Series(metering_points, dtype=pl.String).gather(owner),
        "file_date": pl.Series(file_dates, dtype=pl.Date).gather(owner),
        FILE_INDEX: pl.Series(np.repeat(np.asarray(kept, dtype=np.int32), repeat), dtype=pl.Int32),
        "commas": text.str.count_matches(",", literal=True),
    }).with_columns(start_text.alias("start_text"), power_text.alias("power_text"))
    start = pl.col("delivery_start")
    power = pl.col("power_kw")
    frame = frame.with_columns(
        pl.col("start_text").str.to_datetime(DSO_TIME, time_unit="us", time_zone="UTC", strict=False)
        .alias("delivery_start"),
        pl.col("power_text").cast(pl.Float64, strict=False).alias("power_kw"),
    )
    is_bad = ((pl.col("commas") != 1) | start.is_null() | power.is_null() | ~power.is_finite()
              | (start.dt.truncate("15m") != start) | pl.struct(FILE_INDEX, start).is_duplicated())
    return frame.select("metering_point_id", start, power, "file_date", FILE_INDEX,
                        is_bad.fill_null(True).alias("is_bad"))


def _with_parsed_alone(frame: pl.DataFrame, paths: list[Path], again: list[int],
                       errors: dict[int, InputFileError], keep_rows: bool = True) -> pl.DataFrame:
    """``frame`` with the rows of the files ``again`` read alone by ``parse_final_production``
    (in file order); a file it rejects goes to ``errors``."""
    parts = [frame]
    for i in again:
        try:
            rows = parse_final_production(paths[i])
        except InputFileError as error:
            errors[i] = error
            continue
        if not keep_rows:  # accepted alone but not within the batch
            errors[i] = InputFileError(paths[i], "rows clash with another file of the same batch")
            continue
        parts.append(rows.with_columns(pl.lit(i, dtype=pl.Int32).alias(FILE_INDEX)))
    if len(parts) == 1:
        return frame
    return pl.concat(parts, how="vertical_relaxed").sort(FILE_INDEX, maintain_order=True)


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
