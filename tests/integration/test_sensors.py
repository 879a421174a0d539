"""Landing sensors request runs for exactly the days a dropped file covers, and only once."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from flexpower_assets.definitions import build_defs
from tests.integration.conftest import make_settings


def write_final_production(folder: Path, mp: str, utc_day: str, file_date: str) -> Path:
    # a DSO file covers one UTC day: 00:00..23:45 UTC, i.e. the end of one Berlin day and the next one
    lines = ["delivery_start__utc_," + f"{mp}__kw_"]
    for quarter in range(96):
        lines.append(f"{utc_day} {quarter // 4:02d}:{quarter % 4 * 15:02d}:00.000000 UTC,{100.0 + quarter}")
    path = folder / f"final_production_{mp}_{file_date}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def evaluate(sensor: dg.SensorDefinition, defs: dg.Definitions, instance, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                      resources={"landing": defs.resources["landing"]})
    return sensor.evaluate_tick(context)


def test_dropped_file_triggers_exactly_its_days_once(tmp_path):
    landing = tmp_path / "landing"
    (landing / "dso").mkdir(parents=True)
    defs = build_defs(make_settings(landing, tmp_path))
    sensor = defs.resolve_sensor_def("landing_dso_sensor")
    with dg.instance_for_test() as instance:
        first = evaluate(sensor, defs, instance, None)
        assert first.run_requests == []

        write_final_production(landing / "dso", "MP-SOL-001", "2025-06-08", "20250609")
        second = evaluate(sensor, defs, instance, first.cursor)
        # 2025-06-08 00:00-21:45 UTC is Berlin day 06-08, 22:00-23:45 UTC already Berlin day 06-09
        assert sorted(r.partition_key for r in second.run_requests) == ["2025-06-08", "2025-06-09"]
        keys = {k.to_user_string() for k in second.run_requests[0].asset_selection}
        assert "raw/raw_dso__final_production" in keys and "best_of_infeed" in keys
        assert "raw/raw_vpp__forecasts" not in keys and "trading_pnl" not in keys

        third = evaluate(sensor, defs, instance, second.cursor)
        assert third.run_requests == []  # nothing new: nothing requested again

        write_final_production(landing / "dso", "MP-SOL-002", "2025-06-10", "20250611")
        fourth = evaluate(sensor, defs, instance, third.cursor)
        assert sorted(r.partition_key for r in fourth.run_requests) == ["2025-06-10", "2025-06-11"]


def test_unreadable_file_requests_the_catalog_run(tmp_path):
    landing = tmp_path / "landing"
    (landing / "dso").mkdir(parents=True)
    (landing / "dso" / "final_production_MP-X_20250609.csv").write_text("delivery_start__utc_,MP-X__kw_\nnot a time,1\n")
    (landing / "dso" / "readme.txt").write_text("not an inbound file")
    defs = build_defs(make_settings(landing, tmp_path))
    sensor = defs.resolve_sensor_def("landing_dso_sensor")
    with dg.instance_for_test() as instance:
        result = evaluate(sensor, defs, instance, None)
    assert [r.partition_key for r in result.run_requests] == [None]
    assert [k.to_user_string() for k in result.run_requests[0].asset_selection] == ["landing_files"]


def test_days_beyond_the_last_partition_are_left_for_later(tmp_path):
    from datetime import date, datetime, timedelta

    from flexpower_assets.partitions import daily_partitions

    landing = tmp_path / "landing"
    (landing / "dso").mkdir(parents=True)
    last = date.fromisoformat(daily_partitions.get_last_partition_key())
    # a compensation file reaching two days past the last partition (files can cover future days)
    lines = ["delivery_start__utc_,delivery_end__utc_,price__euro_per_mwh_"]
    start = datetime(last.year, last.month, last.day) - timedelta(days=1)
    for quarter in range(4 * 24 * 4):
        begin = start + timedelta(minutes=15 * quarter)
        end = begin + timedelta(minutes=15)
        lines.append(f"{begin:%Y-%m-%d %H:%M:%S}.000000 UTC,{end:%Y-%m-%d %H:%M:%S}.000000 UTC,80.0")
    (landing / "dso" / f"redispatch_compensation_{last:%Y-%m-%d}.csv").write_text("\n".join(lines) + "\n")
    defs = build_defs(make_settings(landing, tmp_path))
    sensor = defs.resolve_sensor_def("landing_dso_sensor")
    with dg.instance_for_test() as instance:
        result = evaluate(sensor, defs, instance, None)
    keys = sorted(r.partition_key for r in result.run_requests)
    assert keys and keys[-1] == last.isoformat()  # requested up to the last partition, not beyond
    assert result.cursor is not None  # and the tick completed, so the cursor moved on


def test_routine_schedules_build_the_previous_day_and_month(tmp_path):
    from datetime import datetime
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
