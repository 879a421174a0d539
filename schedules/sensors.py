"""Sensors: new landing files, what follows a rebuilt day, late data and alerts.

Landing sensors (one per source folder) never read a file's content. A tick lists the folder
(``stat`` only), hands new or changed files to one ``ingest_job`` run, and reads the catalog's
new registrations to request ``daily_job`` runs for exactly the delivery days their rows feed
(only the raw assets of those kinds and what is downstream of them), for days the landing zone
covers (``Coverage``); a file whose name dates its day (a trade export, a live file) has that
day's run requested in the tick that finds it (``named_days``); rejected files are alerted. The sensors of the bidding folders (market/,
hydro/) share that tick (``landing_tick``) and request ``bidding_job`` instead, for the delivery
days the new files affect whose gate closure is still ahead (``build_bid_landing_sensor``). Switched on for the first time, a sensor
starts from what the catalog holds: registered files start nothing. Every step is bounded
(files per tick, bytes hashed per tick, days requested per tick, lock waits), so a tick stays
far below Dagster's 60 s sensor timeout whatever the backlog; the cursor carries the rest.

``rebuild_after_daily_sensor`` follows every successful ``daily_job`` run with the day's reports
(``daily_reports_job``) and, once no run of that month's days is queued or running, the month's
invoices (``monthly_job``): a correction reaches reports and a new invoice version.

``late_data_sensor`` judges the arrival windows of FORMATS.md (``quality/freshness.py``), records
the verdicts as the ``*_on_time`` checks of ``landing_files`` and alerts once per late delivery.
``run_failure_alert_sensor`` alerts on every failed run, naming its blocking check failures.
Every sensor starts switched off (README, "Switching the sensors on").
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime

import dagster as dg

from flexpower_assets.assets.position import position_job
from flexpower_assets.bidding.config import BiddingConfigError
from flexpower_assets.domain.time import BERLIN
from flexpower_assets.ingestion.bid_days import bid_days
from flexpower_assets.ingestion.catalog import LandingFile
from flexpower_assets.ingestion.watch import (
    Coverage,
    Cursor,
    Registrations,
    WarehouseBusy,
    files_to_ingest,
    named_days,
    new_registrations,
    no_ingestion_running,
    plan_days,
    position_days,
    snapshot_kind_days,
    source_folders,
    source_kinds,
)
from flexpower_assets.partitions import PARTITIONS_START, daily_partitions
from flexpower_assets.quality.freshness import arrivals
from resources.bidding import BiddingResource
from resources.landing import LandingZone
from resources.notifier import Notifier
from resources.position import PositionResource
from resources.warehouse import Warehouse
from resources.warehouse_resource import WarehouseResource
from schedules.jobs import bidding_job, daily_job, daily_reports_job, ingest_job, monthly_job

SOURCES = ("crm", "vpp", "dso", "exchange", "imbalance")
BID_SOURCES = ("market", "hydro")  # their files feed the bids (bidding_job), not the daily pipeline
SOURCE_KINDS: dict[str, set[str]] = {source: set(source_kinds(source)) for source in (*SOURCES, *BID_SOURCES)}
LOCK_WAIT_S = 2.0  # a tick waits this long for the warehouse or the ingestion lock, then tries later
TICK_BUDGET_S = 10.0  # past this, a tick leaves the catalog step to the next one (Dagster's limit: 60 s)
MAX_DAYS_PER_TICK = 31
LANDING_FILES_KEY = dg.AssetKey("landing_files")
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]


def _sensor_warehouse(resource: WarehouseResource) -> Warehouse:
    return Warehouse(resource.get().path, timeout_s=LOCK_WAIT_S)


def daily_run_requests(source: str, days: Mapping[date, set[str]],
                       selection_by_kind: Mapping[str, Sequence[dg.AssetKey]], mark: str) -> list[dg.RunRequest]:
    """One ``daily_job`` run per day, with the union of its kinds' raw assets and their downstream."""
    requests = []
    for day, kinds in sorted(days.items()):
        keys = {key for kind in kinds for key in selection_by_kind[kind]}
        requests.append(dg.RunRequest(
            run_key=f"{source}:{day.isoformat()}:{mark}",
            job_name=daily_job.name,
            partition_key=day.isoformat(),
            asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
            tags={"flexpower/trigger": f"landing/{source}", "flexpower/kinds": ",".join(sorted(kinds))},
        ))
    return requests


