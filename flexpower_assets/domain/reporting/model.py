"""What a report is: its kinds and scopes, the figure tables and the written summary it carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import polars as pl

PORTFOLIO = "portfolio"
REPORT_KINDS = ("daily", "monthly")
MEASURED_SOURCES = ("final", "live")
INFEED_SOURCES = ("final", "live", "forecast", "forecast_redispatched", "missing")
KW_PER_MWH_IN_QH = 4000.0  # 1 MWh in one quarter-hour is a mean power of 4 MW = 4,000 kW


@dataclass(frozen=True)
class Summary:
    """The written summary of one scope: three short lists of sentences."""

    happened: tuple[str, ...]
    stood_out: tuple[str, ...]
    provisional: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """Every figure of one report. Figure tables have a ``scope`` column (``portfolio`` or an asset)."""

    kind: str  # "daily" | "monthly"
    period: str  # "YYYY-MM-DD" | "YYYY-MM"
    start_day: date
    end_day: date
    assets: tuple[str, ...]
    production: pl.DataFrame
    accuracy: pl.DataFrame
    trading: pl.DataFrame
    imbalance: pl.DataFrame
    redispatch: pl.DataFrame
    money: pl.DataFrame
    completeness: pl.DataFrame
    worst_hours: pl.DataFrame
    production_series: pl.DataFrame
    error_series: pl.DataFrame
    trading_series: pl.DataFrame
    imbalance_series: pl.DataFrame
    summaries: Mapping[str, Summary] = field(default_factory=dict)

    @property
    def scopes(self) -> tuple[str, ...]:
        """``portfolio`` first, then every asset: one HTML file each."""
        return (PORTFOLIO, *self.assets)

    def row(self, table: str, scope: str, **match: str) -> dict[str, Any]:
        """The single row of figure table ``table`` for ``scope`` (and e.g. ``forecast='latest'``)."""
        for row in self.rows(table, scope):
            if all(row[column] == value for column, value in match.items()):
                return dict(row)
        return {}

    def rows(self, table: str, scope: str) -> list[dict[str, Any]]:
        """Every row of figure table ``table`` for ``scope``, in the table's order (read-only).

        A table is split by scope once, on first use: a report of 1,000 assets looks rows up
        tens of thousands of times while it is written."""
        index = self._scope_index.get(table)
        if index is None:
            index = {}
            for row in getattr(self, table).iter_rows(named=True):
                index.setdefault(row["scope"], []).append(row)
            self._scope_index[table] = index
        return index.get(scope, [])

    def series(self, table: str, scope: str) -> pl.DataFrame:
        """The rows of series ``table`` (e.g. ``imbalance_series``) for ``scope``, split once like ``rows``."""
        key = f"series:{table}"
        parts = self._scope_index.get(key)
        if parts is None:
            frame: pl.DataFrame = getattr(self, table)
            parts = {scope_: part for (scope_,), part in
                     frame.partition_by("scope", as_dict=True, maintain_order=True).items()}
            parts[None] = frame.clear()
            self._scope_index[key] = parts
        return parts.get(scope, parts[None])

    @cached_property
    def _scope_index(self) -> dict[str, dict[Any, Any]]:
        return {}
