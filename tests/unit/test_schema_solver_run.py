"""The solver_run contract: one row per input hash, so a changed input keeps the earlier solve."""

import datetime as dt

import pandera.errors
import polars as pl
import pytest

from flexpower_assets.schemas.bidding import SolverRun


def _solve(input_hash: str) -> dict:
    return {
        "delivery_day": dt.date(2025, 10, 15), "client_id": "HYD-A", "asset_id": "HYD-A-01",
        "scenario_id": 3, "input_hash": input_hash, "status": "optimal", "objective_eur": 1234.5,
        "solve_seconds": 0.01, "message": "", "iterations": 17, "asset_type": "reservoir_hydro",
        "config_hash": "c" * 64,
    }


def test_a_changed_input_adds_a_row_beside_the_earlier_solve():
    rows = pl.DataFrame([_solve("a" * 64), _solve("b" * 64)])
    assert SolverRun.validate(rows).height == 2


def test_the_same_input_hash_twice_is_one_solve_recorded_twice():
    rows = pl.DataFrame([_solve("a" * 64), _solve("a" * 64)])
    with pytest.raises(pandera.errors.SchemaError):
        SolverRun.validate(rows)
