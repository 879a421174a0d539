"""Sums that do not depend on row order: re-running a day gives byte-identical numbers.

A float sum depends on the order of its terms in the last bits (and polars' order depends on how
the rows were read, chunked and grouped), so two builds of the same inputs could publish
different numbers. Every sum that is published is therefore taken exactly: each term is rounded
to ``SCALE`` decimals (1e-9 of its unit: of a kW, an MWh, a EUR) and the terms are added as
128-bit decimals, which is exact, and so independent of order; the total becomes a float again.
A term too large for 38 digits (> 1e29) raises rather than being dropped; the plausibility
bounds keep every input far below that.
"""

from __future__ import annotations

import polars as pl

SCALE = 9
EXACT = pl.Decimal(38, SCALE)


def exact_sum(expr: pl.Expr) -> pl.Expr:
    """``expr.sum()``, the same whatever order the values come in (nulls count as 0, as in ``sum``)."""
    return expr.cast(EXACT).sum().cast(pl.Float64)
