"""Backtest of the hydro clients' scenario curves (BIDDING.md, "Backtest": scenario curves (hydro)).

For a past delivery day D and a reservoir plant:

1. **The bid** (``replay_client_curves``): the curves the bid pipeline would have produced from
   what was known at D's gate closure, replayed with the pipeline's own domain functions (no
   Dagster): ``bidding.solve.build_solve_inputs`` / ``solve_scenario`` per price scenario, the
   type's bid points, ``bidding.aggregation.aggregate_asset`` (monotone, policy, fallback) and the
   client's price grid (``client_price_grid`` / ``curve_on_grid``), exactly as ``asset_bid_curve``.
2. **Clearing** at the realised auction price (``bidding.clearing.clear``): the accepted schedule
   a_t (MW, sell positive, buy negative) and the day-ahead revenue P_t x a_t x 0.25.
3. **Re-dispatch** (``redispatch_reservoir``): the feasible schedule closest to a_t given the
   realised inflow: the reservoir LP's constraints (balance, content bounds, ramp, turbine and pump
   limits) with the objective ``min sum_t |(g_t - u_t) - a_t|`` (HiGHS). Ties are broken in two
   more lexicographic stages: the plant follows the schedule as long as it can (a deviation is
   taken as late as possible: minimise ``sum_t (T - t) x |dev_t|`` at the minimal total), then it
   keeps the most water (maximise the end content: no needless spill).
4. **Imbalance** = re-dispatched - accepted energy per MTU, priced by ``domain.imbalance.asset_imbalance``
   (DOMAIN.md's reBAP rules: short price when short, long when long, 0 for 0, null without a price).
5. **Net** = revenue - imbalance cost + end water value, where the end water value is
   ``water_value x (content_T - content_0)``: the value of the water the day added to (or took from)
   the reservoir, so that a plant's stock is not counted as the day's income (both strategies start
   from the same content_0, so the choice changes no difference between them).
6. **Perfect foresight** = the reservoir LP (``bidding.hydro.solve_reservoir``) at the realised
   price and inflow: its schedule is sold and produced, so its imbalance is 0. Capture rate =
   net / perfect-foresight net (``domain.backtest.with_capture_rate``).

No Dagster import: polars, numpy and highspy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import highspy
import numpy as np
import polars as pl

from flexpower_assets.bidding import aggregation, clearing
from flexpower_assets.bidding.asset_types import asset_type
from flexpower_assets.bidding.config import BiddingConfig, ClientConfig
from flexpower_assets.bidding.hydro import (
    MODEL_VERSION,
    ReservoirPlant,
    initial_content_mwh,
    quiet_highs,
    solve_reservoir,
)
from flexpower_assets.bidding.hydro import NAME as HYDRO
from flexpower_assets.bidding.inputs import DayInputs
from flexpower_assets.bidding.model import OPTIMAL, SolveInput, day_context
from flexpower_assets.bidding.solve import build_solve_inputs, mean_price_input, solve_scenario
from flexpower_assets.domain import imbalance
from flexpower_assets.domain.backtest import with_capture_rate

SCENARIO_CURVES = "scenario_curves"
PERFECT = "perfect_foresight"
KEY = ["asset_id", "delivery_start"]
ZERO_MW = 1e-6  # a deviation below this is solver noise: the schedule was kept


@dataclass(frozen=True)
class ReplayedCurve:
    """One plant's bid of the day as the pipeline would have made it at gate closure."""

    client_id: str
    plant: ReservoirPlant
    curve_status: str
    coverage: float
    curve: pl.DataFrame          # delivery_start, point, price_eur_per_mwh, volume_mw (client grid)
    content_0_mwh: float         # the start content the bid assumed


@dataclass(frozen=True)
class Redispatch:
    net_mw: tuple[float, ...]
    content_mwh: tuple[float, ...]
    spill_mwh: tuple[float, ...]
    deviation_mw: tuple[float, ...]   # net - accepted per MTU (0 where kept)


# ---------------------------------------------------------------- 1. the bid at gate closure


