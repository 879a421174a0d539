"""The forecast-quantile step over a range of days builds what the same days build one run at a
time, in order: each day of the range sees only days <= D-2 and the skill of the days before it."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import polars as pl
from polars.testing import assert_frame_equal

from flexpower_assets.definitions import build_defs
from flexpower_assets.runner import RANGE_START_TAG, run_partition
from flexpower_assets.simulator import simulate
from resources.forecasting import ForecastingResource
from resources.warehouse import Warehouse
from tests.integration.conftest import make_settings

START = date(2025, 6, 1)
DAYS = 7
TABLES = ["core.gate_forecast", "main.asset_forecast_quantile", "main.forecast_skill", "main.champion_history"]
# a short history so that the methods, the skill and the champion rule all run within the days
SHORT = {"forecasting": ForecastingResource(window_days=2, history_days=5, min_history_days=2, switch_days=2)}


def _tables(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    tables = {}
    for name in TABLES:
        frame = warehouse.read(f"select * from {name}")
        tables[name] = frame.sort(frame.columns, nulls_last=True)
    return tables


def test_a_range_run_equals_one_run_per_day_in_order(tmp_path):
    landing = tmp_path / "landing"
    simulate(landing, 4, START, DAYS, seed=5, public_trades_per_day=500)
    first, last = (START + timedelta(days=1)).isoformat(), (START + timedelta(days=DAYS - 1)).isoformat()
    ranged = make_settings(landing, tmp_path / "range")
    day_by_day = make_settings(landing, tmp_path / "days")
    with dg.instance_for_test() as instance:
        summary = run_partition(build_defs(ranged, resource_overrides=SHORT), "daily_job", first, instance, last)
        assert summary.success, summary.error
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].tags[RANGE_START_TAG] == first  # the six days, quantiles too, one run
        # every day of the range recorded as materialized
        assert instance.get_materialized_partitions(dg.AssetKey("asset_forecast_quantile")) == {
            (START + timedelta(days=k)).isoformat() for k in range(1, DAYS)}
    with dg.instance_for_test() as instance:
        defs = build_defs(day_by_day, resource_overrides=SHORT)
        for k in range(1, DAYS):  # each day built before the next exists: nothing later to see
            summary = run_partition(defs, "daily_job", (START + timedelta(days=k)).isoformat(), instance)
            assert summary.success, summary.error
    in_range, one_by_one = _tables(Warehouse(ranged.warehouse_path)), _tables(Warehouse(day_by_day.warehouse_path))
    for name in TABLES:
        assert_frame_equal(in_range[name], one_by_one[name], check_exact=True)
    quantiles = one_by_one["main.asset_forecast_quantile"]
    # the first day is served the fallback band; by the last, both methods (days 2..5 are history)
    assert quantiles.filter(pl.col("delivery_day") == START + timedelta(days=1))["method"].unique().to_list() == ["fallback"]
    assert sorted(quantiles.filter(pl.col("delivery_day") == START + timedelta(days=DAYS - 1))["method"]
                  .unique().to_list()) == ["empirical", "gbm"]
    # skill from the third day on (its window ends at D-2, the first day with quantiles), a champion every day
    skill_days = sorted(one_by_one["main.forecast_skill"]["evaluated_on"].unique().to_list())
    assert skill_days == [START + timedelta(days=k) for k in range(3, DAYS)]
    assert one_by_one["main.champion_history"]["delivery_day"].n_unique() == DAYS - 1
