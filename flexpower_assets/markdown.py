"""Small markdown tables of polars frames: what the Dagster UI shows next to a materialization.

No Dagster here, so that resources and assets can both use it.
"""

from __future__ import annotations

import polars as pl

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
