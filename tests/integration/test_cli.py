"""The command line runs days through Dagster and fails loudly when a day cannot be built."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flexpower_assets.cli", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_materialize_without_any_source_fails_with_a_clear_message(tmp_path):
    landing = tmp_path / "landing"
    for folder in ["crm", "vpp/forecasts", "vpp/live", "vpp/technical_data", "dso", "exchange", "imbalance"]:
        (landing / folder).mkdir(parents=True)
    (tmp_path / "home").mkdir()
    env = {**os.environ, "FLEXPOWER_LANDING_DIR": str(landing),
           "FLEXPOWER_WAREHOUSE": str(tmp_path / "w.duckdb"), "DAGSTER_HOME": str(tmp_path / "home")}
    result = run_cli("materialize", "--day", "2025-06-08", env=env)
    assert result.returncode == 1
    assert "No CRM snapshot applies to 2025-06-08" in result.stderr
    assert "FAILED" in result.stdout


def test_materialize_rejects_a_backwards_range(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = run_cli("materialize", "--from", "2025-06-09", "--to", "2025-06-08", env=env)
    assert result.returncode == 2
    assert "is before" in result.stderr


def test_archive_moves_registered_files_and_says_where(tmp_path):
    landing = tmp_path / "landing"
    (landing / "dso").mkdir(parents=True)
    name = "final_production_MP-A_20250609.csv"
    (landing / "dso" / name).write_text("delivery_start__utc_,MP-A__kw_\n2025-06-08 00:00:00.000000 UTC,1.0\n")
    env = {**os.environ, "FLEXPOWER_LANDING_DIR": str(landing), "FLEXPOWER_WAREHOUSE": str(tmp_path / "w.duckdb"),
           "FLEXPOWER_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path),
           "FLEXPOWER_MIN_FILE_AGE_S": "0"}
    assert run_cli("ingest", env=env).returncode == 0
    dry = run_cli("archive", "--older-than-days", "0", "--dry-run", env=env)
    assert dry.returncode == 0 and "would move 1 file(s)" in dry.stdout and (landing / "dso" / name).exists()
    moved = run_cli("archive", "--older-than-days", "0", env=env)
    assert moved.returncode == 0 and "moved 1 file(s)" in moved.stdout
    assert (tmp_path / "data" / "archive" / "files" / "dso" / name).exists()
    assert not (landing / "dso" / name).exists()
    inside = run_cli("archive", "--to", str(landing / "old"), env=env)
    assert inside.returncode == 2 and "must not be inside the landing zone" in inside.stderr
