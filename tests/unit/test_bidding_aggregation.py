"""Aggregation, the price grid, the matrix, every validation rule, and a third asset type registered
in the test only. Expected numbers are worked out in the comments."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest
from pydantic import Field

from flexpower_assets.bidding import aggregation as agg
from flexpower_assets.bidding.asset_types import (
    AssetType,
    asset_type,
    register_asset_type,
    registered_types,
    unregister_asset_type,
)
from flexpower_assets.bidding.config import parse_bidding_config
from flexpower_assets.bidding.model import OPTIMAL, AssetTechnicalData, DayContext, SolveInput, SolveResult
from flexpower_assets.bidding.solve import build_solve_inputs, solve_scenario
from flexpower_assets.bidding.validation import RULES, validate_bids

UTC = timezone.utc
T0 = datetime(2025, 10, 13, 22, 0, tzinfo=UTC)
STARTS = tuple(T0 + timedelta(minutes=15 * i) for i in range(2))
SCHEMA = {"delivery_start": pl.Datetime("us", "UTC"), "price_eur_per_mwh": pl.Float64, "volume_mw": pl.Float64}


def config_for(**changes):
    document = {"clients": [{"id": "C", "name": "C", "approval": "auto", "assets": ["HYD-A"]}]}
    document.update(changes)
    return parse_bidding_config(document)


def points(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


class Plant(AssetTechnicalData):
    sell: float = 100.0
    buy: float = 0.0

    @property
    def max_sell_mw(self) -> float:
        return self.sell

    @property
    def max_buy_mw(self) -> float:
        return self.buy


def test_pool_adjacent_violators_on_a_hand_made_point_set():
    # one MTU, points (price, volume): (30, 5), (10, 0), (20, 8), (20, 6), (40, 4), (50, 10)
    frame = points([(T0, 30, 5), (T0, 10, 0), (T0, 20, 8), (T0, 20, 6), (T0, 40, 4), (T0, 50, 10)])
    fitted = agg.monotone_points(frame)
    # sorted, equal prices pooled: 10 -> 0; 20 -> (8+6)/2 = 7 (weight 2); 30 -> 5; 40 -> 4; 50 -> 10.
    # PAV: 7 > 5 pools to (2*7 + 5)/3 = 19/3, which is > 4: pools to (19 + 4)/4 = 5.75; 10 stays.
    assert fitted["price_eur_per_mwh"].to_list() == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert fitted["volume_mw"].to_list() == pytest.approx([0.0, 5.75, 5.75, 5.75, 10.0])
    # the running maximum would give 0, 7, 7, 7, 10 instead: PAV is the chosen rule
    assert agg.pool_adjacent_violators([3.0, 1.0]) == [2.0, 2.0]


def test_price_grid_reduction_with_rounding():
    config = config_for()
    # monotone points of one MTU: (12.34, 1.26), (12.36, 2.04), (55.57, 3.35)
    curve = agg.AssetCurve("HYD-A", "C", "complete", 1.0,
                           points([(T0, 12.34, 1.26), (T0, 12.36, 2.04), (T0, 55.57, 3.35)]))
    grid = agg.client_price_grid([curve], config.market, (T0,))
    # prices to the 0.1 tick: 12.3, 12.4, 55.6, with the limits -500 and 4000
    assert grid["price_eur_per_mwh"].to_list() == [-500.0, 12.3, 12.4, 55.6, 4000.0]
    on_grid = agg.curve_on_grid(curve, grid, Plant(asset_id="HYD-A"), config)
    # step curve: at -500 and at 12.3 no point is at or below: the lowest point's 1.26 -> 1.3 MW;
    # 12.4 >= 12.36 -> 2.04 -> 2.0; 55.6 >= 55.57 -> 3.35 -> 3.4 (half away from zero); 4000 -> 3.4
    assert on_grid["volume_mw"].to_list() == [1.3, 1.3, 2.0, 3.4, 3.4]
    assert on_grid["point"].to_list() == [1, 2, 3, 4, 5]
    assert validate_bids(on_grid, config, (T0,), max_sell_mw=100.0) == []
    # with at most 4 points, the ends stay and ranks 0, 4/3 -> 1, 8/3 -> 3, 4 of the 5 prices are kept
    small = config_for(market={"max_points": 4})
    assert agg.client_price_grid([curve], small.market, (T0,))["price_eur_per_mwh"].to_list() == [
        -500.0, 12.3, 55.6, 4000.0]


def test_clip_to_policy_share_of_capacity():
    # 60 % of a 5 MW turbine = 3 MW; the 8 MW point is cut to 3 MW, prices above 4000 to 4000
    config = config_for(policy={"max_volume_share_of_capacity": 0.6})
    clipped = agg.clip_to_policy(points([(T0, 10, 1.0), (T0, 5000, 8.0)]), Plant(asset_id="A", sell=5.0), config)
    assert clipped.rows() == [(T0, 10.0, 1.0), (T0, 4000.0, 3.0)]


def test_coverage_status_and_the_fallback_chain():
    config = config_for()
    client = config.clients[0]
    technical = Plant(asset_id="HYD-A", sell=50.0, buy=20.0)
    good = points([(s, 40.0, 5.0) for s in STARTS])
    ok = SolveResult("h", OPTIMAL, 1.0, 0.0, 1, "")
    bad = SolveResult("h", "error", None, 0.0, 0, "boom")
    # 35 of 50 optimal = 0.70, the policy minimum: partial; 50 of 50: complete
    assert agg.coverage_of([ok] * 35 + [bad] * 15, 50) == pytest.approx(0.7)
    assert agg.aggregate_asset(client, technical, good, 0.7, config, STARTS).status == "partial"
    assert agg.aggregate_asset(client, technical, good, 1.0, config, STARTS).status == "complete"
    # 34 of 50 = 0.68: fallback; without a previous day and a deterministic solve, 0 MW
    zero = agg.aggregate_asset(client, technical, good, 0.68, config, STARTS)
    assert (zero.status, zero.fallback_source) == ("fallback", "zero")
    assert zero.points["volume_mw"].to_list() == [0.0, 0.0]
    # the previous day's accepted curve, moved by one day at the same local time
    previous = points([(s - timedelta(days=1), p, v) for s in STARTS for p, v in ((-500.0, 0.0), (60.0, 7.0))])
    from_previous = agg.aggregate_asset(client, technical, good, 0.0, config, STARTS, previous_day_curve=previous)
    assert from_previous.fallback_source == "previous_day"
    assert from_previous.points.rows() == [(STARTS[0], -500.0, 0.0), (STARTS[0], 60.0, 7.0),
                                           (STARTS[1], -500.0, 0.0), (STARTS[1], 60.0, 7.0)]
    # the deterministic solve at the mean price (45 and 20 EUR/MWh): sell 12 MW from 45 up; buy 8 MW up to 20
    mean_input = SolveInput("HYD-A", "x", "1", technical, STARTS, 0, (45.0, 20.0))
    mean_result = SolveResult("h", OPTIMAL, 1.0, 0.0, 1, "", volumes_mw=(12.0, -8.0))
    deterministic = agg.aggregate_asset(client, technical, good, 0.0, config, STARTS,
                                        deterministic=(mean_input, mean_result))
    assert deterministic.fallback_source == "deterministic"
    rows = deterministic.points.rows()
    assert rows[:2] == [(STARTS[0], -500.0, 0.0), (STARTS[0], 45.0, 12.0)]
    assert (rows[2][1:], rows[3][2]) == ((-500.0, -8.0), 0.0) and rows[3][1] == pytest.approx(20.0)
    # a client configured to start at "deterministic" skips the previous day
    skipping = config_for(clients=[{"id": "C", "name": "C", "approval": "auto", "assets": ["HYD-A"],
                                    "fallback": "deterministic"}])
    chosen = agg.aggregate_asset(skipping.clients[0], technical, good, 0.0, skipping, STARTS,
                                 previous_day_curve=previous, deterministic=(mean_input, mean_result))
    assert chosen.fallback_source == "deterministic"


def test_bid_matrix_sums_the_assets_on_the_common_grid():
    config = config_for()
    a = agg.AssetCurve("A", "C", "complete", 1.0, points([(T0, 20.0, 1.0), (T0, 50.0, 4.0)]))
    b = agg.AssetCurve("B", "C", "complete", 1.0, points([(T0, 30.0, 2.0)]))
    grid = agg.client_price_grid([a, b], config.market, (T0,))
    assert grid["price_eur_per_mwh"].to_list() == [-500.0, 20.0, 30.0, 50.0, 4000.0]
    curves = [agg.curve_on_grid(c, grid, Plant(asset_id=c.asset_id), config) for c in (a, b)]
    matrix = agg.bid_matrix(curves)
    # A: 1, 1, 1, 4, 4; B: 2, 2, 2, 2, 2 (flat below its one point) -> 3, 3, 3, 6, 6
    assert matrix["volume_mw"].to_list() == [3.0, 3.0, 3.0, 6.0, 6.0]
    assert matrix["point"].to_list() == [1, 2, 3, 4, 5]
    rows = agg.asset_bid_curve_rows(a, curves[0], date(2025, 10, 14))
    assert rows.select("asset_id", "curve_status", "coverage").unique().rows() == [("A", "complete", 1.0)]


GOOD = [(-500.0, -2.0), (0.0, 0.0), (45.5, 3.0), (4000.0, 5.0)]


def matrix_of(rows_by_start: dict) -> pl.DataFrame:
    rows = [(start, i + 1, price, volume) for start, rows in rows_by_start.items()
            for i, (price, volume) in enumerate(rows)]
    return pl.DataFrame(rows, schema={"delivery_start": pl.Datetime("us", "UTC"), "point": pl.Int64,
                                      "price_eur_per_mwh": pl.Float64, "volume_mw": pl.Float64}, orient="row")


@pytest.mark.parametrize(("rows", "rule", "point"), [
    ({STARTS[0]: GOOD}, "mtu_missing", None),                                       # MTU 2 has no curve
    ({STARTS[0]: [(-500.0, 0.0)], STARTS[1]: GOOD}, "point_count", None),           # 1 point
    ({STARTS[0]: [(-500.0, 0.0), (0.0, 0.0), (4000.0, 0.0)] + [(4000.0 + i, 0.0) for i in range(1, 256)],
      STARTS[1]: GOOD}, "point_count", None),                                       # 258 points
    ({STARTS[0]: [(-400.0, 0.0)] + GOOD[1:], STARTS[1]: GOOD}, "first_point_at_min_price", 1),
    ({STARTS[0]: GOOD[:3] + [(3000.0, 5.0)], STARTS[1]: GOOD}, "last_point_at_max_price", 4),
    ({STARTS[0]: GOOD[:3] + [(4000.0, 5.0), (4100.0, 5.0)], STARTS[1]: GOOD}, "price_limits", 5),
    ({STARTS[0]: [GOOD[0], (0.05, 0.0)] + GOOD[2:], STARTS[1]: GOOD}, "price_tick", 2),
    ({STARTS[0]: [GOOD[0], (0.0, 0.25)] + GOOD[2:], STARTS[1]: GOOD}, "volume_step", 2),
    ({STARTS[0]: [GOOD[0], (50.0, 0.0), (45.5, 3.0), GOOD[3]], STARTS[1]: GOOD}, "price_rising", 3),
    ({STARTS[0]: [GOOD[0], (0.0, 4.0)] + GOOD[2:], STARTS[1]: GOOD}, "volume_non_decreasing", 3),
    ({STARTS[0]: GOOD[:3] + [(4000.0, 10.5)], STARTS[1]: GOOD}, "max_volume", 4),  # 10.5 > 10 MW
    ({STARTS[0]: [(-500.0, -6.0)] + GOOD[1:], STARTS[1]: GOOD}, "max_volume", 1),  # buy 6 > 4 MW
])
def test_every_validation_rule_has_a_failing_example(rows, rule, point):
    config = config_for()
    matrix = matrix_of(rows)
    assert validate_bids(matrix_of({STARTS[0]: GOOD, STARTS[1]: GOOD}), config, STARTS, 10.0, 4.0) == []
    found = validate_bids(matrix, config, STARTS, max_sell_mw=10.0, max_buy_mw=4.0)
    assert rule in {v.rule for v in found}
    violation = next(v for v in found if v.rule == rule)
    assert violation.point == point
    assert str(violation).startswith(f"MTU {violation.delivery_start:%Y-%m-%dT%H:%MZ}")


def test_point_numbering_and_renewable_p90_rules():
    config = config_for(policy={"max_renewable_deviation_from_p90_share": 0.1})
    renumbered = matrix_of({STARTS[0]: GOOD, STARTS[1]: GOOD}).with_columns(
        point=pl.when(pl.col("point") == 4).then(7).otherwise(pl.col("point")))
    assert [v.rule for v in validate_bids(renumbered, config, STARTS, 10.0, 4.0)] == ["point_numbering"] * 2
    # offered 5 MW against a P90 of 3.5 MW: 1.5 MW off, more than 10 % of 10 MW = 1 MW (MTU 1 only)
    p90 = pl.DataFrame({"delivery_start": list(STARTS), "p90_mw": [3.5, 4.5]})
    found = validate_bids(matrix_of({STARTS[0]: GOOD, STARTS[1]: GOOD}), config, STARTS, 10.0, 4.0,
                          p90=p90, capacity_mw=10.0)
    assert [(v.delivery_start, v.point, v.rule) for v in found] == [(STARTS[0], 4, "renewable_p90_deviation")]
    assert set(RULES) >= {v.rule for v in found}


class Battery(AssetTechnicalData):
    power_mw: float = Field(gt=0)
    energy_mwh: float = Field(gt=0)

    @property
    def max_sell_mw(self) -> float:
        return self.power_mw

    @property
    def max_buy_mw(self) -> float:
        return self.power_mw


def solve_battery(solve_input: SolveInput) -> SolveResult:
    # a toy rule for the test: discharge at full power above the day's mean price, charge below
    prices = solve_input.prices_eur_per_mwh
    mean = sum(prices) / len(prices)
    power = solve_input.technical.power_mw
    volumes = tuple(power if p > mean else -power for p in prices)
    revenue = sum(p * v * 0.25 for p, v in zip(prices, volumes))
    return SolveResult(solve_input.input_hash, OPTIMAL, revenue, 0.0, 0, "rule", volumes_mw=volumes)


def test_a_third_asset_type_registered_in_the_test_runs_through_solve_aggregation_and_matrix():
    battery = AssetType("battery", Battery, solve_battery, "battery-rule-1",
                        prepare=lambda technical, frames, day: ({}, {}))
    register_asset_type(battery)
    try:
        assert set(registered_types()) == {"reservoir_hydro", "renewable", "battery"}
        config = parse_bidding_config({"clients": [{"id": "BAT", "name": "Battery Co", "approval": "auto",
                                                    "asset_type": "battery", "scenarios": 2, "assets": ["BAT-1"]}]})
        client = config.clients[0]
        kind = asset_type(client.asset_types()["BAT-1"])
        technical = kind.technical_model.model_validate({"asset_id": "BAT-1", "power_mw": 2.0, "energy_mwh": 4.0})
        day = DayContext(date(2025, 10, 14), STARTS, T0 - timedelta(hours=12), config, client)
        scenarios = pl.DataFrame({"scenario_id": [1, 1, 2, 2], "delivery_start": list(STARTS) * 2,
                                  "price_eur_per_mwh": [30.0, 80.0, 90.0, 20.0]})
        solves = [(i, solve_scenario(kind, i)) for i in build_solve_inputs(kind, technical, {}, day, scenarios)]
        # scenario 1 (mean 55): charge at 30, discharge at 80; scenario 2 (mean 55): discharge at 90, charge at 20
        assert [r.volumes_mw for _, r in solves] == [(-2.0, 2.0), (2.0, -2.0)]
        curve = agg.aggregate_asset(client, technical, kind.bid_points(solves, config),
                                    agg.coverage_of([r for _, r in solves], 2), config, STARTS)
        grid = agg.client_price_grid([curve], config.market, STARTS)
        matrix = agg.bid_matrix([agg.curve_on_grid(curve, grid, technical, config)])
        # MTU 1: points (30, -2), (90, 2) -> -2 up to 90, then 2; MTU 2: (20, -2), (80, 2)
        assert matrix.filter(pl.col("delivery_start") == STARTS[0]).select("price_eur_per_mwh", "volume_mw").rows() == [
            (-500.0, -2.0), (30.0, -2.0), (90.0, 2.0), (4000.0, 2.0)]
        assert validate_bids(matrix, config, STARTS, technical.max_sell_mw, technical.max_buy_mw) == []
    finally:
        unregister_asset_type("battery")
    assert "battery" not in registered_types()
