"""Day-ahead bidding assets, partitioned by delivery day: thin wiring around ``flexpower_assets.bidding``.

    bid_solves (graph-backed asset, dynamic fan-out)
        dispatch ──DynamicOut: one task per (client, asset, chunk of scenarios)──> solve_chunk (mapped)
                 └──plan──────────────────────────────────────────────┐              │ collect
                                                                      └──> record_solves ──> solver_run
    (a task carries its inputs, known results, limits and the stage deadline: a solve step loads
    nothing else)
    asset_bid_curve   aggregation per asset (partial / fallback), the client's price grid
    bid_matrix        one matrix version per client, blocking checks generated from the policy rules
    bid_submission    approval by the client's mode, submission to the exchange, alerts, incidents

The configuration is read by ``dispatch`` at run time, so the task list follows it with no code
change. Stage deadlines are enforced here (Dagster has no op timeout): dispatch, the solve stage
(an absolute deadline handed to every chunk; hung solves are killed in ``bidding.workers``),
aggregation and submission; the job also carries ``dagster/max_runtime`` for run monitoring.
"""


import json
import time
from dataclasses import replace
from datetime import timedelta

import dagster as dg
import polars as pl

from flexpower_assets.bidding import aggregation, validation
from flexpower_assets.bidding.asset_types import asset_type
from flexpower_assets.bidding.inputs import landing_kinds, load_day_inputs
from flexpower_assets.bidding.model import FALLBACK
from flexpower_assets.bidding.plan import (
    DayPlan,
    NoTechnicalData,
    SolveTask,
    incident_record,
    plan_day,
    result_from_row,
    results_by_asset,
    solver_run_rows,
)
from flexpower_assets.bidding.store import BidStore
from flexpower_assets.bidding.workers import solve_in_workers
from flexpower_assets.ingestion.catalog import sync_landing
from flexpower_assets.partitions import daily_partitions, partition_day
from resources.bidding import BiddingResource
from resources.landing import LandingZone
from resources.notifier import Notifier
from resources.warehouse_resource import WarehouseResource

GROUP = "bidding"
STEP_IO = "bid_step_io"   # pickled step outputs (plan, results): not warehouse tables
ERROR = dg.AssetCheckSeverity.ERROR
PER_SOLVE_GRACE_S = 2.0
CLIENTS_TAG = "flexpower/bid_clients"  # optional comma-separated client ids of a run


def _clients(context) -> list[str] | None:
    value = context.run.tags.get(CLIENTS_TAG) if context.run else None
    return [c for c in value.split(",") if c] if value else None


@dg.op(ins={"forecast_quantiles": dg.In(dg.Nothing)},
       out={"plan": dg.Out(io_manager_key=STEP_IO), "tasks": dg.DynamicOut(io_manager_key=STEP_IO)})
