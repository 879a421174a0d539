"""The per-scenario solves: reservoir LP (bound and ramp binding, pump), renewable quantile, content_0,
input hash and idempotency, fault injection. Every expected number is worked out in the test."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from flexpower_assets.bidding import hydro, renewable
from flexpower_assets.bidding.asset_types import asset_type
from flexpower_assets.bidding.config import FaultInjection, parse_bidding_config
from flexpower_assets.bidding.hydro import ReservoirPlant, initial_content_mwh
from flexpower_assets.bidding.model import DayContext, SolveInput
from flexpower_assets.bidding.renewable import RenewableAsset, quantile_mw
from flexpower_assets.bidding.solve import build_solve_inputs, fault_for, mean_price_input, solve_scenario

UTC = timezone.utc
T0 = datetime(2025, 10, 13, 22, 0, tzinfo=UTC)  # first MTU of delivery day 2025-10-14 (CEST)
STARTS = tuple(T0 + timedelta(minutes=15 * i) for i in range(4))
HYDRO = asset_type("reservoir_hydro")


def plant(**changes) -> ReservoirPlant:
    values = dict(asset_id="HYD-A", client_id="C", reservoir_max_mwh=10.0, reservoir_min_mwh=0.0,
                  turbine_max_mw=20.0, pump_max_mw=0.0, pump_efficiency=0.0, ramp_mw_per_qh=8.0,
                  water_value_eur_per_mwh=30.0)
    return ReservoirPlant(**{**values, **changes})


def reservoir_input(technical: ReservoirPlant, prices, content_0: float, inflow=(0.0,) * 4, **settings) -> SolveInput:
    return SolveInput("HYD-A", "reservoir_hydro", hydro.MODEL_VERSION, technical, STARTS, 1, tuple(prices),
                      {"inflow_mwh": tuple(inflow)}, {"content_0_mwh": content_0},
                      {"time_limit_s": 10.0, "mtu_minutes": 15, **settings})


def test_four_mtu_reservoir_with_binding_bound_and_binding_ramp():
    # prices 10, 50, 100, 100 EUR/MWh; water value 30; content_0 6 MWh, no inflow, min 0 MWh.
    # objective = sum p*0.25*g + 30*(6 - 0.25*sum g) = 180 + 0.25*sum (p - 30) g:
    # a MW of turbine is worth -5, +5, +17.5, +17.5 EUR in MTU 1..4. The 6 MWh allow sum g <= 24.
    # Ramp 8 MW/QH from g1 = 0: g2 <= 8, g3 <= g2 + 8, g4 <= g3 + 8. With g2 = 0, g3 + g4 <= 8 + 16 = 24,
    # exactly the budget, so g = (0, 0, 8, 16) is the unique optimum (a MW in g2 loses 17.5 - 5 = 12.5).
    # Binding: the reservoir minimum (c4 = 6 - 0.25*24 = 0) and the ramp (g3 - g2 = 8, g4 - g3 = 8).
    # objective = 100*0.25*8 + 100*0.25*16 + 30*0 = 200 + 400 = 600 EUR
    result = solve_scenario(HYDRO, reservoir_input(plant(), (10.0, 50.0, 100.0, 100.0), 6.0))
    assert result.status == "optimal"
    assert result.objective_eur == pytest.approx(600.0)
    assert result.volumes_mw == pytest.approx((0.0, 0.0, 8.0, 16.0), abs=1e-6)
    # contents: 6, 6, 6 - 0.25*8 = 4, 4 - 0.25*16 = 0
    assert result.schedule["content_mwh"] == pytest.approx((6.0, 6.0, 4.0, 0.0), abs=1e-6)
    assert result.iterations >= 1 and result.message == "Optimal"


def test_pump_case():
    # pump 10 MW at 80 %, turbine 10 MW, reservoir 0..4 MWh starting empty, water value 40, ramp 100 (slack).
    # Pumping 1 MW for a QH at 10 EUR/MWh costs 2.5 EUR and stores 0.8*0.25 = 0.2 MWh, which turbines
    # 0.8 MW-QH at 90..100 EUR/MWh (18..20 EUR): pump at full power in MTU 1 and 2 (c2 = 0.2*10*2 = 4 MWh,
    # the maximum), turbine 10 MW in MTU 3 (the dearer, uses 2.5 MWh), the remaining 1.5 MWh in MTU 4:
    # 1.5 / 0.25 = 6 MW. Net volumes -10, -10, 10, 6 MW.
    # objective = -10*0.25*10*2 + 100*0.25*10 + 90*0.25*6 + 40*0 = -50 + 250 + 135 = 335 EUR
    technical = plant(reservoir_max_mwh=4.0, turbine_max_mw=10.0, pump_max_mw=10.0, pump_efficiency=0.8,
                      ramp_mw_per_qh=100.0, water_value_eur_per_mwh=40.0)
    result = solve_scenario(HYDRO, reservoir_input(technical, (10.0, 10.0, 100.0, 90.0), 0.0))
    assert result.status == "optimal"
    assert result.objective_eur == pytest.approx(335.0)
    assert result.volumes_mw == pytest.approx((-10.0, -10.0, 10.0, 6.0), abs=1e-6)
    assert result.schedule["pump_mw"] == pytest.approx((10.0, 10.0, 0.0, 0.0), abs=1e-6)
    assert result.schedule["content_mwh"] == pytest.approx((2.0, 4.0, 1.5, 0.0), abs=1e-6)


def test_a_worker_solver_reuses_the_plant_lp_and_gives_every_input_its_own_result():
    # One ReservoirSolver solves the scenarios of a plant one after the other, changing only the prices.
    # Scenario A is the 4-MTU case above: g = (0, 0, 8, 16), objective 600 EUR.
    # Scenario B, prices 100, 10, 10, 10 (water value 30): a MW is worth +17.5 EUR in MTU 1 and -5 EUR after.
    # g1 = x forces g2 >= x - 8 and g3 >= x - 16 (ramp 8 MW/QH down as well as up); the 6 MWh allow
    # x + (x - 8) <= 24, so x <= 16, and x = 16 leaves g3 = 0 (3x - 24 <= 24 says the same past 16).
    # Gain 17.5*16 - 5*8 = 240 EUR; objective B = 180 + 240 = 420 EUR with g = (16, 8, 0, 0).
    # A again after B gives A's result exactly, and so does a fresh solve: no state leaks between inputs.
    solver = HYDRO.solver()
    a = reservoir_input(plant(), (10.0, 50.0, 100.0, 100.0), 6.0)
    b = reservoir_input(plant(), (100.0, 10.0, 10.0, 10.0), 6.0)
    first_a, then_b, again_a = (solve_scenario(HYDRO, i, solver=solver) for i in (a, b, a))
    assert first_a.objective_eur == pytest.approx(600.0)
    assert first_a.volumes_mw == pytest.approx((0.0, 0.0, 8.0, 16.0), abs=1e-6)
    assert then_b.objective_eur == pytest.approx(420.0)
    assert then_b.volumes_mw == pytest.approx((16.0, 8.0, 0.0, 0.0), abs=1e-6)
    fresh_b = solve_scenario(HYDRO, b)
    for reused, fresh in ((first_a, solve_scenario(HYDRO, a)), (again_a, first_a), (then_b, fresh_b)):
        assert (reused.status, reused.objective_eur, reused.volumes_mw, reused.iterations, reused.schedule) == (
            fresh.status, fresh.objective_eur, fresh.volumes_mw, fresh.iterations, fresh.schedule)
    # another plant through the same solver gets its own LP: with a 10 MW turbine g1 = 10, g2 >= 2 (ramp),
    # budget 12 <= 24; gain 17.5*10 - 5*2 = 165 EUR, objective 180 + 165 = 345 EUR
    small = solve_scenario(HYDRO, reservoir_input(plant(turbine_max_mw=10.0), (100.0, 10.0, 10.0, 10.0), 6.0),
                           solver=solver)
    assert small.objective_eur == pytest.approx(345.0)
    assert small.volumes_mw == pytest.approx((10.0, 2.0, 0.0, 0.0), abs=1e-6)


def test_infeasible_when_the_reservoir_starts_below_its_minimum_without_inflow():
    # content_0 1 MWh below a minimum of 2 MWh and no inflow: c1 >= 2 cannot hold
    result = solve_scenario(HYDRO, reservoir_input(plant(reservoir_min_mwh=2.0), (50.0,) * 4, 1.0))
    assert result.status == "infeasible"
    assert result.objective_eur is None and result.volumes_mw == ()


def test_spill_when_inflow_exceeds_the_reservoir():
    # full reservoir (10 MWh), inflow 8 MWh a QH, prices below the water value: the water cannot be
    # kept, so turbining beats spilling: 20 MW (5 MWh) every QH, 4*8 - 4*5 = 12 MWh spilled, and the
    # reservoir ends full; objective = 4 * 10*0.25*20 + 30*10 = 200 + 300 = 500 EUR
    technical = plant(ramp_mw_per_qh=100.0)
    result = solve_scenario(HYDRO, reservoir_input(technical, (10.0,) * 4, 10.0, inflow=(8.0,) * 4))
    assert result.objective_eur == pytest.approx(500.0)
    assert sum(result.schedule["spill_mwh"]) == pytest.approx(12.0)
    assert result.volumes_mw == pytest.approx((20.0,) * 4)


def test_content_0_is_the_latest_level_moved_forward_by_the_inflow():
    levels = pl.DataFrame({"measured_at": [datetime(2025, 10, 13, 9, 0, tzinfo=UTC),
                                           datetime(2025, 10, 13, 21, 37, 30, tzinfo=UTC),
                                           datetime(2025, 10, 13, 21, 50, tzinfo=UTC)],
                           "content_mwh": [4.0, 5.0, 9.0]})
    inflows = pl.DataFrame({"delivery_start": [datetime(2025, 10, 13, 21, 30, tzinfo=UTC),
                                               datetime(2025, 10, 13, 21, 45, tzinfo=UTC)],
                            "inflow_mwh": [0.6, 0.4]})
    # as of 21:40 the 21:50 level is unknown; the 21:37:30 level lies half-way into the 21:30 QH:
    # 5.0 + 0.5*0.6 + 0.4 = 5.7 MWh at 22:00
    assert initial_content_mwh(levels, inflows, datetime(2025, 10, 13, 21, 40, tzinfo=UTC), T0) == pytest.approx(5.7)
    # as of 10:00 only the 09:00 level is known, and the inflow forecast does not reach back to it
    with pytest.raises(ValueError, match="no value for 2025-10-13 09:00"):
        initial_content_mwh(levels, inflows, datetime(2025, 10, 13, 10, 0, tzinfo=UTC), T0)
    with pytest.raises(ValueError, match="no reservoir level measured"):
        initial_content_mwh(levels, inflows, datetime(2025, 10, 13, 8, 0, tzinfo=UTC), T0)


def forecast_frame() -> pl.DataFrame:
    rows = []
    for i, start in enumerate(STARTS[:2]):
        for level, kw in ((0.1, 400.0 + i), (0.5, 1234.0 + i), (0.9, 2434.0 + i)):
            rows.append((start, "WND-1", level, kw))
    return pl.DataFrame(rows, schema={"delivery_start": pl.Datetime("us", "UTC"), "asset_id": pl.String,
                                      "quantile_level": pl.Float64, "power_kw": pl.Float64}, orient="row")


def test_renewable_quantile_and_its_curve():
    frame = forecast_frame()
    # the median is a forecast level: 1,234 and 1,235 kW
    assert quantile_mw(frame, "WND-1", 0.5, STARTS[:2]) == pytest.approx((1.234, 1.235))
    # 0.7 lies half-way between 0.5 and 0.9: 1234 + 0.5*(2434 - 1234) = 1834 kW
    assert quantile_mw(frame, "WND-1", 0.7, STARTS[:2])[0] == pytest.approx(1.834)
    with pytest.raises(ValueError, match="brackets level 0.95"):
        quantile_mw(frame, "WND-1", 0.95, STARTS[:2])
    asset = RenewableAsset(asset_id="WND-1", client_id="OWN", capacity_mw=2.0)
    kind = asset_type("renewable")
    solve_input = SolveInput("WND-1", "renewable", renewable.MODEL_VERSION, asset, STARTS[:2], 0, (),
                             {"quantile_mw": (1.234, 2.5)}, {}, {"renewable_quantile": 0.5})
    result = solve_scenario(kind, solve_input)
    # 2.5 MW is above the 2 MW capacity and is cut to it
    assert result.volumes_mw == (1.234, 2.0)
    config = parse_bidding_config({"clients": [{"id": "OWN", "name": "Own", "approval": "auto",
                                                "asset_type": "renewable", "assets": ["WND-1"]}],
                                   "policy": {"curtailment_price_eur_per_mwh": -10.0}})
    points = kind.bid_points([(solve_input, result)], config)
    # 0 MW from -500 EUR/MWh, the quantile from the curtailment price of -10 EUR/MWh
    assert points.rows() == [(STARTS[0], -500.0, 0.0), (STARTS[0], -10.0, 1.234),
                             (STARTS[1], -500.0, 0.0), (STARTS[1], -10.0, 2.0)]


def test_input_hash_identifies_the_solve_and_a_known_result_is_reused():
    base = reservoir_input(plant(), (10.0, 50.0, 100.0, 100.0), 6.0)
    same = reservoir_input(plant(), (10.0, 50.0, 100.0, 100.0), 6.0)
    assert base.input_hash == same.input_hash and len(base.input_hash) == 64
    # the scenario id is not an input: equal prices, equal solve
    assert SolveInput(**{**base.__dict__, "scenario_id": 7}).input_hash == base.input_hash
    changed = [
        reservoir_input(plant(), (10.0, 50.0, 100.0, 100.1), 6.0),            # a scenario price
        reservoir_input(plant(), (10.0, 50.0, 100.0, 100.0), 6.5),            # the level
        reservoir_input(plant(), (10.0, 50.0, 100.0, 100.0), 6.0, inflow=(0.0, 0.0, 0.0, 0.1)),  # inflow
        reservoir_input(plant(ramp_mw_per_qh=9.0), (10.0, 50.0, 100.0, 100.0), 6.0),  # plant data
        reservoir_input(plant(), (10.0, 50.0, 100.0, 100.0), 6.0, time_limit_s=5.0),  # configuration
        SolveInput(**{**base.__dict__, "model_version": "reservoir-lp-2"}),   # model version
    ]
    assert len({c.input_hash for c in changed} | {base.input_hash}) == 7
    first = solve_scenario(HYDRO, base)
    again = solve_scenario(HYDRO, same)
    assert (again.input_hash, again.status, again.objective_eur, again.volumes_mw) == (
        first.input_hash, first.status, first.objective_eur, first.volumes_mw)
    # a known result for the hash is returned as it is (the same record), without solving
    assert solve_scenario(HYDRO, same, known={first.input_hash: first}) is first


def test_fault_injection_is_seeded_and_never_raises():
    inputs = [reservoir_input(plant(), (10.0, 50.0, 100.0, 100.0 + i), 6.0) for i in range(40)]
    faults = FaultInjection(share=0.3, kinds=("raise", "infeasible"), seed=3)
    chosen = [fault_for(i.input_hash, faults) for i in inputs]
    assert chosen == [fault_for(i.input_hash, faults) for i in inputs]  # same seed, same faults
    assert 4 <= sum(c is not None for c in chosen) <= 20  # about 30 % of 40 = 12
    statuses = {c: solve_scenario(HYDRO, i, faults).status for i, c in zip(inputs, chosen)}
    assert statuses == {None: "optimal", "raise": "error", "infeasible": "infeasible"}
    hang = FaultInjection(share=1.0, kinds=("hang",), hang_seconds=0.0)
    result = solve_scenario(HYDRO, inputs[0], hang)
    assert (result.status, result.message) == ("timeout", "injected fault: hung for 0.0 s")
    error = solve_scenario(HYDRO, inputs[0], FaultInjection(share=1.0, kinds=("raise",)))
    assert error.message == "InjectedFault: injected fault: the solver raised"


def test_build_inputs_per_configured_scenario_and_the_mean_price_solve():
    config = parse_bidding_config({"clients": [{"id": "C", "name": "C", "approval": "auto", "scenarios": 2,
                                                "assets": ["HYD-A"]}]})
    client = config.clients[0]
    day = DayContext(date(2025, 10, 14), STARTS, datetime(2025, 10, 13, 10, 0, tzinfo=UTC), config, client)
    frames = {"inflow_forecast": pl.DataFrame({"asset_id": ["HYD-A"] * 4, "delivery_start": list(STARTS),
                                               "inflow_mwh": [0.0] * 4}),
              "reservoir_level": pl.DataFrame({"asset_id": ["HYD-A"], "measured_at": [T0 - timedelta(hours=13)],
                                               "content_mwh": [6.0]})}
    # 3 scenarios in the file, the client asks for 2: scenarios 1 and 2
    scenarios = pl.DataFrame({"scenario_id": [s for s in (1, 2, 3) for _ in STARTS],
                              "delivery_start": list(STARTS) * 3,
                              "price_eur_per_mwh": [10.0, 50.0, 100.0, 100.0, 30.0, 70.0, 120.0, 60.0, 0, 0, 0, 0]})
    with pytest.raises(ValueError, match="no value for 2025-10-13 09:00"):
        build_solve_inputs(HYDRO, plant(), frames, day, scenarios)
    # with 0.1 MWh forecast for each of the 52 QHs from 09:00 to 22:00: content_0 = 6 + 52*0.1 = 11.2 MWh
    gap = [T0 - timedelta(hours=13) + timedelta(minutes=15 * i) for i in range(52)]
    frames["inflow_forecast"] = pl.concat([frames["inflow_forecast"], pl.DataFrame(
        {"asset_id": ["HYD-A"] * 52, "delivery_start": gap, "inflow_mwh": [0.1] * 52})])
    inputs = build_solve_inputs(HYDRO, plant(), frames, day, scenarios)
    assert [i.scenario_id for i in inputs] == [1, 2]
    assert inputs[1].prices_eur_per_mwh == (30.0, 70.0, 120.0, 60.0)
    assert inputs[0].values["content_0_mwh"] == pytest.approx(11.2)
    assert inputs[0].series["inflow_mwh"] == (0.0,) * 4
    # mean of scenarios 1 and 2 per MTU: (10+30)/2, (50+70)/2, (100+120)/2, (100+60)/2
    assert mean_price_input(inputs).prices_eur_per_mwh == (20.0, 60.0, 110.0, 80.0)
    assert mean_price_input(inputs).scenario_id == 0



def test_the_solver_prints_nothing_not_even_its_banner():
    # a fresh interpreter (HiGHS prints its banner once per process): solve the 4-MTU case and read
    # everything the process wrote to its stdout and stderr
    import subprocess
    import sys

    script = ("from tests.unit.test_bidding_solve import HYDRO, plant, reservoir_input\n"
              "from flexpower_assets.bidding.solve import solve_scenario\n"
              "r = solve_scenario(HYDRO, reservoir_input(plant(), (10.0, 50.0, 100.0, 100.0), 6.0))\n"
              "import sys; sys.stderr.write(f'{r.objective_eur:.1f}')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr.endswith("600.0")
    assert "HiGHS" not in done.stderr
