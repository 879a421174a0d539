"""The per-asset files (forecast versions, live days, final production), written in parallel.

These are almost all of a landing zone's files, so they are written by a process pool over the
assets once the portfolio is large enough. Each job is deterministic on its own: the result does
not depend on how the assets are spread over the workers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from flexpower_assets.simulator.dso import FinalPlan, write_final_production
from flexpower_assets.simulator.timegrid import Period
from flexpower_assets.simulator.vpp import ForecastVersions, LivePlan, write_forecasts, write_live
from flexpower_assets.simulator.weather import AssetModel

PARALLEL_FROM_ASSETS = 40
MAX_WORKERS = 8


@dataclass
class AssetJob:
    model: AssetModel
    metering_point_id: str | None = None
    live: LivePlan | None = None  # None: no live files
    final: FinalPlan | None = None  # None: no final production files


@dataclass
class JobContext:
    out: Path
    period: Period
    versions: ForecastVersions
    seed: int


def run_asset_job(job: AssetJob, context: JobContext) -> Counter:
    counts = Counter(forecast=write_forecasts(context.out, job.model, context.versions))
    if job.live is not None:
        counts["live"] += write_live(context.out, job.model, job.live, context.period, context.seed,
                                     context.versions.layout)
    if job.final is not None and job.metering_point_id:
        counts["final_production"] += write_final_production(
            context.out, job.model, job.metering_point_id, job.final, context.period)
    return counts


_WORKER_STATE: tuple[list[AssetJob], JobContext] | None = None


def _init_worker(jobs: list[AssetJob], context: JobContext) -> None:
    global _WORKER_STATE
    _WORKER_STATE = (jobs, context)


def _run_indexed(i: int) -> Counter:
    jobs, context = _WORKER_STATE
    return run_asset_job(jobs[i], context)


def run_asset_jobs(jobs: list[AssetJob], context: JobContext, progress: bool = False) -> Counter:
    """Write every job's files; returns the number of files per kind."""
    totals: Counter = Counter()
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    with tqdm(total=len(jobs), desc="asset files", unit="asset", disable=not progress) as bar:
        if len(jobs) < PARALLEL_FROM_ASSETS or workers < 2:
            for job in jobs:
                totals += run_asset_job(job, context)
                bar.update()
            return totals
        # spawned, not forked: a fork copies the locks of the caller's threads (polars', DuckDB's,
        # tqdm's) in whatever state they are, and a worker that inherits a held one waits forever
        # (seen in the test suite); spawn pickles the jobs once per worker
        pool_context = multiprocessing.get_context("spawn")
        chunk = max(1, len(jobs) // (workers * 16))
        with pool_context.Pool(workers, initializer=_init_worker, initargs=(jobs, context)) as pool:
            for counts in pool.imap_unordered(_run_indexed, range(len(jobs)), chunksize=chunk):
                totals += counts
                bar.update()
    return totals
