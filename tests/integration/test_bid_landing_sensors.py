"""Landing sensors of market/ and hydro/: ingest_job for new files, then bidding_job for exactly
the delivery days they affect whose gate closure is still ahead."""

from __future__ import annotations

import os
from datetime import date, datetime

import dagster as dg

from flexpower_assets.definitions import build_defs
from flexpower_assets.ingestion.catalog import sync_landing
from resources.warehouse import Warehouse
from tests.integration.bidding_harness import UTC, Bench, load_case, prepare, write_scenarios

DAY = date(2025, 10, 15)  # gate closure 2025-10-14 12:00 Berlin = 10:00 UTC


def world(tmp_path, now: str):
    """The complete case's files registered, the sensors switched on (their first tick)."""
    bench = Bench(root=tmp_path, day=DAY, now=now)
    prepare(bench, load_case("complete"))
    warehouse = Warehouse(bench.settings().warehouse_path)
    sync_landing(bench.landing, warehouse, workers=1)
    defs = build_defs(bench.settings())
    cursors = {name: tick(defs, bench, name, None).cursor for name in ("landing_market_sensor", "landing_hydro_sensor")}
    return bench, defs, warehouse, cursors


def tick(defs: dg.Definitions, bench: Bench, name: str, cursor: str | None):
    resources = {key: defs.resources[key] for key in ("landing", "warehouse", "notifier", "bidding", "position")}
    context = dg.build_sensor_context(instance=bench.instance, cursor=cursor, definitions=defs, resources=resources)
    return defs.resolve_sensor_def(name).evaluate_tick(context)


def requested(result) -> list[tuple[str, str | None]]:
    return [(r.job_name, r.partition_key) for r in result.run_requests or []]


def test_the_bid_sensors_are_stopped_by_default_and_start_from_the_registered_files(tmp_path):
    bench, defs, _warehouse, cursors = world(tmp_path, "2025-10-14T09:00:00Z")
    for name in cursors:
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.STOPPED
    # switched on: the registered scenario, level, inflow and plant files start nothing
    assert requested(tick(defs, bench, "landing_market_sensor", cursors["landing_market_sensor"])) == []
    assert requested(tick(defs, bench, "landing_hydro_sensor", cursors["landing_hydro_sensor"])) == []


def test_a_new_scenario_file_before_gate_closure_bids_its_day_once(tmp_path):
    bench, defs, warehouse, cursors = world(tmp_path, "2025-10-14T09:00:00Z")  # 11:00 Berlin: open
    write_scenarios(bench.landing, DAY, datetime(2025, 10, 14, 8, 30, tzinfo=UTC), 10, shift=3.0)
    first = tick(defs, bench, "landing_market_sensor", cursors["landing_market_sensor"])
    assert requested(first) == [("ingest_job", None)]  # listed only: nothing parsed in the tick
    sync_landing(bench.landing, warehouse, workers=1)
    second = tick(defs, bench, "landing_market_sensor", first.cursor)
    assert requested(second) == [("bidding_job", "2025-10-15")]
    run_key = second.run_requests[0].run_key
    assert run_key.startswith("market:bid:2025-10-15:")
    assert second.run_requests[0].tags["flexpower/kinds"] == "price_scenarios"
    # handled: the next tick starts nothing
    third = tick(defs, bench, "landing_market_sensor", second.cursor)
    assert requested(third) == []
    # a changed file for the same day, still before gate closure: a second run, under a new key
    write_scenarios(bench.landing, DAY, datetime(2025, 10, 14, 8, 45, tzinfo=UTC), 10, shift=5.0)
    sync_landing(bench.landing, warehouse, workers=1)
    fourth = tick(defs, bench, "landing_market_sensor", third.cursor)
    assert requested(fourth) == [("bidding_job", "2025-10-15")]
    assert fourth.run_requests[0].run_key != run_key


def test_an_inflow_forecast_bids_the_open_days_its_rows_cover(tmp_path):
    bench, defs, warehouse, cursors = world(tmp_path, "2025-10-14T09:00:00Z")  # 10-15 open, 10-14 closed
    # rows from 10-14 08:00 UTC (Berlin 10-14) to 10-15 21:45 UTC (Berlin 10-15 23:45): days 10-14 and 10-15
    rows = [f"2025-10-{14 + (8 + q // 4) // 24}T{(8 + q // 4) % 24:02d}:{q % 4 * 15:02d}:00Z,0.5"
            for q in range(4 * 38)]
    (bench.landing / "hydro" / "inflow_forecast_HYD-A-01_20251014T0830Z.csv").write_text(
        "delivery_start,inflow_mwh\n" + "\n".join(rows) + "\n")
    sync_landing(bench.landing, warehouse, workers=1)
    result = tick(defs, bench, "landing_hydro_sensor", cursors["landing_hydro_sensor"])
    # 10-14's gate closure (10-13 10:00 UTC) has passed: only 10-15 is requested
    assert requested(result) == [("bidding_job", "2025-10-15")]
    assert result.run_requests[0].tags["flexpower/kinds"] == "inflow_forecast"


