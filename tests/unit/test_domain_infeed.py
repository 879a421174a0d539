"""Live points to QHs, DSO final production and redispatch flags, best-of-infeed."""

from datetime import date, datetime, timezone

import polars as pl
import pytest

from flexpower_assets.domain.infeed import (
    best_of_infeed,
    final_production_by_asset,
    live_quarter_hours,
    portfolio_best_of_infeed,
    redispatched_quarter_hours,
)
from flexpower_assets.domain.time import UTC_DATETIME, quarter_hours
from flexpower_assets.schemas import validate
from flexpower_assets.schemas.published import BestOfInfeed, PortfolioBestOfInfeed

UTC = timezone.utc
DAY = date(2025, 6, 8)


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    """A UTC time on 2025-06-07 (the Berlin day 2025-06-08 starts at 22:00 UTC), or the next
    day's for hours >= 24."""
    if hh >= 24:
        return datetime(2025, 6, 8, hh - 24, mm, ss, tzinfo=UTC)
    return datetime(2025, 6, 7, hh, mm, ss, tzinfo=UTC)


def live_points(rows: list[tuple[str, datetime, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"asset_id": a, "timestamp": t, "power_kw": p, "quality": 1.0, "file_id": 3} for a, t, p in rows],
        schema_overrides={"timestamp": UTC_DATETIME},
    )


def test_live_quarter_hours_step_signal():
    points = live_points([
        ("A", at(21, 40), 9999.0),  # 20 min before start: held only until 21:50 (next point) -> no effect
        ("A", at(21, 50), 100.0),   # before start: held until 22:02 -> 120 s of QH 22:00
        ("A", at(22, 2), 200.0),    # 22:02-22:10: 480 s
        ("A", at(22, 10), 300.0),   # next point 20 min later: held 15 min, 22:10-22:25 (crosses 22:15)
        ("A", at(22, 37, 30), 400.0),  # nothing before it reaches 22:30; held 22:37:30-22:50 (crosses 22:45)
        ("A", at(22, 50), -20.0),   # held 22:50-23:05, cut at the window's end 23:00
        ("A", at(23, 2), 5000.0),   # after the window: ignored
        ("S", at(22, 0), -5.0),     # night solar: 22:00-22:05 at -5
        ("S", at(22, 5), -3.0),     # 22:05-22:20 at -3 (no further point: 15 min)
    ]).sample(fraction=1.0, shuffle=True, seed=3)  # input order must not matter

    result = live_quarter_hours(points, at(22, 0), at(23, 0))

    assert result.columns == ["asset_id", "delivery_start", "power_kw", "covered_seconds"]
    rows = {(r[0], r[1]): (r[2], r[3]) for r in result.rows()}
    assert set(rows) == {("A", at(22, 0)), ("A", at(22, 15)), ("A", at(22, 30)), ("A", at(22, 45)), ("S", at(22, 0))}
    # A 22:00: (100*120 + 200*480 + 300*300) / 900 = 198000 / 900 = 220 kW over 900 s
    assert rows[("A", at(22, 0))] == pytest.approx((220.0, 900.0))
    # A 22:15: 300 held 22:15-22:25 (600 s), then the 20-minute gap leaves 22:25-22:30 undefined
    assert rows[("A", at(22, 15))] == pytest.approx((300.0, 600.0))
    # A 22:30: defined only 22:37:30-22:45 = 450 s, exactly half the QH -> counts: 400 kW
    assert rows[("A", at(22, 30))] == pytest.approx((400.0, 450.0))
    # A 22:45: 400 held across the boundary 22:45-22:50 (300 s), -20 for 22:50-23:00 (600 s):
    # (400*300 - 20*600) / 900 = 108000 / 900 = 120 kW
    assert rows[("A", at(22, 45))] == pytest.approx((120.0, 900.0))
    # S 22:00: (-5*300 - 3*600) / 900 = -3300 / 900 = -3.6667 kW (negative values are kept);
    # S 22:15 is defined only 22:15-22:20 = 300 s < 450 s -> no row
    assert rows[("S", at(22, 0))] == pytest.approx((-3300.0 / 900.0, 900.0))


def test_live_quarter_hours_just_under_half_has_no_value():
    # one point at 22:07:31 is held until 22:15: 449 s < 450 s -> no value for 22:00;
    # it is held on until 22:22:31 -> 451 s in 22:15 -> counts
    points = live_points([("A", at(22, 7, 31), 10.0)])
    result = live_quarter_hours(points, at(22, 0), at(22, 30))
    assert result.select("delivery_start", "covered_seconds").rows() == [(at(22, 15), 451.0)]


