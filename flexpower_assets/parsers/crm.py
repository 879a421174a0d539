"""CRM: contract snapshots (``crm/asset_contracts_<YYYYMMDD>_<HHMMSS>.csv``).

A snapshot is read as published: inconsistent contracts (a fixed price model without a price,
say) are loaded; the data-quality checks flag them later.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from flexpower_assets.parsers.errors import (
    LINE,
    InputFileError,
    collapse_duplicates,
    match_name,
    parse_column,
    read_csv_strings,
    reject_rows,
    utc_from_name,
    validate_rows,
)
from flexpower_assets.schemas.inbound import Contract

CONTRACTS_NAME = re.compile(r"asset_contracts_(?P<created>\d{8}_\d{6})\.csv")
HEADER = [
    "contract_id", "asset_id", "metering_point_id", "capacity", "technology", "contract_begin",
    "contract_end", "price_model", "price", "fee_model", "fee", "fee_percent", "email",
]
TEXT_COLUMNS = ["contract_id", "asset_id", "metering_point_id", "technology", "price_model",
                "fee_model", "email"]
FILE_NAMES = {"capacity_mw": "capacity", "price_eur_per_mwh": "price"}


def parse_contracts(path: Path) -> pl.DataFrame:
    """One row per contract of a CRM snapshot; ``snapshot_created_at`` is the name's UTC time.

    An empty ``contract_end`` is open-ended (null). Identical repeated rows collapse; a
    contract_id repeated with different values rejects the file, and so does a contract_end
    before its contract_begin (a term that cannot be meant; an end equal to the begin is a
    contract active on no day, which a cancellation can produce, and is accepted).
    """
    path = Path(path)
    created = utc_from_name(path, match_name(path, CONTRACTS_NAME)["created"], "%Y%m%d_%H%M%S")
    raw = read_csv_strings(path, HEADER)
    if raw.is_empty():
        # a snapshot is the full contract list: an empty one would silently empty the portfolio
        raise InputFileError(path, "snapshot holds no contract (header only): a full CRM snapshot "
                                   "lists every contract", line=2)

    def number(column: str) -> pl.Series:
        return parse_column(raw, path, column, pl.col(column).cast(pl.Float64, strict=False),
                            "a number")

    def day(column: str) -> pl.Series:
        return parse_column(raw, path, column,
                            pl.col(column).str.to_date("%Y-%m-%d", strict=False), "a date YYYY-MM-DD")

    frame = raw.select(TEXT_COLUMNS + [LINE]).with_columns(
        capacity_mw=number("capacity"),
        contract_begin=day("contract_begin"),
        contract_end=day("contract_end"),
        price_eur_per_mwh=number("price"),
        fee=number("fee"),
        fee_percent=number("fee_percent"),
        snapshot_created_at=pl.lit(created, dtype=pl.Datetime("us", "UTC")),
    )
    reject_rows(frame, path, pl.col("contract_end") < pl.col("contract_begin"),
                lambda row: f"contract {row['contract_id']!r}: contract_end {row['contract_end']} is before "
                            f"contract_begin {row['contract_begin']}")
    frame = collapse_duplicates(frame, ["contract_id"], path)
    return validate_rows(frame, Contract, path, names=FILE_NAMES)
