"""The benchmark at 100 assets x 1 day with the pandas baseline: correctness only, never timing."""

from __future__ import annotations

import json

import pytest

from flexpower_assets.bench.run import CONTRACT_TABLES, run_benchmark

N_ASSETS = 100
QH_PER_DAY = 96  # 2025-06-08, the benchmark day, is an ordinary summer day


@pytest.fixture(scope="module")
def bench_output(tmp_path_factory):
    lines: list[str] = []
    figures = run_benchmark(n_assets=N_ASSETS, days=1, seed=11, baseline=True,
                            workdir=tmp_path_factory.mktemp("bench"), echo=lines.append,
                            public_trades_per_day=5000, drop_caches=False)
    return lines, figures


@pytest.mark.slow
def test_last_line_is_the_json_figures(bench_output):
    lines, figures = bench_output
    parsed = json.loads(lines[-1])
    assert parsed == json.loads(json.dumps(figures))
    assert parsed["assets"] == N_ASSETS
    assert parsed["days"] == 1
    for key in ("seconds_total", "seconds_ingestion", "seconds_compute", "peak_rss_mb",
                "pandas_seconds", "pandas_peak_rss_mb"):
        assert parsed[key] > 0, key
    # seconds_total is ingestion + computation, without the simulation
    assert parsed["seconds_total"] == pytest.approx(parsed["seconds_ingestion"] + parsed["seconds_compute"], abs=2e-3)


@pytest.mark.slow
def test_every_contract_table_is_a_stage_with_rows(bench_output):
    _lines, figures = bench_output
    stages = figures["stages"]
    assert stages["ingestion"]["rows"] > 0
    for table in CONTRACT_TABLES:
        assert table in stages, table
        assert stages[table]["layer"] == "published"
        assert stages[table]["rows"] > 0, table
    assert any(info["layer"] == "raw" for info in stages.values())
    assert any(info["layer"] == "core" for info in stages.values())


@pytest.mark.slow
def test_row_counts_follow_from_the_portfolio(bench_output):
    _lines, figures = bench_output
    stages, totals = figures["stages"], figures["totals"]
    n_portfolio = totals["portfolio_asset_days"]
    # every portfolio asset has one row per quarter-hour of the day: 96 x assets in the portfolio
    assert stages["best_of_infeed"]["rows"] == n_portfolio * QH_PER_DAY
    assert stages["asset_forecast"]["rows"] == n_portfolio * QH_PER_DAY
    assert stages["asset_imbalance"]["rows"] == n_portfolio * QH_PER_DAY
    # one row per quarter-hour for the portfolio tables, one row for the day
    for table in ("portfolio_forecast", "portfolio_best_of_infeed", "trading_pnl", "portfolio_imbalance"):
        assert stages[table]["rows"] == QH_PER_DAY, table
    assert stages["trading_daily"]["rows"] == 1
    # the simulator writes one contract per asset; at most a contract starting or ending later is out
    assert N_ASSETS - 2 <= n_portfolio <= N_ASSETS
    # one forecast version every 15 minutes of the day per asset, plus the one off-grid bad version
    assert figures["forecast_files"] >= N_ASSETS * QH_PER_DAY
    assert figures["public_trades"] == 5000


@pytest.mark.slow
def test_pandas_baseline_gives_the_same_numbers(bench_output):
    lines, figures = bench_output
    assert figures["results_match"] is True, figures["mismatches"]
    assert figures["mismatches"] == []
    assert "results match: yes" in lines


@pytest.mark.slow
def test_the_figures_say_what_was_measured_and_how(bench_output):
    lines, figures = bench_output
    assert figures["layout"] == "real"
    assert figures["page_cache"] == "warm (not dropped: --no-drop-caches)"
    assert figures["machine"]["cpus"] >= 1 and len(figures["machine"]["load_average"]) == 3
    profile = figures["ingestion_profile"]
    for step in ("scan folders", "compare with the catalog", "record (catalog insert)",
                 "workers: read files", "workers: hash (sha256)", "workers: parse + validate", "workers: stage (Parquet)"):
        assert profile[step] > 0, step
    assert any(line.startswith("ingestion profile (") for line in lines)
    assert any(line.startswith("measured on: ") for line in lines)


@pytest.mark.slow
def test_day_by_day_lets_each_day_arrive_then_builds_it(tmp_path):
    from flexpower_assets.bench.days import run_day_by_day

    lines: list[str] = []
    figures = run_day_by_day(n_assets=3, days=3, seed=5, workdir=tmp_path, echo=lines.append,
                             public_trades_per_day=200, drop_caches=False, archive_after_days=1)
    assert json.loads(lines[-1]) == json.loads(json.dumps(figures))
    per_day = figures["per_day"]
    assert [day["day"] for day in per_day] == ["2025-06-08", "2025-06-09", "2025-06-10"]
    assert all(day["success"] for day in per_day)
    # every simulated file arrives exactly once, so the stored count ends at the simulated total
    simulated = sum(1 for path in (tmp_path / "landing").rglob("*") if path.is_file())
    assert [day["files_stored"] for day in per_day][-1] == simulated
    assert sum(day["files_arrived"] for day in per_day) == simulated
    assert all(day["files_registered"] == day["files_arrived"] for day in per_day)
    assert all(day["cpu_seconds"] > 0 for day in per_day)
    # archiving after 1 day: before day 3 the files registered before day 2's ingestion (day 1's,
    # all but the rejected ones) leave the landing zone; every day still builds
    assert [day["files_archived_before"] for day in per_day][:2] == [0, 0]
    assert 0 < per_day[2]["files_archived_before"] <= per_day[0]["files_registered"]
    archived = sum(1 for path in (tmp_path / "archive" / "files").rglob("*") if path.is_file())
    assert archived == per_day[2]["files_archived_before"]
    assert figures["archive_after_days"] == 1
    assert figures["summary_cpu"]["days"] == 3
    assert figures["summary"]["days"] == 3
    assert any(line.startswith("fitted over all days: ") for line in lines)
