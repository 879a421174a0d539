"""One idempotent solve per asset and scenario, whatever the asset type.

``build_solve_inputs`` turns an asset's technical data, its input frames and the day's price
scenarios into one ``SolveInput`` per scenario the client asks for (or a single one for a type
that does not use price scenarios). ``solve_scenario`` runs the type's solver and never raises:
an exception becomes status ``error`` with its message. A result already known for the same
input hash (``known``) is returned as it is: same hash, same result and the same record.

Fault injection (tests and benchmarks only; ``faults`` in the configuration) picks, from its seed
and the input hash, a share of solves that raise, hang or come back infeasible. Its settings enter
the input hash when it is switched on, so a faulty run never shares a record with a clean one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import polars as pl

from flexpower_assets.bidding.asset_types import AssetType
from flexpower_assets.bidding.config import FaultInjection
from flexpower_assets.bidding.model import (
    DETERMINISTIC_SCENARIO,
    ERROR,
    INFEASIBLE,
    TIMEOUT,
    AssetTechnicalData,
    DayContext,
    SolveInput,
    SolveResult,
)


class InjectedFault(RuntimeError):
    """The exception an injected ``raise`` fault raises inside a solve."""


def scenario_ids(scenarios: pl.DataFrame, count: int) -> list[int]:
    """The first ``count`` scenario ids of the day's scenario frame (sorted)."""
    return sorted(scenarios["scenario_id"].unique().to_list())[:count]


def build_solve_inputs(kind: AssetType, technical: AssetTechnicalData, frames: Mapping[str, pl.DataFrame],
                       day: DayContext, scenarios: pl.DataFrame | None,
                       ids: Sequence[int] | None = None) -> list[SolveInput]:
    """The solves of one asset for the day: one per scenario id (``ids``, default the client's
    first ``scenarios``), or a single one for a type that does not use price scenarios.

    ``scenarios`` has ``scenario_id``, ``delivery_start``, ``price_eur_per_mwh`` (the applicable
    scenario file of the day). Raises ``ValueError`` when an input is missing (the caller records
    the asset's solves as ``error`` with that message).
    """
    series, values = kind.prepare(technical, frames, day)
    settings = dict(kind.solve_settings(day.config, day.client))
    if day.config.faults.share > 0:
        settings["faults"] = day.config.faults.model_dump(mode="json")
    common = dict(asset_id=technical.asset_id, asset_type=kind.name, model_version=kind.model_version,
                  technical=technical, delivery_starts=day.delivery_starts, series=series, values=values,
                  settings=settings)
    if not kind.uses_price_scenarios:
        return [SolveInput(scenario_id=DETERMINISTIC_SCENARIO, prices_eur_per_mwh=(), **common)]
    if scenarios is None or scenarios.is_empty():
        raise ValueError(f"{technical.asset_id}: no price scenarios for {day.delivery_day}")
    ids = list(ids) if ids is not None else scenario_ids(scenarios, day.client.scenarios)
    return [SolveInput(scenario_id=scenario_id, prices_eur_per_mwh=prices, **common)
            for scenario_id, prices in _scenario_prices(scenarios, ids, day.delivery_starts, technical.asset_id)]


def _scenario_prices(scenarios: pl.DataFrame, ids: Sequence[int], delivery_starts: Sequence,
                     asset_id: str) -> list[tuple[int, tuple[float, ...]]]:
    """Each scenario's price per MTU of the day, in the order of ``ids`` (one join for all of
    them). ``ValueError`` for the first scenario, in that order, that is missing or lacks an MTU."""
    grid = pl.DataFrame({"delivery_start": list(delivery_starts)}, schema={"delivery_start": pl.Datetime("us", "UTC")})
    wanted = pl.DataFrame({"scenario_id": list(ids)}, schema={"scenario_id": scenarios.schema["scenario_id"]})
    found = set(scenarios.filter(pl.col("scenario_id").is_in(list(ids)))["scenario_id"].unique().to_list())
    prices = (wanted.with_row_index("_order").join(grid.with_row_index("_mtu"), how="cross")
              .join(scenarios.select("scenario_id", "delivery_start", "price_eur_per_mwh"),
                    on=["scenario_id", "delivery_start"], how="left")
              .sort("_order", "_mtu"))
    gaps = prices.filter(pl.col("price_eur_per_mwh").is_null())
    for scenario_id in ids:
        if scenario_id not in found:
            raise ValueError(f"{asset_id}: price scenario {scenario_id} is not in the scenario file")
        first_gap = gaps.filter(pl.col("scenario_id") == scenario_id)
        if first_gap.height:
            raise ValueError(f"price scenario {scenario_id} has no price for "
                             f"{first_gap['delivery_start'][0]:%Y-%m-%d %H:%M} UTC")
    values = prices["price_eur_per_mwh"].to_list()
    n = len(delivery_starts)
    return [(scenario_id, tuple(values[k * n:(k + 1) * n])) for k, scenario_id in enumerate(ids)]


