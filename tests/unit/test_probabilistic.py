"""Quantile forecasts: metrics, sorting and clipping, fallback, gate forecast, champion rule,
critical ratio; every expected number worked out in the test."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from flexpower_assets.domain import probabilistic as prob
from flexpower_assets.domain.time import UTC, UTC_DATETIME

T0 = datetime(2025, 6, 8, 10, 0, tzinfo=UTC)
QH = timedelta(minutes=15)


def _quantiles(values_by_qh: list[list[float]], levels=prob.LEVELS, method="m", asset="A") -> pl.DataFrame:
    rows = [{"method": method, "asset_id": asset, "delivery_start": T0 + k * QH, "quantile_level": level, "power_kw": v}
            for k, values in enumerate(values_by_qh) for level, v in zip(levels, values)]
    return pl.DataFrame(rows).with_columns(pl.col("delivery_start").cast(UTC_DATETIME))


def _realised(values: list[float], asset="A") -> pl.DataFrame:
    return pl.DataFrame({"asset_id": [asset] * len(values), "delivery_start": [T0 + k * QH for k in range(len(values))],
                         "realised_kw": values}).with_columns(pl.col("delivery_start").cast(UTC_DATETIME))


def test_pinball_loss_per_level():
    frame = pl.DataFrame({"y": [12.0, 12.0, 7.0, 7.0], "q": [10.0] * 4, "level": [0.1, 0.9, 0.1, 0.9]})
    loss = frame.select(prob.pinball_loss(pl.col("y"), pl.col("q"), pl.col("level")))[:, 0].to_list()
    # y above q: level x (y - q) = 0.1 x 2 = 0.2 and 0.9 x 2 = 1.8;
    # y below q: (1 - level) x (q - y) = 0.9 x 3 = 2.7 and 0.1 x 3 = 0.3
    assert loss == pytest.approx([0.2, 1.8, 2.7, 0.3])


def test_crps_and_rcrps_on_three_observations():
    # every level's quantile is 10 kW; outcomes 12, 7 and 10 kW
    scored = prob.score_rows(_quantiles([[10.0] * 19] * 3), _realised([12.0, 7.0, 10.0]))
    # y = 12: pinball = 2 x level; the mean of the 19 levels 0.05..0.95 is 0.5, so mean pinball = 1.0, CRPS = 2.0
    # y = 7:  pinball = 3 x (1 - level); mean = 3 x 0.5 = 1.5, CRPS = 3.0
    # y = 10: every loss 0, CRPS = 0
    assert scored["crps_kw"].to_list() == pytest.approx([2.0, 3.0, 0.0])
    skill = prob.skill(scored, date(2025, 6, 10), 1)
    # mean CRPS = (2 + 3 + 0) / 3 = 5/3
    assert skill["crps_kw"][0] == pytest.approx(5 / 3)
    # realised sorted 7, 10, 12 (n = 3, linear interpolation at (n - 1) x p):
    # P99 at 1.98 -> 10 + 0.98 x 2 = 11.96; P1 at 0.02 -> 7 + 0.02 x 3 = 7.06; range 4.9
    assert skill["rcrps"][0] == pytest.approx((5 / 3) / 4.9)


def test_coverage_and_width_of_the_80_interval():
    ladder = [100 * level for level in prob.LEVELS]  # q0.10 = 10, q0.90 = 90 kW
    scored = prob.score_rows(_quantiles([ladder] * 3), _realised([50.0, 95.0, 10.0]))
    # 50 inside [10, 90]; 95 above; 10 on the bound (inside): 2 of 3
    assert scored["is_covered_80"].to_list() == [True, False, True]
    skill = prob.skill(scored, date(2025, 6, 10), 1)
    assert skill["coverage_80"][0] == pytest.approx(2 / 3)
    assert skill["mean_width_kw"][0] == pytest.approx(80.0)  # 90 - 10 on every QH


def test_point_mass_intervals_are_left_out_of_coverage():
    # QH 1: solar at night, every quantile 0 and outcome 0 (says nothing); QH 2: ladder, outcome 95 (outside)
    ladder = [100 * level for level in prob.LEVELS]
    skill = prob.skill(prob.score_rows(_quantiles([[0.0] * 19, ladder]), _realised([0.0, 95.0])), date(2025, 6, 10), 1)
    assert skill["coverage_80"][0] == 0.0  # 0 of the 1 informative QH
    assert skill["mean_width_kw"][0] == 80.0


def test_quantiles_are_sorted_then_clipped_to_the_physical_range():
    levels = (0.1, 0.5, 0.9)
    frame = pl.concat([_quantiles([[60.0, 120.0, -5.0]], levels=levels, asset="W"),
                       _quantiles([[2.0, -1.0, 0.0]], levels=levels, asset="S")])
    assets = pl.DataFrame({"asset_id": ["W", "S"], "technology": ["wind", "solar"], "capacity_kw": [100.0, 50.0]})
    night = pl.DataFrame({"asset_id": ["S"], "night_min_kw": [-0.3]})
    out = prob.finalise_quantiles(frame, assets, night).sort("asset_id", "quantile_level")
    # wind: sorted -5, 60, 120 -> clipped to 0 .. 100: 0, 60, 100
    assert out.filter(pl.col("asset_id") == "W")["power_kw"].to_list() == [0.0, 60.0, 100.0]
    # solar: sorted -1, 0, 2 -> lower bound is its night minimum -0.3: -0.3, 0, 2
    assert out.filter(pl.col("asset_id") == "S")["power_kw"].to_list() == [-0.3, 0.0, 2.0]


def test_night_minimum_is_the_lowest_dark_outcome_and_never_positive():
    training = pl.DataFrame({"asset_id": ["S", "S", "S", "T"], "technology": ["solar"] * 4,
                             "power_kw": [0.0, 0.0, 30.0, 0.0], "realised_kw": [-0.2, -0.4, -3.0, 0.5]})
    out = prob.night_minimum_kw(training).sort("asset_id")
    # S: dark rows -0.2 and -0.4 (the -3.0 is by day) -> -0.4; T: 0.5 clipped to at most 0
    assert out.rows() == [("S", -0.4), ("T", 0.0)]


def test_fallback_band_with_too_little_history():
    target = pl.DataFrame({"asset_id": ["W"], "delivery_start": [T0], "power_kw": [50.0], "forecast_version": [T0 - timedelta(hours=20)],
                           "lead_hours": [20.0]}).with_columns(pl.col("delivery_start", "forecast_version").cast(UTC_DATETIME))
    assets = pl.DataFrame({"asset_id": ["W"], "technology": ["wind"], "capacity_kw": [100.0]})
    out, n_days = prob.quantile_forecast(target, pl.DataFrame(), assets, prob.ForecastingSettings())
    assert n_days == 0 and out["method"].unique().to_list() == ["fallback"]
    by_level = dict(zip(out["quantile_level"].to_list(), out["power_kw"].to_list()))
    # 50 + z_q x 0.16 x 100 kW: z_0.5 = 0; z_0.95 = 1.644854 -> 76.3177; z_0.05 = -1.644854 -> 23.6823
    assert by_level[0.5] == pytest.approx(50.0)
    assert by_level[0.95] == pytest.approx(76.3177, abs=1e-3)
    assert by_level[0.05] == pytest.approx(23.6823, abs=1e-3)


def test_gate_forecast_is_the_newest_version_at_d_minus_1_noon_berlin():
    day = date(2025, 6, 8)
    # D-1 12:00 Berlin (CEST) = 10:00 UTC on 2025-06-07
    assert prob.gate_closure(day) == datetime(2025, 6, 7, 10, 0, tzinfo=UTC)
    qh = datetime(2025, 6, 8, 9, 0, tzinfo=UTC)
    rows = pl.DataFrame({"asset_id": ["A"] * 3, "delivery_start": [qh] * 3,
                         "version": [datetime(2025, 6, 7, 9, 45, tzinfo=UTC), datetime(2025, 6, 7, 10, 0, tzinfo=UTC),
                                     datetime(2025, 6, 7, 10, 15, tzinfo=UTC)],
                         "power_kw": [1.0, 2.0, 3.0]}).with_columns(pl.col("delivery_start", "version").cast(UTC_DATETIME))
    out = prob.gate_forecasts(rows, day)
    # 10:15 is after the gate; of 09:45 and 10:00 the newer wins; lead 10:00 -> 09:00 next day = 23 h
    assert out.select("power_kw", "lead_hours").rows() == [(2.0, 23.0)]
    assert prob.history_days(day, prob.ForecastingSettings(history_days=3)) == (date(2025, 6, 4), date(2025, 6, 6))


def _crps(rows: list[tuple[int, float, float]]) -> pl.DataFrame:
    start = date(2025, 6, 1)
    return pl.DataFrame([{"method": m, "asset_id": "A", "evaluated_on": start + timedelta(days=d), "crps_kw": v}
                         for d, emp, gbm in rows for m, v in (("empirical", emp), ("gbm", gbm))])


def test_champion_switches_only_after_the_margin_holds_days_in_a_row():
    settings = prob.ForecastingSettings(switch_margin=0.1, switch_days=2, initial_champion="empirical")
    crps = _crps([(0, 10.0, 8.5),   # 8.5 <= 0.9 x 10 = 9: better, streak 1
                  (1, 10.0, 9.5),   # 9.5 > 9: streak broken, 0
                  (2, 10.0, 8.0),   # streak 1
                  (3, 10.0, 9.0),   # 9.0 <= 9.0: streak 2 = switch_days -> gbm champion
                  (4, 8.5, 9.0)])   # empirical 8.5 > 0.9 x 9 = 8.1: gbm kept (hysteresis)
    seq = prob.champion_sequence(crps, settings)
    assert seq["champion"].to_list() == ["empirical", "empirical", "empirical", "gbm", "gbm"]
    assert seq["is_switch"].to_list() == [False, False, False, True, False]
    assert seq["days_better"].to_list() == [1, 0, 1, 0, 0]
    assert seq["reason"][3].startswith("switched: gbm CRPS 9.000 kW")


def test_operator_pin_overrides_the_rule_and_is_recorded():
    settings = prob.ForecastingSettings(switch_margin=0.1, switch_days=1)
    crps = _crps([(0, 10.0, 5.0), (1, 10.0, 5.0)])
    pin = prob.Pin(method="empirical", from_day=date(2025, 6, 2), pinned_by="desk", reason="model review")
    seq = prob.champion_sequence(crps, settings, [pin])
    # day 0: gbm 5 <= 9, one day is enough -> switch; day 1: the pin puts empirical back
    assert seq["champion"].to_list() == ["gbm", "empirical"]
    assert seq["reason"][1] == "pinned by desk from 2025-06-02: model review"


def test_critical_ratio_picks_the_level_from_past_prices():
    # short cost = mean(80 - 50, 70 - 50) = 25; long cost = mean(50 - 40, 50 - 40) = 10
    q = prob.critical_ratio([80.0, 70.0], [40.0, 40.0], [50.0, 50.0])
    assert q == pytest.approx(10 / 35)  # 0.2857
    assert prob.nearest_level(q) == 0.3
    # no cost either way: the median
    assert prob.critical_ratio([50.0], [50.0], [50.0]) == 0.5


def test_a_day_without_any_gate_forecast_yields_no_quantiles():
    # the first simulated day: no version was made before its gate closure
    target = pl.DataFrame(schema={"asset_id": pl.Utf8, "delivery_start": UTC_DATETIME, "power_kw": pl.Float64,
                                  "forecast_version": UTC_DATETIME, "lead_hours": pl.Float64})
    assets = pl.DataFrame({"asset_id": ["W"], "technology": ["wind"], "capacity_kw": [100.0]})
    out, n_days = prob.quantile_forecast(target, pl.DataFrame(), assets, prob.ForecastingSettings())
    assert out.height == 0 and n_days == 0 and out.schema["asset_id"] == pl.Utf8
