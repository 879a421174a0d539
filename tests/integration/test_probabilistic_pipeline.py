"""Quantiles, skill and champion through Dagster on a simulated history of a few weeks."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest

from flexpower_assets.definitions import build_defs
from flexpower_assets.runner import run_partition
from flexpower_assets.simulator import simulate
from resources.forecasting import ForecastingResource
from resources.warehouse import Warehouse
from tests.integration.conftest import make_settings

START = date(2025, 6, 1)
DAYS = 6


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    root = tmp_path_factory.mktemp("probabilistic")
    landing = root / "landing"
    simulate(landing, 4, START, DAYS, seed=5, public_trades_per_day=500)
    settings = make_settings(landing, root)
    # a short history so that the methods (not only the fallback) run within the test's days
    defs = build_defs(settings, resource_overrides={"forecasting": ForecastingResource(
        window_days=2, history_days=5, min_history_days=2, switch_days=2)})
    with dg.instance_for_test() as instance:
        for k in range(1, DAYS):  # the first day has no version made before its gate closure
            summary = run_partition(defs, "daily_job", (START + timedelta(days=k)).isoformat(), instance)
            assert summary.success, summary.error
    return Warehouse(settings.warehouse_path), defs, settings


def test_quantiles_served_with_fallback_then_methods(history):
    history, _defs, _settings = history
    counts = history.read("select delivery_day, method, count(*) as n from asset_forecast_quantile group by all order by all")
    n_assets = history.read("select count(distinct asset_id) as n from core.portfolio_assets where delivery_day = ?",
                            [START + timedelta(days=3)])["n"][0]
    first = counts.filter(pl.col("delivery_day") == START + timedelta(days=1))
    # day 2: no history (days <= D-2 = day 0 has no gate forecast): fallback only, 19 levels x 96 QH per asset
    assert first.select("method", "n").rows() == [("fallback", 19 * 96 * n_assets)]
    last = counts.filter(pl.col("delivery_day") == START + timedelta(days=DAYS - 1))
    # day 6: days 2..4 are history (>= 2): both methods
    assert sorted(last["method"].to_list()) == ["empirical", "gbm"]
    crossing = history.read(
        "select count(*) as n from (select power_kw < lag(power_kw) over (partition by method, asset_id, delivery_start "
        "order by quantile_level) as crosses from asset_forecast_quantile) where crosses")
    assert crossing["n"][0] == 0


def test_skill_and_champion_recorded(history):
    history, _defs, _settings = history
    skill = history.read("select * from forecast_skill order by evaluated_on, method, asset_id")
    last_day = START + timedelta(days=DAYS - 1)
    today = skill.filter(pl.col("evaluated_on") == last_day)
    assert today["window_days"].unique().to_list() == [2]
    # exactly one champion per asset among the methods scored that day
    assert today.group_by("asset_id").agg(pl.col("is_champion").sum())["is_champion"].unique().to_list() == [1]
    champions = history.read("select * from champion_history where delivery_day = ?", [last_day])
    assert champions.height == today["asset_id"].n_unique()
    assert champions["reason"].str.len_chars().min() > 0


def test_backtest_job_writes_results_and_report(history):
    warehouse, defs, settings = history
    first, last = START + timedelta(days=2), START + timedelta(days=DAYS - 1)
    config = {"ops": {"backtest_result": {"config": {"first_day": first.isoformat(), "last_day": last.isoformat()}}}}
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("backtest_job").execute_in_process(run_config=config, instance=instance)
    assert result.success
    rows = warehouse.read("select * from backtest_result order by strategy, asset_id, delivery_day")
    pairs = warehouse.read(
        "select count(*) as n from (select distinct asset_id, delivery_day from asset_forecast_quantile "
        "where delivery_day between ? and ? intersect select distinct asset_id, delivery_day from best_of_infeed)",
        [first, last])["n"][0]
    # three strategies x every (asset, day) of days 3..6 with quantiles and an outcome (contracts come and go)
    assert pairs >= 4 and rows.height == 3 * pairs
    assert rows["delivery_day"].n_unique() == 4
    bound = rows.filter(pl.col("strategy") == "perfect_foresight")
    assert bound["imbalance_mwh"].abs().max() == 0.0  # selling exactly the outcome leaves no imbalance
    # net = revenue - imbalance cost on every row that has a cost
    priced = rows.drop_nulls("net_eur")
    assert (priced["net_eur"] - (priced["revenue_eur"] - priced["imbalance_cost_eur"])).abs().max() < 1e-9
    report = settings.documents_root / "reports" / "backtest" / f"{first}_{last}.html"  # next to its warehouse
    html = report.read_text()
    assert "Cumulative net EUR" in html and "Forecast quality next to the euros" in html
    assert (report.parent / "plotly.min.js").is_file()


def test_readme_commands_backtest_and_champion_pin(history, tmp_path):
    warehouse, _defs, settings = history
    (tmp_path / "home").mkdir()
    env = {**os.environ, "FLEXPOWER_LANDING_DIR": str(settings.landing_dir), "FLEXPOWER_WAREHOUSE": str(settings.warehouse_path),
           "FLEXPOWER_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "home")}
    cli = [sys.executable, "-m", "flexpower_assets.cli"]
    pinned = subprocess.run([*cli, "champion-pin", "gbm", "--from", "2025-06-05", "--by", "desk", "--reason", "model review"],
                            env=env, capture_output=True, text=True, timeout=600)
    assert pinned.returncode == 0, pinned.stderr
    assert warehouse.read("select method, from_day, pinned_by from main.champion_pin").rows() == [
        ("gbm", date(2025, 6, 5), "desk")]
    run = subprocess.run([*cli, "backtest", "--from", "2025-06-04", "--to", "2025-06-06", "--strategies", "point"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "strategies perfect_foresight, point" in run.stdout  # the bound is always added
    assert (settings.documents_root / "reports" / "backtest" / "2025-06-04_2025-06-06.html").is_file()