def mean_price_input(inputs: Sequence[SolveInput]) -> SolveInput:
    """The deterministic solve at the mean scenario price per MTU (the second fallback)."""
    first = inputs[0]
    if not first.prices_eur_per_mwh:
        return first
    n = len(inputs)
    mean = tuple(sum(i.prices_eur_per_mwh[t] for i in inputs) / n for t in range(first.n_mtu))
    return replace(first, scenario_id=DETERMINISTIC_SCENARIO, prices_eur_per_mwh=mean)


def chunks(ids: Sequence[int], chunk_size: int) -> list[list[int]]:
    """Scenario ids in chunks of ``chunk_size`` (the solves of one task)."""
    return [list(ids[i:i + chunk_size]) for i in range(0, len(ids), chunk_size)]


def fault_for(input_hash: str, faults: FaultInjection) -> str | None:
    """The injected fault of a solve (``raise``, ``hang``, ``infeasible``) or None: a seeded draw
    from the input hash, so the same solve always gets the same fault."""
    if faults.share <= 0:
        return None
    digest = hashlib.sha256(f"{faults.seed}:{input_hash}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    if draw >= faults.share:
        return None
    return faults.kinds[int.from_bytes(digest[8:12], "big") % len(faults.kinds)]


def solve_scenario(kind: AssetType, solve_input: SolveInput, faults: FaultInjection | None = None,
                   known: Mapping[str, SolveResult] | None = None,
                   solver: Callable[[SolveInput], SolveResult] | None = None) -> SolveResult:
    """The result of one solve: a known one for the same hash, else the type's solver's
    (``solver``: a worker's ``kind.solver()``, which gives the same result as ``kind.solve``).

    Never raises: an exception in the solver (or an injected ``raise``) is status ``error``; an
    injected ``hang`` sleeps ``faults.hang_seconds`` (the orchestration's worker deadline kills it
    first) and then reports ``timeout``.
    """
    input_hash = solve_input.input_hash
    if known is not None and input_hash in known:
        return known[input_hash]
    began = time.perf_counter()
    fault = fault_for(input_hash, faults) if faults is not None else None
    try:
        if fault == "raise":
            raise InjectedFault("injected fault: the solver raised")
        if fault == "hang":
            time.sleep(faults.hang_seconds)
            return SolveResult(input_hash, TIMEOUT, None, time.perf_counter() - began, 0,
                               f"injected fault: hung for {faults.hang_seconds} s")
        if fault == "infeasible":
            return SolveResult(input_hash, INFEASIBLE, None, time.perf_counter() - began, 0,
                               "injected fault: infeasible")
        result = (solver or kind.solve)(solve_input)
    except Exception as error:  # a failing solve must not stop the others
        return SolveResult(input_hash, ERROR, None, time.perf_counter() - began, 0,
                           f"{type(error).__name__}: {error}")
    if result.input_hash != input_hash:
        result = replace(result, input_hash=input_hash)
    return result


def failed_result(solve_input: SolveInput, status: str, message: str, seconds: float = 0.0) -> SolveResult:
    """The record of a solve that did not come back (worker killed, deadline passed, bad input)."""
    return SolveResult(solve_input.input_hash, status, None, seconds, 0, message)
