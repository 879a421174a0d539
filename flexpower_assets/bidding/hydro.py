"""Reservoir hydro plants: technical data, the starting content, and the per-scenario LP.

For one price scenario s and the MTUs t = 1..T of a delivery day (BIDDING.md, "Solving"):

    maximise   sum_t p_s,t * (g_t - u_t) * h  +  water_value * c_T
    subject to c_t = c_{t-1} + inflow_t + h * (eta * u_t - g_t) - w_t
               reservoir_min <= c_t <= reservoir_max
               |(g_t - u_t) - (g_{t-1} - u_{t-1})| <= ramp          (t >= 2)
               0 <= g_t <= turbine_max, 0 <= u_t <= pump_max, w_t >= 0

with h = the MTU length in hours (0.25), g turbine, u pump, w spill, c content (MWh). It is
solved with HiGHS (``highspy``) under the solver's own time limit. The net sell volume of MTU t
is g_t - u_t (MW, buy negative). A worker solving many scenarios of a plant uses one
``ReservoirSolver``, which builds the plant's LP once and changes only the prices.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta

import highspy
import numpy as np
import polars as pl
from pydantic import Field, model_validator

from flexpower_assets.bidding.asset_types import AssetType
from flexpower_assets.bidding.model import (
    ERROR,
    INFEASIBLE,
    OPTIMAL,
    TIMEOUT,
    AssetTechnicalData,
    DayContext,
    SolveInput,
    SolveResult,
)

NAME = "reservoir_hydro"
MODEL_VERSION = "reservoir-lp-1"


class ReservoirPlant(AssetTechnicalData):
    """One plant of ``hydro/technical_data_*.json`` (contents in MWh of electrical energy)."""

    client_id: str = Field(min_length=1)
    reservoir_max_mwh: float = Field(gt=0)
    reservoir_min_mwh: float = Field(ge=0)
    turbine_max_mw: float = Field(ge=0)
    pump_max_mw: float = Field(0.0, ge=0, description="0 = no pump")
    pump_efficiency: float = Field(0.0, ge=0, le=1)
    ramp_mw_per_qh: float = Field(gt=0)
    water_value_eur_per_mwh: float = Field(ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> ReservoirPlant:
        if self.reservoir_min_mwh > self.reservoir_max_mwh:
            raise ValueError(f"reservoir_min_mwh {self.reservoir_min_mwh} exceeds reservoir_max_mwh "
                             f"{self.reservoir_max_mwh}")
        if self.pump_max_mw > 0 and self.pump_efficiency <= 0:
            raise ValueError("a plant with a pump needs a pump_efficiency above 0")
        return self

    @property
    def max_sell_mw(self) -> float:
        return self.turbine_max_mw

    @property
    def max_buy_mw(self) -> float:
        return self.pump_max_mw


def initial_content_mwh(levels: pl.DataFrame, inflows: pl.DataFrame, as_of: datetime,
                        day_start: datetime) -> float:
    """content_0: the latest level measured at or before ``as_of``, moved forward to ``day_start``.

    ``levels`` has ``measured_at`` and ``content_mwh`` (one plant), ``inflows`` ``delivery_start``
    and ``inflow_mwh`` per QH. Moving forward adds the forecast inflow of every QH between the
    measurement and the day start, pro rata for a QH the measurement falls inside (no turbine or
    pump use is assumed in between). Raises ``ValueError`` when no level was measured by
    ``as_of`` or the inflow forecast does not cover the gap.
    """
    known = levels.filter(pl.col("measured_at") <= as_of)
    if known.is_empty():
        raise ValueError(f"no reservoir level measured at or before {as_of:%Y-%m-%d %H:%M} UTC")
    latest = known.sort("measured_at").row(-1, named=True)
    measured_at, content = latest["measured_at"], float(latest["content_mwh"])
    if measured_at >= day_start:
        return content
    qh = timedelta(minutes=15)
    gap_start = measured_at - (measured_at - datetime.min.replace(tzinfo=measured_at.tzinfo)) % qh
    needed = pl.datetime_range(gap_start, day_start - qh, interval="15m", eager=True,
                               time_unit="us", time_zone="UTC").alias("delivery_start")
    covered = pl.DataFrame({"delivery_start": needed}).join(
        inflows.select("delivery_start", "inflow_mwh"), on="delivery_start", how="left")
    missing = covered.filter(pl.col("inflow_mwh").is_null())
    if missing.height:
        raise ValueError(f"the inflow forecast has no value for {missing['delivery_start'][0]:%Y-%m-%d %H:%M} "
                         f"UTC, between the level measured at {measured_at:%Y-%m-%d %H:%M} and the day start")
    # share of each QH that lies after the measurement
    seconds_after = (pl.col("delivery_start") + qh - pl.lit(measured_at)).dt.total_seconds()
    share = pl.min_horizontal(seconds_after / qh.total_seconds(), pl.lit(1.0))
    return content + float(covered.select((pl.col("inflow_mwh") * share).sum()).item())


def prepare_reservoir(plant: ReservoirPlant, frames: Mapping[str, pl.DataFrame], day: DayContext
                      ) -> tuple[dict[str, tuple[float, ...]], dict[str, float]]:
    """Inflow per MTU and content_0 of one plant from the ``inflow_forecast`` and
    ``reservoir_level`` frames (already the applicable file's rows: newest created by ``as_of``)."""
    inflows = frames["inflow_forecast"].filter(pl.col("asset_id") == plant.asset_id)
    levels = frames["reservoir_level"].filter(pl.col("asset_id") == plant.asset_id)
    grid = pl.DataFrame({"delivery_start": list(day.delivery_starts)},
                        schema={"delivery_start": pl.Datetime("us", "UTC")})
    joined = grid.join(inflows.select("delivery_start", "inflow_mwh"), on="delivery_start", how="left")
    missing = joined.filter(pl.col("inflow_mwh").is_null())
    if missing.height:
        raise ValueError(f"{plant.asset_id}: the inflow forecast has no value for "
                         f"{missing['delivery_start'][0]:%Y-%m-%d %H:%M} UTC")
    content_0 = initial_content_mwh(levels, inflows, day.as_of, day.day_start)
    return {"inflow_mwh": tuple(float(v) for v in joined["inflow_mwh"])}, {"content_0_mwh": content_0}


def quiet_highs():
    """A HiGHS instance that prints nothing, not even its banner.

    ``highspy.Highs()`` calls a HiGHS method in its constructor (to set up callbacks), which
    prints the version banner before ``output_flag`` can be switched off; the bare binding it
    wraps does not. Neither needs the wrapper's callbacks here.
    """
    solver = highspy.highs._Highs() if hasattr(highspy, "highs") and hasattr(highspy.highs, "_Highs") \
        else highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("log_to_console", False)
    solver.setOptionValue("threads", 1)
    return solver


def _reservoir_lp(solve_input: SolveInput) -> highspy.HighsLp:
    """The LP of the module docstring for one plant and day, at the input's prices."""
    plant: ReservoirPlant = solve_input.technical  # type: ignore[assignment]
    n = solve_input.n_mtu
    h = float(solve_input.settings.get("mtu_minutes", 15)) / 60.0
    inflow = np.asarray(solve_input.series["inflow_mwh"], dtype=float)
    content_0 = float(solve_input.values["content_0_mwh"])
    eta = plant.pump_efficiency

    # columns: g (0..n-1), u (n..2n-1), w (2n..3n-1), c (3n..4n-1)
    g, u, w, c = (np.arange(n) + k * n for k in range(4))
    inf = highspy.kHighsInf
    cost = np.concatenate([_energy_cost(solve_input), np.zeros(2 * n)])
    cost[c[-1]] = plant.water_value_eur_per_mwh
    lower = np.zeros(4 * n)
    lower[c] = plant.reservoir_min_mwh
    upper = np.concatenate([np.full(n, plant.turbine_max_mw), np.full(n, plant.pump_max_mw),
                            np.full(n, inf), np.full(n, plant.reservoir_max_mwh)])

    rows: list[np.ndarray] = []
    values: list[np.ndarray] = []
    # balance: c_t - c_{t-1} + h*g_t - h*eta*u_t + w_t = inflow_t  (c_0 moves to the right-hand side)
    for t in range(n):
        cols = [c[t], g[t], u[t], w[t]] + ([c[t - 1]] if t else [])
        rows.append(np.array(cols))
        values.append(np.array([1.0, h, -h * eta, 1.0] + ([-1.0] if t else [])))
    balance_rhs = inflow.copy()
    balance_rhs[0] += content_0
    # ramp: -R <= (g_t - u_t) - (g_{t-1} - u_{t-1}) <= R
    for t in range(1, n):
        rows.append(np.array([g[t], u[t], g[t - 1], u[t - 1]]))
        values.append(np.array([1.0, -1.0, -1.0, 1.0]))
    ramp = plant.ramp_mw_per_qh * np.ones(n - 1)

    lp = highspy.HighsLp()
    lp.num_col_ = 4 * n
    lp.num_row_ = len(rows)
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = np.concatenate([balance_rhs, -ramp])
    lp.row_upper_ = np.concatenate([balance_rhs, ramp])
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int32)
    lp.a_matrix_.index_ = np.concatenate(rows).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate(values)
    return lp