def contracts_for(*assets: str) -> pl.DataFrame:
    """Contract rows of two snapshots mapping MP-<asset> to <asset> (the mapping repeats)."""
    return pl.DataFrame({
        "contract_id": [f"CON1_{a}" for a in assets] * 2,
        "asset_id": list(assets) * 2,
        "metering_point_id": [f"MP-{a}" for a in assets] * 2,
        "snapshot_created_at": [at(4, 30)] * len(assets) + [at(5, 0)] * len(assets),
    }, schema_overrides={"snapshot_created_at": UTC_DATETIME})


def test_final_production_later_file_replaces_quarter_hour_by_quarter_hour():
    final_rows = pl.DataFrame({
        "metering_point_id": ["MP-A", "MP-A", "MP-A", "MP-X"],
        "delivery_start": [at(22, 0), at(22, 15), at(22, 15), at(22, 0)],
        "power_kw": [100.0, 110.0, 150.0, 5.0],
        "file_date": [date(2025, 6, 9), date(2025, 6, 9), date(2025, 6, 10), date(2025, 6, 9)],
    }, schema_overrides={"delivery_start": UTC_DATETIME})
    result = final_production_by_asset(final_rows, contracts_for("A"))
    # 22:00 only in the first file -> 100; 22:15 corrected by the file of 06-10 -> 150; MP-X has no contract
    assert result.rows() == [("A", at(22, 0), 100.0), ("A", at(22, 15), 150.0)]


def test_redispatch_flags_union_and_later_zero_wins():
    flags = pl.DataFrame({
        "metering_point_id": ["MP-A", "MP-A", "MP-A", "MP-A", "MP-B"],
        "delivery_start": [at(22, 0), at(22, 15), at(22, 15), at(22, 30), at(22, 0)],
        "is_redispatched": [True, True, False, True, False],
        "issued_at": [at(12, 1), at(12, 1), at(15, 0), at(15, 0), at(12, 1)],
    }, schema_overrides={"delivery_start": UTC_DATETIME, "issued_at": UTC_DATETIME})
    result = redispatched_quarter_hours(flags, contracts_for("A", "B"))
    # 22:00 from the first file, 22:30 from the second, 22:15 cleared by the later 0; B only 0
    assert result.rows() == [("A", at(22, 0)), ("A", at(22, 30))]


def small_grid(assets: list[str]) -> pl.DataFrame:
    grid = quarter_hours(at(22, 0), at(22, 30))  # 22:00 and 22:15
    return pl.DataFrame({"asset_id": assets}).join(grid, how="cross")


def keyed(rows: list[tuple[str, datetime, float]], column: str = "power_kw") -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"asset_id": pl.String, "delivery_start": UTC_DATETIME, column: pl.Float64},
                        orient="row")


def test_best_of_infeed_priority_and_redispatch():
    final_qh = keyed([("A", at(22, 0), 100.0), ("C", at(22, 0), 50.0)])
    live_qh = keyed([("A", at(22, 0), 90.0), ("A", at(22, 15), 90.0), ("D", at(22, 15), -4.0)])
    forecast = keyed([("A", at(22, 0), 80.0), ("B", at(22, 0), 80.0), ("B", at(22, 15), 70.0)],
                     column="latest_power_kw")
    redispatched = pl.DataFrame({"asset_id": ["B", "C", "D"], "delivery_start": [at(22, 0)] * 3},
                                schema_overrides={"delivery_start": UTC_DATETIME})

    result = best_of_infeed(small_grid(["A", "B", "C", "D"]), final_qh, live_qh, forecast, redispatched)
    validate(result, BestOfInfeed)

    got = {(r["asset_id"], r["delivery_start"]): (r["power_kw"], r["source"], r["is_redispatched"])
           for r in result.iter_rows(named=True)}
    assert got == {
        ("A", at(22, 0)): (100.0, "final", False),    # final beats live (90) and forecast (80)
        ("A", at(22, 15)): (90.0, "live", False),     # no final -> live
        ("B", at(22, 0)): (0.0, "forecast_redispatched", True),  # forecast 80 set to 0 in a redispatched QH
        ("B", at(22, 15)): (70.0, "forecast", False),
        ("C", at(22, 0)): (50.0, "final", True),      # measured value used as measured despite redispatch
        ("C", at(22, 15)): (None, "missing", False),  # nothing at all
        ("D", at(22, 0)): (0.0, "forecast_redispatched", True),  # redispatched, no forecast: still 0
        ("D", at(22, 15)): (-4.0, "live", False),     # negative live value kept
    }
    energy = dict(((r[0], r[1]), r[2]) for r in result.select("asset_id", "delivery_start", "energy_mwh").rows())
    # 100 kW / 1000 * 0.25 = 0.025 MWh; -4 kW -> -0.001 MWh; missing -> null
    assert energy[("A", at(22, 0))] == pytest.approx(0.025)
    assert energy[("D", at(22, 15))] == pytest.approx(-0.001)
    assert energy[("C", at(22, 15))] is None