def files_digest(files: Sequence[LandingFile]) -> str:
    """A short key of some files in the form they were listed (path, size, modification time)."""
    return hashlib.sha1("\n".join(f"{f.relative}:{f.size_bytes}:{f.mtime_ns}" for f in files).encode()).hexdigest()[:16]


def position_run_requests(source: str, days: Sequence[date], kinds: Mapping[str, set[date]],
                          mark: str) -> list[dg.RunRequest]:
    """One ``position_job`` run per day (today or tomorrow) whose open position new files change."""
    return [dg.RunRequest(
        run_key=f"{source}:position:{day.isoformat()}:{mark}", job_name=position_job.name,
        partition_key=day.isoformat(),
        tags={"flexpower/trigger": f"landing/{source}",
              "flexpower/kinds": ",".join(sorted(kind for kind, of_kind in kinds.items() if day in of_kind))})
        for day in days]


def ingest_run_request(source: str, files: Sequence[LandingFile]) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"{source}:ingest:{files_digest(files)}", job_name=ingest_job.name,
                         tags={"flexpower/trigger": f"landing/{source}", "flexpower/new_files": str(len(files))})


def rejection_alert(source: str, rejected: list[dict], n_rejected: int) -> tuple[str, str]:
    subject = f"{n_rejected} rejected file(s) in {source}/"
    lines = [f"- {row['path']}: {row['error']}" for row in rejected]
    if n_rejected > len(rejected):
        lines.append(f"... and {n_rejected - len(rejected)} more (landing_files in the UI)")
    return subject, "\n".join(lines)


class TickDeferred(Exception):
    """The registrations cannot be planned now (the reason says why): the next tick tries again."""


Plan = Callable[[dg.SensorEvaluationContext, Warehouse, Registrations, Cursor], list[dg.RunRequest]]
NamedPlan = Callable[[Warehouse, list[LandingFile], Cursor], list[dg.RunRequest]]


def landing_tick(context: dg.SensorEvaluationContext, source: str, landing: LandingZone,
                 warehouse: WarehouseResource, notifier: Notifier, plan: Plan,
                 plan_named: NamedPlan | None = None) -> dg.SensorResult:
    """One tick of a landing sensor: list the folders, hand new files to ``ingest_job``, then,
    once the catalog registered something new, ``plan`` the runs its registrations start.

    ``plan_named`` requests runs for the new files whose names date their days, in this tick,
    before they are registered; the registration does not request those days again."""
    began = time.monotonic()
    cursor = Cursor.load(context.cursor)
    store = _sensor_warehouse(warehouse)
    requests: list[dg.RunRequest] = []
    try:
        scan = files_to_ingest(landing.root, source_folders(source), store, cursor,
                               min_age_s=landing.min_file_age_s)
        cursor = scan.cursor
        if scan.to_ingest:
            requests.append(ingest_run_request(source, scan.to_ingest))
        if scan.same_bytes:
            context.log.info(f"{len(scan.same_bytes)} file(s) re-dropped with the same bytes: nothing to do")
        if time.monotonic() - began > TICK_BUDGET_S:
            raise WarehouseBusy(f"listing took over {TICK_BUDGET_S:.0f} s; registrations next tick")
        with no_ingestion_running(store, LOCK_WAIT_S):
            if plan_named is not None and scan.to_ingest and cursor.registered_mark is not None:
                requests += plan_named(store, scan.to_ingest, cursor)
            found = new_registrations(store, SOURCE_KINDS[source], f"{source}/", cursor.registered_mark,
                                      named=cursor.named)
            if cursor.registered_mark is not None and (found.mark != cursor.registered_mark or cursor.pending):
                requests += plan(context, store, found, cursor)
            cursor.registered_mark = found.mark
            for path in found.named_registered:
                cursor.named.pop(path, None)
    except (WarehouseBusy, TickDeferred) as busy:
        # the registrations stay unhandled (the catalog mark did not move): the next tick plans them
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=cursor.dump())
        why = f"warehouse busy ({busy})" if isinstance(busy, WarehouseBusy) else str(busy)
        return dg.SensorResult(skip_reason=f"{why}; trying again next tick", cursor=cursor.dump())
    if found.n_rejected:
        subject, text = rejection_alert(source, found.rejected, found.n_rejected)
        notifier.notify(subject, text, "warning", {"sensor": f"landing_{source}_sensor"})
    context.log.info(f"listed {scan.n_listed} file(s), looked at {scan.n_looked_at}, "
                     f"{len(scan.to_ingest)} to ingest, {len(requests)} run(s) requested, "
                     f"{len(cursor.pending)} day(s) waiting for coverage, {time.monotonic() - began:.2f} s")
    if not requests:
        return dg.SensorResult(skip_reason=f"nothing new in {source}/", cursor=cursor.dump())
    return dg.SensorResult(run_requests=requests, cursor=cursor.dump())


