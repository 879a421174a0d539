"""The run benchmark: how many bid runs an hour the deployment sustains through the daemon.

It simulates small hydro clients (one plant each, few scenarios) over as many delivery days as
the runs need, starts the mock exchange on a free port, writes the instance configuration of the
chosen storage into a fresh DAGSTER_HOME (``dagster.yaml``: SQLite; ``dagster-postgres.yaml``:
PostgreSQL, on a throwaway server from ``bench.postgres``), starts ``dagster-daemon run -w
workspace.yaml`` and ``dagster-webserver``, and submits N ``bidding_job`` runs to the queued run
coordinator: one (delivery day, client) each (partition tag and ``flexpower/bid_clients``), every
run at its own day's morning (the bidding resource's ``now`` in the run config, as a replayed day).
Submission goes through the webserver's GraphQL API (``dagster_graphql.DagsterGraphQLClient``, what
the UI's launch button and any outside scheduler use); the runs wait in the queue
until the daemon launches them within the instance's limits (never two runs of one delivery day
at once: the day's bid tables and step outputs are per partition). It waits for every run to
finish, stops the daemon, and prints runs per hour (runs over first submission to last run
end), queue wait (submitted -> started, which includes starting the run's process) and run
duration percentiles, the load average, and a last JSON line.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import click
import yaml

from flexpower_assets.ports import free_port
from flexpower_assets.settings import environment

DAY = date(2025, 10, 15)
STORAGES = {"sqlite": "dagster.yaml", "postgres": "dagster-postgres.yaml"}
JOB = "bidding_job"
LOCATION = "flexpower"  # workspace.yaml's code location


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p90 (nearest rank) and max of ``values``, rounded to 0.1 s."""
    if not values:
        return {"p50": 0.0, "p90": 0.0, "max": 0.0}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return {"p50": round(rank(0.5), 1), "p90": round(rank(0.9), 1), "max": round(ordered[-1], 1)}


def morning_before(day: date) -> datetime:
    """09:50 UTC of the day before ``day``: the day's inputs are in, its gate closure (12:00 Berlin) is ahead."""
    return datetime.combine(day - timedelta(days=1), datetime.min.time(), timezone.utc) + timedelta(hours=9, minutes=50)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _children_cpu_s() -> float:
    """User + system CPU seconds of the finished child processes (and theirs, once waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def runs_per_hour(runs: int, seconds: float) -> float:
    """Runs an hour when ``runs`` runs took ``seconds`` from the first submission to the last end."""
    return runs * 3600.0 / seconds


def _prepare(root: Path, clients: int, days: int, scenarios: int, seed: int) -> tuple[Path, Path, list[str]]:
    from flexpower_assets.simulator.bidding import simulate_bidding
    from flexpower_assets.simulator.summary import SimulationSummary

    landing, config_path = root / "landing", root / "bidding.yaml"
    every_day = [DAY + timedelta(days=i) for i in range(days)]
    simulate_bidding(landing, config_path, DAY, days, seed, SimulationSummary(landing, [], every_day), n_clients=clients,
                     plants_per_client=1, n_scenarios=scenarios, bad_files=False)
    config = yaml.safe_load(config_path.read_text())
    for client in config["clients"]:
        client["chunk_size"] = scenarios  # one solve task per run: small runs, as the clients' daily ones
        client["approval"] = "auto"  # nobody approves by hand in a benchmark
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return landing, config_path, [c["id"] for c in config["clients"]]


def run_runs_benchmark(storage: str = "postgres", runs: int = 20, clients: int | None = None, scenarios: int = 10,
                       seed: int = 7, workdir: Path | None = None, timeout_s: float = 3600.0,
                       echo: Callable[[str], None] = print, keep: bool = False) -> dict:
    """Run the benchmark; the summary dict is also the last JSON line."""
    from flexpower_assets.bench.postgres import ThrowawayPostgres

    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {sorted(STORAGES)}, not {storage!r}")
    if runs < 1:
        raise ValueError("at least one run")
    clients = min(clients or 4, runs)
    days = math.ceil(runs / clients)
    root = Path(workdir or tempfile.mkdtemp(prefix="flexpower-bench-runs-"))
    root.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    landing, config_path, client_ids = _prepare(root, clients, days, scenarios, seed)
    echo(f"simulated {clients} clients x 1 plant x {scenarios} scenarios for {days} day(s) from {DAY} in "
         f"{time.perf_counter() - began:.1f} s ({root})")
    server = ThrowawayPostgres(echo=echo) if storage == "postgres" else nullcontext()
    with server as postgres:
        summary = _measure(storage, runs, client_ids, scenarios, root, landing, config_path, postgres, timeout_s,
                           echo)
        if postgres is not None:
            summary["postgres_runs_succeeded"] = _count_in_postgres(postgres)
    summary["submitted"] = _accepted_submissions(root / "wh.duckdb", run_plan(runs, client_ids))
    echo(f"  {summary['submitted']} of {runs} (day, client) bid matrices accepted by the exchange")
    if not keep and workdir is None:
        shutil.rmtree(root, ignore_errors=True)  # a temp folder of this benchmark only
    echo(json.dumps(summary))
    return summary


def _accepted_submissions(warehouse_path: Path, plan: list[tuple[date, str]]) -> int:
    """How many of the runs' (day, client) pairs have a submission the exchange accepted."""
    from flexpower_assets.bidding.store import BidStore
    from resources.warehouse import Warehouse

    store = BidStore(Warehouse(warehouse_path))
    return sum(1 for day, client in set(plan) if store.live_submission(client, day) is not None)


