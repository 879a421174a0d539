"""The schema registry: every dataset's columns, types, units and keys, declared once.

Inbound file frames (``inbound``) are validated by the parsers; published tables
(``published``) are conformed and validated before they are written, and the Dagster asset
checks are generated from the same models. ``conform`` puts a frame into its declared column
order and types so that every partition of a DuckDB table has the same layout.
"""

from __future__ import annotations

from typing import Annotated

import pandera.polars as pa
import polars as pl

UtcDatetime = Annotated[pl.Datetime, "us", "UTC"]


def columns_of(model: type[pa.DataFrameModel]) -> dict[str, pl.DataType]:
    """Declared column names and polars dtypes of a model, in declaration order."""
    schema = model.to_schema()
    return {name: column.dtype.type for name, column in schema.columns.items()}


def conform(frame: pl.DataFrame, model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """Declared columns first, in order, cast to their declared types; extra columns kept after.

    Missing declared columns are an error: a published table never silently loses a column.
    """
    declared = columns_of(model)
    missing = [name for name in declared if name not in frame.columns]
    if missing:
        raise ValueError(f"{model.__name__}: frame lacks declared columns {missing}")
    extra = [name for name in frame.columns if name not in declared]
    return frame.select(
        [pl.col(name).cast(dtype) for name, dtype in declared.items()] + [pl.col(name) for name in extra]
    )


def validate(frame: pl.DataFrame, model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """Conform, then validate with pandera (all failures collected)."""
    return model.validate(conform(frame, model), lazy=True)
