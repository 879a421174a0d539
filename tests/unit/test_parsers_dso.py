"""DSO files: final production (metering point in the column name), redispatch flags, compensation."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from flexpower_assets.parsers.dso import (
    parse_final_production,
    parse_redispatch_compensation,
    parse_redispatch_flags,
    read_final_production_batch,
)
from flexpower_assets.parsers.errors import InputFileError

UTC = dt.timezone.utc


def at(hour: int, minute: int = 0, day: int = 8) -> dt.datetime:
    return dt.datetime(2025, 6, day, hour, minute, tzinfo=UTC)


def write(tmp_path, name: str, *lines: str):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rejection(parse, path) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        parse(path)
    assert caught.value.path.name == path.name
    return caught.value


# --- final production -----------------------------------------------------------------------

FINAL = "final_production_MP-WND-X3_20250609.csv"
FINAL_HEADER = "delivery_start__utc_,MP-WND-X3__kw_"


def test_final_production_metering_point_from_the_column_name(tmp_path):
    path = write(tmp_path, FINAL, FINAL_HEADER,
                 "2025-06-08 00:00:00.000000 UTC,306.72",
                 "2025-06-08 00:15:00.000000 UTC,252.0",
                 "2025-06-08 23:45:00.000000 UTC,0")

    frame = parse_final_production(path)

    assert frame.columns == ["metering_point_id", "delivery_start", "power_kw", "file_date"]
    assert frame["metering_point_id"].to_list() == ["MP-WND-X3"] * 3
    assert frame["delivery_start"].to_list() == [at(0), at(0, 15), at(23, 45)]
    assert frame["power_kw"].to_list() == [306.72, 252.0, 0.0]
    assert frame["file_date"].unique().to_list() == [dt.date(2025, 6, 9)]


def test_final_production_mismatching_metering_point_is_rejected(tmp_path):
    path = write(tmp_path, FINAL, "delivery_start__utc_,MP-WND-X2__kw_", "2025-06-08 00:00:00.000000 UTC,1.0")

    error = rejection(parse_final_production, path)

    assert str(error) == (f"{FINAL}: line 1: the column 'MP-WND-X2__kw_' names metering point "
                          "'MP-WND-X2', the file name 'MP-WND-X3'")


def test_final_production_wrong_header_is_rejected(tmp_path):
    path = write(tmp_path, FINAL, "delivery_start,power_kw", "2025-06-08 00:00:00.000000 UTC,1.0")

    error = rejection(parse_final_production, path)

    assert error.line == 1
    assert error.problem == "wrong header 'delivery_start,power_kw'; expected 'delivery_start__utc_,MP-WND-X3__kw_'"


def test_final_production_unparsable_time_and_number(tmp_path):
    bad_time = write(tmp_path, FINAL, FINAL_HEADER, "2025-06-08 00:00:00.000000 UTC,1.0", "08.06.2025 00:15,2.0")
    assert str(rejection(parse_final_production, bad_time)) == (
        f"{FINAL}: line 3: column 'delivery_start__utc_': cannot read '08.06.2025 00:15' as a UTC time "
        "like '%Y-%m-%d %H:%M:%S%.f UTC'")

    bad_number = write(tmp_path, FINAL, FINAL_HEADER, "2025-06-08 00:00:00.000000 UTC,1,5")
    assert str(rejection(parse_final_production, bad_number)) == f"{FINAL}: line 2: 3 fields where the header has 2"

    bad_value = write(tmp_path, FINAL, FINAL_HEADER, "2025-06-08 00:00:00.000000 UTC,n/a")
    assert str(rejection(parse_final_production, bad_value)) == (
        f"{FINAL}: line 2: column 'MP-WND-X3__kw_': cannot read 'n/a' as a number")


def test_final_production_quarter_hour_twice_with_different_values_is_rejected(tmp_path):
    path = write(tmp_path, FINAL, FINAL_HEADER,
                 "2025-06-08 00:00:00.000000 UTC,1.0",
                 "2025-06-08 00:15:00.000000 UTC,2.0",
                 "2025-06-08 00:00:00.000000 UTC,1.5")

    error = rejection(parse_final_production, path)

    assert error.line == 4
    assert error.problem == "delivery_start=2025-06-08 00:00:00+00:00 appears on lines 2 and 4 with different values"


def test_final_production_start_off_the_quarter_hour_is_rejected(tmp_path):
    path = write(tmp_path, FINAL, FINAL_HEADER, "2025-06-08 00:10:00.000000 UTC,1.0")

    error = rejection(parse_final_production, path)

    assert str(error) == (f"{FINAL}: line 2: column 'delivery_start__utc_': 2025-06-08 00:10:00 UTC is not "
                          "the start of a quarter-hour")


def test_final_production_batch_equals_the_single_file_parses(tmp_path):
    first = write(tmp_path, "final_production_MP-WND-X3_20250609.csv", FINAL_HEADER,
                  "2025-06-08 00:00:00.000000 UTC,306.72",
                  "2025-06-08 00:15:00.000000 UTC,252.0")
    # the same QHs corrected a day later: files of one metering point may overlap
    second = write(tmp_path, "final_production_MP-WND-X3_20250610.csv", FINAL_HEADER,
                   "2025-06-08 00:00:00.000000 UTC,300.5",
                   "2025-06-08 00:15:00.000000 UTC,252.0")
    # read again alone (byte-order mark, CRLF, a repeated identical row) but in the batch all the same
    third = tmp_path / "final_production_MP-PV-7_20250609.csv"
    third.write_bytes(b"\xef\xbb\xbfdelivery_start__utc_,MP-PV-7__kw_\r\n"
                      b"2025-06-08 10:00:00.000000 UTC, 12.5 \r\n"
                      b"2025-06-08 10:00:00.000000 UTC,12.5\r\n")
    paths = [first, second, third]

    frame, errors = read_final_production_batch(paths)

    assert errors == []
    expected = pl.concat([parse_final_production(path).with_columns(file_index=pl.lit(i, dtype=pl.Int32))
                          for i, path in enumerate(paths)])
    assert frame.equals(expected)
    assert frame["file_index"].to_list() == [0, 0, 1, 1, 2]
    assert frame["power_kw"].to_list() == [306.72, 252.0, 300.5, 252.0, 12.5]
    assert frame["metering_point_id"].to_list() == ["MP-WND-X3"] * 4 + ["MP-PV-7"]
    assert frame["file_date"].to_list() == [dt.date(2025, 6, 9)] * 2 + [dt.date(2025, 6, 10)] * 2 + [
        dt.date(2025, 6, 9)]


def test_final_production_batch_bad_file_gets_its_single_file_error(tmp_path):
    good = write(tmp_path, "final_production_MP-WND-X3_20250609.csv", FINAL_HEADER,
                 "2025-06-08 00:00:00.000000 UTC,1.0",
                 "2025-06-08 00:15:00.000000 UTC,2.0")
    bad = write(tmp_path, "final_production_MP-WND-X4_20250609.csv", "delivery_start__utc_,MP-WND-X4__kw_",
                "2025-06-08 00:00:00.000000 UTC,3.0",
                "2025-06-08 00:15:00.000000 UTC,n/a")
    other_bad = write(tmp_path, "final_production_MP-WND-X5_20250609.csv", "delivery_start__utc_,MP-WND-X5__kw_",
                      "2025-06-08 00:10:00.000000 UTC,4.0")
    also_good = write(tmp_path, "final_production_MP-WND-X6_20250609.csv", "delivery_start__utc_,MP-WND-X6__kw_",
                      "2025-06-08 00:30:00.000000 UTC,5.0")

    frame, errors = read_final_production_batch([good, bad, other_bad, also_good])

    assert [str(error) for error in errors] == [str(rejection(parse_final_production, bad)),
                                                str(rejection(parse_final_production, other_bad))]
    assert str(errors[0]) == ("final_production_MP-WND-X4_20250609.csv: line 3: column 'MP-WND-X4__kw_': "
                              "cannot read 'n/a' as a number")
    assert errors[1].line == 2
    assert frame["file_index"].to_list() == [0, 0, 3]
    assert frame["power_kw"].to_list() == [1.0, 2.0, 5.0]
    assert frame["delivery_start"].to_list() == [at(0), at(0, 15), at(0, 30)]


def test_final_production_batch_of_no_files(tmp_path):
    frame, errors = read_final_production_batch([])

    assert errors == []
    assert frame.height == 0
    assert frame.columns == ["metering_point_id", "delivery_start", "power_kw", "file_date", "file_index"]
    assert frame.schema["file_index"] == pl.Int32


# --- redispatch flags -----------------------------------------------------------------------

FLAGS = "redispatch_flag_MP-WND-X3_20250609_1201.csv"
FLAGS_HEADER = "delivery_start,delivery_end,is_redispatched"


def test_redispatch_flags_metering_point_and_issue_time_from_the_name(tmp_path):
    path = write(tmp_path, FLAGS, FLAGS_HEADER,
                 "2025-06-08T10:15:00Z,2025-06-08T10:30:00Z,1",
                 "2025-06-08T10:30:00Z,2025-06-08T10:45:00Z,0")

    frame = parse_redispatch_flags(path)

    assert frame.columns == ["metering_point_id", "delivery_start", "is_redispatched", "issued_at"]
    assert frame["metering_point_id"].to_list() == ["MP-WND-X3", "MP-WND-X3"]
    assert frame["delivery_start"].to_list() == [at(10, 15), at(10, 30)]
    assert frame["is_redispatched"].to_list() == [True, False]
    # 20250609_1201 -> 2025-06-09 12:01 UTC
    assert frame["issued_at"].unique().to_list() == [at(12, 1, day=9)]


def test_redispatch_flag_other_than_0_or_1_is_rejected(tmp_path):
    path = write(tmp_path, FLAGS, FLAGS_HEADER,
                 "2025-06-08T10:15:00Z,2025-06-08T10:30:00Z,1",
                 "2025-06-08T10:30:00Z,2025-06-08T10:45:00Z,yes")

    error = rejection(parse_redispatch_flags, path)

    assert str(error) == f"{FLAGS}: line 3: column 'is_redispatched': 'yes' is not 0 or 1"


def test_redispatch_flag_end_must_be_start_plus_15_minutes(tmp_path):
    path = write(tmp_path, FLAGS, FLAGS_HEADER, "2025-06-08T10:15:00Z,2025-06-08T11:15:00Z,1")

    error = rejection(parse_redispatch_flags, path)

    assert str(error) == (f"{FLAGS}: line 2: delivery_end 2025-06-08 11:15 is not delivery_start "
                          "2025-06-08 10:15 + 15 min")


def test_redispatch_flag_unparsable_time_is_rejected(tmp_path):
    path = write(tmp_path, FLAGS, FLAGS_HEADER, "2025-06-08 10:15,2025-06-08T10:30:00Z,1")

    error = rejection(parse_redispatch_flags, path)

    assert error.line == 2
    assert error.problem.startswith("column 'delivery_start': cannot read '2025-06-08 10:15' as a UTC time")


# --- redispatch compensation ----------------------------------------------------------------

COMPENSATION = "redispatch_compensation_2025-06-20.csv"
COMPENSATION_HEADER = "delivery_start__utc_,delivery_end__utc_,price__euro_per_mwh_"


def test_redispatch_compensation_spans_several_days(tmp_path):
    path = write(tmp_path, COMPENSATION, COMPENSATION_HEADER,
                 "2025-06-07 00:00:00.000000 UTC,2025-06-07 00:15:00.000000 UTC,95.7",
                 "2025-06-10 23:45:00.000000 UTC,2025-06-11 00:00:00.000000 UTC,-3.25")

    frame = parse_redispatch_compensation(path)

    assert frame["delivery_start"].to_list() == [at(0, day=7), at(23, 45, day=10)]
    assert frame["price_eur_per_mwh"].to_list() == [95.7, -3.25]
    assert frame["file_date"].unique().to_list() == [dt.date(2025, 6, 20)]


def test_redispatch_compensation_wrong_header_and_empty_file(tmp_path):
    wrong = write(tmp_path, COMPENSATION, "start,end,price", "2025-06-07 00:00:00.000000 UTC,x,1")
    assert rejection(parse_redispatch_compensation, wrong).line == 1

    empty = tmp_path / "redispatch_compensation_2025-06-21.csv"
    empty.write_bytes(b"")
    assert str(rejection(parse_redispatch_compensation, empty)) == (
        "redispatch_compensation_2025-06-21.csv: whole file: file is empty (0 bytes)")