def _count_in_postgres(postgres) -> int:
    """Successful bid runs as the PostgreSQL run storage holds them (read straight from its table)."""
    import psycopg2

    with psycopg2.connect(host="127.0.0.1", port=postgres.port, user=postgres.env()["FLEXPOWER_PG_USER"],
                          password=postgres.password, dbname=postgres.env()["FLEXPOWER_PG_DB"]) as connection:
        with connection.cursor() as cursor:
            cursor.execute("select count(*) from runs where pipeline_name = %s and status = 'SUCCESS'", (JOB,))
            return int(cursor.fetchone()[0])


def _measure(storage: str, runs: int, client_ids: list[str], scenarios: int, root: Path, landing: Path,
             config_path: Path, postgres, timeout_s: float, echo: Callable[[str], None]) -> dict:
    import dagster as dg

    from flexpower_assets.bidding.exchange_mock import ExchangeServer, prices_from_landing
    from flexpower_assets.settings import PROJECT_ROOT

    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    instance_file = PROJECT_ROOT / STORAGES[storage]
    shutil.copyfile(instance_file, home / "dagster.yaml")
    now = morning_before(DAY)  # the exchange's clock: before every simulated day's gate closure
    with ExchangeServer(prices_from_landing(landing), now=lambda: now) as exchange:
        env = {"DAGSTER_HOME": str(home), "FLEXPOWER_LANDING_DIR": str(landing),
               "FLEXPOWER_WAREHOUSE": str(root / "wh.duckdb"), "FLEXPOWER_DATA_DIR": str(root / "data"),
               "FLEXPOWER_BIDDING_CONFIG": str(config_path), "FLEXPOWER_NOW": _iso(now),
               "FLEXPOWER_EXCHANGE_URL": exchange.url, "FLEXPOWER_MIN_FILE_AGE_S": "0",
               **(postgres.env() if postgres is not None else {})}
        with environment(**env), dg.DagsterInstance.from_config(str(home)) as instance:
            queue = instance.get_concurrency_config().run_queue_config
            echo(f"instance {instance_file.name}: {type(instance.run_storage).__name__}, "
                 f"{type(instance.run_coordinator).__name__} (max {queue.max_concurrent_runs} concurrent runs), "
                 f"run monitoring {'on' if instance.run_monitoring_enabled else 'off'}")
            load_before, cpu_before = os.getloadavg(), _children_cpu_s()
            bin_dir, workspace, port = Path(sys.executable).parent, str(PROJECT_ROOT / "workspace.yaml"), free_port()
            with (root / "daemon.log").open("w") as daemon_log, (root / "webserver.log").open("w") as web_log:
                daemon = subprocess.Popen([str(bin_dir / "dagster-daemon"), "run", "-w", workspace], cwd=PROJECT_ROOT,
                                          stdout=daemon_log, stderr=subprocess.STDOUT)
                webserver = subprocess.Popen([str(bin_dir / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1",
                                              "-p", str(port)], cwd=PROJECT_ROOT, stdout=web_log,
                                             stderr=subprocess.STDOUT)
                try:
                    client = _webserver_client(port, webserver, root / "webserver.log")
                    _wait_for_daemon(instance, daemon, root / "daemon.log")
                    submitted_at = time.time()
                    bidding = {"config_path": str(config_path), "data_dir": env["FLEXPOWER_DATA_DIR"],
                               "exchange_url": exchange.url}  # a resource's run config lists every field it sets
                    run_ids = _submit(client, runs, client_ids, bidding, echo)
                    records = _wait_for_runs(instance, run_ids, daemon, timeout_s, echo)
                finally:
                    _stop(webserver)
                    _stop(daemon)
            load_after, cpu_s = os.getloadavg(), _children_cpu_s() - cpu_before
    summary = _summarise(storage, runs, client_ids, scenarios, records, submitted_at, queue.max_concurrent_runs,
                         load_before, load_after, echo)
    summary["cpu_s_per_run"] = round(cpu_s / runs, 1)
    echo(f"  CPU {cpu_s:.0f} s in the daemon, its code server and the run processes: {cpu_s / runs:.1f} s a run "
         f"(at most {runs_per_hour(runs, cpu_s / (os.cpu_count() or 1)):.0f} runs an hour if they had every core)")
    return summary


def _wait_for_daemon(instance, daemon: subprocess.Popen, log: Path, timeout_s: float = 300.0) -> None:
    """Until the daemon's queue coordinator has sent its first heartbeat (its workspace is loaded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "QUEUED_RUN_COORDINATOR" in instance.get_daemon_heartbeats():
            return
        if daemon.poll() is not None:
            raise RuntimeError(f"dagster-daemon stopped (exit {daemon.returncode}): {log.read_text()[-2000:]}")
        time.sleep(1)
    raise RuntimeError(f"dagster-daemon sent no heartbeat in {timeout_s:.0f} s: {log.read_text()[-2000:]}")


def run_plan(runs: int, client_ids: list[str]) -> list[tuple[date, str]]:
    """The (delivery day, client) of each run, day by day: ``runs`` pairs over ceil(runs / clients) days."""
    days = math.ceil(runs / len(client_ids))
    return [(DAY + timedelta(days=i % days), client_ids[i // days]) for i in range(runs)]


def _submit(client, runs: int, client_ids: list[str], bidding: dict, echo: Callable[[str], None]) -> list[str]:
    """Submit ``runs`` bid runs, one (day, client) each, through the webserver's GraphQL API (what
    the UI's launch button does): the queued run coordinator queues them for the daemon."""
    from flexpower_assets.assets.bidding import CLIENTS_TAG

    plan = run_plan(runs, client_ids)
    run_ids = []
    for day, client_id in plan:  # day by day, so that consecutive runs may run side by side
        tags = {"dagster/partition": day.isoformat(), CLIENTS_TAG: client_id, "flexpower/bench": "runs"}
        run_config = {"resources": {"bidding": {"config": {**bidding, "now": _iso(morning_before(day))}}}}
        run_ids.append(client.submit_job_execution(JOB, repository_location_name=LOCATION, run_config=run_config,
                                                   tags=tags))
    echo(f"queued {runs} {JOB} runs: {len(client_ids)} client(s) x {len({d for d, _ in plan})} day(s) from {DAY}")
    return run_ids


WORKSPACE_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def _webserver_client(port: int, webserver: subprocess.Popen, log: Path, timeout_s: float = 300.0):
    """The GraphQL client of the webserver on ``port``, once its code location has loaded."""
    import urllib.request

    from dagster_graphql import DagsterGraphQLClient

    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps(
        {"query": WORKSPACE_QUERY}).encode(), headers={"Content-Type": "application/json"})
    while time.monotonic() < deadline:
        if webserver.poll() is not None:
            raise RuntimeError(f"dagster-webserver stopped (exit {webserver.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                entries = json.load(answer)["data"]["workspaceOrError"]["locationEntries"]
            if any(e["name"] == LOCATION and e["loadStatus"] == "LOADED" for e in entries):
                return DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=120)
        except OSError:  # not listening yet
            pass
        time.sleep(1)
    raise RuntimeError(f"dagster-webserver did not load {LOCATION} in {timeout_s:.0f} s: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def _wait_for_runs(instance, run_ids: list[str], daemon: subprocess.Popen, timeout_s: float,
                   echo: Callable[[str], None]) -> list:
    import dagster as dg

    deadline = time.monotonic() + timeout_s
    reported = -1
    while True:
        records = instance.get_run_records(filters=dg.RunsFilter(run_ids=run_ids))
        done = sum(1 for r in records if r.dagster_run.is_finished)
        if done != reported and (done == len(run_ids) or done % 10 == 0):
            echo(f"  {done}/{len(run_ids)} runs finished")
            reported = done
        if done == len(run_ids):
            return records
        if daemon.poll() is not None:
            raise RuntimeError(f"dagster-daemon stopped (exit {daemon.returncode}) with {done} of "
                               f"{len(run_ids)} runs finished")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(run_ids) - done} of {len(run_ids)} runs not finished after {timeout_s:.0f} s")
        time.sleep(2)


