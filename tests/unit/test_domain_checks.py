"""Plausibility of best-of-infeed and the newest redispatch compensation price, by hand."""

from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl

from flexpower_assets.domain.infeed import outside_capacity
from flexpower_assets.domain.redispatch import compensation_prices

UTC = timezone.utc
T0 = datetime(2025, 6, 8, 10, 0, tzinfo=UTC)
T1 = datetime(2025, 6, 8, 10, 15, tzinfo=UTC)


def test_outside_capacity_allows_measured_negative_solar_only():
    # capacities: SOL 1.0 MW -> 1000 kW (limit 1.1 x 1000 = 1100 kW); WND 2.0 MW -> 2000 kW (limit 2200)
    contracts = pl.DataFrame({"asset_id": ["SOL", "WND"], "technology": ["solar", "wind"],
                              "capacity_mw": [1.0, 2.0]})
    boi = pl.DataFrame({
        "asset_id": ["SOL", "SOL", "SOL", "SOL", "WND", "WND"],
        "delivery_start": [T0, T1, T0, T1, T0, T1],
        "power_kw": [1100.0, 1100.5, -0.3, -0.3, -5.0, 2200.0],
        "source": ["final", "final", "live", "forecast", "final", "live"],
    }).with_row_index()
    found = outside_capacity(boi.filter(pl.col("index") != 2).drop("index"), contracts)
    # 1100.0 is exactly the limit (kept), 1100.5 is above it; -0.3 forecast solar is not measured;
    # -5.0 wind is negative; 2200.0 is exactly the wind limit (kept)
    assert found.select("asset_id", "power_kw", "source").rows() == [
        ("SOL", 1100.5, "final"), ("SOL", -0.3, "forecast"), ("WND", -5.0, "final")]
    # measured negative solar (-0.3 kW, live) is night-time consumption: not flagged
    assert outside_capacity(boi.filter(pl.col("index") == 2).drop("index"), contracts).is_empty()


def test_newest_compensation_file_wins_per_quarter_hour():
    rows = pl.DataFrame({
        "delivery_start": [T0, T1, T0],
        "price_eur_per_mwh": [90.0, 95.0, 92.5],
        "file_date": [date(2025, 6, 10), date(2025, 6, 10), date(2025, 6, 20)],
    })
    # 10:00 is in both files: the file of 06-20 (92.5) replaces 06-10 (90.0); 10:15 only in 06-10
    assert compensation_prices(rows).rows() == [(T0, 92.5), (T1, 95.0)]
