"""Parsers of the bidding kinds: price scenarios, auction results, hydro technical data, inflows,
reservoir levels. Each bad file is rejected whole with its file, line (or JSON place) and problem."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flexpower_assets.ingestion.catalog import accepted_rows, registered_files, sync_landing
from flexpower_assets.parsers.errors import InputFileError
from flexpower_assets.parsers.hydro import parse_hydro_technical_data, parse_inflow_forecast, parse_reservoir_level
from flexpower_assets.parsers.market import parse_day_ahead_prices, parse_price_scenarios
from resources.warehouse import Warehouse

UTC = dt.timezone.utc
DAY = dt.date(2025, 10, 14)  # CEST until 26 Oct: the day runs 2025-10-13 22:00 .. 2025-10-14 22:00 UTC
SCENARIOS = "price_scenarios_20251014_20251013T060000Z.csv"
FIRST = dt.datetime(2025, 10, 13, 22, 0, tzinfo=UTC)


def mtu(i: int) -> str:
    return (FIRST + dt.timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")


def scenario_lines(n_scenarios: int = 2, n_mtu: int = 96) -> list[str]:
    return [f"{s},{mtu(i)},{10 * s + i / 4}" for s in range(1, n_scenarios + 1) for i in range(n_mtu)]


def write(tmp_path, name: str, lines: list[str]):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rejected(parse, path) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        parse(path)
    assert caught.value.path.name == path.name
    return caught.value


def test_price_scenarios_every_scenario_every_mtu(tmp_path):
    path = write(tmp_path, SCENARIOS, ["scenario_id,delivery_start,price_eur_per_mwh", *scenario_lines()])
    frame = parse_price_scenarios(path)
    # 2 scenarios x 96 MTUs
    assert frame.height == 192
    assert frame.filter(frame["scenario_id"] == 2)["price_eur_per_mwh"][:2].to_list() == [20.0, 20.25]
    assert frame["delivery_start"].min() == FIRST
    assert frame["delivery_day"].unique().to_list() == [DAY]
    assert frame["file_created_at"].unique().to_list() == [dt.datetime(2025, 10, 13, 6, 0, tzinfo=UTC)]


@pytest.mark.parametrize(("change", "line", "problem"), [
    # line numbers: header is line 1, scenario 1 MTU i is line 2 + i; a short scenario is named at its last line
    (lambda rows: rows[:50] + rows[51:], 96, "scenario 1 has prices for 95 of the day's 96 MTUs"),
    (lambda rows: rows[:3] + ["1,2025-10-13T22:07:00Z,5"] + rows[4:], 5, "is not the start of a 15-minute MTU"),
    (lambda rows: rows[:3] + ["1,2025-10-14T22:00:00Z,5"] + rows[4:], 5, "is not in delivery day 2025-10-14"),
    (lambda rows: rows[:3] + [f"1,{mtu(3)},abc"] + rows[4:], 5, "cannot read 'abc' as a number"),
    (lambda rows: rows[:3] + [f"0,{mtu(3)},5"] + rows[4:], 5, "0 is not a scenario number"),
    (lambda rows: rows[:3] + [f"x1,{mtu(3)},5"] + rows[4:], 5, "cannot read 'x1' as a whole number"),
    (lambda rows: rows + [f"1,{mtu(0)},999"], 194, "appears on lines 2 and 194 with different values"),
])
def test_bad_price_scenario_files(tmp_path, change, line, problem):
    path = write(tmp_path, SCENARIOS, ["scenario_id,delivery_start,price_eur_per_mwh", *change(scenario_lines())])
    error = rejected(parse_price_scenarios, path)
    assert error.line == line
    assert problem in error.problem


def test_price_scenarios_wrong_header_and_empty(tmp_path):
    error = rejected(parse_price_scenarios, write(tmp_path, SCENARIOS, ["scenario,delivery_start,price"]))
    assert (error.line, "wrong header") == (1, error.problem[:12])
    error = rejected(parse_price_scenarios, write(tmp_path, SCENARIOS, ["scenario_id,delivery_start,price_eur_per_mwh"]))
    assert "no rows" in error.problem


def test_day_ahead_prices_full_day_required(tmp_path):
    lines = ["delivery_start,price_eur_per_mwh"] + [f"{mtu(i)},{50 + i}" for i in range(96)]
    frame = parse_day_ahead_prices(write(tmp_path, "day_ahead_prices_20251014.csv", lines))
    assert frame["price_eur_per_mwh"][[0, 95]].to_list() == [50.0, 145.0]
    error = rejected(parse_day_ahead_prices, write(tmp_path, "day_ahead_prices_20251014.csv", lines[:-1]))
    assert error.problem == "no price for 1 of the day's 96 MTUs (first 2025-10-14T21:45Z)"


PLANT = {"asset_id": "HYD-ALPEN-01", "client_id": "HYD-ALPEN", "reservoir_max_mwh": 2000.0,
         "reservoir_min_mwh": 200.0, "turbine_max_mw": 80.0, "pump_max_mw": 40.0, "pump_efficiency": 0.8,
         "ramp_mw_per_qh": 20.0, "water_value_eur_per_mwh": 55.0}
TECHNICAL = "technical_data_2025-10-01T060000Z.json"


def write_plants(tmp_path, plants) -> object:
    path = tmp_path / TECHNICAL
    path.write_text(json.dumps({"plants": plants}), encoding="utf-8")
    return path


def test_hydro_technical_data(tmp_path):
    frame = parse_hydro_technical_data(write_plants(tmp_path, [PLANT, {**PLANT, "asset_id": "HYD-ALPEN-02",
                                                                         "pump_max_mw": 0, "pump_efficiency": 0}]))
    assert frame["asset_id"].to_list() == ["HYD-ALPEN-01", "HYD-ALPEN-02"]
    assert frame["pump_max_mw"].to_list() == [40.0, 0.0]
    assert frame["file_created_at"][0] == dt.datetime(2025, 10, 1, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(("plants", "location", "problem"), [
    ([{**PLANT, "turbine_max_mw": "80"}], "plants[0].turbine_max_mw", "'80' is not a number"),
    ([{**PLANT, "turbine_max_mw": True}], "plants[0].turbine_max_mw", "True is not a number"),
    ([{k: v for k, v in PLANT.items() if k != "ramp_mw_per_qh"}], "plants[0]", "missing key 'ramp_mw_per_qh'"),
    ([PLANT, {**PLANT, "turbine_max_mw": 90.0}], "plants[1]", "listed at plants[0] and plants[1]"),
    ([{**PLANT, "reservoir_min_mwh": 3000.0}], "plants[0]", "reservoir_min_mwh 3000.0 exceeds"),
    ([{**PLANT, "pump_efficiency": 1.5}], "plants[0].pump_efficiency", "fails less_than_or_equal_to(1)"),
    ([{**PLANT, "pump_efficiency": 0.0}], "plants[0].pump_efficiency", "needs a pump_efficiency above 0"),
    ([{**PLANT, "colour": "blue"}], "plants[0]", "unknown key 'colour'"),
    ([], "plants", "non-empty list 'plants'"),
])
def test_bad_hydro_technical_data(tmp_path, plants, location, problem):
    error = rejected(parse_hydro_technical_data, write_plants(tmp_path, plants))
    assert error.location == location
    assert problem in error.problem


def test_inflow_forecast_and_reservoir_level(tmp_path):
    inflow = write(tmp_path, "inflow_forecast_HYD-ALPEN-01_20251013T0600Z.csv",
                   ["delivery_start,inflow_mwh", f"{mtu(0)},2.5", f"{mtu(1)},3.0"])
    frame = parse_inflow_forecast(inflow)
    assert frame["asset_id"].unique().to_list() == ["HYD-ALPEN-01"]
    assert frame["inflow_mwh"].to_list() == [2.5, 3.0]
    level = write(tmp_path, "reservoir_level_HYD-ALPEN-01_20251013T0800Z.csv",
                  ["measured_at,content_mwh", "2025-10-13T07:00:00Z,950.5", "2025-10-13T07:53:10Z,951.0"])
    frame = parse_reservoir_level(level)
    assert frame["content_mwh"].to_list() == [950.5, 951.0]
    assert frame["measured_at"][1] == dt.datetime(2025, 10, 13, 7, 53, 10, tzinfo=UTC)


@pytest.mark.parametrize(("parse", "name", "lines", "line", "problem"), [
    (parse_inflow_forecast, "inflow_forecast_HYD-ALPEN-01_20251013T0600Z.csv",
     ["delivery_start,inflow_mwh", f"{mtu(0)},-1.0"], 2, "value '-1.0' fails greater_than_or_equal_to(0)"),
    (parse_inflow_forecast, "inflow_forecast_HYD-ALPEN-01_20251013T0600Z.csv",
     ["delivery_start,inflow_mwh", "2025-10-13 22:00,1.0"], 2, "cannot read '2025-10-13 22:00' as a UTC time"),
    (parse_inflow_forecast, "inflow_forecast_HYD-ALPEN-01_20251013T0600Z.csv",
     ["delivery_start,inflow_mwh", f"{mtu(0)},"], 2, "missing value"),
    (parse_reservoir_level, "reservoir_level_HYD-ALPEN-01_20251013T0800Z.csv",
     ["measured_at,content_mwh", "2025-10-13T09:00:00Z,950"], 2, "is after the file was created"),
    (parse_reservoir_level, "reservoir_level_HYD-ALPEN-01_20251013T0800Z.csv",
     ["measured_at,content_mwh", "2025-10-13T07:00:00Z,950", "2025-10-13T07:00:00Z,951"], 3,
     "appears on lines 2 and 3 with different values"),
])
def test_bad_hydro_series(tmp_path, parse, name, lines, line, problem):
    error = rejected(parse, write(tmp_path, name, lines))
    assert error.line == line
    assert problem in error.problem


def test_new_kinds_go_through_the_landing_catalog(tmp_path):
    landing = tmp_path / "landing"
    (landing / "market").mkdir(parents=True)
    (landing / "hydro").mkdir()
    write(landing / "market", SCENARIOS, ["scenario_id,delivery_start,price_eur_per_mwh", *scenario_lines()])
    write(landing / "market", "price_scenarios_20251014_20251013T070000Z.csv",
          ["scenario_id,delivery_start,price_eur_per_mwh", *scenario_lines()[:-1]])
    write(landing / "hydro", "reservoir_level_HYD-ALPEN-01_20251013T0800Z.csv",
          ["measured_at,content_mwh", "2025-10-13T07:00:00Z,950.5"])
    warehouse = Warehouse(tmp_path / "w.duckdb")
    report = sync_landing(landing, warehouse, workers=1)
    assert dict(report.counts) == {("price_scenarios", "accepted"): 1, ("price_scenarios", "rejected"): 1,
                                   ("reservoir_level", "accepted"): 1}
    catalog = registered_files(warehouse).sort("path")
    bad = catalog.filter(catalog["status"] == "rejected").row(0, named=True)
    assert bad["path"] == "market/price_scenarios_20251014_20251013T070000Z.csv"
    # the last scenario lacks its last MTU; its last row is line 192 (2 + 95 + 95)
    assert bad["error_line"] == 192
    assert "scenario 2 has prices for 95 of the day's 96 MTUs" in bad["error"]
    # the good file's rows are staged under their delivery day; the level under the day it was measured
    assert report.days_by_kind["price_scenarios"] == {DAY}
    assert report.days_by_kind["reservoir_level"] == {dt.date(2025, 10, 13)}
    assert accepted_rows(warehouse, "price_scenarios").height == 192
