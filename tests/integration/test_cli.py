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
