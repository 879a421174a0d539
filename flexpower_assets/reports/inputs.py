"""Reading a report's inputs from the warehouse: which table each input is, and the period's rows.

The I/O side of ``flexpower_assets.domain.reporting`` (which does none): parametrised reads through
anything with ``read(sql, params)``, such as ``resources.warehouse.Warehouse``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

import polars as pl

from flexpower_assets.domain.reporting import ReportInputs
from flexpower_assets.domain.time import month_of

# Where each input lives in the warehouse (schema.table) and how its period is selected.
INPUT_TABLES: dict[str, tuple[str, str]] = {
    "asset_forecast": ("main", "asset_forecast"),
    "best_of_infeed": ("main", "best_of_infeed"),
    "trading_pnl": ("main", "trading_pnl"),
    "trading_daily": ("main", "trading_daily"),
    "asset_imbalance": ("main", "asset_imbalance"),
    "portfolio_imbalance": ("main", "portfolio_imbalance"),
    "contracts": ("raw", "raw_crm__contracts"),
    "redispatch_compensation": ("core", "redispatch_compensation"),
    "invoices": ("main", "invoice"),
    "invoice_lines": ("main", "invoice_line"),
}



class _Reads(Protocol):
    def read(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame: ...


def load_report_inputs(warehouse: _Reads, start_day: date, end_day: date) -> ReportInputs:
    """Read every input of ``start_day .. end_day`` (inclusive) through ``warehouse.read``.

    Tables that do not exist yet give empty frames. Invoices are those of the months the period
    touches, all versions (the report picks the current one).
    """
    existing = warehouse.read(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('main', 'raw', 'core')"
    )
    present = set(zip(existing["table_schema"].to_list(), existing["table_name"].to_list(), strict=True))
    months = sorted({month_of(start_day), month_of(end_day)})
    frames: dict[str, pl.DataFrame] = {}
    for name, (schema, table) in INPUT_TABLES.items():
        if (schema, table) not in present:
            continue
        relation = f'"{schema}"."{table}"'  # identifiers come from INPUT_TABLES above, never from input
        if name == "invoices":
            sql = f"select * from {relation} where left(cast(month as varchar), 7) in (?, ?)"
            frames[name] = warehouse.read(sql, [months[0], months[-1]])
        elif name == "invoice_lines":
            if ("main", "invoice") not in present:
                continue
            sql = (
                f"select l.* from {relation} l where l.invoice_id in ("
                'select invoice_id from "main"."invoice" where left(cast(month as varchar), 7) in (?, ?))'
            )
            frames[name] = warehouse.read(sql, [months[0], months[-1]])
        else:
            sql = f"select * from {relation} where delivery_day between ? and ?"
            frames[name] = warehouse.read(sql, [start_day, end_day])
    return ReportInputs(**frames)