def build_landing_sensor(source: str, selection_by_kind: Mapping[str, Sequence[dg.AssetKey]],
                         interval_s: int = 60) -> dg.SensorDefinition:
    """The landing sensor of a source whose files feed the daily pipeline: ``daily_job`` per covered day."""

    def plan(context, store: Warehouse, found: Registrations, cursor: Cursor,
             position: PositionResource) -> list[dg.RunRequest]:
        today = datetime.now(BERLIN).date()
        for kind, paths in found.snapshot_paths.items():
            found.days_by_kind.setdefault(kind, set()).update(snapshot_kind_days(store, kind, paths, today))
        last = date.fromisoformat(daily_partitions.get_last_partition_key())
        coverage = Coverage.of(store)
        now, pending = plan_days(found.days_by_kind, cursor.pending, coverage,
                                 date.fromisoformat(PARTITIONS_START), last, MAX_DAYS_PER_TICK)
        cursor.pending = pending
        near = position_days(found.days_by_kind, coverage, position.clock().astimezone(BERLIN).date(), already=now)
        return (daily_run_requests(source, now, selection_by_kind, found.mark or "none")
                + position_run_requests(source, near, found.days_by_kind, found.mark or "none"))

    def plan_named(store: Warehouse, files: list[LandingFile], cursor: Cursor) -> list[dg.RunRequest]:
        last = date.fromisoformat(daily_partitions.get_last_partition_key())
        days = named_days(files, Coverage.of(store), date.fromisoformat(PARTITIONS_START), last, cursor)
        if not days:
            return []
        return daily_run_requests(source, days, selection_by_kind, f"named-{files_digest(files)}")

    @dg.sensor(name=f"landing_{source}_sensor", jobs=[ingest_job, daily_job, position_job],
               minimum_interval_seconds=interval_s, default_status=dg.DefaultSensorStatus.STOPPED,
               description=f"New files in the landing zone's {source}/ folder: registered by ingest_job, "
                           "then daily_job for the covered days their rows feed (position_job for today "
                           "or tomorrow when only the open position can be built).")
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingZone, warehouse: WarehouseResource,
                notifier: Notifier, position: PositionResource) -> dg.SensorResult:
        return landing_tick(context, source, landing, warehouse, notifier,
                            lambda ctx, store, found, cursor: plan(ctx, store, found, cursor, position), plan_named)

    return _sensor


def bid_run_requests(source: str, days: Mapping[date, set[str]], mark: str) -> list[dg.RunRequest]:
    """One ``bidding_job`` run per open delivery day, keyed by the day and the registration mark."""
    return [dg.RunRequest(run_key=f"{source}:bid:{day.isoformat()}:{mark}", job_name=bidding_job.name,
                          partition_key=day.isoformat(),
                          tags={"flexpower/trigger": f"landing/{source}", "flexpower/kinds": ",".join(sorted(kinds))})
            for day, kinds in sorted(days.items())]