def _energy_cost(solve_input: SolveInput) -> np.ndarray:
    """Objective coefficients of the turbine and pump columns: +p*h for g_t, -p*h for u_t."""
    h = float(solve_input.settings.get("mtu_minutes", 15)) / 60.0
    prices = np.asarray(solve_input.prices_eur_per_mwh, dtype=float)
    return np.concatenate([prices * h, -prices * h])


def _structure(solve_input: SolveInput) -> tuple:
    """Everything of a solve but its prices: two solves with the same structure differ only in
    the objective coefficients of the turbine and pump columns."""
    return (solve_input.technical, solve_input.n_mtu, solve_input.series, solve_input.values,
            solve_input.settings)


class ReservoirSolver:
    """Solves reservoir LPs one after the other, building a plant's LP once.

    The scenarios of one plant and day differ only in their prices, so the LP of the last solve
    is kept and the next solve with the same structure only changes the turbine and pump costs.
    Before every run the solver's state (basis, solution) is cleared: each solve starts from
    scratch exactly as on a freshly built LP, so the result (schedule, objective, iteration count)
    does not depend on which solves ran before it in the same process. Keeping the basis would
    be about three times faster again, but on a degenerate LP it can end on another optimal
    vertex (measured: 1 of 200 scenarios) and the same input would no longer give the same result.
    """

    def __init__(self) -> None:
        self._solver = None
        self._structure: tuple | None = None
        self._time_limit: float | None = None

    def __call__(self, solve_input: SolveInput) -> SolveResult:
        began = time.perf_counter()
        structure = _structure(solve_input)
        if self._solver is None or self._structure != structure:
            self._structure = None  # a build that fails half-way is not reused
            self._solver = quiet_highs()
            self._solver.passModel(_reservoir_lp(solve_input))
            self._structure = structure
        else:
            n = 2 * solve_input.n_mtu
            self._solver.changeColsCost(n, np.arange(n, dtype=np.int32), _energy_cost(solve_input))
            self._solver.clearSolver()
        time_limit = float(solve_input.settings.get("time_limit_s", 10.0))
        if time_limit != self._time_limit:
            self._solver.setOptionValue("time_limit", time_limit)
            self._time_limit = time_limit
        return _run(self._solver, solve_input, began)