def _summarise(storage, runs, client_ids, scenarios, records, submitted_at, max_concurrent, load_before,
               load_after, echo) -> dict:
    import dagster as dg

    succeeded = sum(1 for r in records if r.dagster_run.status == dg.DagsterRunStatus.SUCCESS)
    waits = [r.start_time - r.create_timestamp.timestamp() for r in records if r.start_time]
    durations = [r.end_time - r.start_time for r in records if r.start_time and r.end_time]
    last_end = max((r.end_time for r in records if r.end_time), default=submitted_at)
    span = max(last_end - submitted_at, 1e-9)
    per_hour = runs_per_hour(runs, span)
    wait, duration = percentiles(waits), percentiles(durations)
    echo(f"{succeeded}/{runs} runs succeeded in {span:.0f} s: {per_hour:.0f} bid runs an hour "
         f"({per_hour * 24:.0f} a day) on {storage}, at most {max_concurrent} at a time")
    echo(f"  queue wait (submitted -> started) p50 {wait['p50']} s, p90 {wait['p90']} s, max {wait['max']} s")
    echo(f"  run duration (started -> ended)   p50 {duration['p50']} s, p90 {duration['p90']} s, "
         f"max {duration['max']} s")
    echo(f"  load average {load_before[0]:.1f} before, {load_after[0]:.1f} after ({os.cpu_count()} CPUs)")
    for record in records:
        if record.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
            echo(f"  run {record.dagster_run.run_id[:8]} {record.dagster_run.status.value}")
    return {"storage": storage, "runs": runs, "succeeded": succeeded, "clients": len(client_ids),
            "scenarios": scenarios, "max_concurrent_runs": max_concurrent, "seconds": round(span, 1),
            "runs_per_hour": round(per_hour, 1), "queue_wait_s": wait, "run_s": duration,
            "load_avg_before": round(load_before[0], 2), "load_avg_after": round(load_after[0], 2),
            "cpus": os.cpu_count()}