def _plant(rows: pl.DataFrame | None, asset_id: str) -> ReservoirPlant:
    if rows is None or rows.is_empty() or "asset_id" not in rows.columns:
        raise ValueError(f"{asset_id}: no hydro technical data known before gate closure")
    mine = rows.filter(pl.col("asset_id") == asset_id)
    if mine.is_empty():
        raise ValueError(f"{asset_id}: not in the applicable hydro technical data")
    fields = set(ReservoirPlant.model_fields)
    return ReservoirPlant.model_validate({k: v for k, v in mine.row(0, named=True).items() if k in fields})


def replay_client_curves(config: BiddingConfig, client: ClientConfig, inputs: DayInputs, day: date
                         ) -> tuple[dict[str, ReplayedCurve], dict[str, str]]:
    """The reservoir plants' curves of one client for ``day`` from ``inputs`` (loaded as of the
    gate closure): ``(curves by asset, the reason per asset that has none)``."""
    kind = asset_type(HYDRO)
    ctx = day_context(config, client, day, inputs.as_of)
    starts = ctx.delivery_starts
    curves, plants, contents, errors = [], {}, {}, {}
    for asset_id, type_name in client.asset_types().items():
        if type_name != HYDRO:
            continue
        try:
            plant = _plant(inputs.technical.get(HYDRO), asset_id)
            solve_inputs = build_solve_inputs(kind, plant, inputs.frames, ctx, inputs.scenarios)
        except (ValueError, KeyError) as error:
            errors[asset_id] = str(error)
            continue
        solve = kind.solver()  # the plant's LP built once, only the prices change (the same results)
        pairs = [(i, solve_scenario(kind, i, solver=solve)) for i in solve_inputs]
        coverage = aggregation.coverage_of([r for _, r in pairs], client.scenarios)
        deterministic = None
        if coverage < config.policy.min_scenario_coverage and solve_inputs:
            mean = mean_price_input(solve_inputs)
            deterministic = (mean, solve_scenario(kind, mean, solver=solve))
        points = kind.bid_points(pairs, config) if pairs else pl.DataFrame(schema=aggregation.POINT_SCHEMA)
        curves.append(aggregation.aggregate_asset(client, plant, points, coverage, config, starts,
                                                  deterministic=deterministic))
        plants[asset_id] = plant
        contents[asset_id] = float(solve_inputs[0].values["content_0_mwh"])
    if not curves:
        return {}, errors
    grid = aggregation.client_price_grid(curves, config.market, starts)
    replayed = {}
    for curve in curves:
        plant = plants[curve.asset_id]
        replayed[curve.asset_id] = ReplayedCurve(client.id, plant, curve.status, curve.coverage,
                                                 aggregation.curve_on_grid(curve, grid, plant, config),
                                                 contents[curve.asset_id])
    return replayed, errors


# ---------------------------------------------------------------- 3. the re-dispatch LP


