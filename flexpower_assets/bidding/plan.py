"""A bid run's plan and its records: the task list, the solve records, the incident (no Dagster).

``plan_day`` turns the configuration (read at run time) and the day's inputs into the task list
(client, asset, chunk of scenario solves); its length follows the configuration only. An asset
whose inputs are missing or bad gets no task and carries the reason (its coverage will be 0).
``solver_run_rows`` gives the ``solver_run`` records of a stage; ``incident_record`` the context
kept when every asset of a client failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from flexpower_assets.bidding.asset_types import asset_type
from flexpower_assets.bidding.config import BiddingConfig, FaultInjection
from flexpower_assets.bidding.inputs import DayInputs
from flexpower_assets.bidding.model import AssetTechnicalData, SolveInput, SolveResult, day_context
from flexpower_assets.bidding.solve import build_solve_inputs, chunks, mean_price_input


class NoTechnicalData(AssetTechnicalData):
    """Stands in for an asset whose technical data is missing: capacity 0, so its curve is 0 MW."""

    @property
    def max_sell_mw(self) -> float:
        return 0.0


@dataclass(frozen=True)
class SolveTask:
    client_id: str
    asset_id: str
    asset_type: str
    chunk: int
    inputs: tuple[SolveInput, ...]
    known: tuple[SolveResult, ...] = ()     # recorded results among the inputs (not solved again)
    # what a solve step needs besides its inputs, so that it loads nothing else: the time a worker
    # may take for one solve, the solve stage's end (a time.time() instant) and the fault injection
    per_solve_s: float = 0.0
    deadline: float = 0.0
    faults: FaultInjection | None = None

    @property
    def key(self) -> str:
        """A mapping key Dagster accepts (letters, digits, underscores)."""
        clean = "".join(ch if ch.isalnum() else "_" for ch in f"{self.asset_id}_{self.chunk}")
        return f"t{clean}"


@dataclass
class AssetPlan:
    client_id: str
    asset_id: str
    asset_type: str
    expected: int                                    # solves the client asked for
    technical: AssetTechnicalData | None = None
    error: str | None = None                        # why the asset has no solves
    input_hashes: list[str] = field(default_factory=list)
    deterministic: SolveInput | None = None         # the mean-price solve of the fallback chain


@dataclass
class DayPlan:
    delivery_day: date
    config: BiddingConfig
    config_hash: str
    now: datetime
    as_of: datetime
    scenario_file: str | None
    assets: dict[str, AssetPlan]
    tasks: list[SolveTask]
    solve_deadline: float                           # time.time() instant of the solve stage's end


def plan_day(config: BiddingConfig, config_hash: str, inputs: DayInputs, delivery_day: date, now: datetime,
             solve_deadline: float, client_ids: Sequence[str] | None = None) -> DayPlan:
    assets: dict[str, AssetPlan] = {}
    tasks: list[SolveTask] = []
    as_of = now
    for client in config.clients:
        if client_ids and client.id not in client_ids:
            continue
        day = day_context(config, client, delivery_day, now)
        as_of = day.as_of
        for asset_id, type_name in client.asset_types().items():
            kind = asset_type(type_name)
            expected = client.scenarios if kind.uses_price_scenarios else 1
            entry = AssetPlan(client.id, asset_id, type_name, expected)
            assets[asset_id] = entry
            try:
                technical = _technical(kind, inputs.technical.get(type_name), asset_id)
                entry.technical = technical
                solve_inputs = build_solve_inputs(kind, technical, inputs.frames, day, inputs.scenarios)
            except (ValueError, KeyError) as error:
                entry.error = str(error)
                continue
            if kind.uses_price_scenarios and len(solve_inputs) < client.scenarios:
                entry.error = (f"{asset_id}: the scenario file has {len(solve_inputs)} scenarios, "
                               f"the client asks for {client.scenarios}")
            entry.input_hashes = [s.input_hash for s in solve_inputs]
            if kind.uses_price_scenarios and solve_inputs:
                entry.deterministic = mean_price_input(solve_inputs)
            for n, positions in enumerate(chunks(list(range(len(solve_inputs))), client.chunk_size)):
                tasks.append(SolveTask(client.id, asset_id, type_name, n, tuple(solve_inputs[i] for i in positions)))
    return DayPlan(delivery_day, config, config_hash, now, as_of, inputs.scenario_file(), assets, tasks,
                   solve_deadline)


def _technical(kind, rows: pl.DataFrame | None, asset_id: str) -> AssetTechnicalData:
    if rows is None or rows.is_empty() or "asset_id" not in rows.columns:
        raise ValueError(f"{asset_id}: no technical data of type {kind.name} known before gate closure")
    mine = rows.filter(pl.col("asset_id") == asset_id)
    if mine.is_empty():
        raise ValueError(f"{asset_id}: not in the applicable technical data of type {kind.name}")
    fields = set(kind.technical_model.model_fields)
    record = {k: v for k, v in mine.row(0, named=True).items() if k in fields}
    return kind.technical_model.model_validate(record)


def results_by_asset(plan: DayPlan, chunk_results: Sequence[tuple[SolveTask, Sequence[SolveResult]]]
                     ) -> dict[str, list[tuple[SolveInput, SolveResult]]]:
    out: dict[str, list[tuple[SolveInput, SolveResult]]] = {asset_id: [] for asset_id in plan.assets}
    for task, results in chunk_results:
        out[task.asset_id].extend(zip(task.inputs, results))
    for pairs in out.values():
        pairs.sort(key=lambda pair: pair[0].scenario_id)
    return out


SOLVER_RUN_SCHEMA = {
    "delivery_day": pl.Date, "client_id": pl.String, "asset_id": pl.String, "scenario_id": pl.Int64,
    "input_hash": pl.String, "status": pl.String, "objective_eur": pl.Float64, "solve_seconds": pl.Float64,
    "message": pl.String, "iterations": pl.Int64, "asset_type": pl.String, "config_hash": pl.String,
    "volumes_mw": pl.List(pl.Float64),
}


def solver_run_rows(plan: DayPlan, solves: Mapping[str, Sequence[tuple[SolveInput, SolveResult]]]) -> pl.DataFrame:
    """The ``solver_run`` records of a stage (built column by column: 10,000 solves at full size)."""
    columns: dict[str, list] = {name: [] for name in SOLVER_RUN_SCHEMA}
    for asset_id, pairs in solves.items():
        entry = plan.assets[asset_id]
        n = len(pairs)
        columns["delivery_day"] += [plan.delivery_day] * n
        columns["client_id"] += [entry.client_id] * n
        columns["asset_id"] += [asset_id] * n
        columns["asset_type"] += [entry.asset_type] * n
        columns["config_hash"] += [plan.config_hash] * n
        for solve_input, result in pairs:
            columns["scenario_id"].append(solve_input.scenario_id)
            columns["input_hash"].append(solve_input.input_hash)
            columns["status"].append(result.status)
            columns["objective_eur"].append(result.objective_eur)
            columns["solve_seconds"].append(float(result.solve_seconds))
            columns["message"].append(result.message)
            columns["iterations"].append(int(result.iterations))
            columns["volumes_mw"].append(list(result.volumes_mw))
    return pl.DataFrame(columns, schema=SOLVER_RUN_SCHEMA)


def result_from_row(row: Mapping[str, Any]) -> SolveResult:
    return SolveResult(row["input_hash"], row["status"], row["objective_eur"], row["solve_seconds"],
                       row["iterations"], row["message"] or "", tuple(row["volumes_mw"] or ()))


def incident_record(plan: DayPlan, client_id: str, solves: Mapping[str, Sequence[tuple[SolveInput, SolveResult]]],
                    run_id: str) -> dict[str, Any]:
    """What an operator needs to reproduce a client's failed day: config hash, inputs, every solve."""
    assets = []
    for asset_id, entry in plan.assets.items():
        if entry.client_id != client_id:
            continue
        assets.append({
            "asset_id": asset_id, "asset_type": entry.asset_type, "expected_solves": entry.expected,
            "planning_error": entry.error, "input_hashes": entry.input_hashes,
            "solves": [{"scenario_id": i.scenario_id, "input_hash": i.input_hash, "status": r.status,
                        "message": r.message, "solve_seconds": r.solve_seconds}
                       for i, r in solves.get(asset_id, [])],
        })
    return {"delivery_day": plan.delivery_day.isoformat(), "client_id": client_id, "run_id": run_id,
            "config_hash": plan.config_hash, "now": plan.now.isoformat(), "as_of": plan.as_of.isoformat(),
            "scenario_file_created_at": plan.scenario_file, "assets": assets}
