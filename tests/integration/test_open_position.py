"""The open position follows a trade export dropped into the landing zone, through the sensor."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, datetime, timezone

import dagster as dg
import pytest

from flexpower_assets.definitions import _downstream_by_kind, build_defs
from flexpower_assets.ingestion.catalog import sync_landing
from flexpower_assets.ingestion.watch import Cursor
from flexpower_assets.runner import materialize_days
from resources.warehouse import Warehouse
from tests.integration.conftest import make_settings
from tests.integration.test_sensors import evaluate

DAY = "2025-06-09"
NOW = datetime(2025, 6, 9, 9, 45, tzinfo=timezone.utc)  # 11:45 in Berlin on the delivery day
QH = datetime(2025, 6, 9, 12, 0, tzinfo=timezone.utc)    # 14:00 Berlin, 135 minutes ahead


def open_row(warehouse: Warehouse) -> dict:
    return warehouse.read("select * from main.open_position where delivery_day = ? and delivery_start = ?",
                          [DAY, QH]).row(0, named=True)


@pytest.fixture
def built(sample_landing, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(sample_landing, landing)
    settings = replace(make_settings(landing, tmp_path), now=NOW)
    warehouse = Warehouse(settings.warehouse_path)
    sync_landing(landing, warehouse, workers=1)
    defs = build_defs(settings)
    with dg.instance_for_test() as instance:
        assert materialize_days(defs, instance, [date(2025, 6, 8), date(2025, 6, 9)], reports=False,
                                echo=lambda _line: None) == []
        yield defs, warehouse, landing, instance, settings


def test_a_new_forecast_or_trade_export_re_runs_the_open_position():
    selection = _downstream_by_kind()
    for kind in ("forecast", "private_trades"):
        assert dg.AssetKey("open_position") in selection[kind], kind
    assert dg.AssetKey("open_position") not in selection["final_production"]


def test_a_dropped_trade_export_changes_the_open_position_within_one_tick(built):
    defs, warehouse, landing, instance, _settings = built
    before = open_row(warehouse)
    assert before["as_of"] == NOW and before["minutes_to_delivery"] == 135.0
    cursor = evaluate(defs, "landing_exchange_sensor", instance, None).cursor
    # we sell 8 MW more for the QH 12:00-12:15 UTC, exported at 09:30 UTC (before the clock)
    (landing / "exchange" / "Private_Trades-20250609-20250609T093000000Z.csv").write_text(
        "# Private Trades - 2025-06-09 - 2025-06-09T09:30:00.000Z;;;;;;;;\n"
        "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit\n"
        "9000001;SELL;2025-06-09 12:00:00+00:00;2025-06-09 12:15:00+00:00;2025-06-09 09:29:00+00:00;61.5;EUR;8.0;MWH\n")
    tick = evaluate(defs, "landing_exchange_sensor", instance, cursor)
    # the tick that finds the file requests its registration and, as the name dates the day (and
    # the day is traded already), the day's run, which registers the file itself
    assert [(r.job_name, r.partition_key) for r in tick.run_requests] == [("ingest_job", None), ("daily_job", DAY)]
    request = tick.run_requests[1]
    assert dg.AssetKey("open_position") in request.asset_selection
    result = defs.resolve_job_def("daily_job").execute_in_process(
        partition_key=DAY, instance=instance, asset_selection=list(request.asset_selection))
    assert result.success
    after = open_row(warehouse)
    # 8 MW x 0.25 h = 2.0 MWh more sold: the position grows by 2.0 MWh, the open position falls by 2.0
    assert after["intraday_sold_mwh"] - before["intraday_sold_mwh"] == pytest.approx(2.0)
    assert after["position_mwh"] - before["position_mwh"] == pytest.approx(2.0)
    assert after["open_mwh"] - before["open_mwh"] == pytest.approx(-2.0)
    assert after["forecast_mwh"] == pytest.approx(before["forecast_mwh"])  # the forecast did not change
    # the check names the QHs the default limits flag (10 % of capacity within 120 minutes), here
    # counted again in SQL from the stored rows
    check = next(e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
                 and e.event_specific_data.check_name == "open_within_limit")
    flagged = warehouse.read(
        "select count(*) as n from main.open_position where delivery_day = ? and minutes_to_delivery > 0 "
        "and minutes_to_delivery < 120 and abs(open_mwh) > 0.10 * capacity_mw * 0.25", [DAY])["n"][0]
    assert check.metadata["n_qh_above"].value == flagged and check.passed == (flagged == 0)
    assert check.metadata["as_of_utc"].value == NOW.isoformat()
    # the ingest run finds the file registered; the registration does not request the day again
    assert defs.resolve_job_def("ingest_job").execute_in_process(instance=instance).success
    later = evaluate(defs, "landing_exchange_sensor", instance, tick.cursor)
    assert later.run_requests == [] and Cursor.load(later.cursor).named == {}


def test_the_demo_builds_today_and_tomorrow_and_says_where_they_are(built, tmp_path, monkeypatch):
    from flexpower_assets.position_demo import run_position_demo

    _defs, warehouse, _landing, _instance, settings = built
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    lines: list[str] = []
    # no bidding data in this landing zone: the newest built day (06-09) is "tomorrow", 06-08 "today"
    assert run_position_demo(settings, lines.append) == 0, "\n".join(lines)
    text = "\n".join(lines)
    assert "as of 2025-06-09 09:45 UTC (today 2025-06-08, tomorrow 2025-06-09)" in text
    assert "2025-06-09: forecast" in text and "(no_order)" in text
    assert f"main.open_position in {settings.warehouse_path}" in text and "/position" in text
    days = warehouse.read("select distinct delivery_day from main.open_position order by 1")["delivery_day"].to_list()
    assert [d.isoformat() for d in days] == ["2025-06-08", "2025-06-09"]


def test_tomorrow_gets_its_open_position_before_its_first_trade_export(sample_landing, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(sample_landing, landing)
    for export in (landing / "exchange").glob("Private_Trades-20250609-*.csv"):
        export.unlink()  # 06-09 not traded yet: its other tables wait, its open position does not
    today_10 = datetime(2025, 6, 8, 10, 0, tzinfo=timezone.utc)
    settings = replace(make_settings(landing, tmp_path), now=today_10)
    defs = build_defs(settings)
    with dg.instance_for_test() as instance:
        first = evaluate(defs, "landing_vpp_sensor", instance, None)
        assert [r.job_name for r in first.run_requests] == ["ingest_job"]
        assert defs.resolve_job_def("ingest_job").execute_in_process(instance=instance).success
        tick = evaluate(defs, "landing_vpp_sensor", instance, first.cursor)
        requested = [(r.job_name, r.partition_key) for r in tick.run_requests]
        # the traded days get their daily runs; tomorrow (06-09) gets the open position alone
        assert ("daily_job", "2025-06-08") in requested and ("daily_job", "2025-06-09") not in requested
        assert [p for job, p in requested if job == "position_job"] == ["2025-06-09"]
        result = defs.resolve_job_def("position_job").execute_in_process(partition_key="2025-06-09", instance=instance)
        assert result.success
        built = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert built == {"open_position", "core/portfolio_assets", "raw/raw_crm__contracts", "raw/raw_vpp__technical_data",
                         "raw/raw_vpp__forecasts", "raw/raw_exchange__private_trades"}
    rows = Warehouse(settings.warehouse_path).read(
        "select count(*) as n, sum(intraday_net_mwh) as intraday, count(forecast_mwh) as with_forecast, "
        "min(as_of) as as_of from main.open_position where delivery_day = '2025-06-09'").row(0, named=True)
    # 06-09 in Berlin has 96 QHs; no export yet, so nothing sold intraday; every QH has a forecast
    assert rows == {"n": 96, "intraday": 0.0, "with_forecast": 96, "as_of": today_10}
