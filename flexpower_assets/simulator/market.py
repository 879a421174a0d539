"""Market prices on the grid: the reference price trades scatter around, reBAP, compensation.

The reference price has a daily level, a morning and an evening peak in Europe/Berlin time and a
midday solar dip that deepens in summer (it can go negative). The imbalance price (reBAP) is the
reference price plus large, spiky noise; the DSO's redispatch compensation is close to the
reference price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from flexpower_assets.simulator.noise import rng_for, smooth_normal
from flexpower_assets.simulator.timegrid import QH_MS, Grid

PRICE_LIMIT = 999.99  # keeps the German number format free of thousands separators


def berlin_hours(ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Europe/Berlin hour of day (fractional) and day ordinal of epoch-ms times."""
    local = (
        pl.Series("t", ms).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
        .dt.convert_time_zone("Europe/Berlin")
    )
    hours = (local.dt.hour().cast(pl.Float64) + local.dt.minute().cast(pl.Float64) / 60).to_numpy()
    days = local.dt.date().cast(pl.Int32).to_numpy()
    return hours, days


@dataclass
class Market:
    price: np.ndarray  # reference price (EUR/MWh) per grid QH
    rebap_short: np.ndarray  # reBAP unterdeckt
    rebap_long: np.ndarray  # reBAP ueberdeckt
    compensation: np.ndarray  # DSO redispatch compensation price

    @classmethod
    def generate(cls, grid: Grid, seed: int) -> "Market":
        rng = rng_for(seed, "market")
        n = grid.n
        hours, days = berlin_hours(grid.ms[:n] + QH_MS // 2)
        first = int(days.min())
        n_days = int(days.max()) - first + 1
        level = rng.uniform(55, 105, n_days)[days - first]
        sunny = rng.uniform(0.3, 1.2, n_days)[days - first]
        day_of_year = (days + 4) % 365.25  # days since 1970-01-01, shifted to about Jan 1
        summer = np.clip(np.sin(2 * np.pi * (day_of_year - 80) / 365.25), 0, None)
        shape = (
            0.85 + 0.1 * ((hours >= 7) & (hours < 21))
            + 0.25 * np.exp(-(((hours - 8) / 1.6) ** 2))
            + 0.45 * np.exp(-(((hours - 19.5) / 1.8) ** 2))
        )
        solar_dip = (25 + 60 * summer) * sunny * np.exp(-(((hours - 13) / 2.5) ** 2))
        price = level * shape - solar_dip + 8 * smooth_normal(rng, n, 8) + 3 * rng.standard_normal(n)
        price = np.round(np.clip(price, -150, 400), 2)

        spikes = np.where(rng.random(n) < 0.01, rng.normal(0, 300, n), 0.0)
        short = price + 45 * smooth_normal(rng, n, 3) + 20 * rng.standard_normal(n) + spikes
        short = np.round(np.clip(short, -PRICE_LIMIT, PRICE_LIMIT), 2)
        differs = rng.random(n) < 0.03
        long = np.where(differs, short - np.round(rng.uniform(5, 40, n), 2), short)
        long = np.round(np.clip(long, -PRICE_LIMIT, PRICE_LIMIT), 2)
        compensation = np.round(price + rng.normal(0, 3, n), 2)
        return cls(price=price, rebap_short=short, rebap_long=long, compensation=compensation)
