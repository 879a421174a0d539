"""Running the pipeline's jobs from the command line, through Dagster.

The command line materializes partitions with the same Definitions, checks and run records as
the UI: runs go to the Dagster instance in ``DAGSTER_HOME`` (default ``data/dagster_home``),
so ``dagster dev`` shows them afterwards.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg

from flexpower_assets.domain.time import days_between
from flexpower_assets.settings import DATA_DIR, PROJECT_ROOT
from resources.warehouse import file_lock


@dataclass
class RunSummary:
    partition: str
    success: bool
    run_id: str
    materialized: int
    failed_steps: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    error: str | None = None


# the command line prints its own progress; Dagster's step-by-step log stays in the run records
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def instance() -> dg.DagsterInstance:
    """The persistent instance of ``DAGSTER_HOME`` (created under data/ when unset)."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DATA_DIR / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    # several commands started at once on a fresh home would race to create its sqlite storage
    with file_lock(home / ".instance.lock", exclusive=True, timeout_s=120):
        if not settings.exists():
            shutil.copyfile(PROJECT_ROOT / "dagster.yaml", settings)
        return dg.DagsterInstance.get()


def run_partition(defs: dg.Definitions, job_name: str, partition_key: str,
                  dagster_instance: dg.DagsterInstance) -> RunSummary:
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(partition_key=partition_key, instance=dagster_instance,
                                    raise_on_error=False, run_config=QUIET)
    failed_steps = [event.step_key for event in result.all_events if event.is_step_failure]
    failed_checks = [
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name} ({evaluation.severity.value})"
        for evaluation in (event.event_specific_data for event in result.all_events
                           if event.event_type_value == "ASSET_CHECK_EVALUATION")
        if not evaluation.passed
    ]
    error = None
    if failed_steps:
        messages = [event.event_specific_data.error.message.strip()
                    for event in result.all_events if event.is_step_failure and event.event_specific_data.error]
        error = "; ".join(dict.fromkeys(messages)) or "a step failed"
    materialized = sum(1 for event in result.all_events if event.event_type_value == "ASSET_MATERIALIZATION")
    return RunSummary(partition=partition_key, success=result.success, run_id=result.run_id,
                      materialized=materialized, failed_steps=failed_steps, failed_checks=failed_checks,
                      error=error)


def day_keys(first: date, last: date) -> list[str]:
    return [day.isoformat() for day in days_between(first, last)]
