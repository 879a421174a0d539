"""Backtest: one day per strategy worked out by hand, the critical-ratio level, and no look-ahead."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from flexpower_assets.domain import backtest
from flexpower_assets.domain.time import UTC, UTC_DATETIME

DAY = date(2025, 6, 8)
Q1, Q2 = datetime(2025, 6, 8, 10, 0, tzinfo=UTC), datetime(2025, 6, 8, 10, 15, tzinfo=UTC)
GATE = datetime(2025, 6, 7, 10, 0, tzinfo=UTC)  # D-1 12:00 Berlin


def _t(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.with_columns(pl.col(c).cast(UTC_DATETIME) for c in columns)


def inputs():
    forecast_rows = _t(pl.DataFrame({"asset_id": ["W", "W"], "delivery_start": [Q1, Q2], "version": [GATE, GATE],
                                     "power_kw": [1600.0, 1200.0]}), "delivery_start", "version")
    quantiles = _t(pl.DataFrame({"asset_id": ["W"] * 4, "delivery_start": [Q1, Q2, Q1, Q2],
                                 "quantile_level": [0.3, 0.3, 0.5, 0.5], "power_kw": [2400.0, 800.0, 1.0, 1.0]}),
                   "delivery_start")
    realised = _t(pl.DataFrame({"delivery_day": [DAY, DAY], "asset_id": ["W", "W"], "delivery_start": [Q1, Q2],
                                "energy_mwh": [0.5, 0.25], "is_redispatched": [False, False]}), "delivery_start")
    day_ahead = _t(pl.DataFrame({"delivery_start": [Q1, Q2], "price_eur_per_mwh": [100.0, -10.0]}), "delivery_start")
    prices = _t(pl.DataFrame({"delivery_day": [DAY, DAY], "delivery_start": [Q1, Q2],
                              "price_short_eur_per_mwh": [150.0, 20.0], "price_long_eur_per_mwh": [40.0, -30.0],
                              "price_source": ["final", "final"]}), "delivery_start")
    past = past_prices()
    return forecast_rows, quantiles, realised, pl.concat([day_ahead, past[0]]), pl.concat([prices, past[1]])


def past_prices(day_offset: int = 2, short: float = 80.0):
    """One QH on D-2: DA 50, short 80, long 40 -> short cost 30, long cost 10, critical ratio 10 / 40 = 0.25."""
    qh = Q1 - timedelta(days=day_offset)
    da = _t(pl.DataFrame({"delivery_start": [qh], "price_eur_per_mwh": [50.0]}), "delivery_start")
    imb = _t(pl.DataFrame({"delivery_day": [DAY - timedelta(days=day_offset)], "delivery_start": [qh],
                           "price_short_eur_per_mwh": [short], "price_long_eur_per_mwh": [40.0],
                           "price_source": ["final"]}), "delivery_start")
    return da, imb


def test_critical_ratio_level_from_days_up_to_d_minus_2():
    _, _, _, day_ahead, prices = inputs()
    # 10 / (10 + 30) = 0.25, nearest level 0.25
    assert backtest.quantile_level(DAY, prices, day_ahead) == 0.25


def test_one_day_of_every_strategy_by_hand():
    forecast_rows, quantiles, realised, day_ahead, prices = inputs()
    # sell the 0.30 quantile: override the level the past prices give (0.25) by relabelling
    quantiles = quantiles.with_columns(quantile_level=pl.when(pl.col("quantile_level") == 0.3).then(0.25).otherwise(0.5))
    result, level = backtest.backtest_day(DAY, forecast_rows, quantiles, realised, day_ahead, prices, curtailment_price=0.0)
    assert level == 0.25
    rows = {r["strategy"]: r for r in result.iter_rows(named=True)}
    # QH2's auction price -10 < curtailment price 0: no bid accepted there, the plant curtailed (0 produced, 0 imbalance)
    # point: QH1 1600 kW -> 0.4 MWh x 100 = 40 EUR; produced 0.5: long 0.1 MWh at the long price 40 -> cost -0.1 x 40 = -4
    p = rows["point"]
    assert (p["accepted_mwh"], p["revenue_eur"], p["imbalance_mwh"], p["imbalance_cost_eur"], p["net_eur"]) == pytest.approx(
        (0.4, 40.0, 0.1, -4.0, 44.0))
    # quantile: 2400 kW -> 0.6 MWh x 100 = 60 EUR; short 0.1 MWh at the short price 150 -> cost 15; net 45
    q = rows["quantile"]
    assert (q["accepted_mwh"], q["revenue_eur"], q["imbalance_mwh"], q["imbalance_cost_eur"], q["net_eur"]) == pytest.approx(
        (0.6, 60.0, -0.1, 15.0, 45.0))
    # perfect foresight: 0.5 MWh x 100 = 50 EUR, no imbalance (exactly: it sells the outcome's own MWh)
    f = rows["perfect_foresight"]
    assert f["imbalance_mwh"] == 0.0
    assert (f["accepted_mwh"], f["revenue_eur"], f["imbalance_mwh"], f["imbalance_cost_eur"], f["net_eur"]) == pytest.approx(
        (0.5, 50.0, 0.0, 0.0, 50.0))
    # capture rate = net / perfect-foresight net: 44/50, 45/50, 1
    assert [p["capture_rate"], q["capture_rate"], f["capture_rate"]] == pytest.approx([0.88, 0.9, 1.0])


def test_missing_imbalance_price_leaves_cost_and_net_null():
    forecast_rows, quantiles, realised, day_ahead, prices = inputs()
    prices = prices.with_columns(price_short_eur_per_mwh=pl.lit(None, dtype=pl.Float64),
                                 price_long_eur_per_mwh=pl.lit(None, dtype=pl.Float64))
    result, _ = backtest.backtest_day(DAY, forecast_rows, quantiles, realised, day_ahead, prices, 0.0, strategies=("point",))
    assert result["imbalance_cost_eur"].to_list() == [None] and result["net_eur"].to_list() == [None]
    assert result["n_qh_unpriced"].to_list() == [1]  # QH1 (QH2 has no imbalance: curtailed)


def test_no_look_ahead_planted_future_values_do_not_leak():
    forecast_rows, quantiles, realised, day_ahead, prices = inputs()
    clean, clean_level = backtest.backtest_day(DAY, forecast_rows, quantiles, realised, day_ahead, prices, 0.0)
    # plant what was not known at D-1 12:00: a forecast version 15 minutes after the gate with absurd power,
    # and D-1's imbalance prices (D-1 is still running at the gate) so extreme they would flip the level
    late = _t(pl.DataFrame({"asset_id": ["W", "W"], "delivery_start": [Q1, Q2], "version": [GATE + timedelta(minutes=15)] * 2,
                            "power_kw": [99999.0, 99999.0]}), "delivery_start", "version")
    da_late, imb_late = past_prices(day_offset=1, short=1e6)
    planted, planted_level = backtest.backtest_day(DAY, pl.concat([forecast_rows, late]), quantiles, realised,
                                                   pl.concat([day_ahead, da_late]), pl.concat([prices, imb_late]), 0.0)
    assert planted_level == clean_level == 0.25
    assert planted.equals(clean)
    # the plant would leak if the window reached D-1: then the short cost dominates and the level drops
    leaked = backtest.quantile_level(DAY + timedelta(days=1), pl.concat([prices, imb_late]), pl.concat([day_ahead, da_late]))
    assert leaked == 0.05


def test_bootstrap_interval_brackets_the_mean():
    mean, low, high = backtest.bootstrap_ci([10.0, 10.0, 10.0])
    assert (mean, low, high) == (10.0, 10.0, 10.0)  # no spread, no interval
    mean, low, high = backtest.bootstrap_ci([0.0, 10.0, 20.0, 30.0], n_resamples=4000, seed=1)
    assert mean == 15.0 and low < 15.0 < high and low >= 0.0 and high <= 30.0
