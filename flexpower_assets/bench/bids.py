"""The bid benchmark: N clients x M plants x S scenarios for one delivery day, through Dagster.

It simulates the bidding data (``simulator.bidding``, not timed), ingests the landing zone (timed
on its own: in production the landing sensor does it as files arrive, before the bid run), starts
the mock exchange on a free port, runs ``bidding_job`` once in-process (the default executor) on a
fresh SQLite instance, and prints
seconds per stage (from the steps' start and success events), solves per second, the Dagster
overhead (run wall time minus the time the steps' own code measured), peak memory of the process
tree (sampled, worker processes included), and a last JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import yaml

from flexpower_assets.bench.memory import TreeSampler, rusage_peaks_mb

DAY = date(2025, 10, 15)
SAMPLE_EVERY_S = 0.2   # the process tree's memory: often enough for a run of minutes, cheap enough not to slow it
STAGES = (("dispatch", "bidding__bid_solves.dispatch"), ("solve", "bidding__bid_solves.solve_chunk["),
          ("record", "bidding__bid_solves.record_solves"), ("aggregate", "asset_bid_curve"),
          ("matrix", "bid_matrix"), ("submit", "bid_submission"))


def run_bid_benchmark(clients: int, assets_per_client: int, scenarios: int, fault_share: float = 0.0,
                      fault_kinds: tuple[str, ...] = ("raise", "infeasible"), chunk_size: int | None = None,
                      workers: int = 2, seed: int = 7, workdir: Path | None = None,
                      echo: Callable[[str], None] = print) -> dict:
    from flexpower_assets.bidding.exchange_mock import ExchangeServer, prices_from_landing
    from flexpower_assets.bidding.store import BidStore
    from flexpower_assets.definitions import build_defs
    from flexpower_assets.ingestion.catalog import sync_landing
    from flexpower_assets.settings import Settings
    from flexpower_assets.simulator.bidding import simulate_bidding
    from flexpower_assets.simulator.summary import SimulationSummary
    from resources.warehouse import Warehouse

    root = Path(workdir or tempfile.mkdtemp(prefix="flexpower-bench-bids-"))
    landing, data, config_path = root / "landing", root / "data", root / "bidding.yaml"
    began = time.perf_counter()
    simulate_bidding(landing, config_path, DAY, 1, seed, SimulationSummary(landing, [], [DAY]), n_clients=clients,
                     plants_per_client=assets_per_client, n_scenarios=scenarios, bad_files=False)
    config = yaml.safe_load(config_path.read_text())
    for client in config["clients"]:
        client["chunk_size"] = chunk_size or scenarios
        client["approval"] = "auto"  # nobody approves by hand in a benchmark
    if fault_share > 0:
        config["faults"] = {"share": fault_share, "kinds": list(fault_kinds), "seed": seed, "hang_seconds": 60}
        config["stage_time_limits_s"]["solve_per_scenario"] = 2
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    echo(f"simulated {clients} clients x {assets_per_client} plants x {scenarios} scenarios in "
         f"{time.perf_counter() - began:.1f} s ({root})")
    # the landing sensor ingests files as they arrive, hours before the bid run: so does the benchmark,
    # timed on its own (the run's dispatcher then finds every file registered)
    ingest_began = time.perf_counter()
    ingested = sync_landing(landing, Warehouse(root / "wh.duckdb"), workers=workers)
    ingest_seconds = time.perf_counter() - ingest_began
    echo(f"ingested {ingested.n_new} files before the run in {ingest_seconds:.1f} s")
    now = datetime.combine(DAY - timedelta(days=1), datetime.min.time(), timezone.utc) + timedelta(hours=9, minutes=50)
    with ExchangeServer(prices_from_landing(landing), now=lambda: now) as exchange, \
            TreeSampler(every_s=SAMPLE_EVERY_S) as sampler:
        settings = Settings(landing_dir=landing, warehouse_path=root / "wh.duckdb", data_dir=data,
                            min_file_age_s=0.0, bidding_config_path=config_path, now=now,
                            exchange_url=exchange.url, solve_workers=workers)
        job = build_defs(settings).resolve_job_def("bidding_job")
        (root / "dagster_home").mkdir(parents=True, exist_ok=True)
        with dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
            cpu_began = _cpu_seconds()
            run_began = time.perf_counter()
            result = job.execute_in_process(partition_key=DAY.isoformat(), instance=instance, raise_on_error=False,
                                            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
            run_seconds = time.perf_counter() - run_began
            run_cpu = _cpu_seconds() - cpu_began
            stats = instance.get_run_step_stats(result.run_id)
    stages, work = _stage_seconds(result, stats)
    store = BidStore(Warehouse(settings.warehouse_path))
    runs = Warehouse(settings.warehouse_path).read("select status, count(*) as n from main.solver_run group by 1")
    solves = int(runs["n"].sum()) if runs.height else 0
    valid = sum(1 for c in config["clients"] if (v := store.versions(c["id"], DAY)) and not v[-1].violations)
    own, children = rusage_peaks_mb()
    peak = max(sampler.peak_mb, own + children)
    for name, seconds in stages.items():
        echo(f"  {name:<10}{seconds:>8.1f} s")
    echo(f"run {'ok' if result.success else 'FAILED'} in {run_seconds:.1f} s: {solves} solves "
         f"({solves / stages['solve']:.0f} solves/s in the solve stage), statuses "
         + ", ".join(f"{s} {n}" for s, n in sorted(runs.rows())))
    echo(f"Dagster overhead: {max(0.0, run_seconds - work):.1f} s of {run_seconds:.1f} s "
         f"(the steps' own code took {work:.1f} s); peak memory {peak:.0f} MB")
    echo(f"CPU: {run_cpu:.1f} s for the run (this process and its finished workers); "
         f"load average {os.getloadavg()[0]:.1f} at the end (wall seconds stretch with it, CPU seconds hardly)")
    summary = {"clients": clients, "assets": clients * assets_per_client, "scenarios": scenarios, "solves": solves,
               "seconds_total": round(time.perf_counter() - began, 1), "seconds_ingest": round(ingest_seconds, 1),
               "seconds_run": round(run_seconds, 1), "cpu_seconds_run": round(run_cpu, 1),
               "load_average_1min": round(os.getloadavg()[0], 1),
               "stage_seconds": {k: round(v, 1) for k, v in stages.items()},
               "dagster_overhead_s": round(max(0.0, run_seconds - work), 1), "peak_rss_mb": round(peak),
               "valid_matrices": valid, "fault_share": fault_share, "run_success": result.success}
    echo(json.dumps(summary))
    return summary


def _cpu_seconds() -> float:
    """User and system CPU seconds of this process and of its children that have ended so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _stage_seconds(result, stats) -> tuple[dict[str, float], float]:
    """Wall seconds per stage (first step start to last step end) and the steps' own measured time."""
    spans: dict[str, list[float]] = {}
    work = 0.0
    for stat in stats:
        if stat.start_time is None or stat.end_time is None:
            continue
        for name, prefix in STAGES:
            if stat.step_key.startswith(prefix):
                span = spans.setdefault(name, [stat.start_time, stat.end_time])
                span[0], span[1] = min(span[0], stat.start_time), max(span[1], stat.end_time)
    for event in result.all_events:
        if event.event_type_value in ("STEP_OUTPUT", "ASSET_MATERIALIZATION"):
            data = event.event_specific_data
            metadata = getattr(data, "metadata", None) or getattr(getattr(data, "materialization", None), "metadata", {})
            value = (metadata or {}).get("work_seconds")
            if value is not None:
                work += float(value.value)
    return {name: (spans[name][1] - spans[name][0]) if name in spans else 0.0 for name, _ in STAGES}, work
