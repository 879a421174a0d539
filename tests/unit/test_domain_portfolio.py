"""Portfolio rules: applicable snapshot, active contracts, contract issues, capacity check, grid."""

from datetime import date, datetime, timezone

import polars as pl

from flexpower_assets.domain.portfolio import (
    active_contracts,
    applicable_snapshot,
    asset_grid,
    capacity_mismatches,
    contract_issues,
    latest_technical_data,
)
from flexpower_assets.domain.time import UTC_DATETIME, day_window, quarter_hours

UTC = timezone.utc
SNAPSHOT_1 = datetime(2025, 6, 1, 4, 34, 17, tzinfo=UTC)
SNAPSHOT_2 = datetime(2025, 6, 8, 4, 38, 31, tzinfo=UTC)


def contract(contract_id="CON1_A", asset_id="A", *, begin=date(2025, 1, 1), end=None, price_model="market",
             price=None, fee_model="percent_of_market", fee=None, fee_percent=5.0, capacity_mw=1.0,
             snapshot=SNAPSHOT_2, file_id=1) -> dict:
    """One CRM row shaped like ``inbound.Contract`` (plus an extra ``file_id`` column)."""
    return {
        "contract_id": contract_id, "asset_id": asset_id, "metering_point_id": f"MP-{asset_id}",
        "capacity_mw": capacity_mw, "technology": "wind", "contract_begin": begin, "contract_end": end,
        "price_model": price_model, "price_eur_per_mwh": price, "fee_model": fee_model, "fee": fee,
        "fee_percent": fee_percent, "email": None, "snapshot_created_at": snapshot, "file_id": file_id,
    }


def contracts_frame(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema_overrides={
        "snapshot_created_at": UTC_DATETIME, "contract_end": pl.Date, "price_eur_per_mwh": pl.Float64,
        "fee": pl.Float64, "fee_percent": pl.Float64, "email": pl.String,
    })


def test_applicable_snapshot_is_latest_created_before_day_end():
    contracts = contracts_frame(
        contract("CON1_A", "A", snapshot=SNAPSHOT_1, file_id=1),
        contract("CON1_B", "B", snapshot=SNAPSHOT_1, file_id=1),
        contract("CON1_A", "A", snapshot=SNAPSHOT_2, file_id=2),
    )
    # 2025-06-07 ends 2025-06-07 22:00 UTC: only snapshot 1 (June 1st) exists by then -> A and B
    _, end_0607 = day_window(date(2025, 6, 7))
    assert applicable_snapshot(contracts, end_0607)["contract_id"].sort().to_list() == ["CON1_A", "CON1_B"]
    # 2025-06-08 ends 2025-06-08 22:00 UTC: snapshot 2 (June 8th 04:38) applies; it lacks B
    _, end_0608 = day_window(date(2025, 6, 8))
    chosen = applicable_snapshot(contracts, end_0608)
    assert chosen["contract_id"].to_list() == ["CON1_A"]
    assert chosen["snapshot_created_at"].to_list() == [SNAPSHOT_2]


def test_applicable_snapshot_is_strictly_before_day_end():
    contracts = contracts_frame(contract(snapshot=datetime(2025, 6, 8, 22, tzinfo=UTC)))
    # created exactly at the end of 2025-06-08 (22:00 UTC): not before it -> nothing applies
    _, end_0608 = day_window(date(2025, 6, 8))
    chosen = applicable_snapshot(contracts, end_0608)
    assert chosen.height == 0
    assert chosen.columns == contracts.columns


def test_active_contracts_begin_inclusive_end_exclusive():
    snapshot = contracts_frame(
        contract("C_OPEN", "A", begin=date(2025, 6, 8)),  # begins on the day -> active
        contract("C_LATER", "B", begin=date(2025, 6, 9)),  # begins the next day -> not active
        contract("C_ENDS", "C", begin=date(2025, 1, 1), end=date(2025, 6, 8)),  # ends on the day -> not active
        contract("C_RUNS", "D", begin=date(2025, 1, 1), end=date(2025, 6, 9)),  # ends the next day -> active
    )
    active = active_contracts(snapshot, date(2025, 6, 8))
    assert active["contract_id"].sort().to_list() == ["C_OPEN", "C_RUNS"]


def test_contract_like_con1_wnd_de_003_has_several_issues():
    # fixed price model without price, fixed_as_produced without fee, but a fee_percent of 7
    contracts = contracts_frame(
        contract("CON1_WND-DE-003", "WND-DE-003", price_model="fixed", price=None,
                 fee_model="fixed_as_produced", fee=None, fee_percent=7.0),
        contract("CON1_OK", "OK", price_model="fixed", price=85.0, fee_model="fixed_as_produced", fee=2.5,
                 fee_percent=None),
    )
    issues = contract_issues(contracts)
    assert set(issues["contract_id"]) == {"CON1_WND-DE-003"}
    assert sorted(issues["issue"].to_list()) == sorted([
        "fixed price model without a price",
        "fixed_as_produced/fixed_for_capacity fee model without a fee",
        "fee_percent given on a non-percent fee model",
    ])
    assert issues.columns == ["contract_id", "asset_id", "issue"]


