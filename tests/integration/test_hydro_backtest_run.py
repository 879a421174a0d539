"""The hydro scenario-curve strategy through the backtest job, on the simulator's bidding data.

The replayed curves are those the bid pipeline makes: for one day the bid job runs (as of before
its gate closure) and the replay of the same day gives the same ``asset_bid_curve``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest

from flexpower_assets import backtest_run
from flexpower_assets.backtest_run import run_backtest
from flexpower_assets.bidding.config import load_bidding_config
from flexpower_assets.bidding.hydro import NAME as HYDRO
from flexpower_assets.bidding.inputs import load_day_inputs
from flexpower_assets.definitions import build_defs
from flexpower_assets.domain import hydro_backtest
from flexpower_assets.runner import run_partition
from flexpower_assets.settings import Settings
from flexpower_assets.simulator import simulate
from resources.warehouse import Warehouse

START = date(2025, 6, 1)
DAYS = (date(2025, 6, 2), date(2025, 6, 3))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("hydro_backtest")
    landing, config_path = root / "landing", root / "bidding.yaml"
    simulate(landing, 3, START, 3, seed=3, public_trades_per_day=200, bidding_config=config_path, bidding_clients=2,
             bidding_plants_per_client=1, bidding_scenarios=8)
    settings = Settings(landing_dir=landing, warehouse_path=root / "wh.duckdb", data_dir=root, parse_workers=1,
                        min_file_age_s=0, bidding_config_path=config_path)
    defs = build_defs(settings)
    with dg.instance_for_test() as instance:
        for day in DAYS:  # the reBAP of the days (core.imbalance_prices) comes from the daily job
            summary = run_partition(defs, "daily_job", day.isoformat(), instance)
            assert summary.success, summary.error
    return settings, defs, Warehouse(settings.warehouse_path), load_bidding_config(config_path)


def test_backtest_job_writes_the_hydro_strategy(world):
    settings, defs, warehouse, config = world
    plants = sorted(a for c in config.clients for a, t in c.asset_types().items() if t == HYDRO)
    assert len(plants) == 2
    run_config = {"ops": {"backtest_result": {"config": {"first_day": "2025-06-02", "last_day": "2025-06-03",
                                                         "strategies": ["scenario_curves"]}}}}
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("backtest_job").execute_in_process(run_config=run_config, instance=instance)
    assert result.success
    rows = warehouse.read("select * from backtest_result order by strategy, asset_id, delivery_day")
    # two strategies x two plants x two days, nothing else (no renewable strategy was asked for)
    assert rows.height == 8 and rows["asset_type"].unique().to_list() == [HYDRO]
    assert sorted(rows["asset_id"].unique().to_list()) == plants
    assert rows["strategy"].unique().sort().to_list() == ["perfect_foresight", "scenario_curves"]
    bound = rows.filter(pl.col("strategy") == "perfect_foresight")
    assert bound["imbalance_mwh"].to_list() == [0.0] * 4 and bound["capture_rate"].to_list() == [1.0] * 4
    # net = revenue - imbalance cost + end water value on every row
    gap = rows.select((pl.col("net_eur") - (pl.col("revenue_eur") - pl.col("imbalance_cost_eur")
                                            + pl.col("end_water_value_eur"))).abs().max()).item()
    assert gap < 1e-6
    curves = rows.filter(pl.col("strategy") == "scenario_curves").join(
        bound.select("asset_id", "delivery_day", bound="net_eur"), on=["asset_id", "delivery_day"])
    assert (curves["capture_rate"] - curves["net_eur"] / curves["bound"]).abs().max() < 1e-12
    report = settings.documents_root / "reports" / "backtest" / "2025-06-02_2025-06-03.html"
    html = report.read_text()
    assert "scenario_curves" in html and "Left out" not in html


def test_the_replayed_curve_is_the_bid_pipelines_curve(world, tmp_path):
    settings, _defs, warehouse, config = world
    day = DAYS[1]
    gate = config.market.gate_closure_utc(day)
    now = gate - timedelta(minutes=10)
    # the bid run of the day as of ten minutes before its gate closure (its submission needs an exchange,
    # which this test does not start: the curves are stored before that step)
    bid_defs = build_defs(replace(settings, now=now))
    with dg.instance_for_test() as instance:
        bid_defs.resolve_job_def("bidding_job").execute_in_process(partition_key=day.isoformat(), instance=instance,
                                                                   raise_on_error=False)
    stored = warehouse.read("select asset_id, delivery_start, point, price_eur_per_mwh, volume_mw from main.asset_bid_curve "
                            "where delivery_day = ? order by all", [day])
    hydro_clients = [c for c in config.clients if HYDRO in c.asset_types().values()]
    inputs = load_day_inputs(warehouse, day, gate, ("inflow_forecast", "reservoir_level"), [HYDRO])
    replayed = []
    for client in hydro_clients:
        curves, errors = hydro_backtest.replay_client_curves(config, client, inputs, day)
        assert errors == {}
        replayed += [c.curve.with_columns(asset_id=pl.lit(a)) for a, c in curves.items()]
    mine = pl.concat(replayed).select(stored.columns).sort(stored.columns)
    hydro_stored = stored.filter(pl.col("asset_id").is_in(mine["asset_id"].unique().implode()))
    assert hydro_stored.height == mine.height > 0
    assert hydro_stored.equals(mine)
    # and a run over the same day with no bidding configuration says why it has no hydro rows
    with pytest.raises(ValueError, match="no reservoir plants"):
        run_backtest(warehouse, settings.landing_dir, day, day, ("scenario_curves",), 0.0, None)


def test_days_replayed_in_worker_processes_give_the_same_rows(world, monkeypatch):
    settings, _defs, warehouse, config = world
    first, last = DAYS[0], DAYS[-1]
    monkeypatch.setattr(backtest_run, "PARALLEL_FROM_DAYS", 10)  # 2 days: one process
    alone = run_backtest(warehouse, settings.landing_dir, first, last, ("scenario_curves",), 0.0, config)
    monkeypatch.setattr(backtest_run, "PARALLEL_FROM_DAYS", 1)  # 2 days: two spawned workers
    monkeypatch.setattr(backtest_run.os, "cpu_count", lambda: 2)
    pooled = run_backtest(warehouse, settings.landing_dir, first, last, ("scenario_curves",), 0.0, config)
    # two strategies x two plants x two days, row for row the same
    assert alone.results.height == 8
    assert pooled.results.equals(alone.results)
    assert pooled.skipped.equals(alone.skipped)
    assert pooled.summary.equals(alone.summary)
