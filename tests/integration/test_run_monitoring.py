"""A run whose process is killed with kill -9 is marked failed by the daemon's run monitoring."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from flexpower_assets.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent

SLOW_JOB = textwrap.dedent('''
    import time
    import dagster as dg

    @dg.op
    def wait_a_long_time():
        time.sleep(600)

    @dg.job(tags={"dagster/max_runtime": "3"})
    def slow_job():
        wait_a_long_time()

    defs = dg.Definitions(jobs=[slow_job])

    if __name__ == "__main__":
        with dg.DagsterInstance.get() as instance:
            slow_job.execute_in_process(instance=instance)
''')


def test_project_instance_enables_run_monitoring():
    config = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] is True
    assert 0 < monitoring["max_runtime_seconds"] <= 4 * 3600


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_killed_run_is_marked_failed(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    config = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    config.pop("load_from", None)
    config["run_monitoring"]["poll_interval_seconds"] = 2  # the project's settings, checked faster
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    script = tmp_path / "slow.py"
    script.write_text(SLOW_JOB)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    worker = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path)
    daemon = None
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not [
                    r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED]:
                time.sleep(0.5)
            (run,) = instance.get_runs()
            assert run.status == dg.DagsterRunStatus.STARTED
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
            time.sleep(1)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # left behind
            daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-f", str(script)], env=env,
                                      cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                if instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE:
                    break
                time.sleep(1)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    finally:
        if worker.poll() is None:
            worker.kill()
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=60)
