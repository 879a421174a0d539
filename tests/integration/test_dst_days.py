"""DST days end to end: 92 quarter-hours in spring, 100 in autumn, per asset and for the portfolio."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from flexpower_assets.definitions import build_defs
from flexpower_assets.runner import run_partition
from flexpower_assets.simulator import simulate
from resources.warehouse import Warehouse
from tests.integration.conftest import make_settings


@pytest.mark.parametrize(("day", "n_qh"), [(date(2025, 3, 30), 92), (date(2025, 10, 26), 100)])
def test_dst_day_has_its_quarter_hours(tmp_path, day, n_qh):
    landing = tmp_path / "landing"
    simulate(landing, 3, day, 1, seed=5, public_trades_per_day=500)
    settings = make_settings(landing, tmp_path)
    with dg.instance_for_test() as instance:
        summary = run_partition(build_defs(settings), "daily_job", day.isoformat(), instance)
    assert summary.success, summary.error
    warehouse = Warehouse(settings.warehouse_path)
    per_asset = warehouse.read("select asset_id, count(*) as n from best_of_infeed group by 1")
    assert per_asset["n"].to_list() == [n_qh] * per_asset.height
    for table in ["portfolio_forecast", "trading_pnl", "portfolio_imbalance"]:
        assert warehouse.read(f"select count(*) as n from {table}")["n"][0] == n_qh, table