def dispatch(context: dg.OpExecutionContext, bidding: BiddingResource, warehouse: WarehouseResource,
             landing: LandingZone):
    """Read the configuration now, load the day's applicable inputs, emit one task per chunk."""
    began = time.time()
    day = partition_day(context)
    config, digest = bidding.load()
    now = bidding.clock()
    limits = config.stage_time_limits_s
    kinds = {k for c in config.clients for t in c.asset_types().values() for k in asset_type(t).input_kinds}
    types = {t for c in config.clients for t in c.asset_types().values()}
    report = sync_landing(landing.root, warehouse.get(), kinds=landing_kinds(types, kinds),
                          workers=landing.parse_workers, min_age_s=landing.min_file_age_s)
    for path, message in report.rejected[:10]:
        context.log.warning(f"rejected {path}: {message}")
    as_of = min(now, config.market.gate_closure_utc(day))
    inputs = load_day_inputs(warehouse.get(), day, as_of, kinds, types)
    plan = plan_day(config, digest, inputs, day, now, solve_deadline=began + limits.dispatch + limits.solve_stage,
                    client_ids=_clients(context))
    elapsed = time.time() - began
    if elapsed > limits.dispatch:
        raise dg.Failure(f"dispatch took {elapsed:.1f} s, over its limit of {limits.dispatch:g} s",
                         metadata={"config_hash": digest})
    # one look-up of the recorded solves for the whole day instead of one per task
    known_rows = BidStore(warehouse.get()).known_solves([i.input_hash for t in plan.tasks for i in t.inputs])
    known = {row["input_hash"]: result_from_row(row) for row in known_rows.iter_rows(named=True)}
    plan.solve_deadline = time.time() + limits.solve_stage
    # a task carries what its step needs (known results, limits, deadline), so a solve step loads
    # only its task: one input less per step, and the plan is not read 200 times
    plan.tasks = [replace(t, known=tuple(known[i.input_hash] for i in t.inputs if i.input_hash in known),
                          per_solve_s=limits.solve_per_scenario + PER_SOLVE_GRACE_S,
                          deadline=plan.solve_deadline, faults=config.faults)
                  for t in plan.tasks]
    failed = {a: p.error for a, p in plan.assets.items() if p.error}
    context.log.info(f"{len(plan.tasks)} task(s) for {len(plan.assets)} asset(s), config {digest[:12]}; "
                     f"{len(failed)} asset(s) without solves")
    # the plan travels without the tasks (they go out one by one below)
    tasks, plan.tasks = plan.tasks, []
    yield dg.Output(plan, "plan", metadata={"config_hash": digest, "tasks": len(tasks),
                                            "work_seconds": round(time.time() - began, 4),
                                            "assets": len(plan.assets), "assets_without_solves": len(failed)})
    for task in tasks or [SolveTask("", "", "", 0, ())]:  # an empty fan-out would skip the collect
        yield dg.DynamicOutput(task, output_name="tasks", mapping_key=task.key if task.inputs else "none")


@dg.op(out=dg.Out(io_manager_key=STEP_IO))
def solve_chunk(context: dg.OpExecutionContext, bidding: BiddingResource, task: SolveTask):
    """Solve one chunk in worker processes; results already in ``solver_run`` came with the task."""
    if not task.inputs:
        return (task, [])
    began = time.time()
    known = {result.input_hash: result for result in task.known}
    results = solve_in_workers(asset_type(task.asset_type), task.inputs, per_solve_s=task.per_solve_s,
                               deadline=task.deadline, workers=bidding.solve_workers, faults=task.faults,
                               known=known)
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    # the statuses travel as metadata of the output event: a log line would be one more event per step
    context.add_output_metadata({"work_seconds": round(time.time() - began, 4), "solves": len(results),
                                 "known": len(known), "statuses": dg.MetadataValue.json(statuses)})
    return (task, results)


@dg.op(out=dg.Out(io_manager_key=STEP_IO))
def record_solves(context: dg.OpExecutionContext, warehouse: WarehouseResource, plan: DayPlan, chunks: list):
    """Every solve to ``solver_run`` (a known input hash adds no row); the stage's result."""
    began = time.time()
    solves = results_by_asset(plan, [c for c in chunks if c[0].inputs])
    rows = solver_run_rows(plan, solves)
    new = BidStore(warehouse.get()).record_solves(rows)
    context.add_output_metadata({"solves": rows.height, "new_solver_run_rows": new,
                                 "work_seconds": round(time.time() - began, 4),
                                 "optimal": int((rows["status"] == "optimal").sum()) if rows.height else 0})
    return {"plan": plan, "solves": solves}


@dg.graph_asset(
    key=["bidding", "bid_solves"], group_name=GROUP, partitions_def=daily_partitions,
    # the renewable client sells a quantile of the same delivery day's asset_forecast_quantile (read by
    # bidding.inputs from the warehouse): a lineage dependency, not a loaded input
    ins={"forecast_quantiles": dg.AssetIn(key="asset_forecast_quantile", dagster_type=dg.Nothing)},
    description="Every scenario solve of the day's bid run (dispatcher -> dynamic solve tasks -> solver_run).",
)
def bid_solves(forecast_quantiles):
    plan, tasks = dispatch(forecast_quantiles)
    return record_solves(plan, tasks.map(solve_chunk).collect())


# ------------------------------------------------------------------------ aggregation

