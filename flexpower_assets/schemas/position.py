"""The published open-position table (issue "open position while trading runs"): one row per QH."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa

from flexpower_assets.schemas import UtcDatetime

DAY_AHEAD_STATUSES = ["cleared", "awaiting_result", "no_order"]


class OpenPosition(pa.DataFrameModel):
    """QH of the portfolio: forecast (and its band) known at ``as_of`` against the MWh sold.

    Signs: position = MWh sold (day-ahead accepted + intraday sold - bought); open = forecast -
    position, positive = long (still to sell), negative = short (to buy back).
    """

    delivery_day: dt.date
    delivery_start: UtcDatetime
    as_of: UtcDatetime
    minutes_to_delivery: float
    forecast_mwh: float = pa.Field(nullable=True)
    forecast_p10_mwh: float = pa.Field(nullable=True)
    forecast_p90_mwh: float = pa.Field(nullable=True)
    newest_forecast_version: UtcDatetime = pa.Field(nullable=True)
    n_assets: int = pa.Field(ge=0)
    n_missing_forecast: int = pa.Field(ge=0)
    n_without_quantile: int = pa.Field(ge=0)
    day_ahead_mwh: float
    day_ahead_status: str = pa.Field(isin=DAY_AHEAD_STATUSES)
    intraday_sold_mwh: float = pa.Field(ge=0)
    intraday_bought_mwh: float = pa.Field(ge=0)
    intraday_net_mwh: float
    position_mwh: float
    open_mwh: float = pa.Field(nullable=True)
    open_p10_mwh: float = pa.Field(nullable=True)
    open_p90_mwh: float = pa.Field(nullable=True)
    capacity_mw: float = pa.Field(ge=0)
    open_share_of_capacity: float = pa.Field(nullable=True, ge=0)

    class Config:
        unique = ["delivery_start"]