def test_a_scenario_file_after_gate_closure_starts_no_bid_run(tmp_path, capfd):
    bench, defs, warehouse, cursors = world(tmp_path, "2025-10-14T10:30:00Z")  # 12:30 Berlin: 10-15 closed
    write_scenarios(bench.landing, DAY, datetime(2025, 10, 14, 10, 20, tzinfo=UTC), 10, shift=3.0)
    first = tick(defs, bench, "landing_market_sensor", cursors["landing_market_sensor"])
    assert requested(first) == [("ingest_job", None)]
    sync_landing(bench.landing, warehouse, workers=1)
    capfd.readouterr()
    closed = tick(defs, bench, "landing_market_sensor", first.cursor)
    assert requested(closed) == []  # logged: the bid run would only be refused
    assert "new price_scenarios for 2025-10-15: its gate closure 2025-10-14T10:00:00+00:00 has passed" in \
        capfd.readouterr().err
    # the day after is still open (its gate closure is 10-15 10:00 UTC): its scenarios do bid
    write_scenarios(bench.landing, date(2025, 10, 16), datetime(2025, 10, 14, 10, 25, tzinfo=UTC), 10)
    sync_landing(bench.landing, warehouse, workers=1)
    later = tick(defs, bench, "landing_market_sensor", closed.cursor)
    assert requested(later) == [("bidding_job", "2025-10-16")]


def test_a_reservoir_level_bids_the_next_open_day(tmp_path):
    bench, defs, warehouse, cursors = world(tmp_path, "2025-10-14T10:30:00Z")  # 10-15 closed, 10-16 open
    # measured on 10-14 (its rows' day): the state feeds the next bid, 10-16
    (bench.landing / "hydro" / "reservoir_level_HYD-A-01_20251014T1025Z.csv").write_text(
        "measured_at,content_mwh\n2025-10-14T10:15:00Z,58.5\n")
    first = tick(defs, bench, "landing_hydro_sensor", cursors["landing_hydro_sensor"])
    assert requested(first) == [("ingest_job", None)]
    sync_landing(bench.landing, warehouse, workers=1)
    second = tick(defs, bench, "landing_hydro_sensor", first.cursor)
    assert requested(second) == [("bidding_job", "2025-10-16")]
    assert second.run_requests[0].tags["flexpower/kinds"] == "reservoir_level"


def test_the_same_bytes_re_dropped_request_nothing(tmp_path):
    bench, defs, warehouse, cursors = world(tmp_path, "2025-10-14T09:00:00Z")
    path = next((bench.landing / "market").glob("price_scenarios_*.csv"))
    content = path.read_bytes()
    path.unlink()
    path.write_bytes(content)  # new mtime and ctime, the same bytes
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))
    first = tick(defs, bench, "landing_market_sensor", cursors["landing_market_sensor"])
    assert requested(first) == []
    sync_landing(bench.landing, warehouse, workers=1)
    assert requested(tick(defs, bench, "landing_market_sensor", first.cursor)) == []


def test_without_a_valid_configuration_files_are_ingested_and_bids_wait_for_it(tmp_path):
    bench, defs, warehouse, cursors = world(tmp_path, "2025-10-14T09:00:00Z")
    config = bench.config_path.read_text()
    bench.config_path.write_text("clients: [unclosed\n")
    write_scenarios(bench.landing, DAY, datetime(2025, 10, 14, 8, 30, tzinfo=UTC), 10, shift=3.0)
    first = tick(defs, bench, "landing_market_sensor", cursors["landing_market_sensor"])
    assert requested(first) == [("ingest_job", None)]  # listing needs no configuration
    sync_landing(bench.landing, warehouse, workers=1)
    waiting = tick(defs, bench, "landing_market_sensor", first.cursor)
    assert requested(waiting) == [] and "bidding.yaml" in waiting.skip_message
    bench.config_path.write_text(config)  # fixed: the day waiting is requested
    assert requested(tick(defs, bench, "landing_market_sensor", waiting.cursor)) == [("bidding_job", "2025-10-15")]
