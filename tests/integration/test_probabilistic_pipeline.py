"""Quantiles, skill and champion through Dagster on a simulated history of a few weeks."""

from __future__ import annotations

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
    return Warehouse(settings.warehouse_path)


def test_quantiles_served_with_fallback_then_methods(history):
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
    skill = history.read("select * from forecast_skill order by evaluated_on, method, asset_id")
    last_day = START + timedelta(days=DAYS - 1)
    today = skill.filter(pl.col("evaluated_on") == last_day)
    assert today["window_days"].unique().to_list() == [2]
    # exactly one champion per asset among the methods scored that day
    assert today.group_by("asset_id").agg(pl.col("is_champion").sum())["is_champion"].unique().to_list() == [1]
    champions = history.read("select * from champion_history where delivery_day = ?", [last_day])
    assert champions.height == today["asset_id"].n_unique()
    assert champions["reason"].str.len_chars().min() > 0
