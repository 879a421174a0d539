"""Trades: de-duplication, QH slices, PnL and VWAPs per QH and per delivery day."""

from datetime import date, datetime, timezone

import polars as pl
import pytest

from flexpower_assets.domain.time import UTC_DATETIME, day_window, quarter_hours
from flexpower_assets.domain.trading import deduplicate_trades, slice_trades, trading_daily, trading_pnl
from flexpower_assets.schemas import validate
from flexpower_assets.schemas.published import TradingDaily, TradingPnl

UTC = timezone.utc
EXPORT_1 = datetime(2025, 6, 8, 0, 5, 16, tzinfo=UTC)
EXPORT_2 = datetime(2025, 6, 9, 0, 5, 16, tzinfo=UTC)


def at(hh: int, mm: int) -> datetime:
    """A UTC time on 2025-06-07; 22:00 UTC is midnight of the Berlin day 2025-06-08."""
    return datetime(2025, 6, 7, hh, mm, tzinfo=UTC)


def trades(rows: list[tuple[str, str, datetime, datetime, float, float]], exported_at=EXPORT_1) -> pl.DataFrame:
    """(trade_id, side, start, end, price, MW) rows shaped like ``inbound.Trade``, plus ``file_id``."""
    return pl.DataFrame(
        [{"trade_id": t, "side": side, "delivery_start": s, "delivery_end": e, "execution_time": None,
          "price_eur_per_mwh": price, "currency": "EUR", "volume_mw": mw, "volume_unit_label": "MWH",
          "exported_at": exported_at, "file_id": 7}
         for t, side, s, e, price, mw in rows],
        schema_overrides={"delivery_start": UTC_DATETIME, "delivery_end": UTC_DATETIME,
                          "execution_time": UTC_DATETIME, "exported_at": UTC_DATETIME},
    )


def grid_of(day: date) -> pl.DataFrame:
    return quarter_hours(*day_window(day))


PRIVATE = trades([
    # hourly SELL 2 MW at 50 EUR/MWh, 22:00-23:00 UTC on 2025-06-07 = 00:00-01:00 Berlin on 2025-06-08
    ("T1", "SELL", at(22, 0), at(23, 0), 50.0, 2.0),
    # quarter-hourly BUY 4 MW at 40 EUR/MWh
    ("T2", "BUY", at(22, 15), at(22, 30), 40.0, 4.0),
    # a one-hour block 21:30-22:30 UTC straddles Berlin midnight: 2 slices on 06-07, 2 on 06-08
    ("T3", "SELL", at(21, 30), at(22, 30), 60.0, 1.0),
])
PUBLIC = trades([
    ("P1", "BUY", at(22, 0), at(22, 15), 55.0, 1.0),   # 0.25 MWh at 55
    ("P2", "SELL", at(22, 0), at(22, 15), 45.0, 3.0),  # 0.75 MWh at 45
    ("P3", "SELL", at(21, 45), at(22, 0), 70.0, 1.0),  # 0.25 MWh at 70, on 2025-06-07
])


def test_deduplicate_trades_keeps_newest_export():
    first = trades([("T1", "SELL", at(22, 0), at(23, 0), 50.0, 2.0), ("T9", "BUY", at(22, 0), at(22, 15), 1.0, 1.0)])
    again = trades([("T1", "SELL", at(22, 0), at(23, 0), 51.0, 2.0)], exported_at=EXPORT_2)
    result = deduplicate_trades(pl.concat([again, first]))
    assert sorted(result.select("trade_id", "price_eur_per_mwh").rows()) == [("T1", 51.0), ("T9", 1.0)]


def test_slice_trades():
    slices = slice_trades(PRIVATE)
    assert slices.columns == ["trade_id", "side", "delivery_start", "price_eur_per_mwh", "volume_mw", "energy_mwh"]
    t1 = slices.filter(pl.col("trade_id") == "T1")
    # hourly: 4 slices of the same 2 MW, each 2 MW * 0.25 h = 0.5 MWh
    assert t1["delivery_start"].to_list() == [at(22, 0), at(22, 15), at(22, 30), at(22, 45)]
    assert t1["volume_mw"].to_list() == [2.0] * 4
    assert t1["energy_mwh"].to_list() == [0.5] * 4
    t2 = slices.filter(pl.col("trade_id") == "T2")
    # quarter-hourly: 1 slice of 4 MW * 0.25 h = 1.0 MWh
    assert t2.select("delivery_start", "energy_mwh").rows() == [(at(22, 15), 1.0)]
    assert slices.height == 4 + 1 + 4


def test_slice_trades_rejects_partial_quarter_hours():
    with pytest.raises(ValueError, match="T5"):
        slice_trades(trades([("T5", "SELL", at(22, 0), at(22, 20), 50.0, 1.0)]))


