"""On the simulator's own noise model: the champion's 80 % interval covers 75-85 % of held-out
outcomes over 14 days and 21 assets (the README quotes these figures)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from flexpower_assets.domain import probabilistic as prob
from flexpower_assets.domain.time import day_window
from flexpower_assets.simulator.history import forecast_history

FIRST = date(2025, 5, 1)
TRAIN_DAYS, TEST_DAYS, N_ASSETS = 28, 14, 21


def calibration() -> pl.DataFrame:
    """Per method over the held-out days: CRPS, rCRPS, coverage and width (means over the assets)."""
    assets, gate, realised = forecast_history(N_ASSETS, FIRST, TRAIN_DAYS + TEST_DAYS, seed=11)
    rows = prob.training_rows(gate, realised, assets)
    test_start = FIRST + timedelta(days=TRAIN_DAYS)
    # trained once on the 28 days (the default history window) before the held-out ones (each held-out day's own history would
    # only add the days between; every training outcome precedes every held-out gate closure)
    training = rows.filter(pl.col("delivery_day") < test_start - timedelta(days=1))
    target = gate.filter(pl.col("delivery_start") >= day_window(test_start)[0])
    quantiles, n_days = prob.quantile_forecast(target, training, assets, prob.ForecastingSettings())
    assert n_days == TRAIN_DAYS - 1
    scored = prob.score_rows(quantiles, realised)
    assert scored["delivery_day"].n_unique() == TEST_DAYS
    skill = prob.skill(scored, test_start + timedelta(days=TEST_DAYS), TEST_DAYS)
    return skill.group_by("method").agg(pl.col("crps_kw", "rcrps", "coverage_80", "mean_width_kw").mean(),
                                        pl.col("asset_id").n_unique().alias("assets")).sort("crps_kw")


def test_champion_interval_covers_75_to_85_percent_of_held_out_outcomes():
    table = calibration()
    print(table)
    assert table["assets"].to_list() == [N_ASSETS, N_ASSETS]
    champion = table.row(0, named=True)  # lowest CRPS
    assert 0.75 <= champion["coverage_80"] <= 0.85, table
