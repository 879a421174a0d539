"""The renewable client's bid from the champion's quantiles: the configured level, the critical-ratio
level, the input hash, and the errors when the quantiles are missing. Every number is worked out here."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from flexpower_assets.bidding.asset_types import asset_type
from flexpower_assets.bidding.config import BiddingConfigError, parse_bidding_config
from flexpower_assets.bidding.inputs import landing_kinds
from flexpower_assets.bidding.model import DayContext
from flexpower_assets.bidding.renewable import RenewableAsset, prepare_renewable
from flexpower_assets.bidding.solve import build_solve_inputs, solve_scenario

UTC = timezone.utc
DAY = date(2025, 10, 14)
T0 = datetime(2025, 10, 13, 22, 0, tzinfo=UTC)  # first MTU of 2025-10-14 (CEST)
STARTS = tuple(T0 + timedelta(minutes=15 * i) for i in range(3))
VERSION = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
KIND = asset_type("renewable")
ASSET = RenewableAsset(asset_id="WND-1", capacity_mw=2.0, technology="wind")


def quantiles(method: str = "gbm", bump_kw: float = 0.0) -> pl.DataFrame:
    """All 19 levels: power_kw = 2000 x level + 100 x MTU index (+ bump in the first MTU)."""
    rows = []
    for t, start in enumerate(STARTS):
        for i in range(1, 20):
            level = round(0.05 * i, 2)
            rows.append(("WND-1", start, level, 2000.0 * level + 100.0 * t + (bump_kw if t == 0 else 0.0), method, VERSION))
    return pl.DataFrame(rows, schema={"asset_id": pl.String, "delivery_start": pl.Datetime("us", "UTC"),
                                      "quantile_level": pl.Float64, "power_kw": pl.Float64, "method": pl.String,
                                      "forecast_version": pl.Datetime("us", "UTC")}, orient="row")


def day_for(level) -> DayContext:
    config = parse_bidding_config({"clients": [{"id": "OWN", "name": "Own", "approval": "auto", "asset_type": "renewable",
                                                "renewable_quantile": level, "assets": ["WND-1"]}],
                                   "policy": {"curtailment_price_eur_per_mwh": 5.0}})
    return DayContext(DAY, STARTS, datetime(2025, 10, 13, 9, 50, tzinfo=UTC), config, config.clients[0])


def prices(day_offset: int, short: float, long: float, da: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two QHs of the day DAY - day_offset with the given reBAP and auction prices."""
    day = DAY - timedelta(days=day_offset)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=2)
    starts = [start, start + timedelta(minutes=15)]
    imbalance = pl.DataFrame({"delivery_day": [day, day], "delivery_start": starts,
                              "price_short_eur_per_mwh": [short, short], "price_long_eur_per_mwh": [long, long]})
    auction = pl.DataFrame({"delivery_day": [day, day], "delivery_start": starts, "price_eur_per_mwh": [da, da]})
    return imbalance, auction


def test_the_configured_level_is_sold_from_the_curtailment_price():
    frames = {"asset_forecast_quantile": quantiles()}
    series, values = prepare_renewable(ASSET, frames, day_for(0.7))
    # level 0.7: 2000 x 0.7 = 1400 kW, 1500 kW, 1600 kW -> 1.4, 1.5, 1.6 MW
    assert series["quantile_mw"] == pytest.approx((1.4, 1.5, 1.6))
    assert values == {"quantile_level": 0.7, "forecast_method": "gbm", "forecast_version": VERSION.isoformat()}
    [solve_input] = build_solve_inputs(KIND, ASSET, frames, day_for(0.7), None)
    result = solve_scenario(KIND, solve_input)
    assert result.message == "quantile 0.7 of the probabilistic forecast (gbm)"
    points = KIND.bid_points([(solve_input, result)], day_for(0.7).config)
    # 0 MW from -500 EUR/MWh, the quantile from the curtailment price of 5 EUR/MWh
    assert points.rows()[:2] == [(STARTS[0], -500.0, 0.0), (STARTS[0], 5.0, pytest.approx(1.4))]
    # level 0.95: 1900, 2000, 2100 kW -> 1.9, 2.0 MW and 2.1 MW cut to the 2 MW capacity
    [top] = build_solve_inputs(KIND, ASSET, frames, day_for(0.95), None)
    assert solve_scenario(KIND, top).volumes_mw == pytest.approx((1.9, 2.0, 2.0))


def test_the_critical_ratio_level_comes_from_prices_known_at_the_gate():
    # D-2: short 100, long 20, auction 40 -> c_short = 100 - 40 = 60, c_long = 40 - 20 = 20,
    # q* = 20 / (20 + 60) = 0.25 (a level of its own)
    imbalance, auction = prices(2, short=100.0, long=20.0, da=40.0)
    # D-1 is not known at D-1 12:00: its prices (c_long = 0 -> q* = 0) must not count
    late_imbalance, late_auction = prices(1, short=500.0, long=40.0, da=40.0)
    frames = {"asset_forecast_quantile": quantiles(),
              "imbalance_price_history": pl.concat([imbalance, late_imbalance]),
              "day_ahead_price_history": pl.concat([auction, late_auction])}
    series, values = prepare_renewable(ASSET, frames, day_for("critical_ratio"))
    # level 0.25: 2000 x 0.25 = 500 kW, 600 kW, 700 kW
    assert values["quantile_level"] == 0.25
    assert series["quantile_mw"] == pytest.approx((0.5, 0.6, 0.7))
    # without any past prices the rule sells the median: 1000, 1100, 1200 kW
    series, values = prepare_renewable(ASSET, {"asset_forecast_quantile": quantiles()}, day_for("critical_ratio"))
    assert (values["quantile_level"], series["quantile_mw"]) == (0.5, pytest.approx((1.0, 1.1, 1.2)))


def test_the_input_hash_covers_the_quantile_values_and_the_method():
    def solve_hash(frame):
        return build_solve_inputs(KIND, ASSET, {"asset_forecast_quantile": frame}, day_for(0.5), None)[0].input_hash

    base = solve_hash(quantiles())
    assert base == solve_hash(quantiles())
    assert solve_hash(quantiles(method="empirical")) != base       # same numbers, other method
    assert solve_hash(quantiles(bump_kw=0.5)) != base              # one quantile value 0.5 kW higher


def test_missing_or_mixed_quantiles_are_errors_of_the_asset():
    with pytest.raises(ValueError, match="WND-1: no asset_forecast_quantile rows for 2025-10-14"):
        prepare_renewable(ASSET, {"asset_forecast_quantile": pl.DataFrame()}, day_for(0.5))
    mixed = pl.concat([quantiles(), quantiles(method="empirical")])
    with pytest.raises(ValueError, match=r"mix methods \['empirical', 'gbm'\]"):
        prepare_renewable(ASSET, {"asset_forecast_quantile": mixed}, day_for(0.5))


def test_the_quantiles_are_read_from_the_warehouse_not_synced_from_the_landing_zone():
    kinds = landing_kinds(["renewable"], KIND.input_kinds)
    assert "asset_forecast_quantile" not in kinds and "day_ahead_prices" in kinds


def test_renewable_quantile_is_a_level_or_the_critical_ratio_rule():
    assert day_for("critical_ratio").client.renewable_quantile == "critical_ratio"
    with pytest.raises(BiddingConfigError, match="renewable_quantile"):
        day_for("newsvendor")
    with pytest.raises(BiddingConfigError, match="renewable_quantile"):
        day_for(1.0)
