"""Landing sensors: start from the catalog, list cheaply, request exactly the covered days once."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from flexpower_assets.definitions import build_defs
from flexpower_assets.ingestion.catalog import sync_landing
from flexpower_assets.ingestion.watch import Cursor, files_to_ingest, source_folders
from resources.notifier import Notifier
from resources.warehouse import Warehouse
from tests.alert_servers import WebhookServer
from tests.integration.conftest import make_settings

SOURCES = ("crm", "vpp", "dso", "exchange", "imbalance")


def write_final_production(folder: Path, mp: str, utc_day: str, file_date: str, base: float = 100.0) -> Path:
    # a DSO file covers one UTC day: 00:00..23:45 UTC, i.e. the end of one Berlin day and the next one
    lines = ["delivery_start__utc_," + f"{mp}__kw_"]
    for quarter in range(96):
        lines.append(f"{utc_day} {quarter // 4:02d}:{quarter % 4 * 15:02d}:00.000000 UTC,{base + quarter}")
    path = folder / f"final_production_{mp}_{file_date}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def evaluate(defs: dg.Definitions, name: str, instance, cursor: str | None, **overrides):
    resources = {key: defs.resources[key] for key in ("landing", "warehouse", "notifier", "position")}
    resources.update(overrides)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources)
    return defs.resolve_sensor_def(name).evaluate_tick(context)


@pytest.fixture
def landing(sample_landing, tmp_path) -> Path:
    copy = tmp_path / "landing"
    shutil.copytree(sample_landing, copy)
    return copy


@pytest.fixture
def registered(landing, tmp_path):
    """Definitions over a copy of the sample landing zone whose files are all registered."""
    settings = make_settings(landing, tmp_path)
    sync_landing(landing, Warehouse(settings.warehouse_path), workers=1)
    return build_defs(settings), Warehouse(settings.warehouse_path)


def test_switched_on_sensors_start_from_the_registered_files(registered):
    defs, _warehouse = registered
    with dg.instance_for_test() as instance:
        for source in SOURCES:
            result = evaluate(defs, f"landing_{source}_sensor", instance, None)
            assert result.run_requests == [], source  # nothing is replayed
            cursor = Cursor.load(result.cursor)
            assert cursor.registered_mark is not None and cursor.pending == {}


def test_a_correction_is_ingested_by_a_run_then_re_runs_exactly_its_two_days(registered, landing):
    defs, warehouse = registered
    with dg.instance_for_test() as instance:
        cursor = evaluate(defs, "landing_dso_sensor", instance, None).cursor
        write_final_production(landing / "dso", "MP-SOL-001", "2025-06-07", "20250620")

        first = evaluate(defs, "landing_dso_sensor", instance, cursor)
        # the sensor only listed the folder: one ingestion run, no day yet (nothing parsed in the tick)
        assert [(r.job_name, r.partition_key) for r in first.run_requests] == [("ingest_job", None)]
        again = evaluate(defs, "landing_dso_sensor", instance, first.cursor)
        assert again.run_requests == []  # the same file is handed over once

        defs.resolve_job_def("ingest_job").execute_in_process(instance=instance)
        second = evaluate(defs, "landing_dso_sensor", instance, again.cursor)
        # UTC day 06-07 is Berlin 06-07 02:00.. and 06-08 00:00-02:00: both days, in daily_job
        assert [(r.job_name, r.partition_key) for r in second.run_requests] == [
            ("daily_job", "2025-06-07"), ("daily_job", "2025-06-08")]
        keys = {k.to_user_string() for k in second.run_requests[0].asset_selection}
        assert "raw/raw_dso__final_production" in keys and "best_of_infeed" in keys
        assert "raw/raw_vpp__forecasts" not in keys and "trading_pnl" not in keys
        assert evaluate(defs, "landing_dso_sensor", instance, second.cursor).run_requests == []


def test_the_same_bytes_at_the_same_path_start_no_run(registered, landing):
    defs, _warehouse = registered
    with dg.instance_for_test() as instance:
        cursor = evaluate(defs, "landing_dso_sensor", instance, None).cursor
        path = next((landing / "dso").glob("final_production_*.csv"))
        content = path.read_bytes()
        path.unlink()
        path.write_bytes(content)  # re-dropped: new mtime and ctime, same bytes
        os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))
        result = evaluate(defs, "landing_dso_sensor", instance, cursor)
    assert result.run_requests == []


def test_days_the_landing_zone_does_not_cover_wait_until_it_does(registered, landing):
    defs, warehouse = registered
    with dg.instance_for_test() as instance:
        cursor = evaluate(defs, "landing_dso_sensor", instance, None).cursor
        # 2025-06-20 has no trade of ours (the sample covers 06-07..06-09): nothing to build yet
        write_final_production(landing / "dso", "MP-SOL-001", "2025-06-20", "20250621")
        sync_landing(landing, warehouse, workers=1)
        result = evaluate(defs, "landing_dso_sensor", instance, cursor)
        assert result.run_requests == []
        assert Cursor.load(result.cursor).pending == {"2025-06-20": ["final_production"],
                                                       "2025-06-21": ["final_production"]}
        # our trades of 06-20 arrive: the day is covered now, and requested once
        (landing / "exchange" / "Private_Trades-20250620-20250621T000516000Z.csv").write_text(
            "# Private Trades - 2025-06-20 - 2025-06-21T00:05:16.000Z;;;;;;;;\n"
            "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit\n"
            "1;SELL;2025-06-20 10:00:00+00:00;2025-06-20 11:00:00+00:00;2025-06-20 08:00:00+00:00;50.0;EUR;1.0;MWH\n")
        sync_landing(landing, warehouse, workers=1)
        later = evaluate(defs, "landing_dso_sensor", instance, result.cursor)
    assert [(r.job_name, r.partition_key) for r in later.run_requests] == [("daily_job", "2025-06-20")]
    assert Cursor.load(later.cursor).pending == {"2025-06-21": ["final_production"]}


def test_a_tick_looks_at_a_bounded_batch_and_the_cursor_carries_the_rest(tmp_path):
    landing = tmp_path / "landing"
    (landing / "dso").mkdir(parents=True)
    for i in range(250):
        write_final_production(landing / "dso", f"MP-{i:03d}", "2025-06-07", "20250608")
    warehouse = Warehouse(tmp_path / "w.duckdb")
    cursor, seen = Cursor(), []
    for _ in range(3):
        scan = files_to_ingest(landing, source_folders("dso"), warehouse, cursor, max_files=100)
        seen += [f.relative for f in scan.to_ingest]
        cursor = scan.cursor
    # 100 + 100 + 50: every file handed over once, none twice
    assert len(seen) == 250 and len(set(seen)) == 250
    assert files_to_ingest(landing, source_folders("dso"), warehouse, cursor).to_ingest == []


def test_rejected_files_are_alerted_once(registered, landing):
    defs, warehouse = registered
    with dg.instance_for_test() as instance, WebhookServer() as hook:
        notifier = Notifier(webhook_url=hook.url)
        cursor = evaluate(defs, "landing_dso_sensor", instance, None, notifier=notifier).cursor
        (landing / "dso" / "final_production_MP-X_20250609.csv").write_text(
            "delivery_start__utc_,MP-X__kw_\nnot a time,1\n")
        sync_landing(landing, warehouse, workers=1)
        result = evaluate(defs, "landing_dso_sensor", instance, cursor, notifier=notifier)
        evaluate(defs, "landing_dso_sensor", instance, result.cursor, notifier=notifier)
    assert len(hook.messages) == 1
    text = hook.messages[0]["text"]
    assert text.startswith("[WARNING] 1 rejected file(s) in dso/")
    assert "dso/final_production_MP-X_20250609.csv" in text and "line 2" in text


def test_rebuilt_day_requests_its_reports_and_then_its_month(registered):
    defs, _warehouse = registered
    with dg.instance_for_test() as instance:
        start = evaluate_plain(defs, "rebuild_after_daily_sensor", instance, None)
        assert start.run_requests == []  # switched on: history is not replayed
        for day in ("2025-06-07", "2025-06-08"):
            run = instance.add_run(dg.DagsterRun(job_name="daily_job", run_id=f"run-{day}",
                                                 status=dg.DagsterRunStatus.STARTED, tags={"dagster/partition": day}))
            instance.report_dagster_event(dg.DagsterEvent(dg.DagsterEventType.RUN_SUCCESS.value, "daily_job"),
                                          run_id=run.run_id)
        instance.add_run(dg.DagsterRun(job_name="daily_job", run_id="run-busy", status=dg.DagsterRunStatus.STARTED,
                                       tags={"dagster/partition": "2025-06-09"}))
        busy = evaluate_plain(defs, "rebuild_after_daily_sensor", instance, start.cursor)
        # the reports of both days now; the month waits while one of its days is still running
        assert sorted((r.job_name, r.partition_key) for r in busy.run_requests) == [
            ("daily_reports_job", "2025-06-07"), ("daily_reports_job", "2025-06-08")]
        instance.delete_run("run-busy")  # the queued run is gone (finished or deleted)
        done = evaluate_plain(defs, "rebuild_after_daily_sensor", instance, busy.cursor)
        assert [(r.job_name, r.partition_key) for r in done.run_requests] == [("monthly_job", "2025-06-01")]
        # the month's own run succeeding requests nothing more (no loop)
        month = instance.add_run(dg.DagsterRun(job_name="monthly_job", run_id="run-month",
                                               status=dg.DagsterRunStatus.STARTED,
                                               tags={"dagster/partition": "2025-06-01"}))
        instance.report_dagster_event(dg.DagsterEvent(dg.DagsterEventType.RUN_SUCCESS.value, "monthly_job"),
                                      run_id=month.run_id)
        assert evaluate_plain(defs, "rebuild_after_daily_sensor", instance, done.cursor).run_requests == []


def evaluate_plain(defs, name, instance, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return defs.resolve_sensor_def(name).evaluate_tick(context)


def test_routine_schedules_build_the_previous_day_and_month(tmp_path):
    from zoneinfo import ZoneInfo

    from schedules.schedules import daily_schedule, monthly_schedule

    berlin = ZoneInfo("Europe/Berlin")
    repository = build_defs(make_settings(tmp_path / "landing", tmp_path)).get_repository_def()
    with dg.instance_for_test() as instance:
        day = daily_schedule.evaluate_tick(dg.build_schedule_context(
            instance=instance, repository_def=repository,
            scheduled_execution_time=datetime(2025, 6, 9, 11, 0, tzinfo=berlin)))
        month = monthly_schedule.evaluate_tick(dg.build_schedule_context(
            instance=instance, repository_def=repository,
            scheduled_execution_time=datetime(2025, 7, 3, 12, 0, tzinfo=berlin)))
    assert [r.partition_key for r in day.run_requests] == ["2025-06-08"]
    assert [r.partition_key for r in month.run_requests] == ["2025-06-01"]


