"""Contracts that claim the same production: flagged, counted once, their invoices blocked."""

from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl

from flexpower_assets.domain.infeed import best_of_infeed, final_production_by_asset, portfolio_best_of_infeed
from flexpower_assets.domain.invoicing import compute_invoices
from flexpower_assets.domain.portfolio import asset_grid, contract_conflicts, portfolio_members
from flexpower_assets.domain.time import QH, UTC_DATETIME, day_window, days_between, quarter_hours

UTC = timezone.utc
DAY = date(2025, 6, 8)
JUNE = days_between(date(2025, 6, 1), date(2025, 6, 30))


def contract(contract_id: str, asset_id: str, mp: str, begin: date = date(2025, 1, 1), **overrides) -> dict:
    row = {
        "contract_id": contract_id, "asset_id": asset_id, "metering_point_id": mp, "capacity_mw": 10.0,
        "technology": "wind", "contract_begin": begin, "contract_end": None,
        "price_model": "fixed", "price_eur_per_mwh": 80.0, "fee_model": "fixed_as_produced", "fee": 2.0,
        "fee_percent": None, "email": "owner@example.com",
        "snapshot_created_at": datetime(2025, 5, 25, 4, 30, tzinfo=UTC),
    }
    return row | overrides


def frame(*rows: dict, days: list[date] | None = None) -> pl.DataFrame:
    records = [({"delivery_day": day} | row) for day in days for row in rows] if days else list(rows)
    return pl.DataFrame(records, schema_overrides={"contract_end": pl.Date, "price_eur_per_mwh": pl.Float64,
                                                   "fee": pl.Float64, "fee_percent": pl.Float64,
                                                   "snapshot_created_at": UTC_DATETIME})


# two contracts for asset A; metering point MP-X on assets B and C; D is alone
TWO_FOR_A = [contract("C1", "A", "MP-A"), contract("C2", "A", "MP-A", begin=date(2025, 3, 1))]
X_ON_B_AND_C = [contract("C3", "B", "MP-X"), contract("C4", "C", "MP-X", begin=date(2025, 2, 1))]
ALONE = [contract("C5", "D", "MP-D")]


def test_conflicts_name_every_contract_involved():
    found = contract_conflicts(frame(*TWO_FOR_A, *X_ON_B_AND_C, *ALONE))
    assert found.rows() == [
        ("C1", "A", "asset 'A' has 2 active contracts: C1, C2"),
        ("C2", "A", "asset 'A' has 2 active contracts: C1, C2"),
        ("C3", "B", "metering point 'MP-X' is on 2 assets: B, C (contracts C3, C4)"),
        ("C4", "C", "metering point 'MP-X' is on 2 assets: B, C (contracts C3, C4)"),
    ]
    assert contract_conflicts(frame(*ALONE)).is_empty()


def test_the_portfolio_holds_each_asset_and_each_metering_point_once():
    members = portfolio_members(frame(*TWO_FOR_A, *X_ON_B_AND_C, *ALONE))
    # A: C2 began last (2025-03-01 > 2025-01-01); MP-X: C4 (asset C) began last (02-01 > 01-01)
    assert members.select("contract_id", "asset_id").rows() == [("C2", "A"), ("C4", "C"), ("C5", "D")]


def test_production_of_a_metering_point_on_two_assets_is_counted_once():
    start, end = day_window(DAY)
    grid = quarter_hours(start, end)
    members = portfolio_members(frame(*X_ON_B_AND_C))
    # MP-X measured 400 kW in the day's first QH: 400 / 1000 x 0.25 = 0.1 MWh, once (not 0.2)
    final = pl.DataFrame({"metering_point_id": ["MP-X"], "delivery_start": [start], "power_kw": [400.0],
                          "file_date": [DAY]}, schema_overrides={"delivery_start": UTC_DATETIME})
    final_qh = final_production_by_asset(final, members)
    assert final_qh.select("asset_id", "power_kw").rows() == [("C", 400.0)]
    empty_live = pl.DataFrame(schema={"asset_id": pl.String, "delivery_start": UTC_DATETIME, "power_kw": pl.Float64})
    empty_forecast = pl.DataFrame(schema={"asset_id": pl.String, "delivery_start": UTC_DATETIME,
                                          "latest_power_kw": pl.Float64})
    empty_flags = pl.DataFrame(schema={"asset_id": pl.String, "delivery_start": UTC_DATETIME})
    boi = best_of_infeed(asset_grid(members, grid), final_qh, empty_live, empty_forecast, empty_flags)
    portfolio = portfolio_best_of_infeed(boi)
    assert portfolio.filter(pl.col("delivery_start") == start)["energy_mwh"].to_list() == [0.1]


def test_the_invoices_of_contracts_in_conflict_are_blocked_and_others_are_not():
    start, _ = day_window(DAY)
    boi = pl.DataFrame(
        [{"delivery_day": DAY, "asset_id": a, "delivery_start": start + i * QH, "power_kw": 4000.0,
          "energy_mwh": 1.0 if i == 0 else 0.0, "source": "final", "is_redispatched": False}
         for a in ("A", "C", "D") for i in range(92)],
        schema_overrides={"delivery_start": UTC_DATETIME})
    empty = pl.DataFrame(schema={"delivery_start": UTC_DATETIME, "vwap_public": pl.Float64})
    forecast = pl.DataFrame(schema={"asset_id": pl.String, "delivery_start": UTC_DATETIME,
                                    "latest_energy_mwh": pl.Float64})
    compensation = pl.DataFrame(schema={"delivery_start": UTC_DATETIME, "price_eur_per_mwh": pl.Float64})
    result = compute_invoices("2025-06", frame(*TWO_FOR_A, *X_ON_B_AND_C, *ALONE, days=JUNE), boi, forecast,
                              empty, compensation, [DAY])
    invoices = {row["contract_id"]: row for row in result.invoices.iter_rows(named=True)}
    assert {c: r["status"] for c, r in invoices.items()} == {
        "C1": "blocked", "C2": "blocked", "C3": "blocked", "C4": "blocked", "C5": "provisional"}
    assert invoices["C1"]["reason"] == ("contracts in conflict, the same production would be paid twice: "
                                        "asset 'A' has 2 active contracts: C1, C2 (2025-06-01..2025-06-30)")
    assert invoices["C4"]["reason"].endswith("metering point 'MP-X' is on 2 assets: B, C (contracts C3, C4) "
                                             "(2025-06-01..2025-06-30)")
    assert all(invoices[c]["net_eur"] is None for c in ("C1", "C2", "C3", "C4"))
    # D alone is paid: 1 MWh x 80 EUR/MWh = 80.00 EUR payout - 1 MWh x 2 EUR/MWh = 2.00 EUR fee = 78.00 net
    assert str(invoices["C5"]["net_eur"]) == "78.00"
    assert result.lines.filter(pl.col("invoice_id").str.contains("-C[1-4]-")).is_empty()
