"""The bidding sample data: deterministic, accepted by ingestion (bad files rejected), calibrated
scenarios, a configuration with three approval modes and a renewable client, solvable plants."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl

from flexpower_assets.bidding.asset_types import asset_type
from flexpower_assets.bidding.config import load_bidding_config
from flexpower_assets.bidding.inputs import newest_file
from flexpower_assets.bidding.model import day_context
from flexpower_assets.bidding.solve import build_solve_inputs, solve_scenario
from flexpower_assets.ingestion.catalog import accepted_rows, sync_landing
from flexpower_assets.simulator.bidding import price_draws, simulate_bidding
from flexpower_assets.simulator.summary import SimulationSummary
from resources.warehouse import Warehouse

DAY = date(2025, 10, 14)


def run(root: Path, seed: int = 7) -> SimulationSummary:
    summary = SimulationSummary(landing=root / "landing", asset_ids=[], days=[DAY])
    simulate_bidding(root / "landing", root / "bidding.yaml", DAY, 2, seed, summary, n_clients=3,
                     plants_per_client=2, n_scenarios=20, renewable_assets=["WND-DE-001"])
    return summary


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path):
    run(tmp_path / "a")
    run(tmp_path / "b")
    run(tmp_path / "c", seed=8)
    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert files(tmp_path / "a") != files(tmp_path / "c")


def test_ingested_and_solvable(tmp_path):
    summary = run(tmp_path)
    # 2 days: 2 scenario files + 2 auction results + 1 technical file + 6 plants x 2 days x (inflow + level),
    # plus the 3 bad files (one scenario file, one technical file, one inflow forecast)
    assert summary.files == {"hydro_technical_data": 2, "price_scenarios": 3, "day_ahead_prices": 2,
                             "inflow_forecast": 13, "reservoir_level": 12}
    warehouse = Warehouse(tmp_path / "w.duckdb")
    report = sync_landing(tmp_path / "landing", warehouse, workers=1)
    rejected = sorted(path for path, _ in report.rejected)
    assert rejected == sorted(bad.path for bad in summary.bad_files)
    assert len(rejected) == 3

    config = load_bidding_config(tmp_path / "bidding.yaml")
    hydro_clients = [c for c in config.clients if c.asset_type == "reservoir_hydro"]
    assert [c.approval for c in hydro_clients] == ["maker_checker", "auto", "external"]
    assert [c.id for c in config.clients if c.asset_type == "renewable"] == ["OWN-PORTFOLIO"]

    plants = accepted_rows(warehouse, "hydro_technical_data")
    assert plants.height == 6 and (plants["pump_max_mw"] > 0).sum() == 3
    scenarios = accepted_rows(warehouse, "price_scenarios", days=[DAY])
    assert scenarios["scenario_id"].n_unique() == 20 and scenarios.height == 20 * 96

    # one plant of the first client, solved for every scenario from the ingested data
    client = hydro_clients[0]
    kind = asset_type("reservoir_hydro")
    record = plants.filter(pl.col("asset_id") == client.asset_ids[0]).drop("file_created_at", "file_id").row(0, named=True)
    technical = kind.technical_model.model_validate(record)
    # the run is at 11:50 Berlin (09:50 UTC), before gate closure: the levels file of 09:45 UTC is known
    # (its last level 09:00), moved forward with the inflow forecast created at 06:00 UTC
    day = day_context(config, client, DAY, datetime(2025, 10, 13, 9, 50, tzinfo=timezone.utc))
    assert day.as_of == datetime(2025, 10, 13, 9, 50, tzinfo=timezone.utc)
    frames = {kind_name: newest_file(accepted_rows(warehouse, kind_name), day.as_of, by=["asset_id"])
              for kind_name in kind.input_kinds}
    applicable = newest_file(scenarios, day.as_of).select("scenario_id", "delivery_start", "price_eur_per_mwh")
    inputs = build_solve_inputs(kind, technical, frames, day, applicable)
    results = [solve_scenario(kind, i) for i in inputs]
    assert [r.status for r in results] == ["optimal"] * 20
    # the content never leaves the plant's bounds
    contents = np.array([r.schedule["content_mwh"] for r in results])
    assert contents.min() >= technical.reservoir_min_mwh - 1e-6
    assert contents.max() <= technical.reservoir_max_mwh + 1e-6


def test_realised_price_behaves_like_one_more_scenario():
    # over 60 days, the realised price's rank among 50 scenarios (0..50) should be about uniform: mean
    # rank about 25 (MTUs of a day share the day's shift, so the spread over 60 days is a few ranks), and
    # outside the scenarios' range in about 2/51 = 4 % of the MTUs: neither too central (a realised price
    # without noise would almost never be outside) nor too wild
    ranks = []
    for offset in range(60):
        draws = price_draws(date(2025, 6, 1) + timedelta(days=offset), 51, 7)
        ranks.append((draws[:50] < draws[50]).sum(axis=0))
    ranks = np.concatenate(ranks)
    assert 19 <= ranks.mean() <= 31
    outside = np.mean((ranks == 0) | (ranks == 50))
    assert 0.01 <= outside <= 0.10


def test_the_readme_command_writes_the_bidding_data_next_to_the_rest(tmp_path):
    from click.testing import CliRunner

    from flexpower_assets.cli import main

    landing, config = tmp_path / "landing", tmp_path / "bidding" / "bidding.yaml"
    result = CliRunner().invoke(main, ["simulate", "--assets", "4", "--start", "2025-10-14", "--days", "1",
                                       "--public-trades-per-day", "50", "--out", str(landing), "--bidding",
                                       "--bidding-config", str(config), "--bidding-scenarios", "5"])
    assert result.exit_code == 0, result.output
    assert len(list((landing / "market").glob("price_scenarios_20251014_*.csv"))) == 2  # the good and the bad one
    loaded = load_bidding_config(config)
    # three hydro clients and the renewable client holding the 4 simulated portfolio assets
    assert [len(c.assets) for c in loaded.clients] == [2, 2, 2, 4]
    assert loaded.clients[0].scenarios == 5
    # without --bidding nothing of it is written
    plain = tmp_path / "plain"
    assert CliRunner().invoke(main, ["simulate", "--assets", "4", "--start", "2025-10-14", "--public-trades-per-day",
                                     "50", "--out", str(plain)]).exit_code == 0
    assert not (plain / "market").exists() and not (plain / "hydro").exists()
