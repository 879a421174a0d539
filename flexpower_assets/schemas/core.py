"""Core tables that others read by name: their columns declared once, like the published ones."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa

from flexpower_assets.schemas import UtcDatetime


class ContractDay(pa.DataFrameModel):
    """contract x delivery day: every contract of the day's CRM snapshot, and whether it is active.

    ``is_active`` follows ``domain.contracts.is_active``; the portal's row filters join this table
    instead of restating the rule in SQL.
    """

    contract_id: str
    asset_id: str
    delivery_day: dt.date
    is_active: bool

    class Config:
        unique = ["contract_id", "asset_id", "delivery_day"]


class RedispatchCompensationPrice(pa.DataFrameModel):
    """QH: the DSO's redispatch compensation price of the day (``core.redispatch_compensation``)."""

    delivery_day: dt.date
    delivery_start: UtcDatetime
    price_eur_per_mwh: float

    class Config:
        unique = ["delivery_start"]
