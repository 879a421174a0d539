"""Solves in worker processes: a hanging solve is killed, a dying worker costs only its solve."""

import os
import time
from datetime import datetime, timezone

from pydantic import Field

from flexpower_assets.bidding.asset_types import AssetType
from flexpower_assets.bidding.model import OPTIMAL, AssetTechnicalData, SolveInput, SolveResult
from flexpower_assets.bidding.workers import solve_in_workers

START = (datetime(2025, 10, 14, 22, 0, tzinfo=timezone.utc),)


class Toy(AssetTechnicalData):
    size_mw: float = Field(gt=0)

    @property
    def max_sell_mw(self) -> float:
        return self.size_mw


def _solve(solve_input: SolveInput) -> SolveResult:
    behaviour = solve_input.prices_eur_per_mwh[0]
    if behaviour == 2.0:
        time.sleep(60)
    if behaviour == 3.0:
        os._exit(7)
    if behaviour == 4.0:
        raise RuntimeError("bad plant data")
    return SolveResult(solve_input.input_hash, OPTIMAL, behaviour * 10, 0.0, 1, "ok", volumes_mw=(behaviour,))


TOY = AssetType(name="toy", technical_model=Toy, solve=_solve, model_version="toy-1",
                prepare=lambda technical, frames, day: ({}, {}))


def _input(price: float, scenario: int) -> SolveInput:
    return SolveInput(asset_id="T1", asset_type="toy", model_version="toy-1", technical=Toy(asset_id="T1", size_mw=1),
                      delivery_starts=START, scenario_id=scenario, prices_eur_per_mwh=(price,))


def test_hang_is_killed_crash_and_raise_cost_only_their_solve():
    inputs = [_input(1.0, 1), _input(2.0, 2), _input(3.0, 3), _input(4.0, 4), _input(5.0, 5)]
    began = time.time()
    results = solve_in_workers(TOY, inputs, per_solve_s=1.0, deadline=time.time() + 30, workers=2)
    assert [r.status for r in results] == ["optimal", "timeout", "error", "error", "optimal"]
    assert results[0].objective_eur == 10.0 and results[4].volumes_mw == (5.0,)
    assert "was killed" in results[1].message
    assert "exit code 7" in results[2].message
    assert results[3].message == "RuntimeError: bad plant data"
    assert time.time() - began < 30  # the 60 s hang did not hold the chunk


def test_known_results_are_not_solved_again_and_the_stage_deadline_stops_the_rest():
    first = _input(1.0, 1)
    known = {first.input_hash: SolveResult(first.input_hash, OPTIMAL, 99.0, 0.0, 1, "from solver_run")}
    results = solve_in_workers(TOY, [first, _input(2.0, 2), _input(5.0, 3)], per_solve_s=30.0,
                               deadline=time.time() + 1.5, workers=1, known=known)
    assert results[0].objective_eur == 99.0
    assert [r.status for r in results[1:]] == ["timeout", "timeout"]
    assert "deadline passed" in results[2].message
