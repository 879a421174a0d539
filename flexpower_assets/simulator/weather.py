"""Weather, true production and forecasts of each asset.

Production is driven by a latent weather variable per asset and QH: cloudiness for solar parks,
wind for wind farms. It is the sum of a regional part (shared by all assets, so the portfolio
moves together) and a local part. The true power follows from the latent variable through a
clear-sky bell (solar, zero at night) or a power curve (wind). A forecast is the same mapping of
the latent variable plus an error whose size grows with the lead time, so later versions are
closer to the truth; the error has a slow part and a part that changes with each 6-hourly weather
run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flexpower_assets.simulator.noise import rng_for, sigmoid, smooth_normal
from flexpower_assets.simulator.timegrid import HORIZON_QH, QH_MS, RUN_QH, Grid

MS_PER_DAY = 86_400_000
NIGHT_COS_ZENITH = 0.01  # the sun below about 0.6 degrees: no production
WIND_CUT_IN, WIND_RATED, WIND_CUT_OUT = 3.0, 12.5, 25.0


@dataclass(frozen=True)
class AssetSpec:
    """What the weather model needs to know about an asset."""

    asset_id: str
    technology: str  # solar | wind
    capacity_kw: float
    latitude: float
    longitude: float
    site_factor: float = 1.0  # wind: mean wind speed factor; solar: performance ratio


def cos_zenith(ms: np.ndarray, latitude: float, longitude: float) -> np.ndarray:
    """Cosine of the solar zenith angle at epoch-ms times (approximate solar position)."""
    n = ms / MS_PER_DAY - 10957.5  # days since 2000-01-01 12:00 UTC
    mean_long = np.radians((280.460 + 0.9856474 * n) % 360)
    anomaly = np.radians((357.528 + 0.9856003 * n) % 360)
    ecl_long = mean_long + np.radians(1.915) * np.sin(anomaly) + np.radians(0.020) * np.sin(2 * anomaly)
    obliquity = np.radians(23.439 - 0.0000004 * n)
    declination = np.arcsin(np.sin(obliquity) * np.sin(ecl_long))
    right_asc = np.arctan2(np.cos(obliquity) * np.sin(ecl_long), np.cos(ecl_long))
    eq_of_time = np.angle(np.exp(1j * (mean_long - right_asc)))  # radians, wrapped to (-pi, pi]
    utc_hours = (ms % MS_PER_DAY) / 3_600_000
    hour_angle = np.radians(15 * (utc_hours - 12) + longitude) + eq_of_time
    lat = np.radians(latitude)
    return np.sin(lat) * np.sin(declination) + np.cos(lat) * np.cos(declination) * np.cos(hour_angle)


def clear_sky_fraction(ms: np.ndarray, latitude: float, longitude: float) -> np.ndarray:
    """Share of capacity a solar park yields under a clear sky; exactly 0 at night."""
    cz = cos_zenith(ms, latitude, longitude)
    return np.where(cz > NIGHT_COS_ZENITH, 0.92 * np.clip(cz, 0, None) ** 1.15, 0.0)


def wind_power_fraction(speed: np.ndarray) -> np.ndarray:
    """Share of capacity at a hub-height wind speed (m/s): cubic up to rated, 0 above cut-out."""
    frac = (speed**3 - WIND_CUT_IN**3) / (WIND_RATED**3 - WIND_CUT_IN**3)
    return np.where(speed >= WIND_CUT_OUT, 0.0, np.clip(frac, 0.0, 1.0))


@dataclass
class Weather:
    """Regional latent weather on the grid (unit-variance, smooth)."""

    cloud: np.ndarray
    wind: np.ndarray

    @classmethod
    def generate(cls, grid: Grid, seed: int) -> "Weather":
        rng = rng_for(seed, "regional-weather", grid.start.date().toordinal())
        n = grid.n
        days = n // 96 + 2
        # a level per day (sunny or dull days, calm or windy days), smoothed, plus hours-long swings
        cloud_days = np.repeat(rng.standard_normal(days), 96)[:n]
        wind_days = np.repeat(rng.standard_normal(days), 96)[:n]
        cloud = 0.6 * _smooth(cloud_days, 16) + 0.8 * smooth_normal(rng, n, 24)
        wind = 0.7 * _smooth(wind_days, 24) + 0.7 * smooth_normal(rng, n, 32)
        return cls(cloud=cloud, wind=wind)


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average keeping the length (edges padded with the edge values)."""
    padded = np.pad(x, width, mode="edge")
    kernel = np.ones(2 * width + 1) / (2 * width + 1)
    return np.convolve(padded, kernel, mode="valid")