@dg.asset(
    key="asset_bid_curve", group_name=GROUP, partitions_def=daily_partitions, kinds={"duckdb", "polars"},
    metadata={"partition_expr": "delivery_day", "schema": "main"},
    ins={"stage": dg.AssetIn(key=["bidding", "bid_solves"], input_manager_key=STEP_IO)},
    description="One curve per asset and MTU on its client's price grid: complete, partial or fallback.",
)
def asset_bid_curve(context: dg.AssetExecutionContext, bidding: BiddingResource, warehouse: WarehouseResource,
                    notifier: Notifier, stage: dict) -> pl.DataFrame:
    plan: DayPlan = stage["plan"]
    solves = stage["solves"]
    config = plan.config
    began = time.time()
    deadline = began + config.stage_time_limits_s.aggregate
    previous = _previous_day_curves(warehouse, plan)
    mean_price_solves = _mean_price_solves(plan, solves, deadline, bidding.solve_workers)
    frames = []
    for client in config.clients:
        entries = [p for p in plan.assets.values() if p.client_id == client.id]
        if not entries:
            continue
        starts = config.market.mtu_starts(plan.delivery_day)
        curves, technicals = [], {}
        for entry in entries:
            pairs = solves.get(entry.asset_id, [])
            results = [r for _, r in pairs]
            late = time.time() > deadline
            coverage = 0.0 if late else aggregation.coverage_of(results, entry.expected)
            kind = asset_type(entry.asset_type)
            points = kind.bid_points(pairs, config) if pairs and not late else None
            technical = entry.technical or NoTechnicalData(asset_id=entry.asset_id, client_id=entry.client_id)
            technicals[entry.asset_id] = technical
            deterministic = (mean_price_solves.get(entry.asset_id)
                             if coverage < config.policy.min_scenario_coverage and not late else None)
            if points is None:
                points = pl.DataFrame(schema=aggregation.POINT_SCHEMA)
            curve = aggregation.aggregate_asset(client, technical, points, coverage, config, starts,
                                                previous_day_curve=previous.get(entry.asset_id),
                                                deterministic=deterministic)
            if late:
                curve = _with_message(curve, f"aggregation deadline of {config.stage_time_limits_s.aggregate:g} s passed")
            curves.append(curve)
            if curve.status == FALLBACK:
                notifier.notify(f"bid curve of {entry.asset_id} ({client.id}) for {plan.delivery_day} falls back",
                                f"{curve.message or 'no usable solves'}; {entry.error or ''}".strip("; "), "warning",
                                {"run_id": context.run_id})
        grid = aggregation.client_price_grid(curves, config.market, starts)
        for curve in curves:
            on_grid = aggregation.curve_on_grid(curve, grid, technicals[curve.asset_id], config)
            frames.append(aggregation.asset_bid_curve_rows(curve, on_grid, plan.delivery_day))
    frame = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    frame = _with_other_clients_kept(warehouse, plan.delivery_day, _clients(context), frame)
    summary = (frame.group_by("asset_id", "curve_status", "coverage").len().sort("asset_id")
               if frame.height else pl.DataFrame())
    context.add_output_metadata({"assets": summary.height,
                                 "fallback_assets": int((summary["curve_status"] == FALLBACK).sum()) if summary.height else 0,
                                 "work_seconds": round(time.time() - began, 4)})
    return frame


def _with_other_clients_kept(warehouse: WarehouseResource, day, scope: list[str] | None,
                             frame: pl.DataFrame) -> pl.DataFrame:
    """A run for some clients rewrites the day's partition: keep the stored curves of the others."""
    wh = warehouse.get()
    if scope is None or not wh.table_exists("main", "asset_bid_curve"):
        return frame
    kept = wh.read("select * from main.asset_bid_curve where delivery_day = ? and not list_contains(?, client_id)",
                   [day, scope])
    if not kept.height:
        return frame
    return pl.concat([frame, kept.select(frame.columns)] if frame.height else [kept], how="vertical_relaxed")


