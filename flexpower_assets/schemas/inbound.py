"""Frames the parsers return, one model per inbound file kind.

Every timestamp is UTC (``pl.Datetime("us", "UTC")``); powers in kW (assets) or MW (trades);
prices in EUR/MWh. Columns ending in ``_created_at``/``file_date``/``issued_at``/``exported_at``
come from the file name: they order files of the same key (which snapshot, which correction,
which estimate is the latest).
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa

from flexpower_assets.schemas import UtcDatetime

TECHNOLOGIES = ["solar", "wind"]
PRICE_MODELS = ["fixed", "market"]
FEE_MODELS = ["fixed_as_produced", "fixed_for_capacity", "percent_of_market"]
#: The largest power (kW, either sign) one asset's forecast or measurement may have: 10 GW, far
#: above any single plant (the largest German wind farms and power stations are 1-2 GW), and far
#: below the overflow values seen in review (2,147,483,648 kW = 2^31, 1e300 kW). A file with a
#: value beyond it is rejected as a whole; the bounds relative to an asset's own capacity are
#: checks of the day (``domain.infeed``), since a file does not know the capacity.
MAX_ASSET_POWER_KW = 10_000_000.0


class Contract(pa.DataFrameModel):
    """One row of a CRM snapshot (``crm/asset_contracts_<YYYYMMDD>_<HHMMSS>.csv``)."""

    contract_id: str = pa.Field(nullable=False)
    asset_id: str = pa.Field(nullable=False)
    metering_point_id: str = pa.Field(nullable=False)
    capacity_mw: float = pa.Field(gt=0)
    technology: str = pa.Field(isin=TECHNOLOGIES)
    contract_begin: dt.date = pa.Field(nullable=False)
    contract_end: dt.date = pa.Field(nullable=True)
    price_model: str = pa.Field(isin=PRICE_MODELS)
    price_eur_per_mwh: float = pa.Field(nullable=True)
    fee_model: str = pa.Field(isin=FEE_MODELS)
    fee: float = pa.Field(nullable=True, description="EUR/MWh, or EUR/MW per month for fixed_for_capacity")
    fee_percent: float = pa.Field(nullable=True, ge=0, le=100)
    email: str = pa.Field(nullable=True)
    snapshot_created_at: UtcDatetime = pa.Field(nullable=False)

    class Config:
        unique = ["contract_id"]


class TechnicalAsset(pa.DataFrameModel):
    """One asset of a VPP technical-data file."""

    asset_id: str = pa.Field(nullable=False)
    asset_name: str = pa.Field(nullable=True)
    technology: str = pa.Field(nullable=True)
    capacity_kw: float = pa.Field(gt=0)
    commissioning_date: dt.date = pa.Field(nullable=True)
    status: str = pa.Field(nullable=True)
    owner_name: str = pa.Field(nullable=True)
    latitude: float = pa.Field(nullable=True, ge=-90, le=90)
    longitude: float = pa.Field(nullable=True, ge=-180, le=180)
    file_created_at: UtcDatetime = pa.Field(nullable=False)

    class Config:
        unique = ["asset_id"]


class ForecastRow(pa.DataFrameModel):
    """One QH of one VPP forecast version."""

    asset_id: str = pa.Field(nullable=False)
    delivery_start: UtcDatetime = pa.Field(nullable=False)
    version: UtcDatetime = pa.Field(nullable=False)
    power_kw: float = pa.Field(nullable=False, ge=-MAX_ASSET_POWER_KW, le=MAX_ASSET_POWER_KW)

    class Config:
        unique = ["asset_id", "delivery_start", "version"]


class LivePoint(pa.DataFrameModel):
    """One irregular live measurement."""

    asset_id: str = pa.Field(nullable=False)
    timestamp: UtcDatetime = pa.Field(nullable=False)
    power_kw: float = pa.Field(nullable=False, ge=-MAX_ASSET_POWER_KW, le=MAX_ASSET_POWER_KW)
    quality: float = pa.Field(nullable=True)

    class Config:
        unique = ["asset_id", "timestamp"]


class FinalProduction(pa.DataFrameModel):
    """One QH of DSO final measured production; ``file_date`` orders corrections."""

    metering_point_id: str = pa.Field(nullable=False)
    delivery_start: UtcDatetime = pa.Field(nullable=False)
    power_kw: float = pa.Field(nullable=False, ge=-MAX_ASSET_POWER_KW, le=MAX_ASSET_POWER_KW)
    file_date: dt.date = pa.Field(nullable=False)

    class Config:
        unique = ["metering_point_id", "delivery_start"]


class RedispatchFlag(pa.DataFrameModel):
    """One curtailed QH; the metering point comes from the file name (the rows do not carry it)."""

    metering_point_id: str = pa.Field(nullable=False)
    delivery_start: UtcDatetime = pa.Field(nullable=False)
    is_redispatched: bool = pa.Field(nullable=False)
    issued_at: UtcDatetime = pa.Field(nullable=False)

    class Config:
        unique = ["metering_point_id", "delivery_start"]


class RedispatchCompensation(pa.DataFrameModel):
    """The DSO's compensation price per QH."""

    delivery_start: UtcDatetime = pa.Field(nullable=False)
    price_eur_per_mwh: float = pa.Field(nullable=False)
    file_date: dt.date = pa.Field(nullable=False)

    class Config:
        unique = ["delivery_start"]


class Trade(pa.DataFrameModel):
    """One exchange trade (private or public export). ``volume_mw`` is power over the period."""

    trade_id: str = pa.Field(nullable=False)
    side: str = pa.Field(isin=["BUY", "SELL"])
    delivery_start: UtcDatetime = pa.Field(nullable=False)
    delivery_end: UtcDatetime = pa.Field(nullable=False)
    execution_time: UtcDatetime = pa.Field(nullable=True)
    price_eur_per_mwh: float = pa.Field(nullable=False)
    currency: str = pa.Field(isin=["EUR"])
    volume_mw: float = pa.Field(gt=0)
    volume_unit_label: str = pa.Field(nullable=False)
    exported_at: UtcDatetime = pa.Field(nullable=False)

    class Config:
        unique = ["trade_id"]


class ImbalanceEstimate(pa.DataFrameModel):
    """One QH of an AEP estimator file; ``status`` is kept as published."""

    delivery_start: UtcDatetime = pa.Field(nullable=False)
    price_eur_per_mwh: float = pa.Field(nullable=False)
    status: str = pa.Field(nullable=True)
    file_created_at: UtcDatetime = pa.Field(nullable=False)

    class Config:
        unique = ["delivery_start"]


class ImbalanceFinal(pa.DataFrameModel):
    """One QH of final reBAP: the price for a short (unterdeckt) and a long (ueberdeckt) position."""

    delivery_start: UtcDatetime = pa.Field(nullable=False)
    price_short_eur_per_mwh: float = pa.Field(nullable=False)
    price_long_eur_per_mwh: float = pa.Field(nullable=False)
    file_created_at: UtcDatetime = pa.Field(nullable=False)

    class Config:
        unique = ["delivery_start"]
