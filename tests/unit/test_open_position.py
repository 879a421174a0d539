"""The open position: forecast known at the clock against the MWh sold, its band and the warning."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from flexpower_assets.domain import position as rules
from flexpower_assets.domain.time import day_window, quarter_hours

UTC = timezone.utc
DAY = date(2025, 6, 10)
START, END = day_window(DAY)  # 2025-06-09 22:00 UTC .. 2025-06-10 22:00 UTC
Q0, Q1 = START, START + timedelta(minutes=15)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def utc(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.with_columns(pl.col(c).cast(pl.Datetime("us", "UTC")) for c in columns)


def grid_of_two() -> pl.DataFrame:
    return quarter_hours(Q0, Q1 + timedelta(minutes=15))


def asset_grid(grid: pl.DataFrame) -> pl.DataFrame:
    assets = pl.DataFrame({"asset_id": ["A", "B"]})
    return assets.join(grid, how="cross")


def forecast_rows() -> pl.DataFrame:
    # A: version 20:00 says 4,000 kW, version 21:30 says 6,000 kW for both QHs; B: 2,000 kW (20:00)
    return utc(pl.DataFrame({
        "asset_id": ["A", "A", "A", "A", "B", "B"],
        "delivery_start": [Q0, Q1, Q0, Q1, Q0, Q1],
        "version": [ts("2025-06-09T20:00:00"), ts("2025-06-09T20:00:00"), ts("2025-06-09T21:30:00"),
                    ts("2025-06-09T21:30:00"), ts("2025-06-09T20:00:00"), ts("2025-06-09T20:00:00")],
        "power_kw": [4000.0, 4000.0, 6000.0, 6000.0, 2000.0, 2000.0],
    }), "delivery_start", "version")


def trades() -> pl.DataFrame:
    # T1 sells 4 MW for the hour starting at Q0 (exported 21:00); T2 buys 2 MW in Q0 (exported 21:40);
    # T3 sells 1 MW in Q1 but its export is from 23:00, after the clock: not known yet
    return utc(pl.DataFrame({
        "trade_id": ["T1", "T2", "T3"], "side": ["SELL", "BUY", "SELL"],
        "delivery_start": [Q0, Q0, Q1], "delivery_end": [Q0 + timedelta(hours=1), Q1, Q1 + timedelta(minutes=15)],
        "price_eur_per_mwh": [50.0, 60.0, 55.0], "volume_mw": [4.0, 2.0, 1.0],
        "exported_at": [ts("2025-06-09T21:00:00"), ts("2025-06-09T21:40:00"), ts("2025-06-09T23:00:00")],
    }), "delivery_start", "delivery_end", "exported_at")


def orders() -> pl.DataFrame:
    # a step curve per MTU: 0 MW below 0 EUR/MWh, 8 MW from 0, 10 MW from 100 EUR/MWh
    rows = []
    for start in (Q0, Q1):
        for point, (price, volume) in enumerate([(-500.0, 0.0), (0.0, 8.0), (100.0, 10.0)], start=1):
            rows.append({"client_id": "OWN", "delivery_start": start, "point": point,
                         "price_eur_per_mwh": price, "volume_mw": volume})
    return utc(pl.DataFrame(rows), "delivery_start")


def prices() -> pl.DataFrame:
    return utc(pl.DataFrame({"delivery_start": [Q0, Q1], "price_eur_per_mwh": [80.0, 120.0]}), "delivery_start")


def quantiles() -> pl.DataFrame:
    # the champion's band of A only (B has none): P10 3,000 kW, P90 7,000 kW in both QHs; a
    # challenger row (not champion) that must be ignored
    rows = []
    for start in (Q0, Q1):
        rows += [{"asset_id": "A", "delivery_start": start, "quantile_level": 0.1, "power_kw": 3000.0, "is_champion": True},
                 {"asset_id": "A", "delivery_start": start, "quantile_level": 0.9, "power_kw": 7000.0, "is_champion": True},
                 {"asset_id": "A", "delivery_start": start, "quantile_level": 0.1, "power_kw": 1.0, "is_champion": False}]
    return utc(pl.DataFrame(rows), "delivery_start")


AS_OF = ts("2025-06-09T21:45:00")  # 15 minutes before Q0


def build(as_of: datetime = AS_OF, gate_closed: bool = True) -> pl.DataFrame:
    grid = grid_of_two()
    latest = rules.known_forecasts(forecast_rows(), asset_grid(grid), as_of)
    band = rules.portfolio_forecast_band(rules.asset_bands(latest, quantiles()))
    day_ahead = rules.day_ahead_accepted(orders(), prices(), grid, gate_closed=gate_closed)
    intraday = rules.intraday_net(trades(), grid, as_of)
    return rules.open_position(band, day_ahead, intraday, grid, as_of, capacity_mw=20.0)


def test_open_position_arithmetic_by_hand():
    frame = build()
    q0, q1 = frame.row(0, named=True), frame.row(1, named=True)
    # forecast: A's version 21:30 (<= 21:45) 6,000 kW + B 2,000 kW = 8,000 kW -> 8 MW x 0.25 h = 2.0 MWh
    assert q0["forecast_mwh"] == pytest.approx(2.0) and q1["forecast_mwh"] == pytest.approx(2.0)
    # band: A's P10 3,000 + B's forecast 2,000 (no quantile) = 5,000 kW -> 1.25 MWh; P90 7,000 + 2,000 -> 2.25 MWh
    assert q0["forecast_p10_mwh"] == pytest.approx(1.25) and q0["forecast_p90_mwh"] == pytest.approx(2.25)
    assert q0["n_without_quantile"] == 1 and q0["n_missing_forecast"] == 0
    # day-ahead: Q0 clears at 80 EUR/MWh -> highest point <= 80 is 8 MW -> 2.0 MWh; Q1 at 120 -> 10 MW -> 2.5 MWh
    assert q0["day_ahead_mwh"] == pytest.approx(2.0) and q1["day_ahead_mwh"] == pytest.approx(2.5)
    assert q0["day_ahead_status"] == "cleared"
    # intraday Q0: sold 4 MW x 0.25 = 1.0 MWh, bought 2 MW x 0.25 = 0.5 MWh -> net 0.5 MWh
    # intraday Q1: T1's second slice 1.0 MWh sold; T3 exported after the clock -> net 1.0 MWh
    assert (q0["intraday_sold_mwh"], q0["intraday_bought_mwh"], q0["intraday_net_mwh"]) == pytest.approx((1.0, 0.5, 0.5))
    assert q1["intraday_net_mwh"] == pytest.approx(1.0)
    # position Q0 = 2.0 + 0.5 = 2.5 MWh sold; open = 2.0 - 2.5 = -0.5 MWh (short: buy back 0.5 MWh)
    assert q0["position_mwh"] == pytest.approx(2.5) and q0["open_mwh"] == pytest.approx(-0.5)
    # band of the open position Q0: 1.25 - 2.5 = -1.25, 2.25 - 2.5 = -0.25
    assert q0["open_p10_mwh"] == pytest.approx(-1.25) and q0["open_p90_mwh"] == pytest.approx(-0.25)
    # position Q1 = 2.5 + 1.0 = 3.5; open = 2.0 - 3.5 = -1.5 MWh
    assert q1["open_mwh"] == pytest.approx(-1.5)
    # share of capacity: 20 MW x 0.25 h = 5 MWh; |-0.5| / 5 = 0.1, |-1.5| / 5 = 0.3
    assert q0["open_share_of_capacity"] == pytest.approx(0.1) and q1["open_share_of_capacity"] == pytest.approx(0.3)
    # time to delivery: Q0 starts 22:00, the clock is 21:45 -> 15 min; Q1 -> 30 min
    assert (q0["minutes_to_delivery"], q1["minutes_to_delivery"]) == (15.0, 30.0)


def test_an_earlier_clock_sees_older_versions_and_fewer_trades_and_no_auction_result():
    frame = build(as_of=ts("2025-06-09T21:10:00"), gate_closed=False)
    q0 = frame.row(0, named=True)
    # only the 20:00 versions are known: A 4,000 + B 2,000 = 6,000 kW -> 1.5 MWh
    assert q0["forecast_mwh"] == pytest.approx(1.5)
    # T2 (exported 21:40) is not known: intraday = T1's 1.0 MWh; no day-ahead result counted yet
    assert q0["intraday_net_mwh"] == pytest.approx(1.0)
    assert q0["day_ahead_mwh"] == 0.0 and q0["day_ahead_status"] == "awaiting_result"
    # open = 1.5 - (0 + 1.0) = 0.5 MWh long
    assert q0["open_mwh"] == pytest.approx(0.5)


def test_a_qh_without_any_forecast_has_no_open_position():
    grid = grid_of_two()
    latest = rules.known_forecasts(forecast_rows().clear(), asset_grid(grid), AS_OF)
    band = rules.portfolio_forecast_band(rules.asset_bands(latest, quantiles()))
    frame = rules.open_position(band, rules.day_ahead_accepted(pl.DataFrame(), pl.DataFrame(), grid, True),
                                rules.intraday_net(trades(), grid, AS_OF), grid, AS_OF, capacity_mw=20.0)
    q0 = frame.row(0, named=True)
    assert q0["forecast_mwh"] is None and q0["open_mwh"] is None and q0["n_missing_forecast"] == 2
    # A has quantiles but no forecast: its band is left out with it, so there is no band either
    assert q0["forecast_p10_mwh"] is None and q0["open_p90_mwh"] is None
    assert q0["day_ahead_status"] == "no_order" and q0["position_mwh"] == pytest.approx(0.5)
    assert rules.open_warnings(frame, rules.PositionLimits(0.0, 1e9)).is_empty()  # not judged without forecast


def test_the_warning_threshold_fails_and_passes():
    frame = build()  # Q0: share 0.1, 15 min ahead; Q1: share 0.3, 30 min ahead
    # limit 20 % within 60 minutes: Q1 (0.3 > 0.2, 30 < 60) is above -> the check fails on Q1 only
    above = rules.open_warnings(frame, rules.PositionLimits(max_open_share_of_capacity=0.2, warn_within_minutes=60))
    assert above["delivery_start"].to_list() == [Q1]
    # limit 20 % within 20 minutes: Q1 is 30 minutes away (not yet urgent), Q0's 0.1 is below 0.2 -> passes
    assert rules.open_warnings(frame, rules.PositionLimits(0.2, 20)).is_empty()
    # limit 35 % within 60 minutes: 0.1 and 0.3 are both below 0.35 -> passes
    assert rules.open_warnings(frame, rules.PositionLimits(0.35, 60)).is_empty()
    # once a QH has started (clock 22:05: Q0 is 5 min into delivery) it is no longer judged
    late = build(as_of=ts("2025-06-09T22:05:00"))
    assert rules.open_warnings(late, rules.PositionLimits(0.0, 60))["delivery_start"].to_list() == [Q1]
