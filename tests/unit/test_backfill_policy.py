"""daily_job has one backfill policy: a UI backfill of a month is one run, not thirty."""

from __future__ import annotations

import warnings

import dagster as dg

from flexpower_assets.definitions import build_defs
from flexpower_assets.partitions import DAYS_PER_RUN, daily_backfill_policy
from flexpower_assets.runner import range_support
from flexpower_assets.settings import Settings


def test_every_asset_of_daily_job_builds_a_range_in_one_run(tmp_path):
    settings = Settings(landing_dir=tmp_path / "landing", warehouse_path=tmp_path / "w.duckdb", data_dir=tmp_path)
    defs = build_defs(settings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = defs.resolve_job_def("daily_job")
    # Dagster warns when a job's assets have different policies and then uses the smallest
    assert not [w for w in caught if "varying BackfillPolicies" in str(w.message)]
    assert job.backfill_policy == daily_backfill_policy
    assert job.backfill_policy.max_partitions_per_run == DAYS_PER_RUN == 31
    ranged, one_day_only = range_support(defs, "daily_job")
    assert one_day_only == []
    assert {dg.AssetKey(["core", "gate_forecast"]), dg.AssetKey("forecast_skill"), dg.AssetKey("champion_history"),
            dg.AssetKey("asset_forecast_quantile"), dg.AssetKey("best_of_infeed"), dg.AssetKey("open_position")
            } <= set(ranged)