def _mean_price_solves(plan: DayPlan, solves: dict, deadline: float, workers: int) -> dict:
    """The deterministic solve (mean scenario price) of every asset below the minimum coverage, for
    its fallback chain: all of a type's in one worker pool, not a fork per asset."""
    config = plan.config
    wanted: dict[str, list] = {}
    for entry in plan.assets.values():
        results = [r for _, r in solves.get(entry.asset_id, [])]
        if entry.deterministic is not None and \
                aggregation.coverage_of(results, entry.expected) < config.policy.min_scenario_coverage:
            wanted.setdefault(entry.asset_type, []).append(entry)
    found = {}
    for type_name, entries in wanted.items():
        results = solve_in_workers(asset_type(type_name), [e.deterministic for e in entries],
                                   per_solve_s=config.stage_time_limits_s.solve_per_scenario + PER_SOLVE_GRACE_S,
                                   deadline=deadline, workers=workers, faults=None)
        found.update({e.asset_id: (e.deterministic, r) for e, r in zip(entries, results)})
    return found


def _with_message(curve, message):
    return replace(curve, message=f"{curve.message}; {message}" if curve.message else message)


def _previous_day_curves(warehouse: WarehouseResource, plan: DayPlan) -> dict[str, pl.DataFrame]:
    """The previous delivery day's curves of assets whose client had an accepted submission."""
    wh = warehouse.get()
    if not (wh.table_exists("main", "asset_bid_curve") and wh.table_exists("main", "bid_submission")):
        return {}
    previous = plan.delivery_day - timedelta(days=1)
    rows = wh.read("select c.asset_id, c.delivery_start, c.price_eur_per_mwh, c.volume_mw from main.asset_bid_curve c "
                   "where c.delivery_day = ? and c.client_id in (select client_id from main.bid_submission "
                   "where delivery_day = ? and status = 'accepted')", [previous, previous])
    return {k[0]: v.drop("asset_id") for k, v in rows.partition_by("asset_id", as_dict=True).items()} if rows.height else {}


# ------------------------------------------------------------------------ matrix and checks

CHECKS = [dg.AssetCheckSpec(rule, asset="bid_matrix", blocking=True,
                            description=f"Every client's bid matrix keeps the rule {rule!r} (market and policy).")
          for rule in validation.RULES]


def _violations(plan: DayPlan, client_id: str):
    """The rule check of a client's matrix against the summed capacity of its assets."""
    config = plan.config
    technicals = {p.asset_id: p.technical for p in plan.assets.values() if p.client_id == client_id and p.technical}
    sell, buy = aggregation.capacities(technicals)
    starts = config.market.mtu_starts(plan.delivery_day)
    return lambda matrix: validation.validate_bids(matrix, config, starts, sell, buy)


def _as_text(check):
    return lambda matrix: [str(v) for v in check(matrix)]


@dg.asset(
    key="bid_matrix", group_name=GROUP, partitions_def=daily_partitions, check_specs=CHECKS,
    ins={"stage": dg.AssetIn(key=["bidding", "bid_solves"], input_manager_key=STEP_IO),
         "curves": dg.AssetIn(key="asset_bid_curve")},
    description="One bid matrix per client (a new version only when its content changed), validated by rule.",
)
def bid_matrix(context: dg.AssetExecutionContext, bidding: BiddingResource, warehouse: WarehouseResource,
               notifier: Notifier, stage: dict, curves: pl.DataFrame):
    began = time.time()
    plan: DayPlan = stage["plan"]
    by_rule: dict[str, list[str]] = {rule: [] for rule in validation.RULES}
    versions = {}
    for client_id in sorted({p.client_id for p in plan.assets.values()}):
        mine = curves.filter(pl.col("client_id") == client_id) if curves.height else curves
        grid_curves = [part.select(list(aggregation.CURVE_SCHEMA)) for part in mine.partition_by("asset_id")] if mine.height else []
        matrix = aggregation.bid_matrix(grid_curves)
        check = _violations(plan, client_id)
        for violation in check(matrix):
            by_rule.setdefault(violation.rule, []).append(f"{client_id}: {violation}")
        desk = bidding.desk(warehouse.get(), plan.config, _as_text(check),
                            lambda s, b, sev: notifier.notify(s, b, sev, {"run_id": context.run_id}))
        version, is_new = desk.register_generated(client_id, plan.delivery_day, matrix, config_hash=plan.config_hash)
        versions[client_id] = f"v{version.version}{' (new)' if is_new else ''}"
    checks = [dg.AssetCheckResult(check_name=rule, passed=not by_rule.get(rule), severity=ERROR,
                                  metadata={"violations": len(by_rule.get(rule, [])),
                                            "first": dg.MetadataValue.md(
                                                "\n".join(f"- {p}" for p in by_rule.get(rule, [])[:20]) or "none")})
              for rule in validation.RULES]
    return dg.MaterializeResult(metadata={"versions": dg.MetadataValue.json(versions), "config_hash": plan.config_hash,
                                          "work_seconds": round(time.time() - began, 4)},
                                check_results=checks)