@dataclass
class AssetModel:
    """True production and forecasts of one asset on the grid.

    ``curtailed`` maps grid indices of redispatched QHs to the share of the potential the grid
    operator let the asset produce.
    """

    spec: AssetSpec
    grid: Grid
    weather: Weather
    seed: int
    curtailed: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = rng_for(self.seed, "asset", self.spec.asset_id)
        n = self.grid.n
        mid = self.grid.ms[:n] + QH_MS // 2
        # windier in winter: +12 % mean wind speed in mid-January, -12 % in mid-July
        self._season = 1 + 0.12 * np.cos(2 * np.pi * (mid / MS_PER_DAY - 14) / 365.25)
        if self.spec.technology == "solar":
            self.clear = clear_sky_fraction(mid, self.spec.latitude, self.spec.longitude)
            self.latent = 0.7 * self.weather.cloud + 0.7 * smooth_normal(rng, n, 12)
        else:
            self.clear = None
            self.latent = 0.75 * self.weather.wind + 0.66 * smooth_normal(rng, n, 16)
        self.z_slow = smooth_normal(rng, n, 24)
        availability = 1.0 - np.abs(smooth_normal(rng, n, 8)) * (0.02 if self.clear is not None else 0.04)
        potential = self.power(self.latent, np.arange(n))
        truth = potential * availability
        for i, share in self.curtailed.items():
            truth[i] = potential[i] * share
        self.truth_kw = np.clip(truth, 0.0, self.spec.capacity_kw)
        self._runs: dict[int, np.ndarray] = {}

    def power(self, latent: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Power (kW) for a latent weather value at grid indices ``idx`` (same shape)."""
        cap = self.spec.capacity_kw
        if self.clear is not None:
            transmission = 0.12 + 0.88 * sigmoid(1.2 + 1.6 * latent)
            return cap * self.spec.site_factor * self.clear[idx] * transmission
        speed = 7.0 * self.spec.site_factor * self._season[idx] * np.exp(0.38 * latent)
        return cap * 0.97 * wind_power_fraction(speed)

    def _run_noise(self, run: int) -> np.ndarray:
        """Error pattern of one weather run over the targets of its versions."""
        if run not in self._runs:
            rng = rng_for(self.seed, "forecast-run", self.spec.asset_id, run)
            self._runs[run] = smooth_normal(rng, RUN_QH + HORIZON_QH, 12)
        return self._runs[run]

    def forecast(self, target: np.ndarray, version: np.ndarray) -> np.ndarray:
        """Forecast power (kW, 3 decimals) for target QHs made at versions (grid indices, broadcast)."""
        target, version = np.broadcast_arrays(np.asarray(target), np.asarray(version))
        lead = target - version
        if (lead < 0).any() or (lead >= HORIZON_QH).any():
            raise ValueError("a forecast covers the 48 h from its version")
        runs = version // RUN_QH
        z_run = np.empty(target.shape)
        for run in np.unique(runs):
            mask = runs == run
            z_run[mask] = self._run_noise(int(run))[target[mask] - run * RUN_QH]
        sigma = (0.12 + 0.75 * (lead / HORIZON_QH) ** 0.7) * (1.4 if self.clear is not None else 1.0)
        latent = self.latent[target] + sigma * (0.6 * self.z_slow[target] + 0.8 * z_run)
        power = self.power(latent, target) * 0.985
        return np.round(np.clip(power, 0.0, self.spec.capacity_kw), 3)
