"""Day-ahead bidding datasets (BIDDING.md): the new inbound kinds and the bid contract tables.

Inbound frames (validated by ``parsers.market`` and ``parsers.hydro``): price scenarios,
day-ahead auction results, hydro technical data, inflow forecasts, reservoir levels. Every time
is UTC; contents and inflows are energy equivalents in MWh; ``*_created_at`` come from the file
names and decide which file applies (the newest created before gate closure).

Contract tables (the data contract of BIDDING.md, with the columns it names first):
``solver_run``, ``asset_bid_curve``, ``bid_matrix``, ``bid_submission``. ``TABLES`` maps each
contract name to its model.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa

from flexpower_assets.schemas import UtcDatetime

SOLVE_STATUSES = ["optimal", "infeasible", "timeout", "error"]
CURVE_STATUSES = ["complete", "partial", "fallback"]
SUBMISSION_STATUSES = ["submitted", "accepted", "rejected", "refused_after_gate_closure", "superseded"]


# --- inbound ------------------------------------------------------------------------------------

class PriceScenario(pa.DataFrameModel):
    """One MTU of one price scenario (``market/price_scenarios_<day>_<created>.csv``)."""

    scenario_id: int = pa.Field(ge=1)
    delivery_start: UtcDatetime = pa.Field(nullable=False)
    price_eur_per_mwh: float = pa.Field(nullable=False)
    delivery_day: dt.date = pa.Field(nullable=False, description="from the file name")
    file_created_at: UtcDatetime = pa.Field(nullable=False)

    class Config:
        unique = ["scenario_id", "delivery_start"]


class DayAheadPrice(pa.DataFrameModel):
    """One MTU of the day-ahead auction result (``market/day_ahead_prices_<day>.csv``)."""

    delivery_start: UtcDatetime = pa.Field(nullable=False)
    price_eur_per_mwh: float = pa.Field(nullable=False)
    delivery_day: dt.date = pa.Field(nullable=False)

    class Config:
        unique = ["delivery_start"]


class HydroPlant(pa.DataFrameModel):
    """One reservoir plant of ``hydro/technical_data_<created>.json``."""

    asset_id: str = pa.Field(nullable=False)
    client_id: str = pa.Field(nullable=False)
    reservoir_max_mwh: float = pa.Field(gt=0)
    reservoir_min_mwh: float = pa.Field(ge=0)
    turbine_max_mw: float = pa.Field(ge=0)
    pump_max_mw: float = pa.Field(ge=0, description="0 = no pump")
    pump_efficiency: float = pa.Field(ge=0, le=1)
    ramp_mw_per_qh: float = pa.Field(gt=0)
    water_value_eur_per_mwh: float = pa.Field(ge=0)
    file_created_at: UtcDatetime = pa.Field(nullable=False)

    class Config:
        unique = ["asset_id"]


class InflowForecast(pa.DataFrameModel):
    """One QH of a plant's inflow forecast (``hydro/inflow_forecast_<asset>_<created>.csv``)."""

    asset_id: str = pa.Field(nullable=False)
    delivery_start: UtcDatetime = pa.Field(nullable=False)
    inflow_mwh: float = pa.Field(ge=0)
    file_created_at: UtcDatetime = pa.Field(nullable=False)

    class Config:
        unique = ["asset_id", "delivery_start"]


class ReservoirLevel(pa.DataFrameModel):
    """One measured content (``hydro/reservoir_level_<asset>_<created>.csv``)."""

    asset_id: str = pa.Field(nullable=False)
    measured_at: UtcDatetime = pa.Field(nullable=False)
    content_mwh: float = pa.Field(ge=0)
    file_created_at: UtcDatetime = pa.Field(nullable=False)

    class Config:
        unique = ["asset_id", "measured_at"]


# --- contract tables ----------------------------------------------------------------------------

class SolverRun(pa.DataFrameModel):
    """solver_run: asset x scenario x delivery day, one row per input hash.

    Same input hash, same row; a changed input (a newer scenario file before gate closure)
    adds a row beside the earlier one, which stays as the record of what was solved then.
    """

    delivery_day: dt.date
    client_id: str
    asset_id: str
    scenario_id: int = pa.Field(ge=0, description="0 = the single solve of a type without scenarios")
    input_hash: str = pa.Field(str_length={"min_value": 64, "max_value": 64})
    status: str = pa.Field(isin=SOLVE_STATUSES)
    objective_eur: float = pa.Field(nullable=True)
    solve_seconds: float = pa.Field(ge=0)
    message: str = pa.Field(nullable=True)
    iterations: int = pa.Field(ge=0)
    asset_type: str
    config_hash: str

    class Config:
        unique = ["delivery_day", "asset_id", "scenario_id", "input_hash"]


class AssetBidCurve(pa.DataFrameModel):
    """asset_bid_curve: asset x MTU x point (points numbered from 1 by rising price)."""

    delivery_day: dt.date
    client_id: str
    asset_id: str
    delivery_start: UtcDatetime
    point: int = pa.Field(ge=1)
    price_eur_per_mwh: float
    volume_mw: float
    curve_status: str = pa.Field(isin=CURVE_STATUSES)
    coverage: float = pa.Field(ge=0, le=1)
    fallback_source: str = pa.Field(nullable=True, description="previous_day, deterministic or zero")

    class Config:
        unique = ["delivery_day", "asset_id", "delivery_start", "point"]


class BidMatrix(pa.DataFrameModel):
    """bid_matrix: client x MTU x point, one version per content change."""

    delivery_day: dt.date
    client_id: str
    version: int = pa.Field(ge=1)
    delivery_start: UtcDatetime
    point: int = pa.Field(ge=1)
    price_eur_per_mwh: float
    volume_mw: float

    class Config:
        unique = ["delivery_day", "client_id", "version", "delivery_start", "point"]


class BidSubmission(pa.DataFrameModel):
    """bid_submission: client x day x version."""

    delivery_day: dt.date
    client_id: str
    version: int = pa.Field(ge=1)
    content_hash: str
    idempotency_key: str
    status: str = pa.Field(isin=SUBMISSION_STATUSES)
    approved_by: str = pa.Field(nullable=True)
    submitted_at: UtcDatetime = pa.Field(nullable=True)
    exchange_order_id: str = pa.Field(nullable=True)

    class Config:
        unique = ["delivery_day", "client_id", "version"]


TABLES: dict[str, type[pa.DataFrameModel]] = {
    "solver_run": SolverRun,
    "asset_bid_curve": AssetBidCurve,
    "bid_matrix": BidMatrix,
    "bid_submission": BidSubmission,
}


class BriefingFigure(pa.DataFrameModel):
    """client x delivery day x key: one number of a trader briefing, as its text shows it."""

    delivery_day: dt.date
    client_id: str
    key: str
    value: float
    unit: str
    decimals: int = pa.Field(ge=0, le=6)

    class Config:
        unique = ["delivery_day", "client_id", "key"]
