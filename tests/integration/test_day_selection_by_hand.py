"""A tiny landing zone written by hand: the raw layer picks exactly the rows DOMAIN.md says.

Delivery day 2025-06-08 (Europe/Berlin, summer time) runs from 2025-06-07 22:00 UTC to
2025-06-08 22:00 UTC. Every expected number below is worked out in its comment.
"""

from __future__ import annotations

import json

import dagster as dg
import pytest

from flexpower_assets.definitions import build_defs
from flexpower_assets.runner import run_partition
from resources.warehouse import Warehouse
from tests.integration.conftest import make_settings

DAY = "2025-06-08"
CRM_HEADER = ("contract_id,asset_id,metering_point_id,capacity,technology,contract_begin,contract_end,"
              "price_model,price,fee_model,fee,fee_percent,email")
TRADES_HEADER = "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit"
ESTIMATE_HEADER = "Datum;Zeitzone;von;bis;Datenkategorie;Datentyp;Einheit;AEP-Schätzer;Status"
FINAL_HEADER = "Datum;Zeitzone;von;bis;Datenkategorie;Datentyp;Einheit;reBAP unterdeckt;reBAP ueberdeckt"
MS_2200 = 1_749_333_600_000  # 2025-06-07 22:00 UTC in epoch ms


def contract(price: str) -> str:
    return f"C1,WND-A,MP-A,2.0,wind,2025-01-01,,fixed,{price},fixed_as_produced,2.0,,owner@example.com"


def write_landing(root):
    (root / "crm").mkdir(parents=True)
    (root / "vpp" / "live").mkdir(parents=True)
    for folder in ("vpp/forecasts", "vpp/technical_data", "dso"):
        (root / folder).mkdir(parents=True)
    (root / "exchange").mkdir()
    (root / "imbalance").mkdir()
    # snapshot of 06-08 04:30 UTC applies to the day (created before its end, 06-08 22:00 UTC);
    # the one of 06-08 22:30 UTC is created after the day's end and must not apply
    (root / "crm" / "asset_contracts_20250608_043000.csv").write_text(f"{CRM_HEADER}\n{contract('80.0')}\n")
    (root / "crm" / "asset_contracts_20250608_223000.csv").write_text(f"{CRM_HEADER}\n{contract('99.0')}\n")
    # live: 400 kW at 21:50 (the evening before, in the previous Berlin day's file), 800 kW from 22:10
    (root / "vpp" / "live" / "WA_20250607.json").write_text(json.dumps({
        "key": {"asset_id": "WND-A"}, "column_ids": ["timestamp", "value", "quality"],
        "units": ["ms", "kW", "factor"], "values": [[MS_2200 - 600_000.0], [400.0], [1.0]]}))
    (root / "vpp" / "live" / "WA_20250608.json").write_text(json.dumps({
        "key": {"entity_id": "WND-A"}, "column_ids": ["timestamp", "value", "quality"],
        "units": ["ms", "kW", "factor"], "values": [[MS_2200 + 600_000.0], [800.0], [1.0]]}))
    # one hourly SELL 21:30-22:30 UTC of 2 MW at 50 EUR: two slices before the day, two in it
    (root / "exchange" / "Private_Trades-20250608-20250609T000516000Z.csv").write_text(
        "# Private Trades - 2025-06-08;;;;;;;;\n" + TRADES_HEADER + "\n"
        "1;SELL;2025-06-07 21:30:00+00:00;2025-06-07 22:30:00+00:00;2025-06-07 10:00:00+00:00;50.0;EUR;2;MWH\n")
    # estimates: the older file prices 22:00 at 100, the newer one at 120 (and lacks 22:15: 100 stays)
    (root / "imbalance" / "imbalance_price_estimation_2025-06-06T040000Z.csv").write_text(
        ESTIMATE_HEADER + "\n07.06.2025;UTC;22:00;22:15;AEP-Schätzer;Betrieblich;EUR/MWh;100,00;0,00\n"
        "07.06.2025;UTC;22:15;22:30;AEP-Schätzer;Betrieblich;EUR/MWh;100,00;0,00\n")
    (root / "imbalance" / "imbalance_price_estimation_2025-06-07T040000Z.csv").write_text(
        ESTIMATE_HEADER + "\n07.06.2025;UTC;22:00;22:15;AEP-Schätzer;Betrieblich;EUR/MWh;120,00;1,00\n")
    # final reBAP for 22:30 only: short 70, long 60
    (root / "imbalance" / "imbalance_price_final_20250608_170800.csv").write_text(
        FINAL_HEADER + "\n07.06.2025;UTC;22:30;22:45;reBAP;Qualitätsgesichert;EUR/MWh;70,00;60,00\n")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("by_hand")
    write_landing(root / "landing")
    settings = make_settings(root / "landing", root)
    with dg.instance_for_test() as instance:
        summary = run_partition(build_defs(settings), "daily_job", DAY, instance)
    assert summary.success, summary.error
    return Warehouse(settings.warehouse_path)


def first_qh(warehouse: Warehouse, table: str, column: str, start: str = "2025-06-07 22:00:00+00"):
    return warehouse.read(f"select {column} from {table} where delivery_start = cast(? as timestamptz)",
                          [start])[column].to_list()


def test_the_snapshot_created_before_the_day_ends_applies(warehouse):
    assert warehouse.read("select price_eur_per_mwh from core.portfolio_assets")["price_eur_per_mwh"].to_list() == [80.0]


def test_live_points_of_the_evening_before_feed_the_first_quarter_hour(warehouse):
    # 400 kW from 21:50 holds until 22:05 (15 min at most); 800 kW from 22:10:
    # QH 22:00-22:15 is defined 22:00-22:05 and 22:10-22:15 = 10 min >= 7.5:
    # (5 min x 400 + 5 min x 800) / 10 min = 600 kW; no final value, so best-of-infeed is live
    assert first_qh(warehouse, "core.live_infeed_qh", "power_kw") == [600.0]
    assert first_qh(warehouse, "best_of_infeed", "source") == ["live"]
    assert first_qh(warehouse, "best_of_infeed", "energy_mwh") == [pytest.approx(0.15)]  # 600/1000*0.25


def test_a_trade_straddling_midnight_counts_its_slices_in_the_day(warehouse):
    # slices 22:00 and 22:15 are in the day: 2 x (2 MW x 0.25 h x 50 EUR) = 50 EUR, 1 MWh sold
    daily = warehouse.read("select n_trades, revenue_eur, sold_mwh from trading_daily").to_dicts()
    assert daily == [{"n_trades": 1, "revenue_eur": 50.0, "sold_mwh": 1.0}]
    assert first_qh(warehouse, "trading_pnl", "revenue_eur") == [25.0]


def test_prices_come_from_the_final_file_else_the_newest_estimate_covering_the_qh(warehouse):
    prices = {str(row["delivery_start"])[11:16]: (row["price_short_eur_per_mwh"], row["price_source"])
              for row in warehouse.read("select * from core.imbalance_prices where delivery_start < "
                                        "cast('2025-06-07 22:45:00+00' as timestamptz)").iter_rows(named=True)}
    # 22:00: newest estimate 120; 22:15: only the older estimate has it, 100; 22:30: final short 70
    assert prices == {"22:00": (120.0, "estimate"), "22:15": (100.0, "estimate"), "22:30": (70.0, "final")}