def build_bid_landing_sensor(source: str, interval_s: int = 60) -> dg.SensorDefinition:
    """The landing sensor of a bidding source (``market/``, ``hydro/``): ``bidding_job`` per affected day.

    Price scenarios re-run the bids of their rows' delivery days, inflow forecasts those of the
    days their rows cover, reservoir levels and hydro technical data (a state without delivery
    days) the next delivery day whose gate closure has not passed (``ingestion/bid_days.py``).
    Day-ahead prices (the auction's results) start no bid run: they feed the open position and
    the backtest. A day whose gate closure has passed by the platform clock (``bidding.clock()``,
    FLEXPOWER_NOW) is logged, never requested: its bid run would only be refused. Without a valid
    bidding configuration the new files are still ingested and their bid days wait in the cursor.
    """

    def plan(context, store: Warehouse, found: Registrations, cursor: Cursor, bidding: BiddingResource,
             position: PositionResource):
        try:
            config, _ = bidding.load()
        except BiddingConfigError as error:
            context.log.error(f"new {source}/ files wait for a valid bidding configuration: {error}")
            raise TickDeferred(f"no bid runs: {error}") from error
        now = bidding.clock()
        days = bid_days(found.days_by_kind, found.accepted_kinds, config.market.gate_closure_utc, now)
        first = date.fromisoformat(PARTITIONS_START)
        last = date.fromisoformat(daily_partitions.get_last_partition_key())
        for day, kinds in days.closed.items():
            context.log.warning(f"new {', '.join(sorted(kinds))} for {day}: its gate closure "
                                f"{config.market.gate_closure_utc(day).isoformat()} has passed ({now.isoformat()}), "
                                "no bid run requested")
        outside = sorted(day for day in days.open if not first <= day <= last)
        if outside:
            context.log.warning(f"no partition yet for {', '.join(map(str, outside))}: no bid run requested")
        # the auction's results change today's or tomorrow's open position (not the bids)
        near = position_days(found.days_by_kind, Coverage.of(store), position.clock().astimezone(BERLIN).date())
        return (bid_run_requests(source, {d: k for d, k in days.open.items() if first <= d <= last},
                                 found.mark or "none")
                + position_run_requests(source, near, found.days_by_kind, found.mark or "none"))

    @dg.sensor(name=f"landing_{source}_sensor", jobs=[ingest_job, bidding_job, position_job],
               minimum_interval_seconds=interval_s, default_status=dg.DefaultSensorStatus.STOPPED,
               description=f"New files in the landing zone's {source}/ folder: registered by ingest_job, "
                           "then bidding_job for the delivery days they affect whose gate closure is ahead "
                           "(position_job for today or tomorrow when the auction's results come in).")
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingZone, warehouse: WarehouseResource,
                notifier: Notifier, bidding: BiddingResource, position: PositionResource) -> dg.SensorResult:
        return landing_tick(context, source, landing, warehouse, notifier,
                            lambda ctx, store, found, cursor: plan(ctx, store, found, cursor, bidding, position))

    return _sensor


# ---------------------------------------------------------------- what follows a rebuilt day

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def run_days(run: dg.DagsterRun | None) -> tuple[str, str] | None:
    """The first and last day a daily_job run built: its partition, or its range (a backfill run)."""
    if run is None or run.job_name != daily_job.name:
        return None
    if run.tags.get("dagster/partition"):
        return run.tags["dagster/partition"], run.tags["dagster/partition"]
    if run.tags.get(RANGE_START) and run.tags.get(RANGE_END):
        return run.tags[RANGE_START], run.tags[RANGE_END]
    return None


def months_of(first: str, last: str) -> set[str]:
    months, year, month = set(), int(first[:4]), int(first[5:7])
    while f"{year:04d}-{month:02d}" <= last[:7]:
        months.add(f"{year:04d}-{month:02d}-01")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@dg.sensor(name="rebuild_after_daily_sensor", jobs=[daily_reports_job, monthly_job], minimum_interval_seconds=30,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="After a successful daily_job run: the day's reports, then (once the month's days are "
                       "done) the month's invoices, so corrections reach reports and invoice versions.")
