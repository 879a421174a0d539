"""Building a day twice from the same inputs gives the same bits, whatever order the rows come in.

A float sum depends on the order of its terms: 0.1 + 0.2 + 0.3 is 0.6000000000000001 and
0.3 + 0.2 + 0.1 is 0.6. Staged rows come back in no fixed order, so published sums are exact.
"""

from datetime import date, datetime, timedelta, timezone

import polars as pl

from flexpower_assets.domain.exact import exact_sum
from flexpower_assets.domain.forecasts import portfolio_forecast
from flexpower_assets.domain.imbalance import portfolio_imbalance
from flexpower_assets.domain.infeed import portfolio_best_of_infeed
from flexpower_assets.domain.time import UTC_DATETIME, day_window, quarter_hours
from flexpower_assets.domain.trading import slice_trades, trading_daily, trading_pnl

UTC = timezone.utc
DAY = date(2025, 6, 8)
QH0 = datetime(2025, 6, 7, 22, 0, tzinfo=UTC)  # the first QH of the Berlin day 2025-06-08


def trades(volumes: list[float]) -> pl.DataFrame:
    # quarter-hourly SELL trades at 1 EUR/MWh; 0.4, 0.8, 1.2 MW x 0.25 h = 0.1, 0.2, 0.3 MWh
    return pl.DataFrame(
        [{"trade_id": f"T{i}", "side": "SELL", "delivery_start": QH0, "delivery_end": QH0 + timedelta(minutes=15),
          "price_eur_per_mwh": 1.0, "volume_mw": mw} for i, mw in enumerate(volumes)],
        schema_overrides={"delivery_start": UTC_DATETIME, "delivery_end": UTC_DATETIME},
    )


def test_exact_sum_does_not_depend_on_the_order():
    forward = pl.DataFrame({"x": [0.1, 0.2, 0.3]})
    backward = pl.DataFrame({"x": [0.3, 0.2, 0.1]})
    assert forward["x"].sum() != backward["x"].sum()  # the float sum does (0.6000000000000001 vs 0.6)
    assert forward.select(exact_sum(pl.col("x"))).item() == backward.select(exact_sum(pl.col("x"))).item() == 0.6


def test_trading_daily_and_pnl_are_byte_identical_in_any_row_order():
    grid = quarter_hours(*day_window(DAY))
    forward = slice_trades(trades([0.4, 0.8, 1.2]))
    backward = slice_trades(trades([1.2, 0.8, 0.4]))
    daily_forward, daily_backward = (trading_daily(s, s, grid) for s in (forward, backward))
    assert daily_forward.equals(daily_backward)
    # revenue = 1 EUR/MWh x (0.1 + 0.2 + 0.3) MWh = 0.6 EUR; sold 0.6 MWh; VWAP 0.6 / 0.6 = 1
    row = daily_forward.row(0, named=True)
    assert (row["revenue_eur"], row["sold_mwh"], row["vwap_private"], row["public_mwh"]) == (0.6, 0.6, 1.0, 0.6)
    assert trading_pnl(forward, forward, grid).equals(trading_pnl(backward, backward, grid))
    assert trading_pnl(forward, forward, grid)["revenue_eur"][0] == 0.6


def test_portfolio_sums_are_byte_identical_in_any_row_order():
    def best(order: list[int]) -> pl.DataFrame:
        energy = [0.1, 0.2, 0.3]
        return pl.DataFrame(
            [{"delivery_day": DAY, "asset_id": f"A{i}", "delivery_start": QH0, "power_kw": energy[i] * 4000,
              "energy_mwh": energy[i], "source": "final"} for i in order],
            schema_overrides={"delivery_start": UTC_DATETIME})
    forward, backward = portfolio_best_of_infeed(best([0, 1, 2])), portfolio_best_of_infeed(best([2, 1, 0]))
    assert forward.equals(backward)
    # 0.1 + 0.2 + 0.3 MWh = 0.6 MWh; 400 + 800 + 1200 kW = 2400 kW
    assert (forward["energy_mwh"][0], forward["power_kw"][0], forward["final_share"][0]) == (0.6, 2400.0, 1.0)

    def forecasts(order: list[int]) -> pl.DataFrame:
        energy = [0.1, 0.2, 0.3]
        return pl.DataFrame(
            [{"delivery_day": DAY, "asset_id": f"A{i}", "delivery_start": QH0, "latest_power_kw": energy[i] * 4000,
              "latest_energy_mwh": energy[i], "tradeable_power_kw": energy[i] * 4000,
              "tradeable_energy_mwh": energy[i]} for i in order],
            schema_overrides={"delivery_start": UTC_DATETIME})
    assert portfolio_forecast(forecasts([0, 1, 2])).equals(portfolio_forecast(forecasts([2, 1, 0])))
    assert portfolio_forecast(forecasts([0, 1, 2]))["latest_energy_mwh"][0] == 0.6

    prices = pl.DataFrame({"delivery_day": [DAY], "delivery_start": [QH0], "price_short_eur_per_mwh": [100.0],
                           "price_long_eur_per_mwh": [10.0], "price_source": ["final"]},
                          schema_overrides={"delivery_start": UTC_DATETIME})

    def imbalance(order: list[int]) -> pl.DataFrame:
        mwh = [0.1, 0.2, 0.3]
        return pl.DataFrame(
            [{"asset_id": f"A{i}", "delivery_start": QH0, "imbalance_mwh": mwh[i],
              "imbalance_cost_eur": -mwh[i] * 10.0} for i in order],
            schema_overrides={"delivery_start": UTC_DATETIME})
    net_forward, net_backward = portfolio_imbalance(imbalance([0, 1, 2]), prices), portfolio_imbalance(imbalance([2, 1, 0]), prices)
    assert net_forward.equals(net_backward)
    # net long 0.6 MWh at the long price 10 EUR/MWh: cost = -0.6 x 10 = -6 EUR
    assert (net_forward["imbalance_mwh"][0], net_forward["imbalance_cost_eur"][0]) == (0.6, -6.0)