def boi_rows(rows: list[tuple[str, datetime, float | None, str]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={"asset_id": pl.String, "delivery_start": UTC_DATETIME,
                                       "power_kw": pl.Float64, "source": pl.String}, orient="row")
    return frame.with_columns(
        delivery_day=pl.lit(DAY),
        energy_mwh=pl.col("power_kw") / 1000 * 0.25,
        is_redispatched=pl.col("source") == "forecast_redispatched",
    )


def test_portfolio_best_of_infeed_sums_and_shares():
    boi = boi_rows([
        # 22:00: A final 100 kW (0.025 MWh), B live 60 kW (0.015), C forecast 40 kW (0.01), D missing
        ("A", at(22, 0), 100.0, "final"), ("B", at(22, 0), 60.0, "live"),
        ("C", at(22, 0), 40.0, "forecast"), ("D", at(22, 0), None, "missing"),
        # 22:15: night solar A final -40 kW (-0.01 MWh), B live 120 kW (0.03), C redispatched 0, D missing
        ("A", at(22, 15), -40.0, "final"), ("B", at(22, 15), 120.0, "live"),
        ("C", at(22, 15), 0.0, "forecast_redispatched"), ("D", at(22, 15), None, "missing"),
        # 22:30: only redispatched zeros and a missing asset -> energy 0
        ("A", at(22, 30), 0.0, "forecast_redispatched"), ("B", at(22, 30), 0.0, "forecast_redispatched"),
        ("C", at(22, 30), 0.0, "forecast_redispatched"), ("D", at(22, 30), None, "missing"),
        # 22:45: nothing known about any asset
        ("A", at(22, 45), None, "missing"), ("B", at(22, 45), None, "missing"),
        ("C", at(22, 45), None, "missing"), ("D", at(22, 45), None, "missing"),
    ])
    result = portfolio_best_of_infeed(boi)
    validate(result, PortfolioBestOfInfeed)
    rows = {r["delivery_start"]: r for r in result.iter_rows(named=True)}

    q1 = rows[at(22, 0)]
    # 100 + 60 + 40 = 200 kW -> 0.05 MWh; shares 0.025/0.05 = 0.5, 0.015/0.05 = 0.3, 0.01/0.05 = 0.2
    assert (q1["power_kw"], q1["energy_mwh"]) == pytest.approx((200.0, 0.05))
    assert (q1["final_share"], q1["live_share"], q1["forecast_share"]) == pytest.approx((0.5, 0.3, 0.2))
    assert (q1["n_assets"], q1["n_missing"]) == (4, 1)

    q2 = rows[at(22, 15)]
    # -40 + 120 + 0 = 80 kW -> 0.02 MWh. Shares of absolute energy: |-0.01| + |0.03| + 0 = 0.04,
    # final 0.01/0.04 = 0.25, live 0.03/0.04 = 0.75, forecast 0/0.04 = 0 (signed would give -0.5 and 1.5)
    assert (q2["power_kw"], q2["energy_mwh"]) == pytest.approx((80.0, 0.02))
    assert (q2["final_share"], q2["live_share"], q2["forecast_share"]) == pytest.approx((0.25, 0.75, 0.0))

    q3 = rows[at(22, 30)]
    # 0 + 0 + 0 = 0 MWh: shares are empty
    assert (q3["power_kw"], q3["energy_mwh"]) == (0.0, 0.0)
    assert (q3["final_share"], q3["live_share"], q3["forecast_share"]) == (None, None, None)
    assert q3["n_missing"] == 1

    q4 = rows[at(22, 45)]
    # no asset has a value: the sum is null, not 0, and all 4 are missing
    assert (q4["power_kw"], q4["energy_mwh"], q4["final_share"]) == (None, None, None)
    assert (q4["n_assets"], q4["n_missing"]) == (4, 4)
