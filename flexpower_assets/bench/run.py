"""The benchmark behind ``flexpower bench``: ingestion and every daily asset, timed per stage.

1. A landing zone of N assets and D delivery days is simulated (not timed; its time is shown).
2. The pipeline runs in a fresh process of its own (so its peak memory is its own):
   ingestion (``sync_landing`` over the whole landing zone, the many VPP files parsed in worker
   processes), then the ``daily_job`` through Dagster for every simulated day on an ephemeral
   instance. Each asset's step time comes from the run's event log (STEP_START to
   STEP_SUCCESS), its rows from the materialization's ``row_count``.
3. With ``baseline``, the plain-pandas implementation of the same rules
   (``pandas_baseline``) runs in another fresh process on the same files, and a few totals of
   both are compared.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flexpower_assets.bench.memory import PeakMemory, run_measured
from flexpower_assets.schemas import published

BENCH_START = date(2025, 6, 8)  # a summer day of 96 quarter-hours, like the real sample files
JOB = "daily_job"
MARKER = "bench_landing.json"  # in the work dir: which simulation its landing zone holds
CONTRACT_TABLES = tuple(published.CONTRACT_TABLES)  # the data contract's tables, from the schema registry
# the targets for 1,000 assets x 1 day on 2 cores: ingestion, ingestion + computation, peak
# memory, and how many times faster than the plain-pandas baseline
TARGET_INGESTION_SECONDS, TARGET_SECONDS, TARGET_MB, TARGET_SPEEDUP = 10, 15, 2000, 2.0
LAYERS = ("raw", "core", "published", "other")
REL_TOLERANCE = 1e-6
ABS_TOLERANCE = 1e-6  # for totals that are (close to) zero

Echo = Callable[[str], None]


class BenchmarkFailed(RuntimeError):
    """The pipeline run of a benchmark day failed: its figures would mean nothing."""


# ------------------------------------------------------------------------------------ pipeline

def layer_of(stage: str) -> str:
    """``raw``/``core`` by key prefix, ``published`` for the data-contract tables, else ``other``."""
    prefix = stage.split("/", 1)[0]
    if prefix in ("raw", "core"):
        return prefix
    return "published" if stage in CONTRACT_TABLES else "other"


def _step_stages(instance, run_id: str) -> tuple[dict[str, dict], list[str]]:
    """Per asset of one run: seconds and rows written; failure messages.

    A step that builds several tables records each table's own time (``compute_seconds``); the
    rest of the step (writing through the IO manager, checks, event log) is a stage of its own,
    named after the step. A one-table step's time is its table's.
    """
    import dagster as dg

    started: dict[str, float] = {}
    step_seconds: dict[str, float] = {}
    stages: dict[str, dict] = {}
    tables_of_step: dict[str, list[str]] = {}
    errors: list[str] = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            step_seconds[event.step_key] = entry.timestamp - started.get(event.step_key, entry.timestamp)
            if kind == dg.DagsterEventType.STEP_FAILURE:
                error = event.event_specific_data.error
                errors.append(f"{event.step_key}: {error.message.strip() if error else 'failed'}")
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            stage = materialization.asset_key.to_user_string()
            info = stages.setdefault(stage, {"seconds": 0.0, "rows": 0})
            if stage not in tables_of_step.setdefault(event.step_key, []):
                tables_of_step[event.step_key].append(stage)
                count = materialization.metadata.get("row_count")
                info["rows"] = int(count.value) if count is not None else 0
                seconds = materialization.metadata.get("compute_seconds")
                info["seconds"] = float(seconds.value) if seconds is not None else None
    for step, secs in step_seconds.items():
        tables = tables_of_step.get(step, [])
        if len(tables) == 1 and stages[tables[0]]["seconds"] is None:
            stages[tables[0]]["seconds"] = secs
            continue
        measured = sum(stages[table]["seconds"] or 0.0 for table in tables)
        stages[step] = {"seconds": max(secs - measured, 0.0), "rows": 0}
    for info in stages.values():
        info["seconds"] = info["seconds"] or 0.0
    return stages, errors


def _pipeline_totals(warehouse_path: Path, day_keys: list[str]) -> dict[str, Any]:
    """Totals of the contract tables over the benchmark days (read after the timed part)."""
    import duckdb

    conn = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        def one(sql: str) -> tuple:
            return conn.execute(sql, [day_keys]).fetchone()

        days = "delivery_day::varchar in (select unnest(?::varchar[]))"
        bi = one(f"select count(*), sum(energy_mwh), count(distinct asset_id) from best_of_infeed where {days}")
        by_source = conn.execute(
            f"select source, count(*) from best_of_infeed where {days} group by source", [day_keys]).fetchall()
        fc = one(f"select sum(latest_energy_mwh), sum(tradeable_energy_mwh) from asset_forecast where {days}")
        pf = one(f"select sum(latest_energy_mwh), sum(tradeable_energy_mwh) from portfolio_forecast where {days}")
        pbi = one(f"select sum(energy_mwh) from portfolio_best_of_infeed where {days}")
        td = one(f"select sum(n_trades), sum(revenue_eur), sum(sold_mwh), sum(bought_mwh), sum(net_mwh) "
                 f"from trading_daily where {days}")
        pnl = one(f"select sum(revenue_eur), sum(vwap_public * public_mwh) from trading_pnl where {days}")
        ai = one(f"select sum(imbalance_mwh), sum(imbalance_cost_eur), count(imbalance_cost_eur) "
                 f"from asset_imbalance where {days}")
        pi = one(f"select sum(imbalance_mwh), sum(imbalance_cost_eur), sum(standalone_cost_eur) "
                 f"from portfolio_imbalance where {days}")
        portfolio = one(f"select count(*) from core.portfolio_assets where {days}")
    finally:
        conn.close()
    return {
        "portfolio_asset_days": portfolio[0],
        "best_of_infeed_rows": bi[0],
        "best_of_infeed_assets": bi[2],
        "best_of_infeed_energy_mwh": bi[1],
        "best_of_infeed_qh_by_source": dict(sorted(by_source)),
        "latest_forecast_energy_mwh": fc[0],
        "tradeable_forecast_energy_mwh": fc[1],
        "portfolio_latest_forecast_energy_mwh": pf[0],
        "portfolio_tradeable_forecast_energy_mwh": pf[1],
        "portfolio_best_of_infeed_energy_mwh": pbi[0],
        "n_trades": td[0],
        "trading_revenue_eur": td[1],
        "trading_sold_mwh": td[2],
        "trading_bought_mwh": td[3],
        "trading_net_mwh": td[4],
        "trading_pnl_revenue_eur": pnl[0],
        "public_turnover_eur": pnl[1],
        "asset_imbalance_mwh": ai[0],
        "asset_imbalance_cost_eur": ai[1],
        "asset_imbalance_priced_qh": ai[2],
        "portfolio_imbalance_mwh": pi[0],
        "portfolio_imbalance_cost_eur": pi[1],
        "portfolio_standalone_cost_eur": pi[2],
    }


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its waited-for children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_pipeline(landing: Path, warehouse_path: Path, data_dir: Path, day_keys: list[str],
                     workers: int) -> dict[str, Any]:
    """Ingest the whole landing zone, then run the daily job for each day (run in its own process)."""
    import dagster as dg

    from flexpower_assets.definitions import build_defs
    from flexpower_assets.ingestion.catalog import sync_landing
    from flexpower_assets.runner import QUIET
    from flexpower_assets.settings import Settings
    from resources.warehouse import Warehouse

    began, cpu_began = time.perf_counter(), cpu_seconds()
    report = sync_landing(landing, Warehouse(warehouse_path), workers=workers)
    seconds_ingestion = time.perf_counter() - began
    cpu_ingestion = cpu_seconds() - cpu_began

    began = time.perf_counter()
    # the simulated landing zone is complete before timing starts: no settle time
    settings = Settings(landing_dir=landing, warehouse_path=warehouse_path, data_dir=data_dir,
                        parse_workers=workers, min_file_age_s=0)
    job = build_defs(settings).resolve_job_def(JOB)
    seconds_definitions = time.perf_counter() - began

    stages: dict[str, dict] = {}
    runs: list[dict] = []
    errors: list[str] = []
    cpu_began = cpu_seconds()
    with dg.DagsterInstance.ephemeral() as instance:
        for key in day_keys:
            began = time.perf_counter()
            result = job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False,
                                            run_config=QUIET)
            wall = time.perf_counter() - began
            day_stages, day_errors = _step_stages(instance, result.run_id)
            runs.append({"day": key, "seconds": wall, "success": result.success,
                         "seconds_in_steps": sum(s["seconds"] for s in day_stages.values())})
            errors.extend(f"{key} {message}" for message in day_errors)
            if not result.success and not day_errors:
                errors.append(f"{key}: the run failed")
            for stage, info in day_stages.items():
                total = stages.setdefault(stage, {"layer": layer_of(stage), "seconds": 0.0, "rows": 0})
                total["seconds"] += info["seconds"]
                total["rows"] += info["rows"]

    cpu_compute = cpu_seconds() - cpu_began
    files: dict[str, dict[str, int]] = {}
    for (kind, status), count in report.counts.items():
        files.setdefault(kind, {})[status] = count
    success = all(run["success"] for run in runs)
    return {
        "seconds_ingestion": seconds_ingestion,
        "seconds_definitions": seconds_definitions,
        "seconds_compute": sum(run["seconds"] for run in runs),
        "cpu_seconds_ingestion": cpu_ingestion,
        "cpu_seconds_compute": cpu_compute,
        "runs": runs,
        "stages": stages,
        "errors": errors,
        "success": success,
        "files": files,
        "rows_ingested": dict(report.new_rows_by_kind),
        "ingestion_steps": dict(report.seconds),
        "rejected": [f"{path}: {message}" for path, message in report.rejected],
        "totals": _pipeline_totals(warehouse_path, day_keys) if success else {},
    }


# ------------------------------------------------------------------------------------ baseline

def measure_baseline(landing: Path, days: list[date]) -> dict[str, Any]:
    """The pandas implementation over the same landing zone (run in its own process)."""
    from flexpower_assets.bench.pandas_baseline import run_baseline

    cpu_began = cpu_seconds()
    result = run_baseline(landing, days)
    return result | {"cpu_seconds": cpu_seconds() - cpu_began}


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE)


def compare_totals(pipeline: dict[str, Any], baseline: dict[str, Any]) -> list[tuple[str, Any, Any, bool]]:
    """Every total both implementations report: (name, pipeline, pandas, equal within 1e-6 relative)."""
    rows = []
    for name, ours in pipeline.items():
        if name not in baseline:
            continue
        theirs = baseline[name]
        if isinstance(ours, dict) or isinstance(theirs, dict):
            same = ours == theirs
        else:
            same = _close(None if ours is None else float(ours), None if theirs is None else float(theirs))
        rows.append((name, ours, theirs, same))
    return rows


# ------------------------------------------------------------------------------------ landing

def _prepare_landing(workdir: Path, n_assets: int, start: date, days: int, seed: int,
                     public_trades_per_day: int | None, echo: Echo,
                     layout: str = "real") -> tuple[Path, dict[str, Any]]:
    """The simulated landing zone in ``workdir/landing``; reused when it holds this very simulation."""
    from flexpower_assets import simulator

    landing = workdir / "landing"
    marker = workdir / MARKER
    wanted = {"assets": n_assets, "start": start.isoformat(), "days": days, "seed": seed,
              "public_trades_per_day": public_trades_per_day, "layout": layout}
    if landing.exists():
        if marker.exists() and json.loads(marker.read_text()).get("simulation") == wanted:
            echo(f"reusing the simulated landing zone in {landing}")
            return landing, json.loads(marker.read_text())["summary"]
        if not marker.exists():
            raise BenchmarkFailed(f"{landing} exists and was not written by the benchmark: "
                                  "choose an empty --workdir")
        shutil.rmtree(landing)
        marker.unlink()
    extra = {"layout": layout}
    if public_trades_per_day is not None:
        extra["public_trades_per_day"] = public_trades_per_day
    began = time.perf_counter()
    summary = simulator.simulate(landing, n_assets, start, days, seed, progress=False, **extra)
    seconds = time.perf_counter() - began
    files = summary.files_by_kind
    described = {"files_by_kind": dict(files), "seconds": seconds,
                 "bad_files": [f"{bad.path}: {bad.problem}" for bad in summary.bad_files]}
    marker.write_text(json.dumps({"simulation": wanted, "summary": described}))
    echo(f"simulated {n_assets} assets x {days} day(s) from {start} ({layout} layout): "
         f"{sum(files.values()):,} files in {seconds:.1f} s (not timed)")
    return landing, described


# ------------------------------------------------------------------------------------ conditions

DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def drop_page_cache() -> str:
    """Empty the kernel's page cache so the files are read from disk: ``cold`` if that worked,
    else ``warm (...)`` saying why not (the files were just written, so they are cached)."""
    try:
        os.sync()
        DROP_CACHES.write_text("3\n")
    except OSError as error:
        return f"warm (page cache not dropped: {error.strerror or error})"
    return "cold"


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPUs, their model, memory, Python, and the load average."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError):
        memory_kib = 0
    return {"cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": model,
            "memory_gb": round(memory_kib / 1024 / 1024, 1), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def machine_text(info: dict[str, Any]) -> str:
    return (f"{info['cpus_usable']} usable CPUs ({info['cpu_model'] or 'unknown model'}), "
            f"{info['memory_gb']} GB, Python {info['python']}, load average "
            + " ".join(f"{x:.2f}" for x in info["load_average"]))


# ------------------------------------------------------------------------------------ report

def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 and rows else "-"


def _print_stages(result: dict[str, Any], echo: Echo) -> None:
    echo("")
    echo(f"{'stage':<38}{'layer':<11}{'seconds':>9}{'rows':>13}{'rows/s':>13}")
    echo("-" * 84)
    ingested = sum(result["rows_ingested"].values())
    echo(f"{'ingestion (sync_landing)':<38}{'landing':<11}{result['seconds_ingestion']:>9.2f}"
         f"{ingested:>13,}{_rate(ingested, result['seconds_ingestion']):>13}")
    for stage, info in result["stages"].items():
        echo(f"{stage:<38}{info['layer']:<11}{info['seconds']:>9.2f}{info['rows']:>13,}"
             f"{_rate(info['rows'], info['seconds']):>13}")
    in_steps = sum(info["seconds"] for info in result["stages"].values())
    echo(f"{'dagster (outside the steps)':<38}{'':<11}{result['seconds_compute'] - in_steps:>9.2f}")
    echo("-" * 84)
    total = result["seconds_ingestion"] + result["seconds_compute"]
    echo(f"{'ingestion + computation':<38}{'':<11}{total:>9.2f}")
    echo(f"{'  CPU seconds (process + workers)':<38}{'':<11}"
         f"{result['cpu_seconds_ingestion'] + result['cpu_seconds_compute']:>9.2f}")
    for layer in LAYERS:
        seconds = sum(i["seconds"] for i in result["stages"].values() if i["layer"] == layer)
        if seconds:
            echo(f"  of which {layer + ' assets':<28}{'':<11}{seconds:>9.2f}")
    echo("")


def print_ingestion_profile(steps: dict[str, float], seconds: float, workers: int, echo: Echo) -> None:
    """Seconds per ingestion step: of the main process (wall), and of the worker processes
    (summed over the workers, so up to ``workers`` x the wall time)."""
    echo(f"ingestion profile ({seconds:.2f} s wall; 'workers:' steps summed over {workers} worker processes)")
    for step, spent in sorted(steps.items(), key=lambda item: (item[0].startswith("workers:"), -item[1])):
        echo(f"  {step:<44}{spent:>9.2f}")
    echo("")


def _print_files(result: dict[str, Any], echo: Echo) -> None:
    echo(f"{'file kind':<26}{'files':>9}{'rows staged':>14}  statuses")
    for kind in sorted(result["files"]):
        statuses = result["files"][kind]
        rows = result["rows_ingested"].get(kind, 0)
        described = ", ".join(f"{status} {count:,}" for status, count in sorted(statuses.items()))
        echo(f"{kind:<26}{sum(statuses.values()):>9,}{rows:>14,}  {described}")
    for message in result["rejected"]:
        echo(f"  rejected {message}")


def _print_comparison(rows: list[tuple[str, Any, Any, bool]], echo: Echo) -> None:
    echo("")
    echo(f"{'total (pipeline vs pandas)':<42}{'pipeline':>20}{'pandas':>20}  same")
    for name, ours, theirs, same in rows:
        if isinstance(ours, dict):
            echo(f"{name:<42}{json.dumps(ours):>20}  {json.dumps(theirs)}  {'yes' if same else 'NO'}")
        else:
            echo(f"{name:<42}{_number(ours):>20}{_number(theirs):>20}  {'yes' if same else 'NO'}")


def _number(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.6f}"


# ------------------------------------------------------------------------------------ entry

def run_benchmark(n_assets: int, days: int, seed: int = 7, baseline: bool = False,
                  workdir: Path | None = None, echo: Echo = print,
                  public_trades_per_day: int | None = None, start: date = BENCH_START,
                  workers: int = 2, layout: str = "real", drop_caches: bool = True) -> dict[str, Any]:
    """Simulate, ingest and compute N assets x D days (and the pandas baseline); print and return
    the figures. The last line printed is the JSON object that is returned.

    ``layout`` is that of the simulated VPP files (``real`` or ``compact``); with
    ``drop_caches`` the page cache is emptied before each measured run where the system allows
    it, and the figures say whether the runs started ``cold`` or ``warm``."""
    owned = workdir is None
    root = Path(tempfile.mkdtemp(prefix="flexpower-bench-")) if owned else Path(workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    try:
        landing, simulation = _prepare_landing(root, n_assets, start, days, seed, public_trades_per_day, echo,
                                               layout)
        warehouse = root / "warehouse" / "bench.duckdb"
        for stale in warehouse.parent.glob(f"{warehouse.name}*"):  # a fresh warehouse every time
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()  # .staging is a folder
        day_list = [start + timedelta(days=i) for i in range(days)]
        day_keys = [day.isoformat() for day in day_list]

        conditions = machine()
        echo(f"measured on: {machine_text(conditions)}")
        cache = drop_page_cache() if drop_caches else "warm (not dropped: --no-drop-caches)"
        echo(f"pipeline: ingestion ({workers} parse workers) and {JOB} for {len(day_keys)} day(s), "
             f"{layout} layout, page cache {cache} ...")
        pipeline, pipeline_memory = run_measured(measure_pipeline, landing, warehouse, root, day_keys, workers)
        _print_files(pipeline, echo)
        _print_stages(pipeline, echo)
        print_ingestion_profile(pipeline["ingestion_steps"], pipeline["seconds_ingestion"], workers, echo)
        if not pipeline["success"]:
            for message in pipeline["errors"]:
                echo(f"FAILED {message}")
            raise BenchmarkFailed(f"the {JOB} run failed; see the messages above")
        echo(f"pipeline peak memory: {_memory_text(pipeline_memory)}")
        ingestion, total = pipeline["seconds_ingestion"], pipeline["seconds_ingestion"] + pipeline["seconds_compute"]
        echo(f"targets for 1,000 assets x 1 day on 2 cores: ingestion under {TARGET_INGESTION_SECONDS} s "
             f"({_met(ingestion < TARGET_INGESTION_SECONDS)}: {ingestion:.1f} s), "
             f"in all under {TARGET_SECONDS} s ({_met(total < TARGET_SECONDS)}: {total:.1f} s), under "
             f"{TARGET_MB:,} MB ({_met(pipeline_memory.peak_mb < TARGET_MB)}: {pipeline_memory.peak_mb:,.0f} MB)"
             + ("" if n_assets == 1000 and days == 1 else " [this run is of another size]"))

        figures: dict[str, Any] = _figures(n_assets, days, seed, pipeline, pipeline_memory, simulation)
        figures |= {"layout": layout, "page_cache": cache, "machine": conditions}
        if baseline:
            pandas_cache = drop_page_cache() if drop_caches else "warm (not dropped: --no-drop-caches)"
            echo(f"pandas baseline: one process, json/csv + pandas, page cache {pandas_cache} ...")
            pandas_result, pandas_memory = run_measured(measure_baseline, landing, day_list)
            for stage, seconds in pandas_result["stages"].items():
                echo(f"  pandas {stage:<30}{seconds:>9.2f} s")
            echo(f"  pandas total {pandas_result['seconds']:.2f} s, peak memory {_memory_text(pandas_memory)}")
            rows = compare_totals(pipeline["totals"], pandas_result["totals"])
            _print_comparison(rows, echo)
            match = bool(rows) and all(same for *_rest, same in rows)
            echo(f"results match: {'yes' if match else 'NO'}")
            ratio = pandas_result["seconds"] / figures["seconds_total"] if figures["seconds_total"] else 0.0
            if ratio:
                verdict = f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"
                echo(f"pipeline {figures['seconds_total']:.1f} s, pandas {pandas_result['seconds']:.1f} s: "
                     f"the pipeline is {verdict} than pandas (target: {TARGET_SPEEDUP:.0f}x, "
                     f"{_met(ratio >= TARGET_SPEEDUP)})")
            figures |= {
                "pandas_seconds": round(pandas_result["seconds"], 3),
                "pandas_peak_rss_mb": round(pandas_memory.peak_mb, 1),
                "pandas_cpu_seconds": round(pandas_result["cpu_seconds"], 3),
                "pandas_page_cache": pandas_cache,
                "pandas_stages": {k: round(v, 3) for k, v in pandas_result["stages"].items()},
                "results_match": match,
                "mismatches": [name for name, _a, _b, same in rows if not same],
            }
        figures["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        echo(f"load average after the runs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        echo(json.dumps(figures))
        return figures
    finally:
        if owned:
            shutil.rmtree(root, ignore_errors=True)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _memory_text(memory: PeakMemory) -> str:
    return (f"{memory.peak_mb:,.0f} MB (process {memory.self_mb:,.0f} MB, largest child "
            f"{memory.children_mb:,.0f} MB, sampled process tree {memory.tree_sampled_mb:,.0f} MB)")


def _figures(n_assets: int, days: int, seed: int, pipeline: dict[str, Any], memory: PeakMemory,
             simulation: dict[str, Any]) -> dict[str, Any]:
    files = pipeline["files"]
    rows = pipeline["rows_ingested"]
    totals = pipeline["totals"]
    return {
        "assets": n_assets,
        "days": days,
        "seed": seed,
        "seconds_total": round(pipeline["seconds_ingestion"] + pipeline["seconds_compute"], 3),
        "seconds_ingestion": round(pipeline["seconds_ingestion"], 3),
        "seconds_compute": round(pipeline["seconds_compute"], 3),
        "seconds_compute_by_day": [round(run["seconds"], 3) for run in pipeline["runs"]],
        "seconds_definitions": round(pipeline["seconds_definitions"], 3),
        "seconds_simulation": round(simulation.get("seconds", 0.0), 3),
        # CPU seconds (process + parse workers): a check on the wall times when the machine is shared
        "cpu_seconds_ingestion": round(pipeline["cpu_seconds_ingestion"], 3),
        "cpu_seconds_compute": round(pipeline["cpu_seconds_compute"], 3),
        "peak_rss_mb": round(memory.peak_mb, 1),
        "peak_rss": {k: round(v, 1) for k, v in asdict(memory).items()},
        "forecast_files": sum(files.get("forecast", {}).values()),
        "live_files": sum(files.get("live", {}).values()),
        "final_production_files": sum(files.get("final_production", {}).values()),
        "public_trades": rows.get("public_trades", 0),
        "forecast_rows": rows.get("forecast", 0),
        "files_rejected": len(pipeline["rejected"]),
        "portfolio_assets": totals.get("best_of_infeed_assets"),
        "ingestion_profile": {step: round(spent, 3) for step, spent in pipeline["ingestion_steps"].items()},
        "seconds_by_layer": {
            layer: round(sum(i["seconds"] for i in pipeline["stages"].values() if i["layer"] == layer), 3)
            for layer in LAYERS},
        "stages": {
            "ingestion": {"layer": "landing", "seconds": round(pipeline["seconds_ingestion"], 3),
                          "rows": sum(rows.values()),
                          "rows_per_second": round(sum(rows.values()) / pipeline["seconds_ingestion"])
                          if pipeline["seconds_ingestion"] > 0 else None},
            **{stage: {"layer": info["layer"], "seconds": round(info["seconds"], 3), "rows": info["rows"],
                    "rows_per_second": round(info["rows"] / info["seconds"]) if info["seconds"] > 0 else None}
            for stage, info in pipeline["stages"].items()},
        },
        "totals": totals,
    }
