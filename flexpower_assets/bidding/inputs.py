"""What a bid run reads for a delivery day: the applicable rows of each inbound kind (no Dagster).

"The newest file created before gate closure wins" (BIDDING.md): every read is cut off at
``as_of`` = min(now, gate closure). Price scenarios: the rows of the newest scenario file of the
day created by then. Technical data: the newest file's plants. Inflow forecasts and reservoir
levels: per asset, the newest file created by then (the level's own ``measured_at`` is cut off
by the asset type's ``prepare``).

Where an asset type's technical data comes from is registered next to the type's inputs
(``register_technical_source``): the orchestration asks this module and never names a type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import polars as pl

from flexpower_assets.ingestion.catalog import accepted_rows
from resources.warehouse import Warehouse

#: (warehouse, delivery day, as_of) -> one row per asset with the type's technical-data fields
TechnicalSource = Callable[[Warehouse, date, datetime], pl.DataFrame]
_TECHNICAL_SOURCES: dict[str, TechnicalSource] = {}
_TECHNICAL_KINDS: dict[str, tuple[str, ...]] = {}
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


def landing_kinds(asset_type_names: Iterable[str], input_kinds: Iterable[str]) -> list[str]:
    """Every landing kind a bid run over these types reads (to bring the catalog up to date)."""
    kinds = set(DAY_KINDS) | set(input_kinds)
    for name in asset_type_names:
        kinds |= set(_TECHNICAL_KINDS.get(name, ()))
    return sorted(kinds)


def technical_source(asset_type_name: str) -> TechnicalSource | None:
    return _TECHNICAL_SOURCES.get(asset_type_name)


# reservoir plants are listed in hydro/technical_data_*.json
register_technical_source("reservoir_hydro", technical_from_kind("hydro_technical_data"), ["hydro_technical_data"])


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
        rows = _kind_rows(warehouse, kind, [delivery_day - timedelta(days=2), delivery_day - timedelta(days=1),
                                            delivery_day])
        frames[kind] = newest_file(rows, as_of, by=["asset_id"]) if "asset_id" in rows.columns else rows
    technical = {}
    for name in sorted(set(asset_types)):
        source = technical_source(name)
        if source is not None:
            technical[name] = source(warehouse, delivery_day, as_of)
    return DayInputs(delivery_day, as_of, scenarios, frames, technical)
