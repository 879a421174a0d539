"""The bid benchmark at a small size and the demo's bidding part (correctness only, never timing)."""

import json
from datetime import date

from click.testing import CliRunner

from flexpower_assets.cli import main


def test_bench_bids_small_with_30_percent_faults_gives_every_client_a_valid_matrix(tmp_path):
    result = CliRunner().invoke(main, ["bench", "bids", "--clients", "2", "--assets-per-client", "2",
                                       "--scenarios", "6", "--fault-share", "0.3", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    # 2 clients x 2 plants = 4 assets; 4 x 6 scenarios = 24 solves, each recorded once
    assert (figures["clients"], figures["assets"], figures["scenarios"], figures["solves"]) == (2, 4, 6, 24)
    assert figures["valid_matrices"] == 2 and figures["run_success"] is True
    assert set(figures["stage_seconds"]) == {"dispatch", "solve", "record", "aggregate", "matrix", "submit"}
    assert figures["peak_rss_mb"] > 0


def test_demo_bids_the_next_day_approves_by_mode_and_submits(tmp_path, monkeypatch):
    from flexpower_assets.bidding.demo import run_bid_demo
    from flexpower_assets.settings import Settings
    from flexpower_assets.simulator.bidding import simulate_bidding
    from flexpower_assets.simulator.summary import SimulationSummary

    landing, data = tmp_path / "landing", tmp_path / "data"
    config = data / "bidding" / "bidding.yaml"
    day = date(2025, 10, 15)
    simulate_bidding(landing, config, day, 1, 5, SimulationSummary(landing, [], [day]), n_clients=3,
                     plants_per_client=1, n_scenarios=6, bad_files=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    settings = Settings(landing_dir=landing, warehouse_path=tmp_path / "wh.duckdb", data_dir=data,
                        min_file_age_s=0.0, bidding_config_path=config)
    lines: list[str] = []
    assert run_bid_demo(settings, lines.append) == 0, "\n".join(lines)
    text = "\n".join(lines)
    # the simulator's three clients cycle through maker_checker, auto, external
    outcome = {line.split()[0]: line for line in lines if line.startswith("  HYD-") and "->" in line}
    assert len(outcome) == 3, text
    assert all("-> accepted" in line and "cleared" in line for line in outcome.values()), text
    assert "demo-trader edited" in text
    # the bid run also wrote one trader briefing per client; the demo says where
    briefings = next(line for line in lines if line.startswith("briefings 2025-10-15"))
    assert all(client in briefings for client in outcome), text
    folder = tmp_path / "wh.documents" / "reports" / "briefing" / "2025-10-15"
    assert {p.stem for p in folder.glob("*.html")} >= set(outcome) and f"  {folder}/" in lines
    maker_checker = next(line for line in outcome.values() if "maker_checker" in line)
    assert " v2 approved " in maker_checker
    result = CliRunner().invoke(main, ["compliance", "verify"], env={"FLEXPOWER_DATA_DIR": str(data)})
    assert result.exit_code == 0 and "compliance log intact" in result.output
