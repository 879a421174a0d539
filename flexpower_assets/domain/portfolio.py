"""The portfolio of a delivery day: which contracts apply, which assets are in it, and checks on them.

Rules (DOMAIN.md, Portfolio): the contract terms of a day are those of the latest CRM snapshot
created before the end of that day; an asset is in the portfolio when that snapshot holds its
contract and the contract is active on the day (the active-day and term rules themselves live in
``domain.contracts``). Contract consistency and the CRM/VPP capacity
comparison are data-quality checks that live here too, as does the asset x quarter-hour grid
every per-asset table of the day is built on.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from flexpower_assets.domain import contracts
from flexpower_assets.domain.time import to_utc

ASSET_COLUMNS = ["asset_id", "metering_point_id", "technology", "capacity_mw"]


def applicable_snapshot(contracts: pl.DataFrame, day_end: datetime) -> pl.DataFrame:
    """Rows of the latest CRM snapshot created strictly before ``day_end`` (UTC end of the day).

    ``contracts`` holds the rows of every snapshot, told apart by ``snapshot_created_at``. With no
    snapshot old enough the result is empty, with the same columns.
    """
    eligible = contracts.filter(pl.col("snapshot_created_at") < to_utc(day_end))
    if eligible.is_empty():
        return contracts.clear()
    return eligible.filter(pl.col("snapshot_created_at") == pl.col("snapshot_created_at").max())


def active_contracts(snapshot: pl.DataFrame, day: date) -> pl.DataFrame:
    """Contracts active on ``day`` (the rule of ``domain.contracts``: begin inclusive, end exclusive)."""
    return contracts.active_on(snapshot, day)


def contract_conflicts(active: pl.DataFrame) -> pl.DataFrame:
    """Active contracts that claim the same production: one row per contract and conflict.

    Two contracts active for one asset, or one metering point on two assets, would each be paid
    for the same energy. ``active`` holds the active contracts of one day, or of several days
    with a ``delivery_day`` column (conflicts are then found per day). Columns
    ``[delivery_day,] contract_id, asset_id, conflict``, the conflict worded with every contract
    involved, e.g. ``asset 'A' has 2 active contracts: C1, C2``.
    """
    day = ["delivery_day"] if "delivery_day" in active.columns else []
    rows = active.select(*day, "contract_id", "asset_id", "metering_point_id").unique()
    contracts = pl.col("contract_id").unique().sort()
    per_asset = (
        rows.group_by(*day, "asset_id").agg(contracts=contracts)
        .filter(pl.col("contracts").list.len() > 1)
        .with_columns(conflict=pl.format("asset '{}' has {} active contracts: {}", "asset_id",
                                         pl.col("contracts").list.len(), pl.col("contracts").list.join(", ")))
        .select(*day, "contracts", "conflict")
    )
    per_meter = (
        rows.group_by(*day, "metering_point_id")
        .agg(assets=pl.col("asset_id").unique().sort(), contracts=contracts)
        .filter(pl.col("assets").list.len() > 1)
        .with_columns(conflict=pl.format("metering point '{}' is on {} assets: {} (contracts {})", "metering_point_id",
                                         pl.col("assets").list.len(), pl.col("assets").list.join(", "),
                                         pl.col("contracts").list.join(", ")))
        .select(*day, "contracts", "conflict")
    )
    return (
        pl.concat([per_asset, per_meter])
        .explode("contracts").rename({"contracts": "contract_id"})
        .join(rows.select(*day, "contract_id", "asset_id"), on=[*day, "contract_id"], how="left")
        .select(*day, "contract_id", "asset_id", "conflict")
        .unique()
        .sort(*day, "contract_id", "conflict")
    )


def portfolio_members(active: pl.DataFrame) -> pl.DataFrame:
    """The active contracts that make up the portfolio: one per asset and one per metering point.

    Where contracts conflict (``contract_conflicts``), the production is counted once: the
    contract that began last (then the greatest contract_id) represents the asset, and of assets
    sharing a metering point the one whose contract began last stays in the portfolio. The
    conflict is flagged and blocks the invoices of every contract involved; which contract is
    right is for the CRM to settle.
    """
    ordered = active.sort(["contract_begin", "contract_id"], descending=True)
    one_per_asset = ordered.unique("asset_id", keep="first", maintain_order=True)
    return one_per_asset.unique("metering_point_id", keep="first", maintain_order=True).sort("asset_id")


#: What the data-quality check says for each issue of ``contracts.term_issues``.
ISSUE_TEXT = {
    "unknown_price_model": "unknown price model",
    "price_missing": "fixed price model without a price",
    "price_on_market": "price given on a market price contract",
    "unknown_fee_model": "unknown fee model",
    "fee_missing": "fixed_as_produced/fixed_for_capacity fee model without a fee",
    "fee_percent_missing": "percent_of_market fee model without a fee_percent",
    "capacity_missing": "fixed_for_capacity fee model without a capacity",
    "fee_percent_on_fixed": "fee_percent given on a non-percent fee model",
    "fee_on_percent": "fee given on the percent_of_market fee model",
}


def contract_issues(snapshot: pl.DataFrame) -> pl.DataFrame:
    """One row per problem that keeps a contract's terms from being applied as meant.

    Columns ``contract_id, asset_id, issue``. The problems are those of ``contracts.term_issues``:
    a price that does not fit the price model, a fee (or fee percent) that does not fit the fee
    model; a value given for the other model is a problem too, because it shows the terms were not
    entered as meant. Pass one snapshot: the result is de-duplicated, so a contract repeated in
    several snapshots is listed once per issue.
    """
    rows = [
        {"contract_id": terms["contract_id"], "asset_id": terms["asset_id"], "issue": ISSUE_TEXT[issue.code]}
        for terms in snapshot.iter_rows(named=True)
        for issue in contracts.term_issues(terms)
    ]
    found = pl.DataFrame(rows, schema={"contract_id": pl.String, "asset_id": pl.String, "issue": pl.String})
    return found.unique(maintain_order=True).sort("contract_id", maintain_order=True)


def latest_technical_data(technical: pl.DataFrame, day_end: datetime) -> pl.DataFrame:
    """Rows of the newest VPP technical-data file created before ``day_end`` (UTC end of the day).

    When no file is that old (a day before the first file, e.g. a backfill), the oldest file
    available is used instead: it is the one closest in time to the day, and an asset list that is
    slightly too new serves the capacity check better than none. An empty input gives an empty
    result.
    """
    if technical.is_empty():
        return technical
    created = pl.col("file_created_at")
    eligible = technical.filter(created < to_utc(day_end))
    if eligible.is_empty():
        return technical.filter(created == created.min())
    return eligible.filter(created == created.max())


def capacity_mismatches(contracts_active: pl.DataFrame, technical: pl.DataFrame,
                        tolerance_kw: float = 1.0) -> pl.DataFrame:
    """Active contracts whose capacity (MW, CRM) disagrees with the VPP capacity (kW) by more than
    ``tolerance_kw``, and assets the VPP does not know (``capacity_vpp_kw`` null).

    Columns ``asset_id, capacity_crm_kw, capacity_vpp_kw, difference_kw`` with
    ``difference_kw = capacity_crm_kw - capacity_vpp_kw``.
    """
    crm = contracts_active.select("asset_id", capacity_crm_kw=pl.col("capacity_mw") * 1000.0)
    vpp = technical.select("asset_id", capacity_vpp_kw=pl.col("capacity_kw").cast(pl.Float64)).unique("asset_id")
    compared = crm.join(vpp, on="asset_id", how="left").with_columns(
        difference_kw=pl.col("capacity_crm_kw") - pl.col("capacity_vpp_kw")
    )
    return compared.filter(
        pl.col("capacity_vpp_kw").is_null() | (pl.col("difference_kw").abs() > tolerance_kw)
    ).sort("asset_id")


def asset_grid(active: pl.DataFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """Every portfolio asset x every QH of the day: the rows each per-asset table of the day has.

    Columns ``asset_id, metering_point_id, technology, capacity_mw`` of the active contracts, then
    the grid's ``delivery_start, delivery_day``. Should two active contracts name the same asset,
    the one that began last gives its row (an asset appears once per QH).
    """
    assets = (
        active.sort("contract_begin")
        .unique("asset_id", keep="last")
        .select(ASSET_COLUMNS)
    )
    quarter_hours = grid.select("delivery_start", "delivery_day")
    return assets.join(quarter_hours, how="cross").sort("asset_id", "delivery_start")
