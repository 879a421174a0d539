"""VPP documents: technical data, forecast versions, live infeed, and the batch readers."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flexpower_assets.parsers import columnar
from flexpower_assets.parsers.errors import InputFileError
from flexpower_assets.parsers.vpp import (
    parse_forecast,
    parse_live,
    parse_technical_data,
    read_forecast_batch,
    read_live_batch,
)

UTC = dt.timezone.utc
MIDNIGHT_MS = 1_749_340_800_000  # 2025-06-08 00:00 UTC in epoch milliseconds
QH_MS = 900_000                  # 15 min * 60 s * 1000 ms
V0815_MS = MIDNIGHT_MS + 33 * QH_MS  # 08:15 is 33 quarter-hours after midnight: 1_749_370_500_000


def write_json(tmp_path, name: str, document) -> object:
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def forecast_doc(asset="WND-X-003", version_ms=V0815_MS, powers=(100.0, 250.5, 0.0), key="asset_id",
                 as_float=False, units=("ms", "ms", "ms", "kW")):
    """A forecast answer whose columns are NOT in the documented order (power first)."""
    starts = [version_ms + k * QH_MS for k in range(len(powers))]
    cast = float if as_float else int
    return {
        "key": {key: asset, "type_id": "pv-forecast-real"},
        "column_ids": ["power", "start", "version", "end"],
        "units": [units[3], units[0], units[2], units[1]],
        "values": [list(powers), [cast(s) for s in starts], [cast(version_ms)] * len(powers),
                   [cast(s + QH_MS) for s in starts]],
    }


def live_doc(asset="SOL-X-002", times=(MIDNIGHT_MS, MIDNIGHT_MS + 60_000.0, MIDNIGHT_MS + 240_000.0),
             values=(-0.25, -0.2, 3.5), key="asset_id", units=("ms", "kW", "factor")):
    return {
        "key": {key: asset, "type_id": "power-measurement-live"},
        "column_ids": ["timestamp", "value", "quality"],
        "units": list(units),
        "values": [list(times), list(values), [1.0] * len(times)],
    }


# --- technical data -------------------------------------------------------------------------

def technical_entry(asset_id, capacity_kw, lat=54.1, lon=8.8, commissioning="2024-03-15"):
    return {
        "asset_id": asset_id, "name": f"Park {asset_id}", "type": "wind",
        "location": {"latitude": lat, "longitude": lon, "timezone": "Europe/Berlin"},
        "technical_attributes": {"capacity_kw": capacity_kw, "turbine_count": 2,
                                 "commissioning_date": commissioning},
        "status": "operational", "owner": {"name": "Owner GmbH"},
    }


def test_technical_data_capacity_int_or_float(tmp_path):
    path = write_json(tmp_path, "technical_data_2025-06-02T125000Z.json",
                      {"assets": [technical_entry("WND-X-001", 4000), technical_entry("WND-X-003", 5600.0)]})

    frame = parse_technical_data(path)

    assert frame["asset_id"].to_list() == ["WND-X-001", "WND-X-003"]
    assert frame["capacity_kw"].to_list() == [4000.0, 5600.0]
    assert frame["asset_name"].to_list() == ["Park WND-X-001", "Park WND-X-003"]
    assert frame["technology"].to_list() == ["wind", "wind"]
    assert frame["commissioning_date"].to_list() == [dt.date(2024, 3, 15)] * 2
    assert frame["owner_name"].to_list() == ["Owner GmbH"] * 2
    assert frame["latitude"].to_list() == [54.1, 54.1]
    assert frame["file_created_at"].unique().to_list() == [dt.datetime(2025, 6, 2, 12, 50, tzinfo=UTC)]


def test_technical_data_capacity_not_a_number_names_the_json_location(tmp_path):
    path = write_json(tmp_path, "technical_data_2025-06-02T125000Z.json",
                      {"assets": [technical_entry("A", 4000), technical_entry("B", "5.6 MW")]})

    with pytest.raises(InputFileError) as caught:
        parse_technical_data(path)

    assert str(caught.value) == ("technical_data_2025-06-02T125000Z.json: "
                                 "assets[1].technical_attributes.capacity_kw: '5.6 MW' is not a number")


def test_technical_data_zero_capacity_names_the_json_location(tmp_path):
    path = write_json(tmp_path, "technical_data_2025-06-02T125000Z.json",
                      {"assets": [technical_entry("A", 4000), technical_entry("B", 0)]})

    with pytest.raises(InputFileError) as caught:
        parse_technical_data(path)

    assert caught.value.location == "assets[1].technical_attributes.capacity_kw"
    assert caught.value.problem.startswith("column 'capacity_kw': value '0.0' fails greater_than(0)")


def test_technical_data_same_asset_with_different_values_is_rejected(tmp_path):
    path = write_json(tmp_path, "technical_data_2025-06-02T125000Z.json",
                      {"assets": [technical_entry("A", 4000), technical_entry("A", 4200)]})

    with pytest.raises(InputFileError) as caught:
        parse_technical_data(path)

    assert caught.value.location == "assets[1]"
    assert caught.value.problem == "asset 'A' is listed at assets[0] and assets[1] with different values"


# --- forecasts ------------------------------------------------------------------------------

def test_forecast_reads_columns_by_name_with_float_epoch_ms(tmp_path):
    path = write_json(tmp_path, "WND-X-003_20250608T0815Z.json", forecast_doc(as_float=True))

    frame = parse_forecast(path)

    version = dt.datetime(2025, 6, 8, 8, 15, tzinfo=UTC)
    assert frame.columns == ["asset_id", "delivery_start", "version", "power_kw"]
    assert frame["asset_id"].to_list() == ["WND-X-003"] * 3
    # starts 08:15, 08:30, 08:45 (version + k * 15 min)
    assert frame["delivery_start"].to_list() == [version + dt.timedelta(minutes=15 * k) for k in range(3)]
    assert frame["version"].to_list() == [version] * 3
    assert frame["power_kw"].to_list() == [100.0, 250.5, 0.0]


def test_forecast_with_int_epoch_ms_and_entity_id_key(tmp_path):
    path = write_json(tmp_path, "WND-X-003_20250608T0815Z.json", forecast_doc(key="entity_id"))

    frame = parse_forecast(path)

    assert frame["asset_id"].to_list() == ["WND-X-003"] * 3
    assert frame["delivery_start"][0] == dt.datetime(2025, 6, 8, 8, 15, tzinfo=UTC)


def forecast_rejection(tmp_path, name, document) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        parse_forecast(write_json(tmp_path, name, document))
    assert caught.value.path.name == name
    return caught.value


def test_forecast_version_not_on_a_quarter_hour_is_rejected(tmp_path):
    # 08:10 is not a quarter-hour: 08:10 = 08:15 - 5 min
    error = forecast_rejection(tmp_path, "WND-X-003_20250608T0810Z.json",
                               forecast_doc(version_ms=V0815_MS - 300_000))

    assert error.problem == "version 2025-06-08 08:10 UTC is not on a quarter-hour: no such version exists"


def test_forecast_content_version_must_match_the_name(tmp_path):
    error = forecast_rejection(tmp_path, "WND-X-003_20250608T0800Z.json", forecast_doc())

    assert error.location == "values[2][0]"
    assert error.problem.startswith(f"version {V0815_MS} ms differs from the file name's version 2025-06-08 08:00")


def test_forecast_content_asset_must_match_the_name(tmp_path):
    error = forecast_rejection(tmp_path, "WND-X-001_20250608T0815Z.json", forecast_doc())

    assert str(error) == ("WND-X-001_20250608T0815Z.json: key: the file name names asset 'WND-X-001', "
                          "the content 'WND-X-003'")


def test_forecast_unknown_unit_is_rejected(tmp_path):
    error = forecast_rejection(tmp_path, "WND-X-003_20250608T0815Z.json",
                               forecast_doc(units=("ms", "ms", "ms", "MW")))

    # power is the first column of this document
    assert str(error) == ("WND-X-003_20250608T0815Z.json: units[0]: unknown unit 'MW' for column "
                          "'power' (expected 'kW')")


def test_forecast_columns_of_unequal_length_are_rejected(tmp_path):
    document = forecast_doc()
    document["values"][0].pop()

    error = forecast_rejection(tmp_path, "WND-X-003_20250608T0815Z.json", document)

    assert error.location == "values[0]"
    assert error.problem == "column 'power' has 2 values, column 'start' has 3"


def test_forecast_end_must_be_start_plus_15_minutes(tmp_path):
    document = forecast_doc()
    document["values"][3][1] += QH_MS  # second row ends 30 min after its start

    error = forecast_rejection(tmp_path, "WND-X-003_20250608T0815Z.json", document)

    # start of row 1 = 1_749_370_500_000 + 900_000 = 1_749_371_400_000; its end + 2 * 900_000
    assert error.location == "values[3][1]"
    assert error.problem == "end 1749373200000 ms is not start + 15 min (1749371400000 ms)"


def test_forecast_unparsable_power_is_rejected(tmp_path):
    document = forecast_doc()
    document["values"][0][2] = "n/a"

    error = forecast_rejection(tmp_path, "WND-X-003_20250608T0815Z.json", document)

    assert str(error) == "WND-X-003_20250608T0815Z.json: values[0][2]: column 'power': 'n/a' is not a number"


def test_forecast_number_written_as_text_is_rejected(tmp_path):
    # "1.5" is a JSON string, not a number: it is not read as 1.5 kW
    document = forecast_doc()
    document["values"][0][2] = "1.5"

    error = forecast_rejection(tmp_path, "WND-X-003_20250608T0815Z.json", document)

    assert str(error) == "WND-X-003_20250608T0815Z.json: values[0][2]: column 'power': '1.5' is not a number"


def test_forecast_boolean_power_is_rejected(tmp_path):
    # JSON true is not a power (polars alone would read it as 1.0 kW)
    document = forecast_doc()
    document["values"][0][2] = True

    error = forecast_rejection(tmp_path, "WND-X-003_20250608T0815Z.json", document)

    assert str(error) == "WND-X-003_20250608T0815Z.json: values[0][2]: column 'power': True is not a number"


def test_forecast_repeated_start_is_rejected(tmp_path):
    document = forecast_doc()
    document["values"][1][2] = document["values"][1][1]
    document["values"][3][2] = document["values"][3][1]

    error = forecast_rejection(tmp_path, "WND-X-003_20250608T0815Z.json", document)

    assert error.location == "values[1][2]"
    assert error.problem == f"start {V0815_MS + QH_MS} ms appears twice"


def test_forecast_empty_file_and_broken_json(tmp_path):
    empty = tmp_path / "WND-X-003_20250608T0815Z.json"
    empty.write_bytes(b"")
    broken = tmp_path / "WND-X-003_20250608T0830Z.json"
    broken.write_text('{"key": {"asset_id": "WND-X-003"},\n "values": [1, 2', encoding="utf-8")

    _, errors = read_forecast_batch([empty, broken])

    assert [str(e) for e in errors][0] == "WND-X-003_20250608T0815Z.json: whole file: file is empty (0 bytes)"
    assert errors[1].line == 2
    assert errors[1].problem.startswith("not valid JSON")


def test_forecast_batch_one_bad_file_among_good_ones(tmp_path):
    good_a = write_json(tmp_path, "A_20250608T0815Z.json", forecast_doc("A"))
    good_b = write_json(tmp_path, "B_20250608T0815Z.json", forecast_doc("B", powers=(1.0, 2.0), as_float=True))
    bad_doc = forecast_doc("C")
    bad_doc["values"][1][0] += 60_000  # first start one minute off the quarter-hour
    bad = write_json(tmp_path, "C_20250608T0815Z.json", bad_doc)
    good_d = write_json(tmp_path, "D_20250608T0830Z.json", forecast_doc("D", version_ms=V0815_MS + QH_MS,
                                                                        key="entity_id"))

    frame, errors = read_forecast_batch([good_a, good_b, bad, good_d])

    assert len(errors) == 1
    assert str(errors[0]) == "C_20250608T0815Z.json: values[1][0]: start 1749370560000 ms is not on a quarter-hour"
    # 3 + 2 + 3 rows of the good files, each row tagged with its file's index in the list
    assert frame.height == 8
    assert frame["file_index"].to_list() == [0, 0, 0, 1, 1, 3, 3, 3]
    assert frame["asset_id"].to_list() == ["A"] * 3 + ["B"] * 2 + ["D"] * 3
    assert frame["power_kw"].to_list() == [100.0, 250.5, 0.0, 1.0, 2.0, 100.0, 250.5, 0.0]
    assert str(frame.schema["file_index"]) == "Int32"


def test_forecast_batch_rejects_a_second_file_of_the_same_version(tmp_path):
    first = write_json(tmp_path, "A_20250608T0815Z.json", forecast_doc("A"))
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    second = write_json(copy_dir, "A_20250608T0815Z.json", forecast_doc("A", powers=(5.0, 5.0, 5.0)))

    frame, errors = read_forecast_batch([first, second])

    assert frame["power_kw"].to_list() == [100.0, 250.5, 0.0]
    assert [e.problem for e in errors] == ["asset 'A' at this version was already read from A_20250608T0815Z.json"]


# --- live -----------------------------------------------------------------------------------

def test_live_entity_id_float_timestamps_and_negative_night_values_kept(tmp_path):
    path = write_json(tmp_path, "SOL02_20250608.json", live_doc(key="entity_id"))

    frame = parse_live(path)

    assert frame.columns == ["asset_id", "timestamp", "power_kw", "quality"]
    assert frame["asset_id"].to_list() == ["SOL-X-002"] * 3
    # 00:00, 00:01 (+60,000 ms) and 00:04 (+240,000 ms): irregular points kept as they are
    assert frame["timestamp"].to_list() == [dt.datetime(2025, 6, 8, 0, m, tzinfo=UTC) for m in (0, 1, 4)]
    assert frame["power_kw"].to_list() == [-0.25, -0.2, 3.5]
    assert frame["quality"].to_list() == [1.0, 1.0, 1.0]


def test_live_asset_comes_from_the_key_not_the_name(tmp_path):
    path = write_json(tmp_path, "WND01_20250608.json", live_doc(asset="WND-X-001"))

    assert parse_live(path)["asset_id"].unique().to_list() == ["WND-X-001"]


def test_live_unknown_unit_is_rejected(tmp_path):
    path = write_json(tmp_path, "WND01_20250608.json", live_doc(units=("ms", "W", "factor")))

    with pytest.raises(InputFileError) as caught:
        parse_live(path)

    assert str(caught.value) == "WND01_20250608.json: units[1]: unknown unit 'W' for column 'value' (expected 'kW')"


def test_live_missing_value_is_rejected(tmp_path):
    path = write_json(tmp_path, "WND01_20250608.json", live_doc(values=(1.0, None, 2.0)))

    with pytest.raises(InputFileError) as caught:
        parse_live(path)

    assert str(caught.value) == "WND01_20250608.json: values[1][1]: column 'value': None is not a number"


def test_live_batch_one_bad_file_among_good_ones(tmp_path):
    good = write_json(tmp_path, "SOL02_20250608.json", live_doc(key="entity_id"))
    bad = write_json(tmp_path, "WND01_20250608.json",
                     live_doc(asset="WND-X-001", times=(MIDNIGHT_MS, MIDNIGHT_MS), values=(1.0, 2.0)))
    other = write_json(tmp_path, "WND02_20250608.json", live_doc(asset="WND-X-002", values=(10.0, 11.0, 12.5)))

    frame, errors = read_live_batch([good, bad, other])

    assert [str(e) for e in errors] == [f"WND01_20250608.json: values[0][1]: timestamp {MIDNIGHT_MS} ms appears twice"]
    assert frame["file_index"].to_list() == [0, 0, 0, 2, 2, 2]
    assert frame["asset_id"].to_list() == ["SOL-X-002"] * 3 + ["WND-X-002"] * 3
    assert frame["power_kw"].to_list() == [-0.25, -0.2, 3.5, 10.0, 11.0, 12.5]


def test_live_batch_keeps_a_file_overlapping_an_earlier_one_of_the_same_asset(tmp_path):
    # a second delivery of the same asset and day: both files are read, in one batch as in two
    # syncs; which value wins per timestamp is decided when the day is built (the newest file)
    first = write_json(tmp_path, "SOL02_20250608.json", live_doc())
    overlap = write_json(tmp_path, "SOL02b_20250608.json",
                         live_doc(times=(MIDNIGHT_MS + 120_000,), values=(0.0,)))

    frame, errors = read_live_batch([first, overlap])

    assert errors == []
    assert frame["file_index"].to_list() == [0, 0, 0, 1]
    assert frame["power_kw"].to_list() == [-0.25, -0.2, 3.5, 0.0]


def test_live_quality_column_is_optional(tmp_path):
    document = live_doc()
    for part in ("column_ids", "units", "values"):
        document[part].pop()  # drop quality, the last column
    frame = parse_live(write_json(tmp_path, "SOL02_20250608.json", document))

    assert frame["power_kw"].to_list() == [-0.25, -0.2, 3.5]
    assert frame["quality"].to_list() == [None, None, None]


def test_live_batch_validation_failure_is_traced_to_its_file(tmp_path):
    # two distinct float timestamps that are the same microsecond once converted:
    # 1_749_340_800_000.0005 ms (stored as ...000.000488) = ...000_000.488 us, which rounds to ..._000 us
    good = write_json(tmp_path, "SOL02_20250608.json", live_doc())
    times = (MIDNIGHT_MS, MIDNIGHT_MS + 0.0005)
    clash = write_json(tmp_path, "WND01_20250608.json", live_doc(asset="WND-X-001", times=times, values=(1.0, 2.0)))

    frame, errors = read_live_batch([good, clash])

    assert frame["file_index"].to_list() == [0, 0, 0]
    assert len(errors) == 1
    assert errors[0].path.name == "WND01_20250608.json"
    assert errors[0].location == "values[0][0]"  # the first of the two clashing rows
    assert errors[0].problem.startswith("duplicate key ['asset_id', 'timestamp']")


# --- batch readers: documents in the documented layout pass at once, others step by step ----

def documented_forecast(asset, version_ms=V0815_MS, powers=(100.0, 250.5, 0.0), key="asset_id", as_float=False):
    """A forecast answer with its columns in the documented order: start, end, version, power."""
    document = forecast_doc(asset, version_ms, powers, key, as_float)
    order = [1, 3, 2, 0]  # where start, end, version and power sit in forecast_doc's answer
    return {"key": document["key"],
            **{part: [document[part][k] for k in order] for part in ("column_ids", "units", "values")}}


def documented_live(asset, times, values, quality, key="asset_id"):
    return {"key": {key: asset}, "column_ids": ["timestamp", "value", "quality"],
            "units": ["ms", "kW", "factor"], "values": [list(times), list(values), list(quality)]}


def test_forecast_batch_reads_both_layouts_alike_across_conversion_chunks(tmp_path, monkeypatch):
    # values are turned into columns 4 rows at a time here, so int and float epoch ms files
    # meet in different chunks of one batch
    monkeypatch.setattr(columnar, "CHUNK_ROWS", 4)
    v0830_ms = V0815_MS + QH_MS
    paths = [
        write_json(tmp_path, "A_20250608T0815Z.json", documented_forecast("A")),
        write_json(tmp_path, "B_20250608T0815Z.json",
                   documented_forecast("B", powers=(1.0, 2.0), key="entity_id", as_float=True)),
        write_json(tmp_path, "C_20250608T0815Z.json", forecast_doc("C", powers=(5.0,))),  # power first
        write_json(tmp_path, "D_20250608T0830Z.json", documented_forecast("D", v0830_ms, powers=(7, 8))),
    ]

    frame, errors = read_forecast_batch(paths)

    assert errors == []
    at = lambda hour, minute: dt.datetime(2025, 6, 8, hour, minute, tzinfo=UTC)  # noqa: E731
    # each file's starts run from its version in steps of 15 min: A 3 rows, B 2, C 1, D 2
    assert frame.to_dict(as_series=False) == {
        "asset_id": ["A", "A", "A", "B", "B", "C", "D", "D"],
        "delivery_start": [at(8, 15), at(8, 30), at(8, 45), at(8, 15), at(8, 30), at(8, 15),
                           at(8, 30), at(8, 45)],
        "version": [at(8, 15)] * 6 + [at(8, 30)] * 2,
        "power_kw": [100.0, 250.5, 0.0, 1.0, 2.0, 5.0, 7.0, 8.0],
        "file_index": [0, 0, 0, 1, 1, 2, 3, 3],
    }


def test_forecast_batch_bad_files_in_the_documented_layout(tmp_path):
    repeated = documented_forecast("A")
    repeated["values"][0][2] = repeated["values"][0][1]  # start of row 2 = start of row 1
    repeated["values"][1][2] = repeated["values"][1][1]
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    unsorted = documented_forecast("B")
    for column in (0, 1):  # rows 0 and 1 swapped: starts still distinct
        unsorted["values"][column][0:2] = unsorted["values"][column][1::-1]
    not_a_number = documented_forecast("C")
    not_a_number["values"][3][1] = "n/a"
    long_end = documented_forecast("D")
    long_end["values"][1][0] += QH_MS
    half_ms = documented_forecast("E", as_float=True)
    half_ms["values"][0][0] += 0.5
    paths = [
        write_json(tmp_path, "A_20250608T0815Z.json", repeated),
        # same asset and version as the file before, which is rejected: this one is read
        write_json(copy_dir, "A_20250608T0815Z.json", documented_forecast("A", powers=(9.0, 9.5))),
        write_json(tmp_path, "B_20250608T0815Z.json", unsorted),
        write_json(tmp_path, "C_20250608T0815Z.json", not_a_number),
        write_json(tmp_path, "D_20250608T0815Z.json", long_end),
        write_json(tmp_path, "E_20250608T0815Z.json", half_ms),
    ]

    frame, errors = read_forecast_batch(paths)

    # 08:30 = 1_749_370_500_000 + 900_000 = 1_749_371_400_000 ms; D's first end is
    # 08:15 + 2 * 15 min = 1_749_370_500_000 + 1_800_000 = 1_749_372_300_000 ms
    assert [str(e) for e in errors] == [
        "A_20250608T0815Z.json: values[0][2]: start 1749371400000 ms appears twice",
        "C_20250608T0815Z.json: values[3][1]: column 'power': 'n/a' is not a number",
        "D_20250608T0815Z.json: values[1][0]: end 1749372300000 ms is not start + 15 min (1749370500000 ms)",
        "E_20250608T0815Z.json: values[0][0]: start 1749370500000.5 ms is not on a quarter-hour",
    ]
    assert frame["file_index"].to_list() == [1, 1, 2, 2, 2]
    # B keeps its rows as written: 08:30 with 100.0 kW first, then 08:15 with 250.5 kW
    assert [t.strftime("%H:%M") for t in frame["delivery_start"]] == ["08:15", "08:30", "08:30", "08:15", "08:45"]
    assert frame["power_kw"].to_list() == [9.0, 9.5, 100.0, 250.5, 0.0]


def test_live_batch_quality_flag_is_not_a_number_and_unsorted_points_are_kept(tmp_path):
    minute = 60_000
    flagged = documented_live("WND-X-001", (MIDNIGHT_MS, MIDNIGHT_MS + minute), (1.0, 2.0), (1.0, True))
    unsorted = documented_live("SOL-X-002", (MIDNIGHT_MS + 4 * minute, MIDNIGHT_MS, MIDNIGHT_MS + minute),
                               (3.5, -0.25, -0.2), (1.0, None, 0.5), key="entity_id")
    paths = [write_json(tmp_path, "WND01_20250608.json", flagged),
             write_json(tmp_path, "SOL02_20250608.json", unsorted)]

    frame, errors = read_live_batch(paths)

    assert [str(e) for e in errors] == ["WND01_20250608.json: values[2][1]: column 'quality': True is not a number"]
    # the points as the file lists them: 00:04, 00:00, 00:01
    assert frame["timestamp"].to_list() == [dt.datetime(2025, 6, 8, 0, m, tzinfo=UTC) for m in (4, 0, 1)]
    assert frame["power_kw"].to_list() == [3.5, -0.25, -0.2]
    assert frame["quality"].to_list() == [1.0, None, 0.5]
    assert frame["file_index"].to_list() == [1, 1, 1]