def test_contract_issues_market_and_percent_models():
    contracts = contracts_frame(
        # market price model with a price, percent_of_market with a fee and no fee_percent: 3 issues
        contract("C_BAD", "A", price_model="market", price=70.0, fee_model="percent_of_market", fee=3.0,
                 fee_percent=None),
        # fixed_for_capacity without fee: 1 issue
        contract("C_CAP", "B", price_model="fixed", price=75.0, fee_model="fixed_for_capacity", fee=None,
                 fee_percent=None),
        # consistent market/percent contract: no issue
        contract("C_GOOD", "C", price_model="market", price=None, fee_model="percent_of_market", fee=None,
                 fee_percent=5.0),
    )
    issues = contract_issues(contracts)
    by_contract = dict(issues.group_by("contract_id").len().iter_rows())
    assert by_contract == {"C_BAD": 3, "C_CAP": 1}
    assert set(issues.filter(pl.col("contract_id") == "C_BAD")["issue"]) == {
        "price given on a market price contract",
        "percent_of_market fee model without a fee_percent",
        "fee given on the percent_of_market fee model",
    }


def technical_frame(rows: list[tuple[str, float, datetime]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"asset_id": a, "capacity_kw": kw, "file_created_at": created, "status": "active"} for a, kw, created in rows],
        schema_overrides={"file_created_at": UTC_DATETIME},
    )


def test_latest_technical_data_before_day_end_else_oldest():
    t_0530 = datetime(2025, 5, 30, 12, 46, tzinfo=UTC)
    t_0601 = datetime(2025, 6, 1, 12, 50, tzinfo=UTC)
    t_0602 = datetime(2025, 6, 2, 12, 50, tzinfo=UTC)
    technical = technical_frame([
        ("A", 1000.0, t_0530),
        ("A", 1000.0, t_0601), ("B", 2000.0, t_0601),
        ("A", 1100.0, t_0602), ("B", 2000.0, t_0602),
    ])
    # day 2025-06-01 ends 2025-06-01 22:00 UTC: newest file before it is 2025-06-01 12:50
    _, end_0601 = day_window(date(2025, 6, 1))
    assert latest_technical_data(technical, end_0601)["file_created_at"].unique().to_list() == [t_0601]
    # day 2025-05-20 ends before every file: the oldest (2025-05-30) stands in
    _, end_0520 = day_window(date(2025, 5, 20))
    oldest = latest_technical_data(technical, end_0520)
    assert oldest["asset_id"].to_list() == ["A"]
    assert oldest["file_created_at"].to_list() == [t_0530]


def test_capacity_mismatches():
    active = contracts_frame(
        contract("C_A", "A", capacity_mw=1.088),  # 1.088 MW = 1088 kW; VPP 1088 -> agrees
        contract("C_B", "B", capacity_mw=4.0),    # 4.0 MW = 4000 kW; VPP 3800 -> 4000 - 3800 = 200 kW
        contract("C_C", "C", capacity_mw=5.6),    # not in the VPP -> listed with a null VPP capacity
        contract("C_D", "D", capacity_mw=2.0),    # 2000 kW; VPP 2000.5 -> 0.5 kW, inside 1 kW tolerance
    )
    created = datetime(2025, 6, 2, 12, 50, tzinfo=UTC)
    technical = technical_frame([("A", 1088.0, created), ("B", 3800.0, created), ("D", 2000.5, created)])

    mismatches = capacity_mismatches(active, technical)

    assert mismatches.columns == ["asset_id", "capacity_crm_kw", "capacity_vpp_kw", "difference_kw"]
    assert mismatches["asset_id"].to_list() == ["B", "C"]
    b = mismatches.row(0, named=True)
    assert b["capacity_crm_kw"] == 4000.0 and b["capacity_vpp_kw"] == 3800.0 and b["difference_kw"] == 200.0
    c = mismatches.row(1, named=True)
    assert abs(c["capacity_crm_kw"] - 5600.0) < 1e-9 and c["capacity_vpp_kw"] is None and c["difference_kw"] is None
    # a tolerance of 0.1 kW also flags D (0.5 kW off)
    assert capacity_mismatches(active, technical, tolerance_kw=0.1)["asset_id"].to_list() == ["B", "C", "D"]


def test_asset_grid_is_assets_times_quarter_hours():
    active = contracts_frame(contract("C_A", "A"), contract("C_B", "B"))
    grid = quarter_hours(*day_window(date(2025, 3, 30)))
    cross = asset_grid(active, grid)
    # 2 assets * 92 QHs of the spring DST day = 184 rows
    assert cross.height == 184
    assert cross.columns == ["asset_id", "metering_point_id", "technology", "capacity_mw", "delivery_start", "delivery_day"]
    assert cross.group_by("asset_id").len().sort("asset_id")["len"].to_list() == [92, 92]
    assert cross.filter(pl.col("asset_id") == "B")["metering_point_id"].unique().to_list() == ["MP-B"]
