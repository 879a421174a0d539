"""A forecast history in memory: the simulator's own weather, truth and forecast model, without files.

For the probabilistic forecasts' calibration test and the backtest's tests: per asset and QH of
``days`` delivery days, the gate-closure forecast (the version made at D-1 12:00 Berlin, exactly
what ``simulator.vpp`` writes as that version's file) and the true production (what the DSO's
final production reports). Its error distribution is the one of ``simulator.weather.AssetModel``:
spread growing with lead time, a slow part and a part per 6-hourly weather run.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from flexpower_assets.domain.probabilistic import gate_closure
from flexpower_assets.domain.time import UTC_DATETIME, day_window
from flexpower_assets.simulator.portfolio import asset_spec_for
from flexpower_assets.simulator.timegrid import Grid, Period
from flexpower_assets.simulator.weather import AssetModel, Weather


def forecast_history(n_assets: int, first_day: date, days: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``(assets, gate, realised)``: ``assets`` (asset_id, technology, capacity_kw; every third a
    wind farm), ``gate`` (asset_id, delivery_start, power_kw, forecast_version, lead_hours) and
    ``realised`` (asset_id, delivery_start, realised_kw)."""
    period = Period(first_day, days)
    grid = Grid.for_period(period)
    weather = Weather.generate(grid, seed)
    assets, gate_parts, real_parts = [], [], []
    for k in range(n_assets):
        technology = "wind" if k % 3 == 2 else "solar"
        asset_id = f"{'WND' if technology == 'wind' else 'SOL'}-H{k:03d}"
        capacity_kw = float(2000 + 500 * (k % 5))
        model = AssetModel(asset_spec_for(asset_id, technology, capacity_kw, seed), grid, weather, seed)
        assets.append({"asset_id": asset_id, "technology": technology, "capacity_kw": capacity_kw})
        for day in period.days:
            window = grid.day_slice(day)
            target = np.arange(window.start, window.stop)
            version = grid.index(gate_closure(day))
            forecast = model.forecast(target, np.full(len(target), version))
            starts = pl.Series("delivery_start", grid.ms[target], dtype=pl.Int64).cast(pl.Datetime("ms", "UTC")).cast(UTC_DATETIME)
            version_time = grid.time(version)
            gate_parts.append(pl.DataFrame({"asset_id": [asset_id] * len(target), "delivery_start": starts,
                                            "power_kw": forecast}).with_columns(
                forecast_version=pl.lit(version_time, dtype=UTC_DATETIME)))
            real_parts.append(pl.DataFrame({"asset_id": [asset_id] * len(target), "delivery_start": starts,
                                            "realised_kw": np.round(model.truth_kw[target], 3)}))
    gate = pl.concat(gate_parts).with_columns(
        lead_hours=(pl.col("delivery_start") - pl.col("forecast_version")).dt.total_minutes() / 60.0)
    assert day_window(first_day)[0] <= gate["delivery_start"].min()
    return pl.DataFrame(assets), gate, pl.concat(real_parts)
