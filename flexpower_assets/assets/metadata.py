"""Metadata helpers: what a materialization shows in the Dagster UI."""

from __future__ import annotations

import dagster as dg
import pandera.polars as pa
import polars as pl

from flexpower_assets.markdown import MAX_PREVIEW_ROWS, markdown_table
from flexpower_assets.schemas import conform

__all__ = ["MAX_PREVIEW_ROWS", "markdown_table", "schema_check", "schema_check_spec"]


def schema_check(frame: pl.DataFrame, model: type[pa.DataFrameModel], asset: str) -> tuple[pl.DataFrame, dg.AssetCheckResult]:
    """Conform a published frame to its model and validate it; the result blocks downstream on failure."""
    conformed = conform(frame, model)
    try:
        model.validate(conformed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.head(MAX_PREVIEW_ROWS)
        return conformed, dg.AssetCheckResult(
            check_name="matches_schema", asset_key=dg.AssetKey.from_user_string(asset), passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"failures": dg.MetadataValue.md(markdown_table(cases.select(
                [c for c in ("column", "check", "failure_case", "index") if c in cases.columns]
            ).with_columns(pl.all().cast(pl.String))))},
        )
    return conformed, dg.AssetCheckResult(check_name="matches_schema", asset_key=dg.AssetKey.from_user_string(asset), passed=True)


def schema_check_spec(asset: str, model: type[pa.DataFrameModel]) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "matches_schema", asset=asset, blocking=True,
        description=f"Columns, types, keys and value ranges of {model.__name__} (schema registry).",
    )
