"""The sensors live: the Dagster daemon against a landing zone, a correction and a broken file.

A landing zone is built (the sample days, their reports and the month's invoices), then the
daemon runs with every sensor switched on (``dagster sensor start --start-all``), alerts going to a webhook server of the test. Asserted: switching on
replays nothing; a DSO correction re-runs exactly its two days once, as ``daily_job`` runs of
those partitions, followed by the days' reports and a new version of the month's invoices; a
broken file is rejected and alerted; and no sensor tick takes more than 30 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from flexpower_assets.demo import run_demo
from flexpower_assets.settings import PROJECT_ROOT
from resources.warehouse import Warehouse
from tests.alert_servers import WebhookServer
from tests.integration.conftest import make_settings
from tests.integration.test_sensors import write_final_production

BIN = Path(sys.executable).parent
TICK_BOUND_S = 30


def runs(instance: dg.DagsterInstance, job: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(job_name=job)))


def wait_until(predicate, timeout_s: float, what: str, daemon: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        assert daemon.poll() is None, "the daemon stopped"
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}")


def finished(instance, job: str, n: int) -> bool:
    found = runs(instance, job)
    return len(found) >= n and all(run.is_finished for run in found)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_daemon_runs_exactly_the_corrected_days_then_reports_and_invoices(sample_landing, tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    shutil.copytree(sample_landing, landing)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    settings = make_settings(landing, tmp_path)
    assert run_demo(settings, echo=lambda _line: None) in (0, 1)  # the days, their reports, the month
    warehouse = Warehouse(settings.warehouse_path)
    invoices_before = warehouse.read("select invoice_id, max(version) as v from invoice group by 1")
    report = settings.documents_root / "reports" / "daily" / "2025-06-07" / "portfolio.html"  # next to its warehouse
    report_before = report.read_bytes()

    with WebhookServer() as hook, dg.DagsterInstance.get() as instance:
        env = {**os.environ, "DAGSTER_HOME": str(home), "FLEXPOWER_LANDING_DIR": str(landing),
               "FLEXPOWER_WAREHOUSE": str(settings.warehouse_path), "FLEXPOWER_DATA_DIR": str(tmp_path),
               "FLEXPOWER_PARSE_WORKERS": "1", "FLEXPOWER_SENSOR_INTERVAL_S": "5",
               "FLEXPOWER_MIN_FILE_AGE_S": "0", "FLEXPOWER_ALERT_WEBHOOK_URL": hook.url}
        target = ["-m", "flexpower_assets.definitions"]
        started = subprocess.run([str(BIN / "dagster"), "sensor", "start", "--start-all", *target], env=env,
                                 capture_output=True, text=True, timeout=180, cwd=PROJECT_ROOT)
        assert started.returncode == 0, started.stderr[-2000:]
        daily_before = len(runs(instance, "daily_job"))
        reports_before = len(runs(instance, "daily_reports_job"))  # the demo's: one run over its days
        log = (tmp_path / "daemon.log").open("w")
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", *target], env=env, cwd=PROJECT_ROOT,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            # switched on over a built landing zone: the sensors tick and request nothing
            wait_until(lambda: ticks_of(instance, "landing_dso_sensor") >= 2, 180, "two ticks", daemon)
            assert len(instance.get_runs()) == len(runs(instance, "daily_job")) + sum(
                len(runs(instance, job)) for job in ("daily_reports_job", "monthly_job"))
            assert len(runs(instance, "daily_job")) == daily_before
            assert runs(instance, "ingest_job") == []

            # a DSO correction of UTC day 06-07 (Berlin 06-07 and the first two hours of 06-08),
            # and a file that cannot be read
            write_final_production(landing / "dso", "MP-SOL-001", "2025-06-07", "20250625", base=400.0)
            broken = landing / "dso" / "final_production_MP-SOL-002_20250625.csv"
            broken.write_text("delivery_start__utc_,MP-SOL-002__kw_\n2025-06-07 00:00:00.000000 UTC,abc\n")

            wait_until(lambda: finished(instance, "monthly_job", 2)
                       and finished(instance, "daily_reports_job", reports_before + 2),
                       600, "the month's invoices after the corrected days", daemon)
            time.sleep(10)  # a few more ticks: nothing else may follow
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
            log.close()

        sensor_runs = [run for run in runs(instance, "daily_job") if "flexpower/trigger" in run.tags]
        assert sorted(run.tags["dagster/partition"] for run in sensor_runs) == ["2025-06-07", "2025-06-08"]
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in sensor_runs)
        assert len(runs(instance, "ingest_job")) == 1
        reports = [r for r in runs(instance, "daily_reports_job") if "flexpower/trigger" in r.tags]
        assert sorted(r.tags["dagster/partition"] for r in reports) == ["2025-06-07", "2025-06-08"]
        monthly = [r for r in runs(instance, "monthly_job") if "flexpower/trigger" in r.tags]
        assert [r.tags["dagster/partition"] for r in monthly] == ["2025-06-01"]
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in reports + monthly)

        # the corrected production reaches the invoice of its contract (version 2) and the report
        invoices_after = warehouse.read("select invoice_id, max(version) as v from invoice group by 1")
        before = dict(invoices_before.iter_rows())
        after = dict(invoices_after.iter_rows())
        assert after["INV-CON1_SOL-DE-001-2025-06"] == before["INV-CON1_SOL-DE-001-2025-06"] + 1 == 2
        assert report.read_bytes() != report_before

        # the broken file is rejected (kept) and alerted to the webhook
        status = warehouse.read("select status, error from landing.files where path = ?",
                                ["dso/final_production_MP-SOL-002_20250625.csv"])
        assert status["status"].to_list() == ["rejected"] and broken.exists()
        alerts = [m["text"] for m in hook.messages if "rejected file" in m["text"]]
        assert len(alerts) == 1 and "final_production_MP-SOL-002_20250625.csv" in alerts[0]

        # every tick of every sensor stayed well under Dagster's 60 s limit
        durations = tick_durations(instance)
        assert durations and max(durations) <= TICK_BOUND_S, max(durations)


def ticks_of(instance: dg.DagsterInstance, name: str) -> int:
    states = [s for s in instance.all_instigator_state() if s.instigator_name == name]
    return sum(len(instance.get_ticks(s.instigator_origin_id, s.selector_id)) for s in states)


def tick_durations(instance: dg.DagsterInstance) -> list[float]:
    durations = []
    for state in instance.all_instigator_state():
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id):
            if tick.end_timestamp is not None:
                durations.append(tick.end_timestamp - tick.timestamp)
    return durations
