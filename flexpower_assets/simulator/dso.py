"""DSO files: final measured production, redispatch flags, redispatch compensation prices.

- ``dso/final_production_<mp>_<YYYYMMDD>.csv``: one UTC day per file, named by the delivery date
  (the day after). A correction is a later-dated file for the same metering point and day that
  holds only part of the day.
- ``dso/redispatch_flag_<mp>_<YYYYMMDD>_<HHMM>.csv``: the curtailed QHs of one day, ISO timestamps.
- ``dso/redispatch_compensation_<YYYY-MM-DD>.csv``: compensation prices over the whole period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from flexpower_assets.domain.time import QH, UTC
from flexpower_assets.simulator.formats import dso_timestamp, iso_z, plain_number
from flexpower_assets.simulator.market import Market
from flexpower_assets.simulator.noise import rng_for
from flexpower_assets.simulator.portfolio import Portfolio
from flexpower_assets.simulator.summary import SimulationSummary
from flexpower_assets.simulator.timegrid import Grid, Period, utc_midnight
from flexpower_assets.simulator.weather import AssetModel, Weather

CORRECTION_DELAY_DAYS = 4
GLITCH_HOURS = (10, 12)  # UTC hours of the day the original file under-reads (always daylight)
CORRECTED_HOURS = (9, 13)  # UTC hours the correction file covers


@dataclass(frozen=True)
class FinalPlan:
    """UTC days without a file, and the UTC day that gets a correction (or None)."""

    missing_days: frozenset[date] = frozenset()
    correction_day: date | None = None


@lru_cache(maxsize=64)
def dso_times(grid: Grid, day: date) -> tuple[str, ...]:
    sl = grid.utc_day_slice(day)
    return tuple(dso_timestamp(grid.time(i)) for i in range(sl.start, sl.stop + 1))


def final_production_csv(mp: str, times: tuple[str, ...], values: np.ndarray) -> str:
    lines = [f"delivery_start__utc_,{mp}__kw_"]
    lines += [f"{t},{plain_number(v)}" for t, v in zip(times, values)]
    return "\n".join(lines) + "\n"


def write_final_production(out: Path, model: AssetModel, mp: str, plan: FinalPlan, period: Period) -> int:
    folder = out / "dso"
    grid = model.grid
    written = 0
    for day in period.utc_days:
        if day in plan.missing_days:
            continue
        sl = grid.utc_day_slice(day)
        times = dso_times(grid, day)[:-1]
        values = np.round(model.truth_kw[sl], 3)
        if day == plan.correction_day:
            corrected = values.copy()
            glitch = slice(GLITCH_HOURS[0] * 4, GLITCH_HOURS[1] * 4)
            values[glitch] = np.round(values[glitch] * 0.7, 3)  # a metering glitch, corrected later
            part = slice(CORRECTED_HOURS[0] * 4, CORRECTED_HOURS[1] * 4)
            name = f"final_production_{mp}_{day + timedelta(days=1 + CORRECTION_DELAY_DAYS):%Y%m%d}.csv"
            text = final_production_csv(mp, times[part], corrected[part])
            (folder / name).write_text(text, encoding="utf-8", newline="")
            written += 1
        name = f"final_production_{mp}_{day + timedelta(days=1):%Y%m%d}.csv"
        (folder / name).write_text(final_production_csv(mp, times, values), encoding="utf-8", newline="")
        written += 1
    return written


@dataclass(frozen=True)
class RedispatchEvent:
    asset_id: str
    metering_point_id: str
    day: date  # UTC (and Berlin) date of the curtailed QHs
    indices: tuple[int, ...]  # grid indices
    shares: tuple[float, ...]  # share of the potential the asset was allowed to produce


def choose_redispatch(portfolio: Portfolio, period: Period, grid: Grid, weather: Weather,
                      seed: int) -> list[RedispatchEvent]:
    """A few curtailments of wind farms at windy hours between 08:00 and 16:00 UTC."""
    rng = rng_for(seed, "redispatch")
    wind = [a for a in portfolio.assets if a.technology == "wind"]
    events: list[RedispatchEvent] = []
    for k, day in enumerate(period.days):
        if k > 0 and rng.random() >= 0.5:
            continue
        asset = wind[int(rng.integers(len(wind)))]
        window = grid.index(utc_midnight(day)) + np.arange(32, 64 - 8)  # start between 08:00 and 14:00
        start = int(window[np.argmax(weather.wind[window] + 0.3 * rng.standard_normal(len(window)))])
        length = int(rng.integers(3, 9))
        shares = tuple(round(float(s), 3) for s in rng.uniform(0.0, 0.1, length))
        events.append(RedispatchEvent(asset.asset_id, asset.metering_point_id, day,
                                      tuple(range(start, start + length)), shares))
    return events


def write_redispatch_flags(out: Path, events: list[RedispatchEvent], grid: Grid, seed: int,
                           summary: SimulationSummary) -> None:
    rng = rng_for(seed, "redispatch-files")
    folder = out / "dso"
    for event in events:
        issued = datetime.combine(event.day + timedelta(days=1), time(8), tzinfo=UTC)
        issued += timedelta(minutes=int(rng.integers(0, 480)))
        lines = ["delivery_start,delivery_end,is_redispatched"]
        for i in event.indices:
            lines.append(f"{iso_z(grid.time(i))},{iso_z(grid.time(i) + QH)},1")
        path = folder / f"redispatch_flag_{event.metering_point_id}_{issued:%Y%m%d_%H%M}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
        summary.count("redispatch_flag")
    summary.quirks["redispatch"] = "; ".join(
        f"{e.metering_point_id} {grid.time(e.indices[0]):%Y-%m-%d %H:%M}Z +{len(e.indices)} QHs"
        for e in events)


def write_compensation(out: Path, market: Market, grid: Grid, period: Period,
                       summary: SimulationSummary) -> None:
    """One file over the whole period: from the first UTC day's midnight to the midnight after the last."""
    first = grid.index(utc_midnight(period.utc_days[0]))
    last = grid.index(utc_midnight(period.utc_days[-1] + timedelta(days=1)))
    lines = ["delivery_start__utc_,delivery_end__utc_,price__euro_per_mwh_"]
    for i in range(first, last + 1):
        lines.append(f"{dso_timestamp(grid.time(i))},{dso_timestamp(grid.time(i + 1))},"
                     f"{plain_number(market.compensation[i])}")
    path = out / "dso" / f"redispatch_compensation_{period.last_day + timedelta(days=9):%Y-%m-%d}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    summary.count("redispatch_compensation")