def redispatch_reservoir(plant: ReservoirPlant, accepted_mw: Sequence[float], inflow_mwh: Sequence[float],
                         content_0_mwh: float, mtu_hours: float = 0.25, time_limit_s: float = 10.0) -> Redispatch:
    """The feasible schedule closest to ``accepted_mw`` (see the module docstring, step 3).

    Columns g, u, w, c (as in ``bidding.hydro``) and d+, d- >= 0 with
    ``(g_t - u_t) - d+_t + d-_t = a_t``. Raises ``ValueError`` when no schedule is feasible
    (e.g. the content cannot stay above its minimum whatever the plant does).
    """
    n = len(accepted_mw)
    if len(inflow_mwh) != n:
        raise ValueError(f"{plant.asset_id}: {len(inflow_mwh)} inflow values for {n} MTUs")
    h, eta = float(mtu_hours), plant.pump_efficiency
    g, u, w, c, dp, dm = (np.arange(n) + k * n for k in range(6))
    inf = highspy.kHighsInf
    lower = np.zeros(6 * n)
    lower[c] = plant.reservoir_min_mwh
    upper = np.concatenate([np.full(n, plant.turbine_max_mw), np.full(n, plant.pump_max_mw), np.full(n, inf),
                            np.full(n, plant.reservoir_max_mwh), np.full(n, inf), np.full(n, inf)])
    rows: list[list[int]] = []
    values: list[list[float]] = []
    row_lower: list[float] = []
    row_upper: list[float] = []

    def add(cols, coefs, lo, hi):
        rows.append(list(cols))
        values.append(list(coefs))
        row_lower.append(lo)
        row_upper.append(hi)

    for t in range(n):  # balance: c_t - c_{t-1} + h g_t - h eta u_t + w_t = inflow_t (+ c_0 at t = 0)
        rhs = float(inflow_mwh[t]) + (content_0_mwh if t == 0 else 0.0)
        add([c[t], g[t], u[t], w[t]] + ([c[t - 1]] if t else []), [1.0, h, -h * eta, 1.0] + ([-1.0] if t else []),
            rhs, rhs)
    for t in range(1, n):  # ramp
        add([g[t], u[t], g[t - 1], u[t - 1]], [1.0, -1.0, -1.0, 1.0], -plant.ramp_mw_per_qh, plant.ramp_mw_per_qh)
    for t in range(n):  # deviation: g_t - u_t - d+_t + d-_t = a_t
        a = float(accepted_mw[t])
        add([g[t], u[t], dp[t], dm[t]], [1.0, -1.0, -1.0, 1.0], a, a)

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = 6 * n, len(rows)
    lp.col_cost_ = np.zeros(6 * n)
    lp.col_lower_, lp.col_upper_ = lower, upper
    lp.row_lower_, lp.row_upper_ = np.array(row_lower), np.array(row_upper)
    lp.sense_ = highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int32)
    lp.a_matrix_.index_ = np.concatenate(rows).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate(values).astype(float)
    solver = quiet_highs()
    solver.setOptionValue("time_limit", float(time_limit_s))
    solver.passModel(lp)

    deviation_cols = np.concatenate([dp, dm]).astype(np.int32)
    late_weights = np.tile(np.arange(n, 0, -1, dtype=float), 2)  # MTU t (0-based) weighs n - t
    stages = [
        (deviation_cols, np.ones(2 * n)),                    # 1: the least total |deviation|
        (deviation_cols, late_weights),                      # 2: ... taken as late as possible
        (np.array([c[-1]], dtype=np.int32), np.array([-1.0])),  # 3: ... keeping the most water
    ]
    for number, (cols, costs) in enumerate(stages, start=1):
        all_costs = np.zeros(6 * n)
        all_costs[cols] = costs
        solver.changeColsCost(6 * n, np.arange(6 * n, dtype=np.int32), all_costs)
        solver.run()
        if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise ValueError(f"{plant.asset_id}: no feasible re-dispatch ({solver.modelStatusToString(solver.getModelStatus())}"
                             f" in stage {number})")
        best = float(solver.getInfo().objective_function_value)
        if number < len(stages):  # keep this stage's optimum while the next one breaks its ties
            tolerance = 1e-7 * max(1.0, abs(best))
            solver.addRow(-inf, best + tolerance, len(cols), cols, costs)
    x = np.asarray(solver.getSolution().col_value)
    net = x[g] - x[u]
    deviation = np.where(np.abs(net - np.asarray(accepted_mw, dtype=float)) < ZERO_MW, 0.0,
                         np.round(net - np.asarray(accepted_mw, dtype=float), 9))
    return Redispatch(tuple(float(v) for v in np.asarray(accepted_mw, dtype=float) + deviation),
                      tuple(float(v) for v in np.round(x[c], 9)), tuple(float(v) for v in np.round(x[w], 9)),
                      tuple(float(v) for v in deviation))


# ---------------------------------------------------------------- 2., 4.-6. one plant and day


