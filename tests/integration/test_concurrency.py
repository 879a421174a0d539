"""Several days materialized at once against one warehouse: the writes queue, none fails on a lock."""

from __future__ import annotations

import os
import subprocess
import sys

from resources.warehouse import Warehouse

DAYS = ["2025-06-07", "2025-06-08", "2025-06-09"]


def test_concurrent_days_do_not_fail_on_the_duckdb_lock(sample_landing, tmp_path):
    warehouse = tmp_path / "warehouse" / "shared.duckdb"
    # every location in tmp_path: the documents (reports) go next to the warehouse, never into data/
    env = {**os.environ, "FLEXPOWER_LANDING_DIR": str(sample_landing), "FLEXPOWER_WAREHOUSE": str(warehouse),
           "DAGSTER_HOME": str(tmp_path / "dagster_home"), "FLEXPOWER_PARSE_WORKERS": "1",
           "FLEXPOWER_DATA_DIR": str(tmp_path / "data")}
    env.pop("FLEXPOWER_DOCUMENTS_DIR", None)
    (tmp_path / "dagster_home").mkdir()
    processes = [
        subprocess.Popen([sys.executable, "-m", "flexpower_assets.cli", "materialize", "--day", day],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for day in DAYS
    ]
    outputs = [process.communicate(timeout=900)[0] for process in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output
    counts = Warehouse(warehouse).read(
        "select cast(delivery_day as varchar) as day, count(*) as n from trading_pnl group by 1 order by 1")
    assert counts.to_dicts() == [{"day": day, "n": 96} for day in DAYS]
    reports = tmp_path / "warehouse" / "shared.documents" / "reports" / "daily"
    assert sorted(p.name for p in reports.iterdir()) == DAYS
