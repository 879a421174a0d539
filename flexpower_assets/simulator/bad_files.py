"""Deliberately bad files, each in the folder of its kind, that the platform must reject.

The good files of every kind stay complete, so rejecting these loses no data. The imbalance file
in local time is written by the imbalance module; the empty public export by the exchange step.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from flexpower_assets.simulator.dso import dso_times
from flexpower_assets.simulator.exchange import export_name
from flexpower_assets.simulator.formats import plain_number
from flexpower_assets.simulator.summary import SimulationSummary
from flexpower_assets.simulator.timegrid import HORIZON_QH, Period
from flexpower_assets.simulator.vpp import (
    COMPACT_LAYOUT,
    REAL_LAYOUT,
    compact_time_columns,
    forecast_document,
    real_forecast_document,
)
from flexpower_assets.simulator.weather import AssetModel


def write_off_grid_forecast(out: Path, model: AssetModel, period: Period,
                            summary: SimulationSummary, layout: str = REAL_LAYOUT) -> None:
    """A version at hh:07, which the VPP never produces (in the layout of the other forecasts)."""
    grid = model.grid
    on_grid = grid.index(period.start) + 32  # 08:00 Berlin of the first day
    version_ms = int(grid.ms[on_grid]) + 7 * 60_000
    targets = on_grid + 1 + np.arange(HORIZON_QH)
    starts = grid.ms[targets]
    power = model.forecast(targets, np.full(HORIZON_QH, on_grid + 1))
    version = grid.time(on_grid) + timedelta(minutes=7)
    path = out / "vpp" / "forecasts" / f"{model.spec.asset_id}_{version:%Y%m%dT%H%MZ}.json"
    if layout == COMPACT_LAYOUT:
        document = forecast_document(model.spec.asset_id, compact_time_columns(starts, version_ms), power)
    else:
        document = real_forecast_document(model.spec.asset_id, starts, version_ms, power)
    path.write_bytes(document)
    summary.count("forecast")
    summary.bad(path, f"version {version:%Y-%m-%dT%H:%MZ} is not on a quarter-hour")


def write_broken_number_final(out: Path, model: AssetModel, mp: str, period: Period,
                              summary: SimulationSummary) -> None:
    """A late re-delivery of part of a day with one unparsable number (a letter O for a zero)."""
    grid = model.grid
    day = period.utc_days[-1]
    sl = grid.utc_day_slice(day)
    part = slice(48, 56)  # 12:00-14:00 UTC
    times = dso_times(grid, day)[part]
    values = [plain_number(v) for v in np.round(model.truth_kw[sl][part], 3)]
    values[3] = "1O4.25"
    lines = [f"delivery_start__utc_,{mp}__kw_"] + [f"{t},{v}" for t, v in zip(times, values)]
    path = out / "dso" / f"final_production_{mp}_{day + timedelta(days=7):%Y%m%d}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    summary.count("final_production")
    summary.bad(path, "line 5: '1O4.25' is not a number")


def write_bad_trade_reexports(out: Path, period: Period, summary: SimulationSummary) -> None:
    """Two re-exports of the first day's first private trades, a minute after the real export:
    one labelled in ``GWH`` (an unknown unit) and one with a quoted line holding a field too
    many. Their trades are in the good export too, so rejecting them loses nothing."""
    day = period.days[0]
    [good, *_] = sorted((out / "exchange").glob(f"Private_Trades-{day:%Y%m%d}-*.csv"))
    exported = datetime.strptime(re.search(r"-(\d{8}T\d{6})\d{3}Z\.csv$", good.name)[1], "%Y%m%dT%H%M%S")
    title, header, *trades = good.read_text(encoding="utf-8").splitlines()[:7]
    unknown_unit = [line.rsplit(";", 1)[0] + ";GWH" for line in trades]
    first_id, rest = trades[1].split(";", 1)
    extra_field = [trades[0], f'"{first_id}";{rest};0.5', *trades[2:]]
    for minutes, lines, problem in (
        (1, unknown_unit, "line 3: unknown VolumeUnit 'GWH'"),
        (2, extra_field, "line 4: a quoted line with 10 fields where the header has 9"),
    ):
        at = (exported + timedelta(minutes=minutes)).replace(tzinfo=timezone.utc)
        path = out / "exchange" / export_name("Private_Trades", day, at)
        path.write_text("\n".join([title, header, *lines]) + "\n", encoding="utf-8", newline="")
        summary.count("private_trades")
        summary.bad(path, problem)
