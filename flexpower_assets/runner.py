"""Running the pipeline's jobs from the command line, through Dagster.

The command line materializes partitions with the same Definitions, checks and run records as
the UI: runs go to the Dagster instance in ``DAGSTER_HOME`` (default ``data/dagster_home``),
so ``dagster dev`` shows them afterwards. A range of days runs as one run over the partition
range (as a UI backfill does, see ``partitions.DAYS_PER_RUN``), in runs of at most
``DAYS_PER_RUN`` days.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg

from flexpower_assets.domain.time import days_between
from flexpower_assets.partitions import DAYS_PER_RUN
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
# how a run names its partition range (the tags Dagster's own backfills set)
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


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
                  dagster_instance: dg.DagsterInstance, last_key: str | None = None,
                  asset_selection: list[dg.AssetKey] | None = None) -> RunSummary:
    """Run a job for one partition, or for the range ``partition_key .. last_key`` in one run
    (optionally only some of its assets)."""
    job = defs.resolve_job_def(job_name)
    if last_key is None or last_key == partition_key:
        result = job.execute_in_process(partition_key=partition_key, instance=dagster_instance,
                                        raise_on_error=False, run_config=QUIET, asset_selection=asset_selection)
    else:
        result = job.execute_in_process(tags={RANGE_START_TAG: partition_key, RANGE_END_TAG: last_key},
                                        instance=dagster_instance, raise_on_error=False, run_config=QUIET,
                                        asset_selection=asset_selection)
        partition_key = f"{partition_key}..{last_key}"
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


def day_ranges(days: list[date], days_per_run: int = DAYS_PER_RUN) -> list[tuple[str, str]]:
    """Consecutive days grouped into (first, last) partition ranges of at most ``days_per_run``."""
    ranges: list[list[date]] = []
    for day in sorted(set(days)):
        if ranges and (day - ranges[-1][-1]).days == 1 and len(ranges[-1]) < days_per_run:
            ranges[-1].append(day)
        else:
            ranges.append([day])
    return [(run[0].isoformat(), run[-1].isoformat()) for run in ranges]


def range_support(defs: dg.Definitions, job_name: str) -> tuple[list[dg.AssetKey], list[dg.AssetKey]]:
    """A job's assets that build a range of days in one run (they declare a backfill policy), and
    those that build one day at a time (none in ``daily_job``: Dagster then backfills the job as
    one run per range, ``tests/unit/test_backfill_policy.py``)."""
    graph = defs.resolve_asset_graph()
    keys = sorted(defs.resolve_job_def(job_name).asset_layer.selected_asset_keys, key=lambda k: k.to_user_string())
    ranged = [key for key in keys if graph.get(key).backfill_policy is not None]
    return ranged, [key for key in keys if key not in ranged]


def _status(summary: RunSummary, job: str, seconds: float) -> str:
    return (f"{job} {summary.partition}: {'ok' if summary.success else 'FAILED'}, {summary.materialized} "
            f"materializations, {seconds:.1f} s (run {summary.run_id[:8]})")


def materialize_days(defs: dg.Definitions, dagster_instance: dg.DagsterInstance, days: list[date],
                     reports: bool = True, echo: Callable[[str], None] = print,
                     echo_error: Callable[[str], None] | None = None,
                     days_per_run: int = DAYS_PER_RUN) -> list[str]:
    """Build ``days`` with ``daily_job`` (and their reports), one run per range of days.

    Every asset of ``daily_job`` builds a range in one run (the forecast-quantile step builds its
    days in order inside the step). A range whose run fails is run again day by day, so every day
    that can be built is built and the failing days are named, as if each day had run on its own.
    Returns the failed days.
    """
    echo_error = echo_error or echo
    failed: list[str] = []
    for first, last in day_ranges(days, days_per_run):
        began = time.perf_counter()
        summary = run_partition(defs, "daily_job", first, dagster_instance, last)
        echo(_status(summary, "daily_job", time.perf_counter() - began))
        for check in summary.failed_checks:
            echo(f"    check failed: {check}")
        built = [(first, last)]
        if not summary.success:
            echo_error(f"    error: {summary.error}")
            built = []
            if first != last:
                echo(f"    running {first}..{last} day by day to find the failing day(s)")
                for key in day_keys(date.fromisoformat(first), date.fromisoformat(last)):
                    began = time.perf_counter()
                    single = run_partition(defs, "daily_job", key, dagster_instance)
                    echo("    " + _status(single, "daily_job", time.perf_counter() - began))
                    if single.success:
                        built.append((key, key))
                    else:
                        failed.append(key)
                        echo_error(f"    error: {single.error}")
            else:
                failed.append(first)
        if not reports:
            continue
        for run_first, run_last in built:  # no reports over a day whose tables did not build
            began = time.perf_counter()
            report = run_partition(defs, "daily_reports_job", run_first, dagster_instance, run_last)
            echo(_status(report, "daily_reports_job", time.perf_counter() - began))
            if not report.success:
                failed.append(report.partition)
                echo_error(f"    error: {report.error}")
    return failed
