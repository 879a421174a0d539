"""Published tables of the probabilistic forecasts and the backtest (BIDDING.md, data contract)."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa

from flexpower_assets.schemas import UtcDatetime

QUANTILE_METHODS = ["empirical", "gbm", "fallback"]


class AssetForecastQuantile(pa.DataFrameModel):
    """asset x QH x level x method: a quantile of the production, from the gate-closure forecast."""

    delivery_day: dt.date
    asset_id: str
    delivery_start: UtcDatetime
    quantile_level: float = pa.Field(ge=0.05, le=0.95)
    power_kw: float
    method: str = pa.Field(isin=QUANTILE_METHODS)
    forecast_version: UtcDatetime
    is_champion: bool

    class Config:
        unique = ["method", "asset_id", "delivery_start", "quantile_level"]


class ForecastSkill(pa.DataFrameModel):
    """method x asset x evaluation day: the rolling skill over the window ending at D-2."""

    delivery_day: dt.date
    method: str = pa.Field(isin=QUANTILE_METHODS)
    asset_id: str
    evaluated_on: dt.date
    window_days: int
    crps_kw: float = pa.Field(ge=0)
    rcrps: float = pa.Field(nullable=True, ge=0)
    coverage_80: float = pa.Field(nullable=True, ge=0, le=1)
    mean_width_kw: float = pa.Field(nullable=True, ge=0)
    is_champion: bool

    class Config:
        unique = ["method", "asset_id", "evaluated_on"]


class BacktestResult(pa.DataFrameModel):
    """strategy x asset x delivery day: what a bidding strategy would have earned."""

    strategy: str
    asset_id: str
    delivery_day: dt.date
    accepted_mwh: float
    revenue_eur: float
    imbalance_mwh: float
    imbalance_cost_eur: float = pa.Field(nullable=True)
    net_eur: float = pa.Field(nullable=True)
    capture_rate: float = pa.Field(nullable=True)
    asset_type: str = pa.Field(isin=["renewable", "reservoir_hydro"])
    end_water_value_eur: float = pa.Field(nullable=True)  # hydro: water value x (content_T - content_0); null for renewables

    class Config:
        unique = ["strategy", "asset_id", "delivery_day"]
