"""Metadata helpers: what a materialization shows in the Dagster UI."""

from __future__ import annotations

import warnings

import dagster as dg
import pandera.polars as pa
import polars as pl

from flexpower_assets.markdown import MAX_PREVIEW_ROWS, markdown_table
from flexpower_assets.schemas import conform

__all__ = ["MAX_PREVIEW_ROWS", "markdown_table", "schema_check", "schema_check_spec"]


def schema_check(frame: pl.DataFrame, model: type[pa.DataFrameModel], asset: str,
                 day=None) -> tuple[pl.DataFrame, dg.AssetCheckResult]:
    """Conform a published frame to its model and validate it; the result blocks downstream on failure.

    ``day`` (the delivery day) is named in the result's description and metadata."""
    conformed = conform(frame, model)
    named = {"description": f"delivery day {day}", "metadata": {"delivery_day": str(day)}} if day else {"metadata": {}}
    try:
        model.validate(conformed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.head(MAX_PREVIEW_ROWS)
        return conformed, dg.AssetCheckResult(
            check_name="matches_schema", asset_key=dg.AssetKey.from_user_string(asset), passed=False,
            severity=dg.AssetCheckSeverity.ERROR, description=named.get("description"),
            metadata={**named["metadata"], "failures": dg.MetadataValue.md(markdown_table(cases.select(
                [c for c in ("column", "check", "failure_case", "index") if c in cases.columns]
            ).with_columns(pl.all().cast(pl.String))))},
        )
    return conformed, dg.AssetCheckResult(check_name="matches_schema", asset_key=dg.AssetKey.from_user_string(asset),
                                          passed=True, description=named.get("description"),
                                          metadata=named["metadata"])


def partitioned_check_spec(name: str, asset, partitions_def: dg.PartitionsDefinition | None = None,
                           **kwargs) -> dg.AssetCheckSpec:
    """A check evaluated per partition of its asset, so every result names its delivery day (or
    month) in the UI and in the run's events. Partitioned checks are a preview feature of Dagster
    1.13; its warning is silenced here, once, rather than printed for every check."""
    if partitions_def is None:
        from flexpower_assets.partitions import daily_partitions
        partitions_def = daily_partitions
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(name, asset=asset, partitions_def=partitions_def, **kwargs)


def schema_check_spec(asset: str, model: type[pa.DataFrameModel],
                      partitions_def: dg.PartitionsDefinition | None = None) -> dg.AssetCheckSpec:
    return partitioned_check_spec(
        "matches_schema", asset=asset, partitions_def=partitions_def, blocking=True,
        description=f"Columns, types, keys and value ranges of {model.__name__} (schema registry).",
    )