def _day_row(strategy: str, plant: ReservoirPlant, day: date, sold_mw: Sequence[float], produced_mw: Sequence[float],
             starts: Sequence[datetime], auction: pl.DataFrame, prices: pl.DataFrame, end_content_mwh: float,
             content_0_mwh: float, h: float) -> dict:
    frame = pl.DataFrame({"delivery_day": [day] * len(starts), "asset_id": [plant.asset_id] * len(starts),
                          "delivery_start": list(starts), "sold_mwh": [float(v) * h for v in sold_mw]},
                         schema_overrides={"delivery_start": pl.Datetime("us", "UTC")})
    # the produced energy is the sold energy plus the deviation, so a kept schedule is exactly 0 imbalance
    frame = frame.with_columns(energy_mwh=pl.col("sold_mwh") + pl.Series([(p - s) * h for p, s in zip(produced_mw, sold_mw)]),
                               is_redispatched=pl.lit(False))
    settled = imbalance.asset_imbalance(frame.select("delivery_day", *KEY, "energy_mwh", "is_redispatched"),
                                        frame.select(*KEY, tradeable_energy_mwh="sold_mwh"), prices)
    revenue = frame.join(auction.select("delivery_start", "price_eur_per_mwh"), on="delivery_start", how="left").select(
        (pl.col("sold_mwh") * pl.col("price_eur_per_mwh")).sum()).item()
    unpriced = int(settled["imbalance_cost_eur"].null_count())
    cost = None if unpriced else float(settled["imbalance_cost_eur"].sum())
    water = plant.water_value_eur_per_mwh * (end_content_mwh - content_0_mwh)
    return {"strategy": strategy, "asset_id": plant.asset_id, "delivery_day": day,
            "accepted_mwh": float(frame["sold_mwh"].sum()), "revenue_eur": float(revenue),
            "imbalance_mwh": float(settled["imbalance_mwh"].sum()), "imbalance_cost_eur": cost,
            "end_water_value_eur": water, "net_eur": None if cost is None else float(revenue) - cost + water,
            "n_qh_unpriced": unpriced}


def hydro_day(day: date, plant: ReservoirPlant, curve: pl.DataFrame, auction: pl.DataFrame,
              realised_inflow_mwh: Sequence[float], content_0_mwh: float, imbalance_prices: pl.DataFrame,
              delivery_starts: Sequence[datetime], mtu_hours: float = 0.25,
              settings: Mapping[str, float] | None = None) -> pl.DataFrame:
    """The two rows (``scenario_curves``, ``perfect_foresight``) of one plant and day.

    ``curve``: the bid (delivery_start, point, price_eur_per_mwh, volume_mw); ``auction``: the
    realised clearing price per MTU (delivery_start, price_eur_per_mwh); ``realised_inflow_mwh``
    and ``content_0_mwh``: the outcome's inflow per MTU and start content; ``imbalance_prices``: the
    day's reBAP as ``domain.imbalance.imbalance_prices`` returns them. Capture rates are added by
    ``domain.backtest.with_capture_rate``.
    """
    starts = list(delivery_starts)
    cleared = clearing.clear(curve, auction).sort("delivery_start")
    if cleared["delivery_start"].to_list() != starts:
        raise ValueError(f"{plant.asset_id}: the bid does not cover the MTUs of {day}")
    accepted = cleared["accepted_mw"].to_list()
    limit = float((settings or {}).get("time_limit_s", 10.0))
    moved = redispatch_reservoir(plant, accepted, realised_inflow_mwh, content_0_mwh, mtu_hours, limit)
    rows = [_day_row(SCENARIO_CURVES, plant, day, accepted, moved.net_mw, starts, auction, imbalance_prices,
                     moved.content_mwh[-1], content_0_mwh, mtu_hours)]
    prices = pl.DataFrame({"delivery_start": starts}, schema={"delivery_start": pl.Datetime("us", "UTC")}).join(
        auction.select("delivery_start", "price_eur_per_mwh"), on="delivery_start", how="left")["price_eur_per_mwh"]
    bound = solve_reservoir(SolveInput(plant.asset_id, HYDRO, MODEL_VERSION, plant, tuple(starts), 0,
                                       tuple(float(p) for p in prices), {"inflow_mwh": tuple(map(float, realised_inflow_mwh))},
                                       {"content_0_mwh": float(content_0_mwh)},
                                       {"time_limit_s": limit, "mtu_minutes": mtu_hours * 60}))
    if bound.status != OPTIMAL:
        raise ValueError(f"{plant.asset_id}: the perfect-foresight LP of {day} is {bound.status} ({bound.message})")
    rows.append(_day_row(PERFECT, plant, day, bound.volumes_mw, bound.volumes_mw, starts, auction, imbalance_prices,
                         bound.schedule["content_mwh"][-1], content_0_mwh, mtu_hours))
    return pl.DataFrame(rows, schema=HYDRO_ROW_SCHEMA)


