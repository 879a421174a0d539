"""What a bid run reads for a delivery day: the applicable rows of each inbound kind (no Dagster).

"The newest file created before gate closure wins" (BIDDING.md): every read is cut off at
``as_of`` = min(now, gate closure). Price scenarios: the rows of the newest scenario file of the
day created by then. Technical data: the newest file's plants. Inflow forecasts and reservoir
levels: per asset, the newest file created by then (the level's own ``measured_at`` is cut off
by the asset type's ``prepare``).

Where an asset type's technical data comes from is registered next to the type's inputs
(``register_technical_source``): the orchestration asks this module and never names a type.
An input a type reads from a published warehouse table instead of a landing kind (the renewable
type's ``asset_forecast_quantile``) is registered with ``register_warehouse_input``: it is read
by its source, cut off at ``as_of`` the same way, and never synced from the landing zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import polars as pl

from flexpower_assets.domain.probabilistic import past_price_window
from flexpower_assets.ingestion.catalog import accepted_rows
from resources.warehouse import Warehouse

#: (warehouse, delivery day, as_of) -> one row per asset with the type's technical-data fields
TechnicalSource = Callable[[Warehouse, date, datetime], pl.DataFrame]
_TECHNICAL_SOURCES: dict[str, TechnicalSource] = {}
_TECHNICAL_KINDS: dict[str, tuple[str, ...]] = {}
#: (warehouse, delivery day, as_of) -> the rows of a published table a bid run reads as an input
WarehouseInput = Callable[[Warehouse, date, datetime], pl.DataFrame]
_WAREHOUSE_INPUTS: dict[str, WarehouseInput] = {}
#: the landing kinds every bid run reads besides its asset types' inputs and technical data
DAY_KINDS = ("price_scenarios", "day_ahead_prices")


def newest_file(frame: pl.DataFrame, as_of: datetime, by: Iterable[str] = (),
                created: str = "file_created_at") -> pl.DataFrame:
    """The rows of the newest file created at or before ``as_of`` (per ``by`` group)."""
    if frame.is_empty():
        return frame
    known = frame.filter(pl.col(created) <= as_of)
    by = list(by)
    if known.is_empty():
        return known
    newest = pl.col(created).max().over(by) if by else pl.col(created).max()
    return known.filter(pl.col(created) == newest)


def _kind_rows(warehouse: Warehouse, kind: str, days: Iterable[date] | None = None) -> pl.DataFrame:
    return accepted_rows(warehouse, kind, days=days)


def technical_from_kind(kind: str) -> TechnicalSource:
    """A technical source reading a landing kind whose newest file (by ``as_of``) lists the assets."""

    def read(warehouse: Warehouse, day: date, as_of: datetime) -> pl.DataFrame:
        return newest_file(_kind_rows(warehouse, kind), as_of)

    return read


def register_technical_source(asset_type_name: str, source: TechnicalSource, kinds: Iterable[str] = ()) -> None:
    """Where the technical data of a type comes from, and the landing kinds that source reads."""
    _TECHNICAL_SOURCES[asset_type_name] = source
    _TECHNICAL_KINDS[asset_type_name] = tuple(kinds)


def unregister_technical_source(asset_type_name: str) -> None:
    _TECHNICAL_SOURCES.pop(asset_type_name, None)
    _TECHNICAL_KINDS.pop(asset_type_name, None)


def register_warehouse_input(name: str, source: WarehouseInput) -> None:
    """An input (named in an asset type's ``input_kinds``) read from the warehouse, not the landing zone."""
    _WAREHOUSE_INPUTS[name] = source


def landing_kinds(asset_type_names: Iterable[str], input_kinds: Iterable[str]) -> list[str]:
    """Every landing kind a bid run over these types reads (to bring the catalog up to date)."""
    kinds = set(DAY_KINDS) | (set(input_kinds) - set(_WAREHOUSE_INPUTS))
    for name in asset_type_names:
        kinds |= set(_TECHNICAL_KINDS.get(name, ()))
    return sorted(kinds)


def technical_source(asset_type_name: str) -> TechnicalSource | None:
    return _TECHNICAL_SOURCES.get(asset_type_name)


# reservoir plants are listed in hydro/technical_data_*.json
register_technical_source("reservoir_hydro", technical_from_kind("hydro_technical_data"), ["hydro_technical_data"])


def portfolio_technical(warehouse: Warehouse, day: date, as_of: datetime) -> pl.DataFrame:
    """The portfolio's assets of ``day`` (``core.portfolio_assets``) with their capacity in MW: the
    contract's, else the VPP's technical data (the capacity ``asset_forecast_quantile`` clips to)."""
    if not warehouse.table_exists("core", "portfolio_assets"):
        return pl.DataFrame()
    return warehouse.read(
        "select asset_id, technology, coalesce(capacity_mw, capacity_vpp_kw / 1000.0) as capacity_mw "
        "from core.portfolio_assets where delivery_day = ? order by asset_id", [day])


def champion_quantiles(warehouse: Warehouse, day: date, as_of: datetime) -> pl.DataFrame:
    """The champion method's quantiles of ``day`` (``main.asset_forecast_quantile``, rows flagged
    ``is_champion``): made from the forecast available at the day's gate closure and past days'
    errors (D-2 and earlier), so nothing in them is newer than ``as_of`` allows."""
    if not warehouse.table_exists("main", "asset_forecast_quantile"):
        return pl.DataFrame()
    return warehouse.read(
        "select asset_id, delivery_start, quantile_level, power_kw, method, forecast_version "
        "from main.asset_forecast_quantile where delivery_day = ? and is_champion "
        "order by asset_id, delivery_start, quantile_level", [day])


def imbalance_price_history(warehouse: Warehouse, day: date, as_of: datetime) -> pl.DataFrame:
    """The reBAP of the critical-ratio window of ``day`` (days <= D-2, ``domain.probabilistic``)."""
    first, last = past_price_window(day)
    if not warehouse.table_exists("core", "imbalance_prices"):
        return pl.DataFrame()
    return warehouse.read("select * from core.imbalance_prices where delivery_day between ? and ?", [first, last])


def day_ahead_price_history(warehouse: Warehouse, day: date, as_of: datetime) -> pl.DataFrame:
    """The auction results of the critical-ratio window of ``day``: days <= D-2, whose results were
    published (12:45 on the day before each) before the gate closure of ``day``. A file name holds
    its day only, and a re-delivery under the same name replaces the earlier one in the catalog."""
    first, last = past_price_window(day)
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    rows = _kind_rows(warehouse, "day_ahead_prices", days)
    if rows.is_empty():
        return rows
    return (rows.filter(pl.col("delivery_day").is_between(first, last))
            .unique("delivery_start", keep="last", maintain_order=True)
            .select("delivery_day", "delivery_start", "price_eur_per_mwh"))


# the portfolio's renewables: capacity from the day's portfolio, quantiles and prices from the warehouse
register_technical_source("renewable", portfolio_technical)
register_warehouse_input("asset_forecast_quantile", champion_quantiles)
register_warehouse_input("imbalance_price_history", imbalance_price_history)
register_warehouse_input("day_ahead_price_history", day_ahead_price_history)


@dataclass
class DayInputs:
    """The applicable inputs of one delivery day, as of ``as_of``."""

    delivery_day: date
    as_of: datetime
    scenarios: pl.DataFrame
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)      # kind -> rows
    technical: dict[str, pl.DataFrame] = field(default_factory=dict)   # asset type -> rows

    def scenario_file(self) -> str | None:
        if self.scenarios.is_empty() or "file_created_at" not in self.scenarios.columns:
            return None
        return self.scenarios["file_created_at"].max().isoformat()


def load_day_inputs(warehouse: Warehouse, delivery_day: date, as_of: datetime, input_kinds: Iterable[str],
                    asset_types: Iterable[str]) -> DayInputs:
    scenarios = newest_file(_kind_rows(warehouse, "price_scenarios", [delivery_day]), as_of)
    if not scenarios.is_empty():
        scenarios = scenarios.filter(pl.col("delivery_day") == delivery_day)
    frames: dict[str, pl.DataFrame] = {}
    for kind in sorted(set(input_kinds)):
        if kind in _WAREHOUSE_INPUTS:
            frames[kind] = _WAREHOUSE_INPUTS[kind](warehouse, delivery_day, as_of)
            continue
        rows = _kind_rows(warehouse, kind, [delivery_day - timedelta(days=2), delivery_day - timedelta(days=1),
                                            delivery_day])
        frames[kind] = newest_file(rows, as_of, by=["asset_id"]) if "asset_id" in rows.columns else rows
    technical = {}
    for name in sorted(set(asset_types)):
        source = technical_source(name)
        if source is not None:
            technical[name] = source(warehouse, delivery_day, as_of)
    return DayInputs(delivery_day, as_of, scenarios, frames, technical)