@click.command("runs")
@click.option("--storage", type=click.Choice(sorted(STORAGES)), default="postgres", show_default=True,
              help="Instance storage: postgres (dagster-postgres.yaml, a throwaway server) or sqlite (dagster.yaml).")
@click.option("--runs", "n_runs", type=int, default=20, show_default=True, help="Bid runs to queue.")
@click.option("--clients", type=int, default=4, show_default=True,
              help="Simulated clients; the runs cover clients x ceil(runs / clients) delivery days.")
@click.option("--scenarios", type=int, default=10, show_default=True, help="Price scenarios per client.")
@click.option("--timeout", "timeout_s", type=float, default=3600.0, show_default=True,
              help="Seconds to wait for every run to finish.")
@click.option("--workdir", type=click.Path(path_type=Path), default=None, help="Keep the files here.")
def bench_runs_command(storage: str, n_runs: int, clients: int | None, scenarios: int, timeout_s: float,
                       workdir: Path | None) -> None:
    """Queue N small bid runs through the daemon on the chosen storage; runs/hour, waits; last line JSON."""
    summary = run_runs_benchmark(storage, n_runs, clients, scenarios, workdir=workdir, timeout_s=timeout_s,
                                 echo=click.echo)
    if summary["succeeded"] != summary["runs"]:
        sys.exit(1)