# ------------------------------------------------------------------------ approval and submission

@dg.asset(
    key="bid_submission", group_name=GROUP, partitions_def=daily_partitions, deps=["bid_matrix"],
    ins={"stage": dg.AssetIn(key=["bidding", "bid_solves"], input_manager_key=STEP_IO)},
    description="Approval by each client's mode and submission to the exchange (idempotent: a re-run sends nothing twice).",
)
def bid_submission(context: dg.AssetExecutionContext, bidding: BiddingResource, warehouse: WarehouseResource,
                   notifier: Notifier, stage: dict):
    began = time.time()
    plan: DayPlan = stage["plan"]
    solves = stage["solves"]
    config = plan.config
    limits = config.stage_time_limits_s
    deadline = time.time() + limits.submit
    outcomes, failed_clients = {}, []
    for client in config.clients:
        entries = [p for p in plan.assets.values() if p.client_id == client.id]
        if not entries:
            continue
        if all(not any(r.is_optimal for _, r in solves.get(p.asset_id, [])) for p in entries):
            failed_clients.append(client.id)
            outcomes[client.id] = "failed: every asset failed"
            continue
        desk = bidding.desk(warehouse.get(), config, _as_text(_violations(plan, client.id)), lambda s, b, sev: notifier.notify(s, b, sev, {"run_id": context.run_id}))
        approval = desk.approve_by_mode(client.id, plan.delivery_day, client.approval)
        remaining = deadline - time.time()
        if remaining <= 0:
            outcomes[client.id] = f"{approval}; not submitted: the submit stage's {limits.submit:g} s passed"
            notifier.notify(f"bid matrix of {client.id} for {plan.delivery_day} NOT submitted",
                            outcomes[client.id], "error", {"run_id": context.run_id})
            continue
        sent = desk.submit(client.id, plan.delivery_day, bidding.exchange(remaining), now=bidding.clock(),
                           timezone_name=config.market.timezone, gate_closure_local=config.market.gate_closure)
        outcomes[client.id] = f"{approval}; {sent['status']}" + (f" v{sent['version']}" if sent.get("version") else "")
    if failed_clients:
        paths = []
        for client_id in failed_clients:
            record = incident_record(plan, client_id, solves, context.run_id)
            bidding.incidents_dir.mkdir(parents=True, exist_ok=True)
            path = bidding.incidents_dir / f"{plan.delivery_day}_{client_id}_{context.run_id[:8]}.json"
            path.write_text(json.dumps(record, indent=2), encoding="utf-8")
            paths.append(str(path))
            messages = sorted({s["message"] for a in record["assets"] for s in a["solves"]} |
                              {a["planning_error"] for a in record["assets"] if a["planning_error"]})
            notifier.notify(f"bid run FAILED for {client_id} on {plan.delivery_day}: every asset failed",
                            f"config {plan.config_hash}; incident record {path}; errors: " + " | ".join(messages[:5]),
                            "error", {"run_id": context.run_id})
        raise dg.Failure(description=f"every asset failed for {', '.join(failed_clients)}; incident records: "
                                      + ", ".join(paths), metadata={"incidents": dg.MetadataValue.json(paths),
                                                                    "outcomes": dg.MetadataValue.json(outcomes)})
    return dg.MaterializeResult(metadata={"outcomes": dg.MetadataValue.json(outcomes),
                                          "work_seconds": round(time.time() - began, 4)})


bidding_assets = [bid_solves, asset_bid_curve, bid_matrix, bid_submission]
bidding_selection = dg.AssetSelection.groups(GROUP)
