"""Does one more day cost the same however many days are stored? ``flexpower bench --day-by-day``.

A landing zone of N assets and D days is simulated (not timed) into ``<workdir>/arrivals``.
Then, in a fresh process, the days arrive one at a time as they would in production: each
file is moved into the landing zone on the day its name dates it (a forecast version on its
version's day, a DSO file on its delivery day, ...; files dated before the first day arrive
with it, after the last day with the last), then the landing zone is ingested
(``sync_landing``) and ``daily_job`` runs for that day. Day 1 finds an empty warehouse; day D
finds D - 1 days of files, catalog rows, staged Parquet and tables.

The printed table has each day's seconds (ingestion, ``daily_job``, the raw layer alone) and
the stored files; the summary compares the mean of the first and of the last five days (with
their standard deviations: the noise between days) and fits a line through every day's cost,
whose slope says how much a stored day adds to the next day's cost; the noise is the standard
deviation of the days around that line. The last line is JSON.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from flexpower_assets.bench.memory import run_measured
from flexpower_assets.bench.run import (
    BENCH_START,
    JOB,
    Echo,
    _prepare_landing,
    _step_stages,
    cpu_seconds,
    drop_page_cache,
    machine,
    machine_text,
)

EDGE_DAYS = 5  # days averaged at each end
DATE_IN_NAME = re.compile(r"(20\d{2})-?(\d{2})-?(\d{2})")


def arrival_day(name: str, first: date, last: date) -> date:
    """The day a file arrives: the first date in its name, within ``first`` .. ``last``."""
    match = DATE_IN_NAME.search(name)
    if match is None:
        return first
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return first
    return min(max(day, first), last)


def arrivals_by_day(source: Path, first: date, last: date) -> dict[date, list[str]]:
    """Every file under ``source`` (relative path), by the day it arrives."""
    by_day: dict[date, list[str]] = {}
    for folder, _dirs, names in os.walk(source):
        for name in names:
            relative = os.path.relpath(os.path.join(folder, name), source)
            by_day.setdefault(arrival_day(name, first, last), []).append(relative)
    return {day: sorted(files) for day, files in sorted(by_day.items())}


def measure_days(source: Path, landing: Path, warehouse_path: Path, data_dir: Path,
                 arrivals: dict[date, list[str]], workers: int,
                 archive_after_days: int | None = None) -> list[dict[str, Any]]:
    """Move each day's files in, ingest them and build the day (run in its own process).

    With ``archive_after_days`` N, before each day's ingestion the files registered before the
    ingestion of N days earlier (by the bench's days, not the clock) are archived (``flexpower
    archive``, not timed: an operator's nightly task), so the landing zone holds the last N + 1
    days of files."""
    import dagster as dg

    from flexpower_assets.definitions import build_defs
    from flexpower_assets.ingestion.archive import archive_registered
    from flexpower_assets.ingestion.catalog import sync_landing
    from flexpower_assets.runner import QUIET
    from flexpower_assets.settings import Settings
    from resources.warehouse import Warehouse

    settings = Settings(landing_dir=landing, warehouse_path=warehouse_path, data_dir=data_dir,
                        parse_workers=workers, min_file_age_s=0)
    job = build_defs(settings).resolve_job_def(JOB)
    stored = 0
    days: list[dict[str, Any]] = []
    synced_at: list[datetime] = []  # when each day's ingestion began
    with dg.DagsterInstance.ephemeral() as instance:
        for day, files in arrivals.items():
            for relative in files:  # not timed: the files arrive
                target = landing / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source / relative, target)
            stored += len(files)
            archived = 0
            if archive_after_days is not None and len(synced_at) >= archive_after_days:
                archived = len(archive_registered(landing, data_dir / "archive", Warehouse(warehouse_path),
                                                  timedelta(0), synced_at[-archive_after_days]).moved)
            synced_at.append(datetime.now(UTC))
            began, cpu_began = time.perf_counter(), cpu_seconds()
            report = sync_landing(landing, Warehouse(warehouse_path), workers=workers)
            ingestion = time.perf_counter() - began
            began = time.perf_counter()
            result = job.execute_in_process(partition_key=day.isoformat(), instance=instance,
                                            raise_on_error=False, run_config=QUIET)
            compute = time.perf_counter() - began
            cpu = cpu_seconds() - cpu_began
            stages, errors = _step_stages(instance, result.run_id)
            days.append({
                "day": day.isoformat(), "files_arrived": len(files), "files_stored": stored,
                "files_archived_before": archived,
                "files_registered": report.n_new, "seconds_ingestion": ingestion, "seconds_compute": compute,
                "seconds_raw": sum(info["seconds"] for stage, info in stages.items() if stage.startswith("raw/")),
                "seconds": ingestion + compute, "cpu_seconds": cpu, "success": result.success, "errors": errors,
            })
    return days


def slope_per_day(values: list[float]) -> float:
    """Least-squares slope of ``values`` against their position (0, 1, 2, ...)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, statistics.fmean(values)
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    return numerator / sum((x - mean_x) ** 2 for x in range(n))


def summarise(days: list[dict[str, Any]], edge: int = EDGE_DAYS, measure: str = "seconds") -> dict[str, Any]:
    """First and last ``edge`` days' mean and standard deviation of the day's cost (``measure``:
    wall ``seconds`` or ``cpu_seconds``), the slope of the cost per stored day, and whether the
    ends differ by less than the noise between days."""
    costs = [day[measure] for day in days]
    edge = max(1, min(edge, len(costs) // 2))
    first, last = costs[:edge], costs[-edge:]
    first_mean, last_mean = statistics.fmean(first), statistics.fmean(last)
    slope = slope_per_day(costs)
    # the noise between days: how far the days scatter around the fitted line
    mean_x, mean_y = (len(costs) - 1) / 2, statistics.fmean(costs)
    residuals = [y - (mean_y + slope * (x - mean_x)) for x, y in enumerate(costs)]
    spread = statistics.stdev(residuals) if len(residuals) > 2 else 0.0
    return {
        "days": len(costs), "edge_days": edge,
        "first_mean_s": first_mean, "first_sd_s": statistics.stdev(first) if len(first) > 1 else 0.0,
        "last_mean_s": last_mean, "last_sd_s": statistics.stdev(last) if len(last) > 1 else 0.0,
        "last_minus_first_s": last_mean - first_mean,
        "slope_s_per_stored_day": slope,
        "slope_over_all_days_s": slope * (len(costs) - 1),
        "noise_sd_s": spread,
        "within_noise": abs(last_mean - first_mean) <= 2 * spread,
    }


def run_day_by_day(n_assets: int, days: int, seed: int = 7, workdir: Path | None = None, echo: Echo = print,
                   public_trades_per_day: int | None = None, start: date = BENCH_START, workers: int = 2,
                   layout: str = "real", drop_caches: bool = True,
                   archive_after_days: int | None = None) -> dict[str, Any]:
    """Simulate, then let the days arrive one by one; print each day's cost and the summary."""
    owned = workdir is None
    root = Path(tempfile.mkdtemp(prefix="flexpower-days-")) if owned else Path(workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    try:
        simulated, _simulation = _prepare_landing(root, n_assets, start, days, seed, public_trades_per_day, echo,
                                                  layout)
        source, landing = root / "arrivals", root / "landing-by-day"
        for stale in (source, landing, root / "warehouse-by-day"):
            shutil.rmtree(stale, ignore_errors=True)
        # hard links, moved into the landing zone day by day: the simulation stays for reuse
        shutil.copytree(simulated, source, copy_function=os.link)
        last = start + timedelta(days=days - 1)
        arrivals = arrivals_by_day(source, start, last)
        warehouse = root / "warehouse-by-day" / "bench.duckdb"
        conditions = machine()
        echo(f"measured on: {machine_text(conditions)}")
        cache = drop_page_cache() if drop_caches else "warm (not dropped: --no-drop-caches)"
        archiving = ("" if archive_after_days is None else
                     f", files registered {archive_after_days}+ days before archived first (not timed)")
        echo(f"{days} days arrive one by one ({n_assets} assets, {layout} layout, page cache {cache}{archiving}): "
             f"each day ingest, then {JOB} for the day ...")
        measured, _memory = run_measured(measure_days, source, landing, warehouse, root, arrivals, workers,
                                         archive_after_days)
        echo(f"{'day':<12}{'arrived':>9}{'stored':>9}{'ingest s':>10}{'daily_job s':>13}{'raw s':>8}{'day s':>8}"
             f"{'CPU s':>8}")
        for day in measured:
            echo(f"{day['day']:<12}{day['files_arrived']:>9,}{day['files_stored']:>9,}{day['seconds_ingestion']:>10.2f}"
                 f"{day['seconds_compute']:>13.2f}{day['seconds_raw']:>8.2f}{day['seconds']:>8.2f}"
                 f"{day['cpu_seconds']:>8.2f}" + ("" if day["success"] else "  FAILED"))
        summary = summarise(measured)
        echo(f"first {summary['edge_days']} days: {summary['first_mean_s']:.2f} s a day "
             f"(sd {summary['first_sd_s']:.2f}); last {summary['edge_days']}: {summary['last_mean_s']:.2f} s "
             f"(sd {summary['last_sd_s']:.2f}); "
             f"difference {summary['last_minus_first_s']:+.2f} s")
        echo(f"fitted over all days: {summary['slope_s_per_stored_day'] * 1000:+.1f} ms per stored day "
             f"({summary['slope_over_all_days_s']:+.2f} s from the first to the last day); "
             f"{'within' if summary['within_noise'] else 'NOT within'} the noise between days "
             f"(2 x sd {summary['noise_sd_s']:.2f} s around the line)")
        cpu = summarise(measured, measure="cpu_seconds")
        echo(f"in CPU seconds (this process and its workers): first {cpu['edge_days']} days "
             f"{cpu['first_mean_s']:.2f}, last {cpu['last_mean_s']:.2f}, "
             f"{cpu['slope_s_per_stored_day'] * 1000:+.1f} ms per stored day, "
             f"{'within' if cpu['within_noise'] else 'NOT within'} the noise (2 x sd {cpu['noise_sd_s']:.2f} s)")
        conditions["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        echo(f"load average after the runs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        figures = {"mode": "day_by_day", "assets": n_assets, "days": days, "seed": seed, "layout": layout,
                   "archive_after_days": archive_after_days,
                   "page_cache": cache, "machine": conditions, "summary": summary, "summary_cpu": cpu,
                   "success": all(day["success"] for day in measured),
                   "per_day": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in day.items()
                                if k != "errors"} for day in measured]}
        echo(json.dumps(figures))
        return figures
    finally:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
