"""The rows a report reads: one frame per data-contract table, its columns from the schema registry.

``ReportInputs`` conforms whatever it is given (a warehouse read, or frames written inline in a
test) to the declared columns of each table: absent columns are null, extra ones are dropped,
amounts are floats. Reading them from the warehouse is ``flexpower_assets.reports.inputs``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import pandera.polars as pa
import polars as pl

from flexpower_assets.domain.time import month_of
from flexpower_assets.schemas import columns_of, core, inbound, invoicing, published

#: The registry model of each table a report reads (raw contracts carry their delivery day).
INPUT_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "asset_forecast": published.AssetForecast,
    "best_of_infeed": published.BestOfInfeed,
    "trading_pnl": published.TradingPnl,
    "trading_daily": published.TradingDaily,
    "asset_imbalance": published.AssetImbalance,
    "portfolio_imbalance": published.PortfolioImbalance,
    "contracts": inbound.Contract,
    "redispatch_compensation": core.RedispatchCompensationPrice,
    "invoices": invoicing.Invoice,
    "invoice_lines": invoicing.InvoiceLine,
}


def input_columns(name: str) -> dict[str, pl.DataType]:
    """The columns a report reads from ``name``: the model's, Decimal amounts as floats."""
    declared = columns_of(INPUT_MODELS[name])
    if name == "contracts":
        declared = {"delivery_day": pl.Date, **declared}
    return {col: pl.Float64 if isinstance(dtype, pl.Decimal) or dtype == pl.Decimal else dtype
            for col, dtype in declared.items()}


def conform_input(name: str, frame: pl.DataFrame | None) -> pl.DataFrame:
    """The columns a report reads from ``name``, typed; absent columns are null."""
    wanted = input_columns(name)
    frame = frame if frame is not None else pl.DataFrame()
    if name == "invoices" and "month" in frame.columns:
        # the month may be stored as a DATE (first of the month) or as 'YYYY-MM'
        frame = frame.with_columns(pl.col("month").cast(pl.Utf8).str.slice(0, 7))
    exprs = [_typed(frame, col, dtype) for col, dtype in wanted.items()]
    return frame.select(exprs) if frame.columns else pl.DataFrame(schema=wanted)


def _typed(frame: pl.DataFrame, col: str, dtype: pl.DataType) -> pl.Expr:
    if col not in frame.columns:
        return pl.lit(None, dtype=dtype).alias(col)
    have = frame.schema[col]
    if isinstance(have, pl.Datetime) and have.time_zone not in (None, "UTC"):
        return pl.col(col).dt.convert_time_zone("UTC").cast(dtype)  # DuckDB may say Etc/UTC
    return pl.col(col).cast(dtype, strict=False)


@dataclass(frozen=True)
class ReportInputs:
    """The rows of one period that a report reads, one polars frame per table (empty if absent)."""

    asset_forecast: pl.DataFrame | None = None
    best_of_infeed: pl.DataFrame | None = None
    trading_pnl: pl.DataFrame | None = None
    trading_daily: pl.DataFrame | None = None
    asset_imbalance: pl.DataFrame | None = None
    portfolio_imbalance: pl.DataFrame | None = None
    contracts: pl.DataFrame | None = None
    redispatch_compensation: pl.DataFrame | None = None
    invoices: pl.DataFrame | None = None
    invoice_lines: pl.DataFrame | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, conform_input(f.name, getattr(self, f.name)))

    def for_days(self, start_day: date, end_day: date) -> ReportInputs:
        """Only the rows of ``start_day .. end_day``; invoices of the months those days touch."""
        months = {month_of(start_day), month_of(end_day)}
        kept: dict[str, pl.DataFrame] = {}
        for f in fields(self):
            frame: pl.DataFrame = getattr(self, f.name)
            if "delivery_day" in frame.columns:
                frame = frame.filter(pl.col("delivery_day").is_between(start_day, end_day))
            elif f.name == "invoices":
                frame = frame.filter(pl.col("month").is_in(sorted(months)))
            kept[f.name] = frame
        return ReportInputs(**kept)
