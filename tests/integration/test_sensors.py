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
