"""Plausibility bounds: absurd forecasts and measurements are rejected or flagged before they cost money."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import polars as pl
import pytest

from flexpower_assets.domain.infeed import forecasts_outside_capacity, imbalances_outside_capacity
from flexpower_assets.domain.invoicing import compute_invoices
from flexpower_assets.domain.time import QH, UTC_DATETIME, day_window, days_between
from flexpower_assets.parsers.dso import parse_final_production, read_final_production_batch
from flexpower_assets.parsers.errors import InputFileError
from flexpower_assets.parsers.vpp import read_forecast_batch, read_live_batch

UTC = timezone.utc
V0815_MS = 1749370500000  # 2025-06-08 08:15 UTC
QH_MS = 900_000
DAY = date(2025, 6, 8)
T0 = day_window(DAY)[0]


def forecast_file(tmp_path, powers: list[float]):
    path = tmp_path / "WND-X-003_20250608T0815Z.json"
    starts = [V0815_MS + k * QH_MS for k in range(len(powers))]
    path.write_text(json.dumps({
        "key": {"asset_id": "WND-X-003", "type_id": "pv-forecast-real"},
        "column_ids": ["start", "end", "version", "power"], "units": ["ms", "ms", "ms", "kW"],
        "values": [starts, [s + QH_MS for s in starts], [V0815_MS] * len(powers), powers]}))
    return path




def test_absurd_forecast_rejects_the_file_and_a_large_plant_is_accepted(tmp_path):
    frame, errors = read_forecast_batch([forecast_file(tmp_path, [100.0, 2147483648.0])])
    assert frame.height == 0
    [error] = errors
    assert error.path.name == "WND-X-003_20250608T0815Z.json"
    assert error.location == "values[3][1]"
    assert "2147483648.0" in error.problem and "less_than_or_equal_to(10000000" in error.problem
    # 10 GW exactly is the bound (kept): 1,500 MW for a large offshore farm is far inside it
    frame, errors = read_forecast_batch([forecast_file(tmp_path, [1_500_000.0, 10_000_000.0])])
    assert errors == [] and frame["power_kw"].to_list() == [1_500_000.0, 10_000_000.0]


def test_absurd_live_value_rejects_the_file(tmp_path):
    path = tmp_path / "WND01_20250608.json"
    path.write_text(json.dumps({
        "key": {"asset_id": "WND-X-001"}, "column_ids": ["timestamp", "value", "quality"],
        "units": ["ms", "kW", "factor"], "values": [[V0815_MS, V0815_MS + 60_000], [5.0, -1e300], [1.0, 1.0]]}))
    frame, errors = read_live_batch([path])
    assert frame.height == 0
    assert "-1e+300" in errors[0].problem and "greater_than_or_equal_to(-10000000" in errors[0].problem


def test_a_dso_value_of_1e300_kw_rejects_the_file_alone_and_in_a_batch(tmp_path):
    path = tmp_path / "final_production_MP-A_20250609.csv"
    path.write_text("delivery_start__utc_,MP-A__kw_\n2025-06-08 00:00:00.000000 UTC,12.5\n"
                    "2025-06-08 00:15:00.000000 UTC,1e300\n")
    with pytest.raises(InputFileError) as caught:
        parse_final_production(path)
    assert caught.value.line == 3
    assert str(caught.value) == ("final_production_MP-A_20250609.csv: line 3: column 'MP-A__kw_': "
                                 "value '1e+300' fails less_than_or_equal_to(10000000.0)")
    rows, errors = read_final_production_batch([path])
    assert rows.height == 0 and [str(e) for e in errors] == [str(caught.value)]


def test_forecasts_beyond_110_percent_of_capacity_or_negative_are_flagged():
    contracts = pl.DataFrame({"asset_id": ["W"], "capacity_mw": [2.0]})  # 2,000 kW, limit 2,200 kW
    forecast = pl.DataFrame({"asset_id": ["W"] * 4, "delivery_start": [T0 + i * QH for i in range(4)],
                             "latest_power_kw": [2200.0, 2200.5, 10.0, 10.0],
                             "tradeable_power_kw": [2200.0, 10.0, -0.1, None]},
                            schema_overrides={"delivery_start": UTC_DATETIME})
    found = forecasts_outside_capacity(forecast, contracts)
    # 2200.0 is exactly the limit (kept); 2200.5 latest is above; -0.1 tradeable is negative; null is no value
    assert found.select("latest_power_kw", "tradeable_power_kw").rows() == [(2200.5, 10.0), (10.0, -0.1)]


def test_imbalances_beyond_110_percent_of_capacity_are_flagged():
    contracts = pl.DataFrame({"asset_id": ["W"], "capacity_mw": [2.0]})  # 1.1 x 2 MW x 0.25 h = 0.55 MWh
    imbalance = pl.DataFrame({"asset_id": ["W"] * 3, "delivery_start": [T0 + i * QH for i in range(3)],
                              "imbalance_mwh": [0.55, -0.56, 536870.912], "imbalance_cost_eur": [1.0, 2.0, 3.0]},
                             schema_overrides={"delivery_start": UTC_DATETIME})
    found = imbalances_outside_capacity(imbalance, contracts)
    # |0.55| is the limit (kept); -0.56 and 536,870.912 MWh (2^31 kW x 0.25 h / 1000) are beyond it
    assert found["imbalance_mwh"].to_list() == [-0.56, 536870.912]
    assert found["limit_mwh"].to_list() == [pytest.approx(0.55)] * 2


def test_an_invoice_with_an_implausible_quarter_hour_is_blocked():
    contracts = pl.DataFrame(
        [{"delivery_day": day, "contract_id": "C1", "asset_id": "A1", "metering_point_id": "MP-A1",
          "capacity_mw": 10.0, "technology": "wind", "contract_begin": date(2025, 1, 1), "contract_end": None,
          "price_model": "fixed", "price_eur_per_mwh": 80.0, "fee_model": "fixed_as_produced", "fee": 2.0,
          "fee_percent": None, "email": "o@example.com", "snapshot_created_at": datetime(2025, 5, 25, tzinfo=UTC)}
         for day in days_between(date(2025, 6, 1), date(2025, 6, 30))],
        schema_overrides={"contract_end": pl.Date, "fee_percent": pl.Float64, "snapshot_created_at": UTC_DATETIME})
    # 10 MW x 1.1 x 0.25 h = 2.75 MWh a QH at most; QH 0 holds 2.75 (kept), QH 1 holds 3.0 (implausible)
    boi = pl.DataFrame(
        [{"delivery_day": DAY, "asset_id": "A1", "delivery_start": T0 + i * QH, "power_kw": 0.0,
          "energy_mwh": {0: 2.75, 1: 3.0}.get(i, 0.0), "source": "final", "is_redispatched": False}
         for i in range(92)], schema_overrides={"delivery_start": UTC_DATETIME})
    result = compute_invoices(
        "2025-06", contracts, boi,
        pl.DataFrame(schema={"asset_id": pl.String, "delivery_start": UTC_DATETIME, "latest_energy_mwh": pl.Float64}),
        pl.DataFrame(schema={"delivery_start": UTC_DATETIME, "vwap_public": pl.Float64}),
        pl.DataFrame(schema={"delivery_start": UTC_DATETIME, "price_eur_per_mwh": pl.Float64}), [DAY])
    invoice = result.invoices.row(0, named=True)
    assert invoice["status"] == "blocked" and invoice["net_eur"] is None
    assert invoice["reason"] == "implausible production: 1 QHs beyond 110 % of the capacity (2025-06-08)"
