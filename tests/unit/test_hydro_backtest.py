"""The hydro scenario-curve strategy of the backtest: one 3-MTU day worked out by hand (clearing,
re-dispatch, reBAP cost, end water value, perfect foresight, capture rate), the re-dispatch's
tie-breaking, and the inflow that stands in for the outcome."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from flexpower_assets.bidding.hydro import ReservoirPlant
from flexpower_assets.domain import backtest, hydro_backtest
from flexpower_assets.domain.time import UTC, UTC_DATETIME

DAY = date(2025, 10, 14)
T0 = datetime(2025, 10, 13, 22, 0, tzinfo=UTC)
STARTS = [T0 + timedelta(minutes=15 * i) for i in range(3)]


def plant(**changes) -> ReservoirPlant:
    values = dict(asset_id="HYD-1", client_id="C", reservoir_max_mwh=10.0, reservoir_min_mwh=0.0, turbine_max_mw=10.0,
                  pump_max_mw=0.0, pump_efficiency=0.0, ramp_mw_per_qh=10.0, water_value_eur_per_mwh=30.0)
    return ReservoirPlant(**{**values, **changes})


def step_curve(price: float, volume: float) -> pl.DataFrame:
    """Every MTU: 0 MW from -500 EUR/MWh, ``volume`` from ``price`` on."""
    return pl.DataFrame({"delivery_start": [s for s in STARTS for _ in range(2)], "point": [1, 2] * 3,
                         "price_eur_per_mwh": [-500.0, price] * 3, "volume_mw": [0.0, volume] * 3},
                        schema_overrides={"delivery_start": UTC_DATETIME})


def auction(*prices: float) -> pl.DataFrame:
    return pl.DataFrame({"delivery_start": STARTS, "price_eur_per_mwh": list(prices)},
                        schema_overrides={"delivery_start": UTC_DATETIME})


def rebap(short: list[float | None], long: list[float | None]) -> pl.DataFrame:
    return pl.DataFrame({"delivery_day": [DAY] * 3, "delivery_start": STARTS, "price_short_eur_per_mwh": short,
                         "price_long_eur_per_mwh": long, "price_source": ["final"] * 3},
                        schema_overrides={"delivery_start": UTC_DATETIME, "price_short_eur_per_mwh": pl.Float64,
                                          "price_long_eur_per_mwh": pl.Float64})


def test_one_hydro_day_by_hand():
    # Bid: 8 MW from 40 EUR/MWh. Auction 50, 30, 60 EUR/MWh -> accepted 8, 0, 8 MW = 2, 0, 2 MWh.
    # revenue = 50 x 2 + 60 x 2 = 220 EUR.
    # Outcome: content_0 = 1 MWh, inflow 0, 1, 0 MWh. The plant can turbine 1 MWh (4 MW) in MTU 1 and
    # 2 MWh in all, so it cannot deliver 4 MWh: least total deviation = 8 MW (2 MWh short).
    # Following the schedule as long as it can: MTU 1 4 MW (-4), MTU 2 0, MTU 3 4 MW (-4); content 0 at the end.
    # Imbalance -1, 0, -1 MWh at the short reBAP 100 and 80: cost = 1 x 100 + 1 x 80 = 180 EUR.
    # End water value = 30 x (0 - 1) = -30 EUR. Net = 220 - 180 - 30 = 10 EUR.
    # Perfect foresight at 50, 30, 60: maximise 0.25 (50 g1 + 30 g2 + 60 g3) + 30 c3 with
    # c3 = 2 - 0.25 (g1 + g2 + g3) = 60 + 0.25 (20 g1 + 0 g2 + 30 g3), g1 + g2 + g3 <= 8:
    # everything in MTU 3: g = (0, 0, 8): revenue 60 x 2 = 120, c3 = 0, water -30, net 90, no imbalance.
    # Capture rate = 10 / 90.
    rows = hydro_backtest.hydro_day(DAY, plant(), step_curve(40.0, 8.0), auction(50.0, 30.0, 60.0), (0.0, 1.0, 0.0),
                                    1.0, rebap([100.0, 90.0, 80.0], [10.0, 10.0, 10.0]), STARTS)
    rows = backtest.with_capture_rate(rows)
    got = {r["strategy"]: r for r in rows.iter_rows(named=True)}
    s = got["scenario_curves"]
    assert (s["accepted_mwh"], s["revenue_eur"], s["imbalance_mwh"], s["imbalance_cost_eur"], s["end_water_value_eur"],
            s["net_eur"]) == pytest.approx((4.0, 220.0, -2.0, 180.0, -30.0, 10.0))
    f = got["perfect_foresight"]
    assert (f["accepted_mwh"], f["revenue_eur"], f["imbalance_mwh"], f["imbalance_cost_eur"], f["end_water_value_eur"],
            f["net_eur"]) == pytest.approx((2.0, 120.0, 0.0, 0.0, -30.0, 90.0))
    assert f["imbalance_mwh"] == 0.0  # exactly: the bound produces what it sold
    assert (s["capture_rate"], f["capture_rate"]) == pytest.approx((10.0 / 90.0, 1.0))


def test_redispatch_keeps_the_schedule_when_it_is_feasible_and_spills_only_what_it_must():
    # accepted 4, 4, 4 MW = 3 MWh from content 5 and inflow 0.5 each: feasible, kept exactly
    kept = hydro_backtest.redispatch_reservoir(plant(), [4.0, 4.0, 4.0], [0.5, 0.5, 0.5], 5.0)
    assert kept.deviation_mw == (0.0, 0.0, 0.0) and kept.net_mw == (4.0, 4.0, 4.0)
    # content 5 + 1.5 - 3 = 3.5 MWh at the end, nothing spilled
    assert kept.content_mwh[-1] == pytest.approx(3.5) and kept.spill_mwh == (0.0, 0.0, 0.0)
    # a full reservoir (10 MWh) with 2 MWh inflow per MTU and a 0 MW schedule: it keeps the schedule
    # and spills the 3 x 2 = 6 MWh it cannot store (when is immaterial), rather than turbine off-schedule
    full = hydro_backtest.redispatch_reservoir(plant(), [0.0, 0.0, 0.0], [2.0, 2.0, 2.0], 10.0)
    assert full.deviation_mw == (0.0, 0.0, 0.0) and sum(full.spill_mwh) == pytest.approx(6.0)
    assert full.content_mwh[-1] == pytest.approx(10.0)
    # ramp 2 MW per MTU, schedule 0, 8, 8 MW. With g1 = x: g2 <= x + 2, g3 <= x + 4 (and <= 8).
    # x <= 4: total |deviation| = x + (8 - x - 2) + (8 - x - 4) = 10 - x; 4 <= x <= 6: x + (6 - x) + 0 = 6.
    # The least total is 6 for x in [4, 6]; weighing MTU 1, 2, 3 by 3, 2, 1 (deviate late):
    # x = 4 -> 3 x 4 + 2 x 2 = 16, x = 6 -> 3 x 6 = 18: g = (4, 6, 8), deviations +4, -2, 0 MW
    ramped = hydro_backtest.redispatch_reservoir(plant(ramp_mw_per_qh=2.0), [0.0, 8.0, 8.0], [0.0] * 3, 10.0)
    assert ramped.net_mw == pytest.approx((4.0, 6.0, 8.0)) and ramped.deviation_mw == pytest.approx((4.0, -2.0, 0.0))


def test_a_missing_rebap_leaves_the_cost_and_net_null():
    rows = hydro_backtest.hydro_day(DAY, plant(), step_curve(40.0, 8.0), auction(50.0, 30.0, 60.0), (0.0, 1.0, 0.0),
                                    1.0, rebap([None, 90.0, 80.0], [10.0, 10.0, 10.0]), STARTS)
    s = rows.filter(pl.col("strategy") == "scenario_curves").row(0, named=True)
    assert (s["imbalance_cost_eur"], s["net_eur"], s["n_qh_unpriced"]) == (None, None, 1)
    # the bound has no imbalance, so it needs no price
    assert rows.filter(pl.col("strategy") == "perfect_foresight")["net_eur"].to_list() == [pytest.approx(90.0)]


def test_realised_inflow_is_the_newest_value_of_each_mtu():
    created = [datetime(2025, 10, 12, 6, tzinfo=UTC), datetime(2025, 10, 14, 6, tzinfo=UTC)]
    rows = pl.DataFrame({"asset_id": ["HYD-1"] * 5, "delivery_start": STARTS + STARTS[1:],
                         "inflow_mwh": [0.1, 0.2, 0.3, 0.7, 0.9],
                         "file_created_at": [created[0]] * 3 + [created[1]] * 2},
                        schema_overrides={"delivery_start": UTC_DATETIME, "file_created_at": UTC_DATETIME})
    # MTU 1 only in the older file; MTUs 2 and 3 from the newer one
    assert hydro_backtest.realised_inflow(rows, "HYD-1", STARTS) == (0.1, 0.7, 0.9)
    with pytest.raises(ValueError, match="HYD-1: no inflow for 2025-10-13 22:45 UTC"):
        hydro_backtest.realised_inflow(rows, "HYD-1", STARTS + [STARTS[-1] + timedelta(minutes=15)])