def rebuild_after_daily_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    instance = context.instance
    if context.cursor:
        state = json.loads(context.cursor)
    else:  # switched on: what finished before is not replayed
        latest = instance.fetch_run_status_changes(dg.DagsterEventType.RUN_SUCCESS, limit=1).records
        state = {"after_id": latest[0].storage_id if latest else 0, "months": []}
    changes = instance.fetch_run_status_changes(
        dg.RunStatusChangeRecordsFilter(event_type=dg.DagsterEventType.RUN_SUCCESS, after_storage_id=state["after_id"],
                                        job_names=[daily_job.name]), limit=200, ascending=True)
    requests, months, after_id = [], set(state["months"]), state["after_id"]
    for record in changes.records:
        after_id = max(after_id, record.storage_id)
        run = instance.get_run_by_id(record.run_id)
        # (the storage may ignore the job filter: the job is checked here too)
        days = run_days(run)
        if not days:
            continue
        first, last = days
        trigger = {"flexpower/trigger": f"rebuilt/{run.run_id}"}
        if first == last:
            requests.append(dg.RunRequest(run_key=f"reports:{first}:{run.run_id}", job_name=daily_reports_job.name,
                                          partition_key=first, tags=trigger))
        else:  # a range run's reports are one run over the same range
            requests.append(dg.RunRequest(run_key=f"reports:{first}..{last}:{run.run_id}",
                                          job_name=daily_reports_job.name,
                                          tags={**trigger, RANGE_START: first, RANGE_END: last}))
        months |= months_of(first, last)
    busy = set()
    for in_flight in instance.get_runs(filters=dg.RunsFilter(job_name=daily_job.name, statuses=IN_FLIGHT), limit=500):
        days = run_days(in_flight)
        busy |= months_of(*days) if days else set()
    for month in sorted(months - busy):
        requests.append(dg.RunRequest(run_key=f"monthly:{month}:{after_id}", job_name=monthly_job.name,
                                      partition_key=month, tags={"flexpower/trigger": "rebuilt days"}))
    cursor = json.dumps({"after_id": after_id, "months": sorted(months & busy)})
    if not requests:
        return dg.SensorResult(skip_reason="no daily run finished", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


# ---------------------------------------------------------------- late data

@dg.sensor(name="late_data_sensor", minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Arrival windows of FORMATS.md (CRM weekly, technical data daily, DSO finals the day "
                       "after): records the *_on_time checks of landing_files and alerts once per late delivery.")
def late_data_sensor(context: dg.SensorEvaluationContext, landing: LandingZone, warehouse: WarehouseResource,
                     notifier: Notifier) -> dg.SensorResult:
    alerted = set(json.loads(context.cursor)) if context.cursor else set()
    try:
        verdicts = arrivals(_sensor_warehouse(warehouse), landing.clock())
    except WarehouseBusy as busy:
        return dg.SensorResult(skip_reason=f"warehouse busy ({busy})", cursor=context.cursor)
    events = [arrival_evaluation(verdict) for verdict in verdicts]
    for verdict in verdicts:
        if verdict.late and verdict.slot not in alerted:
            notifier.notify(f"Late data: {verdict.source}", f"{verdict.due} had not arrived by "
                            f"{verdict.deadline:%Y-%m-%d %H:%M} UTC ({verdict.newest}).", "warning",
                            {"check": f"landing_files:{verdict.check_name}"})
            alerted.add(verdict.slot)
    current = {verdict.slot for verdict in verdicts}
    return dg.SensorResult(asset_events=events, cursor=json.dumps(sorted(alerted & current)))


def arrival_evaluation(verdict) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=LANDING_FILES_KEY, check_name=verdict.check_name, passed=not verdict.late,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{verdict.due}: {'late' if verdict.late else 'arrived'} ({verdict.newest})",
        metadata={"due": verdict.due, "deadline_utc": verdict.deadline.isoformat(), "newest": verdict.newest})


# ---------------------------------------------------------------- failed runs

def failed_blocking_checks(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """``asset:check (partition)`` of every failed error-severity check of a run."""
    failed = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            where = f" ({evaluation.partition})" if getattr(evaluation, "partition", None) else ""
            failed.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}{where}")
    return failed


@dg.run_failure_sensor(name="run_failure_alert_sensor", default_status=dg.DefaultSensorStatus.STOPPED,
                       monitor_all_code_locations=False,
                       description="Alerts on every failed run, naming the blocking checks that failed.")
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, notifier: Notifier) -> None:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition", "")
    checks = failed_blocking_checks(context.instance, run.run_id)
    subject = (f"Blocking check failed: {', '.join(checks)}" if checks
               else f"Run failed: {run.job_name} {partition}".strip())
    message = context.failure_event.message or "the run failed"
    notifier.notify(subject, message, "error", {"job": run.job_name, "partition": partition or "none",
                                                "run_id": run.run_id})