HYDRO_ROW_SCHEMA = {"strategy": pl.String, "asset_id": pl.String, "delivery_day": pl.Date, "accepted_mwh": pl.Float64,
                    "revenue_eur": pl.Float64, "imbalance_mwh": pl.Float64, "imbalance_cost_eur": pl.Float64,
                    "end_water_value_eur": pl.Float64, "net_eur": pl.Float64, "n_qh_unpriced": pl.Int64}


def newest_inflow(inflow_rows: pl.DataFrame, asset_id: str) -> pl.DataFrame:
    """Per QH the newest inflow value of any file of the asset (``delivery_start, inflow_mwh``;
    the rows carry ``asset_id`` and ``file_created_at``): the inbound formats have no measured
    inflow, so the latest estimate stands in for the outcome."""
    schema = {"delivery_start": pl.Datetime("us", "UTC"), "inflow_mwh": pl.Float64}
    if inflow_rows.is_empty():
        return pl.DataFrame(schema=schema)
    mine = inflow_rows.filter(pl.col("asset_id") == asset_id)
    if mine.is_empty():
        return pl.DataFrame(schema=schema)
    return mine.sort("file_created_at").group_by("delivery_start").agg(pl.col("inflow_mwh").last()).sort("delivery_start")


def realised_inflow(inflow_rows: pl.DataFrame, asset_id: str, delivery_starts: Sequence[datetime]) -> tuple[float, ...]:
    """The stand-in for the realised inflow per MTU (``newest_inflow``); raises ``ValueError``
    naming the first MTU without a value."""
    grid = pl.DataFrame({"delivery_start": list(delivery_starts)}, schema={"delivery_start": pl.Datetime("us", "UTC")})
    joined = grid.join(newest_inflow(inflow_rows, asset_id), on="delivery_start", how="left")
    missing = joined.filter(pl.col("inflow_mwh").is_null())
    if missing.height:
        raise ValueError(f"{asset_id}: no inflow for {missing['delivery_start'][0]:%Y-%m-%d %H:%M} UTC")
    return tuple(float(v) for v in joined["inflow_mwh"])


def backtest_hydro_day(config: BiddingConfig, inputs: DayInputs, inflow_rows: pl.DataFrame, level_rows: pl.DataFrame,
                       auction: pl.DataFrame, imbalance_prices: pl.DataFrame, day: date
                       ) -> tuple[pl.DataFrame, list[dict]]:
    """Every reservoir plant of the configuration on ``day``: ``(rows of both strategies with their
    capture rate, the plants left out with the reason)``.

    ``inputs``: the day's bid inputs as of its gate closure (``bidding.inputs.load_day_inputs``);
    ``inflow_rows`` / ``level_rows``: every accepted inflow forecast and reservoir level row of the
    day and the day before, as known now (the outcome: ``newest_inflow``; the start content is the
    latest level measured by the day start, moved forward by that inflow).
    """
    starts = config.market.mtu_starts(day)
    h = config.market.mtu_minutes / 60.0
    parts, skipped = [], []
    settings = {"time_limit_s": float(config.stage_time_limits_s.solve_per_scenario)}
    for client in config.clients:
        if HYDRO not in client.asset_types().values():
            continue
        curves, errors = replay_client_curves(config, client, inputs, day)
        skipped += [{"delivery_day": day, "asset_id": a, "reason": f"no bid: {m}"} for a, m in errors.items()]
        for asset_id, replayed in curves.items():
            try:
                inflow = realised_inflow(inflow_rows, asset_id, starts)
                levels = level_rows.filter(pl.col("asset_id") == asset_id) if level_rows.height else level_rows
                content_0 = initial_content_mwh(levels, newest_inflow(inflow_rows, asset_id), starts[0], starts[0])
                parts.append(hydro_day(day, replayed.plant, replayed.curve, auction, inflow, content_0,
                                       imbalance_prices, starts, h, settings))
            except (ValueError, KeyError) as error:
                skipped.append({"delivery_day": day, "asset_id": asset_id, "reason": str(error)})
    if not parts:
        return pl.DataFrame(schema=HYDRO_ROW_SCHEMA), skipped
    return with_capture_rate(pl.concat(parts)), skipped
