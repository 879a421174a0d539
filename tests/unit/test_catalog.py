"""The landing catalog: every file recorded once, bad files rejected and kept, newer content superseding."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from flexpower_assets.ingestion.catalog import accepted_rows, registered_files, sync_landing
from resources.warehouse import Warehouse

HEADER = "delivery_start__utc_,MP-A__kw_\n"


def final_production(values: list[float], start_hour: int = 0) -> str:
    rows = [f"2025-06-08 {start_hour + i // 4:02d}:{i % 4 * 15:02d}:00.000000 UTC,{v}" for i, v in enumerate(values)]
    return HEADER + "\n".join(rows) + "\n"


def write(path: Path, text: str, mtime_offset: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime_offset:
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + mtime_offset))
    return path


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(tmp_path / "w.duckdb")


def statuses(warehouse: Warehouse) -> dict[str, list[str]]:
    catalog = registered_files(warehouse).sort("registered_at")
    found: dict[str, list[str]] = {}
    for row in catalog.iter_rows(named=True):
        found.setdefault(row["path"], []).append(row["status"])
    return found


def test_accepted_file_is_staged_once_and_a_second_sync_is_a_no_op(tmp_path, warehouse):
    landing = tmp_path / "landing"
    write(landing / "dso" / "final_production_MP-A_20250609.csv", final_production([100.0, 200.0]))
    report = sync_landing(landing, warehouse, workers=1)
    assert dict(report.counts) == {("final_production", "accepted"): 1}
    rows = accepted_rows(warehouse, "final_production")
    assert rows["power_kw"].to_list() == [100.0, 200.0]
    record = registered_files(warehouse).row(0, named=True)
    assert record["n_rows"] == 2 and record["size_bytes"] == len(final_production([100.0, 200.0]))
    assert len(record["sha256"]) == 64
    # 2025-06-08 00:00 UTC is 02:00 in Berlin: the rows feed delivery day 2025-06-08 only
    assert [str(d) for d in record["delivery_days"]] == ["2025-06-08"]
    assert sync_landing(landing, warehouse, workers=1).n_new == 0
    # the same bytes dropped again (new mtime) are a no-op too
    write(landing / "dso" / "final_production_MP-A_20250609.csv", final_production([100.0, 200.0]), 10**9)
    assert sync_landing(landing, warehouse, workers=1).n_new == 0
    assert accepted_rows(warehouse, "final_production").height == 2


def test_bad_file_is_rejected_with_file_line_and_problem_and_kept(tmp_path, warehouse):
    landing = tmp_path / "landing"
    good = write(landing / "dso" / "final_production_MP-A_20250609.csv", final_production([1.0]))
    bad = write(landing / "dso" / "final_production_MP-A_20250610.csv", HEADER + "2025-06-09 00:00:00.000000 UTC,abc\n")
    report = sync_landing(landing, warehouse, workers=1)
    assert report.counts[("final_production", "rejected")] == 1
    [(path, message)] = report.rejected
    assert path == "dso/final_production_MP-A_20250610.csv"
    assert "final_production_MP-A_20250610.csv" in message and "line 2" in message and "abc" in message
    assert bad.exists() and good.exists()
    assert accepted_rows(warehouse, "final_production")["power_kw"].to_list() == [1.0]
    rejected = registered_files(warehouse).filter(pl.col("status") == "rejected").row(0, named=True)
    assert rejected["error_line"] == 2


def test_new_content_at_the_same_path_replaces_the_old_and_bad_new_content_keeps_it(tmp_path, warehouse):
    landing = tmp_path / "landing"
    path = landing / "dso" / "final_production_MP-A_20250609.csv"
    write(path, final_production([1.0, 2.0]))
    sync_landing(landing, warehouse, workers=1)
    write(path, final_production([5.0, 6.0]), 10**9)
    sync_landing(landing, warehouse, workers=1)
    assert statuses(warehouse)["dso/final_production_MP-A_20250609.csv"] == ["replaced", "accepted"]
    assert accepted_rows(warehouse, "final_production")["power_kw"].to_list() == [5.0, 6.0]
    write(path, HEADER + "garbage\n", 2 * 10**9)
    sync_landing(landing, warehouse, workers=1)
    assert statuses(warehouse)["dso/final_production_MP-A_20250609.csv"] == ["replaced", "accepted", "rejected"]
    # the day is not corrupted: the last good content stays in use
    assert accepted_rows(warehouse, "final_production")["power_kw"].to_list() == [5.0, 6.0]


def test_identical_bytes_under_two_names_are_two_files(tmp_path, warehouse):
    landing = tmp_path / "landing"
    crm = ("contract_id,asset_id,metering_point_id,capacity,technology,contract_begin,contract_end,price_model,"
           "price,fee_model,fee,fee_percent,email\n"
           "C1,A1,MP-1,1.5,solar,2025-01-01,,fixed,80.0,fixed_as_produced,2.0,,a@example.com\n")
    write(landing / "crm" / "asset_contracts_20250601_043000.csv", crm)
    write(landing / "crm" / "asset_contracts_20250608_043000.csv", crm)
    sync_landing(landing, warehouse, workers=1)
    rows = accepted_rows(warehouse, "contracts")
    # two snapshots (the creation time is in the name), one contract each
    assert sorted(str(t) for t in rows["snapshot_created_at"]) == [
        "2025-06-01 04:30:00+00:00", "2025-06-08 04:30:00+00:00"]


def test_unrecognised_file_is_recorded_as_rejected(tmp_path, warehouse):
    landing = tmp_path / "landing"
    write(landing / "dso" / "notes.txt", "hello")
    report = sync_landing(landing, warehouse, workers=1)
    assert report.counts[("unrecognised", "rejected")] == 1
    assert "not a recognised inbound file" in report.rejected[0][1]


def test_parse_errors_survive_the_trip_from_a_worker_process():
    import pickle

    from flexpower_assets.parsers.errors import InputFileError

    error = pickle.loads(pickle.dumps(InputFileError(Path("x.json"), "bad unit", location="units[3]")))
    assert (error.path, error.problem, error.line, error.location) == (Path("x.json"), "bad unit", None, "units[3]")
    assert str(error) == "x.json: units[3]: bad unit"


def test_many_forecast_files_parse_in_worker_processes_with_one_bad_file(tmp_path, warehouse, monkeypatch):
    import orjson

    from flexpower_assets.ingestion import workers

    monkeypatch.setattr(workers, "PARALLEL_FROM_FILES", 2)
    monkeypatch.setattr(workers, "CHUNK_FILES", 2)
    landing = tmp_path / "landing"
    start_ms = 1749333600000  # 2025-06-07 22:00 UTC = 2025-06-08 00:00 Berlin
    for i, minute in enumerate([0, 15, 30, 37]):  # 22:37 is not on a quarter-hour: rejected
        version = start_ms + minute * 60_000
        doc = {"key": {"asset_id": "A1", "type_id": "pv-forecast-real"},
               "column_ids": ["start", "end", "version", "power"], "units": ["ms", "ms", "ms", "kW"],
               "values": [[version], [version + 900_000], [version], [float(i)]]}
        name = f"A1_20250607T22{minute:02d}Z.json"
        write(landing / "vpp" / "forecasts" / name, orjson.dumps(doc).decode())
    report = sync_landing(landing, warehouse, workers=2)
    assert report.counts[("forecast", "accepted")] == 3
    assert report.counts[("forecast", "rejected")] == 1
    assert "A1_20250607T2237Z.json" in report.rejected[0][1]
    assert sorted(accepted_rows(warehouse, "forecast")["power_kw"].to_list()) == [0.0, 1.0, 2.0]
    # 4 files, none registered: surely "many", so the workers started while the catalog was compared
    assert "start workers" in report.seconds
    # nothing new: the next sync starts no worker
    again = sync_landing(landing, warehouse, workers=2)
    assert again.n_new == 0 and "start workers" not in again.seconds


def test_a_correction_after_a_rejected_redelivery_replaces_the_original(tmp_path, warehouse):
    # accepted A, rejected B, accepted C at one path: only C stays in use
    landing = tmp_path / "landing"
    path = landing / "dso" / "final_production_MP-A_20250609.csv"
    write(path, final_production([1.0]))
    sync_landing(landing, warehouse, workers=1)
    write(path, HEADER + "garbage\n", 10**9)
    sync_landing(landing, warehouse, workers=1)
    write(path, final_production([3.0]), 2 * 10**9)
    sync_landing(landing, warehouse, workers=1)
    assert statuses(warehouse)["dso/final_production_MP-A_20250609.csv"] == ["replaced", "rejected", "accepted"]
    assert accepted_rows(warehouse, "final_production")["power_kw"].to_list() == [3.0]


def test_content_dropped_again_after_another_is_staged_once(tmp_path, warehouse):
    # A, then B, then A again at one path: A's rows count once
    landing = tmp_path / "landing"
    path = landing / "dso" / "final_production_MP-A_20250609.csv"
    for step, value in enumerate([1.0, 2.0, 1.0]):
        write(path, final_production([value]), step * 10**9)
        sync_landing(landing, warehouse, workers=1)
    assert statuses(warehouse)["dso/final_production_MP-A_20250609.csv"] == ["replaced", "replaced", "accepted"]
    assert accepted_rows(warehouse, "final_production")["power_kw"].to_list() == [1.0]


def test_re_dropped_files_get_their_new_stat_on_their_latest_registration_only(tmp_path, warehouse):
    landing = tmp_path / "landing"
    a = write(landing / "dso" / "final_production_MP-A_20250609.csv", final_production([1.0]))
    b = write(landing / "dso" / "final_production_MP-B_20250609.csv", final_production([2.0]))
    first_mtime = a.stat().st_mtime_ns
    sync_landing(landing, warehouse, workers=1)
    write(a, final_production([3.0]), 10**9)  # a correction at A's path: a second registration
    sync_landing(landing, warehouse, workers=1)
    # both files copied back with new times (a restore): the same bytes, so nothing is new
    for path, offset in ((a, 5 * 10**9), (b, 7 * 10**9)):
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + offset))
    report = sync_landing(landing, warehouse, workers=1)
    assert report.n_new == 0
    catalog = registered_files(warehouse).sort("registered_at")
    latest_a, latest_b = (catalog.filter(pl.col("path") == str(p.relative_to(landing))).row(-1, named=True)
                          for p in (a, b))
    assert (latest_a["mtime_ns"], latest_a["ctime_ns"]) == (a.stat().st_mtime_ns, a.stat().st_ctime_ns)
    assert (latest_b["mtime_ns"], latest_b["ctime_ns"]) == (b.stat().st_mtime_ns, b.stat().st_ctime_ns)
    # A's first registration keeps the stat it was read with
    first_a = catalog.filter(pl.col("path") == str(a.relative_to(landing))).row(0, named=True)
    assert first_a["mtime_ns"] == first_mtime != latest_a["mtime_ns"]
    assert statuses(warehouse)[str(a.relative_to(landing))] == ["replaced", "accepted"]
    # the catalog now matches the folder: the next sync compares and reads nothing
    assert "read earlier registrations" not in sync_landing(landing, warehouse, workers=1).seconds
