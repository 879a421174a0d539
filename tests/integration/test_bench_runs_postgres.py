"""Bid runs through the daemon and the queued run coordinator on PostgreSQL (correctness only).

PostgreSQL comes from Debian's package (installed with apt-get when missing) and runs as a
throwaway server on a free port for this test only; if it cannot be installed or started the
test fails with the reason. No timing is asserted.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from flexpower_assets.cli import main


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bid_runs_through_the_daemon_on_postgres(tmp_path):
    # the command of the README ("Beyond one machine") at a small size
    result = CliRunner().invoke(main, ["bench", "runs", "--storage", "postgres", "--runs", "3", "--clients", "2",
                                       "--scenarios", "3", "--timeout", "600", "--workdir", str(tmp_path / "bench")])
    assert result.exit_code == 0, result.output[-3000:]
    lines = result.output.strip().splitlines()
    summary = json.loads(lines[-1])
    # the instance really was PostgreSQL with the queued coordinator, limited to two runs at a time
    assert any("dagster-postgres.yaml: PostgresRunStorage, QueuedRunCoordinator (max 2 concurrent runs), "
               "run monitoring on" in line for line in lines), lines
    # 3 runs over 2 clients: days ceil(3 / 2) = 2, pairs (d0, c0), (d1, c0), (d0, c1); all succeeded
    assert (summary["runs"], summary["succeeded"], summary["clients"]) == (3, 3, 2)
    # the PostgreSQL run storage holds them as successful bid runs, read straight from its table
    assert summary["postgres_runs_succeeded"] == 3
    # each run's client has an accepted submission for its day at the mock exchange
    assert summary["submitted"] == 3
    assert summary["storage"] == "postgres"
    assert summary["queue_wait_s"]["max"] >= summary["queue_wait_s"]["p50"] >= 0
