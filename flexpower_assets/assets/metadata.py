"""Metadata helpers: what a materialization shows in the Dagster UI."""

from __future__ import annotations

import dagster as dg
import pandera.polars as pa
import polars as pl

from flexpower_assets.schemas import conform

MAX_PREVIEW_ROWS = 12


def markdown_table(frame: pl.DataFrame, max_rows: int = MAX_PREVIEW_ROWS) -> str:
    """A small markdown table of the first rows (floats rounded for reading)."""
    if frame.is_empty():
        return "_none_"
    shown = frame.head(max_rows).with_columns(pl.col(pl.Float64).round(3))
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"
    body = ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in shown.iter_rows()]
    more = [f"\n_{frame.height - max_rows} more rows_"] if frame.height > max_rows else []
    return "\n".join([header, rule, *body, *more])


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
