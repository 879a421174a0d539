"""A range of days in one run builds exactly what the same days build one run at a time."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, datetime, timezone

import dagster as dg
import polars as pl
from polars.testing import assert_frame_equal

from flexpower_assets.definitions import build_defs
from flexpower_assets.runner import RANGE_END_TAG, RANGE_START_TAG, materialize_days, range_support, run_partition
from resources.warehouse import Warehouse
from tests.integration.conftest import make_settings

DAYS = ["2025-06-07", "2025-06-08", "2025-06-09"]


def daily_tables(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    """Every table with a ``delivery_day``, in a fixed row order; a row's file named by its path
    (file ids differ between two warehouses that registered the same files at different times)."""
    listing = warehouse.read(
        "select table_schema as s, table_name as t from information_schema.columns "
        "where column_name = 'delivery_day' and table_schema in ('raw', 'core', 'main') order by 1, 2")
    files = warehouse.read("select file_id, path from landing.files")
    tables = {}
    for schema, table in listing.iter_rows():
        frame = warehouse.read(f'select * from "{schema}"."{table}"')
        if "file_id" in frame.columns:
            frame = frame.join(files, on="file_id", how="left").drop("file_id")
        tables[f"{schema}.{table}"] = frame.sort(frame.columns, nulls_last=True)
    return tables


def test_three_days_in_one_run_equal_three_one_day_runs(sample_landing, tmp_path):
    # one platform clock for both (the open position is taken as of it)
    clock = datetime(2025, 6, 10, 12, tzinfo=timezone.utc)
    one_run = replace(make_settings(sample_landing, tmp_path / "range"), now=clock)
    day_by_day = replace(make_settings(sample_landing, tmp_path / "days"), now=clock)
    with dg.instance_for_test() as instance:
        defs = build_defs(one_run)
        assert materialize_days(defs, instance, [date.fromisoformat(day) for day in DAYS], echo=lambda _: None) == []
        ranged_keys, one_day_keys = range_support(defs, "daily_job")
        # the day's 26 tables, the 4 forecast-quantile assets and the open position: every asset of the job
        assert dg.AssetKey("best_of_infeed") in ranged_keys and len(ranged_keys) == 26 + 4 + 1 and one_day_keys == []
        runs = instance.get_runs()
        range_runs = [run for run in runs if RANGE_START_TAG in run.tags]
        # the tables' run and the reports' run, each over the three days (no asset of the job
        # builds one day at a time)
        assert sorted(run.job_name for run in range_runs) == ["daily_job", "daily_reports_job"]
        assert {(run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG]) for run in range_runs} == {(DAYS[0], DAYS[-1])}
        assert len(runs) == 2 + (len(DAYS) if one_day_keys else 0)
        summary = next(run for run in range_runs if run.job_name == "daily_job")
        step_keys = defs.resolve_assets_def(dg.AssetKey("best_of_infeed")).keys  # the day's 26 tables
        range_tables = {".".join(key.path) if len(key.path) > 1 else f"main.{key.path[0]}" for key in step_keys}
        # Dagster records every day of the range as materialized, per asset
        assert instance.get_materialized_partitions(dg.AssetKey("best_of_infeed")) == set(DAYS)
        assert instance.get_materialized_partitions(dg.AssetKey(["raw", "raw_vpp__forecasts"])) == set(DAYS)
        # and every check once per day, under the day's partition
        evaluations = [event.dagster_event.event_specific_data for event in instance.all_logs(summary.run_id)
                       if event.dagster_event and event.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"]
        coverage = sorted(e.partition for e in evaluations if e.check_name == "forecast_coverage")
        assert coverage == DAYS
        assert {e.partition for e in evaluations} == set(DAYS)
    with dg.instance_for_test() as instance:
        defs = build_defs(day_by_day)
        for day in DAYS:
            assert run_partition(defs, "daily_job", day, instance).success
            assert run_partition(defs, "daily_reports_job", day, instance).success

    ranged, single = daily_tables(Warehouse(one_run.warehouse_path)), daily_tables(Warehouse(day_by_day.warehouse_path))
    assert sorted(ranged) == sorted(single)
    assert len(ranged) >= 26  # 11 raw, 7 core, the 8 contract tables (and the one-day assets' tables)
    for name in single:
        if name in range_tables:  # every table of the day's step has rows on the sample days
            assert ranged[name].height > 0 or name.startswith(("raw.raw_dso__redispatch", "core.redispatched")), name
        try:
            assert_frame_equal(ranged[name], single[name], check_exact=True)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None
    per_day = single["main.best_of_infeed"].group_by("delivery_day").len().sort("delivery_day")
    assert per_day["delivery_day"].to_list() == [date.fromisoformat(day) for day in DAYS]

    # and the same reports, byte for byte
    ranged_reports = sorted((one_run.documents_root / "reports" / "daily").rglob("*.html"))
    single_reports = sorted((day_by_day.documents_root / "reports" / "daily").rglob("*.html"))
    assert [p.relative_to(one_run.documents_root) for p in ranged_reports] == \
        [p.relative_to(day_by_day.documents_root) for p in single_reports]
    assert len(ranged_reports) > len(DAYS)  # a portfolio report and asset reports per day
    for a, b in zip(ranged_reports, single_reports, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_a_failing_day_in_a_range_is_found_and_the_other_days_are_built(sample_landing, tmp_path):
    # without the snapshots of 05-25 and 06-01, no CRM snapshot applies to 06-07 (the next one is
    # created on 06-08): the range run fails, then its days run one by one, so 06-08 and 06-09
    # are built and 06-07 is named
    from flexpower_assets.runner import materialize_days

    landing = tmp_path / "landing"
    shutil.copytree(sample_landing, landing)
    for snapshot in sorted((landing / "crm").glob("asset_contracts_*.csv")):
        if snapshot.name < "asset_contracts_20250608":
            snapshot.unlink()
    settings = make_settings(landing, tmp_path)
    lines: list[str] = []
    with dg.instance_for_test() as instance:
        failed = materialize_days(build_defs(settings), instance,
                                  [date(2025, 6, 7), date(2025, 6, 8), date(2025, 6, 9)],
                                  reports=False, echo=lines.append)
        assert len(instance.get_runs()) == 4  # the range, then each of its three days
    assert failed == ["2025-06-07"]
    assert any("No CRM snapshot applies to 2025-06-07" in line for line in lines)
    built = Warehouse(settings.warehouse_path).read(
        "select cast(delivery_day as varchar) as day, count(*) as n from portfolio_best_of_infeed "
        "group by 1 order by 1")
    assert built.to_dicts() == [{"day": "2025-06-08", "n": 96}, {"day": "2025-06-09", "n": 96}]