def _run(solver, solve_input: SolveInput, began: float) -> SolveResult:
    solver.run()
    model_status = solver.getModelStatus()
    info = solver.getInfo()
    iterations = int(info.simplex_iteration_count) + max(int(info.ipm_iteration_count), 0)
    message = solver.modelStatusToString(model_status)
    seconds = time.perf_counter() - began
    status = _status(model_status)
    if status != OPTIMAL:
        return SolveResult(solve_input.input_hash, status, None, seconds, iterations, message)
    n = solve_input.n_mtu
    x = np.asarray(solver.getSolution().col_value)
    g, u, w, c = (x[k * n:(k + 1) * n] for k in range(4))
    schedule = {"turbine_mw": _rounded(g), "pump_mw": _rounded(u), "spill_mwh": _rounded(w),
                "content_mwh": _rounded(c)}
    return SolveResult(solve_input.input_hash, OPTIMAL, float(info.objective_function_value), seconds,
                       iterations, message, volumes_mw=_rounded(g - u), schedule=schedule)


def solve_reservoir(solve_input: SolveInput) -> SolveResult:
    """The reservoir LP of one scenario with HiGHS (see the module docstring), built afresh."""
    return ReservoirSolver()(solve_input)


def _status(model_status) -> str:
    statuses = highspy.HighsModelStatus
    if model_status == statuses.kOptimal:
        return OPTIMAL
    if model_status in (statuses.kInfeasible, statuses.kUnboundedOrInfeasible):
        return INFEASIBLE
    if model_status == statuses.kTimeLimit:
        return TIMEOUT
    return ERROR


def _rounded(values: np.ndarray) -> tuple[float, ...]:
    # solver noise (1e-12) must not change a hash or a curve point
    return tuple(float(v) for v in np.round(values, 9) + 0.0)


ASSET_TYPE = AssetType(
    name=NAME,
    technical_model=ReservoirPlant,
    solve=solve_reservoir,
    model_version=MODEL_VERSION,
    prepare=prepare_reservoir,
    new_solver=ReservoirSolver,
    input_kinds=("inflow_forecast", "reservoir_level"),
    description="reservoir plant (optionally with a pump), one LP per price scenario",
)