def test_trading_pnl_per_quarter_hour():
    pnl = trading_pnl(slice_trades(PRIVATE), slice_trades(PUBLIC), grid_of(date(2025, 6, 8)))
    validate(pnl, TradingPnl)
    assert pnl.height == 96
    rows = {r["delivery_start"]: r for r in pnl.iter_rows(named=True)}

    q = rows[at(22, 0)]
    # T1 SELL 0.5 MWh at 50 = +25, T3 SELL 0.25 MWh at 60 = +15 -> revenue 40
    assert (q["revenue_eur"], q["sold_mwh"], q["bought_mwh"], q["net_mwh"]) == pytest.approx((40.0, 0.75, 0.0, 0.75))
    # private VWAP (25 + 15) / 0.75 = 53.333; public (0.25*55 + 0.75*45) / 1.0 = 47.5
    assert q["vwap_private"] == pytest.approx(40.0 / 0.75)
    assert (q["vwap_public"], q["public_mwh"]) == pytest.approx((47.5, 1.0))
    # spread 53.333 - 47.5 = 5.8333 EUR/MWh; * our 0.75 MWh = 4.375 EUR
    assert q["spread_eur_per_mwh"] == pytest.approx(40.0 / 0.75 - 47.5)
    assert q["spread_eur"] == pytest.approx(4.375)

    q = rows[at(22, 15)]
    # +25 (T1 SELL) - 40 (T2 BUY 1.0 MWh at 40) + 15 (T3 SELL) = 0
    assert (q["revenue_eur"], q["sold_mwh"], q["bought_mwh"], q["net_mwh"]) == pytest.approx((0.0, 0.75, 1.0, -0.25))
    # unsigned VWAP: (25 + 40 + 15) / (0.5 + 1.0 + 0.25) = 80 / 1.75 = 45.714
    assert q["vwap_private"] == pytest.approx(80.0 / 1.75)
    # no public trade: no public VWAP, no spread
    assert (q["vwap_public"], q["public_mwh"], q["spread_eur_per_mwh"], q["spread_eur"]) == (None, 0.0, None, None)

    q = rows[at(23, 0)]
    # a QH without trades: revenue 0, volumes 0, no VWAP
    assert (q["revenue_eur"], q["sold_mwh"], q["bought_mwh"], q["net_mwh"]) == (0.0, 0.0, 0.0, 0.0)
    assert (q["vwap_private"], q["vwap_public"]) == (None, None)
    # T3's 21:30/21:45 slices and P3 (21:45) belong to 2025-06-07: not in this day's rows
    assert at(21, 45) not in rows


def test_trading_daily_counts_trades_on_each_day_of_their_slices():
    day_0608 = trading_daily(slice_trades(PRIVATE), slice_trades(PUBLIC), grid_of(date(2025, 6, 8)))
    validate(day_0608, TradingDaily)
    d = day_0608.row(0, named=True)
    # T1, T2 and T3 (2 of its slices) fall in 2025-06-08
    assert (d["delivery_day"], d["n_trades"], d["n_public_trades"]) == (date(2025, 6, 8), 3, 2)
    # revenue: T1 4 * 25 = 100, T2 -40, T3 2 * 15 = 30 -> 90
    assert d["revenue_eur"] == pytest.approx(90.0)
    # sold 4 * 0.5 + 2 * 0.25 = 2.5; bought 1.0; net 1.5
    assert (d["sold_mwh"], d["bought_mwh"], d["net_mwh"]) == pytest.approx((2.5, 1.0, 1.5))
    # VWAP (100 + 40 + 30) / 3.5 = 48.571; public 47.5 over 1.0 MWh
    assert d["vwap_private"] == pytest.approx(170.0 / 3.5)
    assert (d["vwap_public"], d["public_mwh"]) == pytest.approx((47.5, 1.0))
    # spread 48.571 - 47.5 = 1.0714; * 3.5 MWh = 170 - 166.25 = 3.75 EUR
    assert d["spread_eur_per_mwh"] == pytest.approx(170.0 / 3.5 - 47.5)
    assert d["spread_eur"] == pytest.approx(3.75)

    day_0607 = trading_daily(slice_trades(PRIVATE), slice_trades(PUBLIC), grid_of(date(2025, 6, 7))).row(0, named=True)
    # only T3's 21:30 and 21:45 slices: 2 * 0.25 MWh * 60 = 30 EUR; public P3 0.25 MWh at 70
    assert (day_0607["n_trades"], day_0607["revenue_eur"], day_0607["sold_mwh"]) == pytest.approx((1, 30.0, 0.5))
    assert (day_0607["vwap_private"], day_0607["vwap_public"], day_0607["n_public_trades"]) == pytest.approx((60.0, 70.0, 1))
    # spread 60 - 70 = -10 EUR/MWh; * 0.5 MWh = -5 EUR
    assert (day_0607["spread_eur_per_mwh"], day_0607["spread_eur"]) == pytest.approx((-10.0, -5.0))


def test_trading_daily_without_trades():
    empty = slice_trades(PRIVATE.clear())
    d = trading_daily(empty, empty, grid_of(date(2025, 6, 10))).row(0, named=True)
    assert (d["n_trades"], d["revenue_eur"], d["sold_mwh"], d["net_mwh"], d["n_public_trades"]) == (0, 0.0, 0.0, 0.0, 0)
    assert (d["vwap_private"], d["vwap_public"], d["spread_eur"]) == (None, None, None)


@pytest.mark.parametrize(("day", "n_qh"), [(date(2025, 3, 30), 92), (date(2025, 10, 26), 100)])
def test_dst_days_have_a_row_per_quarter_hour(day, n_qh):
    # on 2025-10-26, 01:00-02:00 UTC is the second 02:00-03:00 of Berlin: a trade in the repeated hour
    repeated = trades([("T7", "SELL", datetime(2025, 10, 26, 1, tzinfo=UTC), datetime(2025, 10, 26, 2, tzinfo=UTC),
                        30.0, 1.0)])
    pnl = trading_pnl(slice_trades(repeated), slice_trades(PUBLIC.clear()), grid_of(day))
    validate(pnl, TradingPnl)
    assert pnl.height == n_qh
    expected_revenue = 4 * 0.25 * 30.0 if day == date(2025, 10, 26) else 0.0  # 4 slices * 0.25 MWh * 30 = 30 EUR
    assert pnl["revenue_eur"].sum() == pytest.approx(expected_revenue)
