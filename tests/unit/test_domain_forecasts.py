"""Latest and tradeable forecasts per asset, the portfolio sum and the report of missing ones."""

from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from flexpower_assets.domain.forecasts import latest_forecasts, missing_forecasts, portfolio_forecast
from flexpower_assets.domain.time import UTC_DATETIME, quarter_hours
from flexpower_assets.schemas import validate
from flexpower_assets.schemas.published import AssetForecast, PortfolioForecast

UTC = timezone.utc
DAY = date(2025, 6, 8)


def at(hh: int, mm: int) -> datetime:
    """A UTC time on the evening before 2025-06-08 (the Berlin day starts 2025-06-07 22:00 UTC)."""
    return datetime(2025, 6, 7, hh, mm, tzinfo=UTC)


def asset_grid_of(assets: list[str], n_qh: int) -> pl.DataFrame:
    """The first ``n_qh`` QHs of 2025-06-08 for each asset, shaped like ``portfolio.asset_grid``."""
    grid = quarter_hours(at(22, 0), at(22, 0) + timedelta(minutes=15 * n_qh))
    frame = pl.DataFrame({"asset_id": assets, "metering_point_id": [f"MP-{a}" for a in assets]})
    return frame.with_columns(technology=pl.lit("wind"), capacity_mw=pl.lit(1.0)).join(grid, how="cross")


def forecast_rows(rows: list[tuple[str, datetime, datetime, float]]) -> pl.DataFrame:
    """(asset_id, version, delivery_start, power_kw) rows, plus an extra ``file_id`` column."""
    return pl.DataFrame(
        [{"asset_id": a, "version": v, "delivery_start": s, "power_kw": p, "file_id": i}
         for i, (a, v, s, p) in enumerate(rows)],
        schema_overrides={"version": UTC_DATETIME, "delivery_start": UTC_DATETIME},
    )


@pytest.fixture
def asset_forecast() -> pl.DataFrame:
    rows = forecast_rows([
        # asset A: versions every 15 minutes, except that none is made at 22:30
        ("A", at(21, 30), at(22, 0), 100.0), ("A", at(21, 30), at(22, 15), 110.0), ("A", at(21, 30), at(22, 30), 120.0),
        ("A", at(21, 45), at(22, 0), 200.0), ("A", at(21, 45), at(22, 15), 210.0), ("A", at(21, 45), at(22, 30), 220.0),
        ("A", at(22, 0), at(22, 0), 300.0), ("A", at(22, 0), at(22, 15), 310.0), ("A", at(22, 0), at(22, 30), 320.0),
        ("A", at(22, 15), at(22, 15), 410.0), ("A", at(22, 15), at(22, 30), 420.0),
        # a version newer than the QH start never qualifies
        ("A", at(22, 45), at(22, 30), 999.0),
        # asset B: one old version, and one version made at 22:15 for 22:15 only
        ("B", at(21, 30), at(22, 0), 50.0), ("B", at(21, 30), at(22, 15), 60.0),
        ("B", at(22, 15), at(22, 15), 65.0),
        # asset Z is not in the portfolio: ignored
        ("Z", at(22, 0), at(22, 0), 7.0),
    ])
    # asset C is in the portfolio without any forecast; the 4th QH (22:45) has no forecast at all
    return latest_forecasts(rows, asset_grid_of(["A", "B", "C"], n_qh=4))


def value(frame: pl.DataFrame, asset: str, start: datetime, column: str):
    return frame.filter((pl.col("asset_id") == asset) & (pl.col("delivery_start") == start))[column].item()


def test_latest_and_tradeable_versions(asset_forecast):
    validate(asset_forecast, AssetForecast)
    # 3 assets * 4 QHs, one row each; Z is dropped
    assert asset_forecast.height == 12
    assert set(asset_forecast["asset_id"]) == {"A", "B", "C"}
    assert asset_forecast["delivery_day"].unique().to_list() == [DAY]

    expected = {
        # (asset, QH): (latest version, latest kW, tradeable version, tradeable kW)
        # A 22:00: newest version <= 22:00 is 22:00 (300); newest <= 21:45 is 21:45 (200)
        ("A", at(22, 0)): (at(22, 0), 300.0, at(21, 45), 200.0),
        # A 22:15: newest <= 22:15 is 22:15 (410); newest <= 22:00 is 22:00 (310)
        ("A", at(22, 15)): (at(22, 15), 410.0, at(22, 0), 310.0),
        # A 22:30: no version 22:30, 22:45 is too new -> 22:15 (420) for both
        ("A", at(22, 30)): (at(22, 15), 420.0, at(22, 15), 420.0),
        # B 22:00: only 21:30 (50) qualifies for both
        ("B", at(22, 0)): (at(21, 30), 50.0, at(21, 30), 50.0),
        # B 22:15: latest 22:15 (65); newest <= 22:00 is 21:30 (60)
        ("B", at(22, 15)): (at(22, 15), 65.0, at(21, 30), 60.0),
    }
    for (asset, start), (lv, lp, tv, tp) in expected.items():
        assert value(asset_forecast, asset, start, "latest_version") == lv
        assert value(asset_forecast, asset, start, "latest_power_kw") == lp
        assert value(asset_forecast, asset, start, "tradeable_version") == tv
        assert value(asset_forecast, asset, start, "tradeable_power_kw") == tp

    # energy = kW / 1000 * 0.25: 300 kW -> 0.075 MWh, 200 kW -> 0.05 MWh
    assert value(asset_forecast, "A", at(22, 0), "latest_energy_mwh") == pytest.approx(0.075)
    assert value(asset_forecast, "A", at(22, 0), "tradeable_energy_mwh") == pytest.approx(0.05)

    # nothing qualifies: B 22:30, every asset at 22:45, C everywhere
    missing = asset_forecast.filter(pl.col("latest_power_kw").is_null())
    assert missing.select("asset_id", "delivery_start").sort("asset_id", "delivery_start").rows() == [
        ("A", at(22, 45)), ("B", at(22, 30)), ("B", at(22, 45)),
        ("C", at(22, 0)), ("C", at(22, 15)), ("C", at(22, 30)), ("C", at(22, 45)),
    ]
    assert missing["latest_version"].null_count() == 7
    assert missing["tradeable_power_kw"].null_count() == 7


def test_tradeable_needs_a_version_one_quarter_hour_old():
    # only the version made at the QH start exists: a latest forecast, no tradeable one
    rows = forecast_rows([("A", at(22, 0), at(22, 0), 80.0)])
    result = latest_forecasts(rows, asset_grid_of(["A"], n_qh=1))
    assert result.select("latest_power_kw", "tradeable_power_kw").row(0) == (80.0, None)


def test_portfolio_forecast_sums_assets_with_a_value(asset_forecast):
    portfolio = portfolio_forecast(asset_forecast)
    validate(portfolio, PortfolioForecast)
    rows = {r["delivery_start"]: r for r in portfolio.iter_rows(named=True)}
    assert len(rows) == 4
    # 22:00: latest 300 (A) + 50 (B) = 350 kW, tradeable 200 + 50 = 250 kW; C missing
    assert rows[at(22, 0)]["latest_power_kw"] == 350.0
    assert rows[at(22, 0)]["tradeable_power_kw"] == 250.0
    # 350 kW / 1000 * 0.25 = 0.0875 MWh; 250 kW -> 0.0625 MWh
    assert rows[at(22, 0)]["latest_energy_mwh"] == pytest.approx(0.0875)
    assert rows[at(22, 0)]["tradeable_energy_mwh"] == pytest.approx(0.0625)
    assert (rows[at(22, 0)]["n_assets"], rows[at(22, 0)]["n_missing_latest"], rows[at(22, 0)]["n_missing_tradeable"]) == (3, 1, 1)
    # 22:15: latest 410 + 65 = 475 kW, tradeable 310 + 60 = 370 kW
    assert (rows[at(22, 15)]["latest_power_kw"], rows[at(22, 15)]["tradeable_power_kw"]) == (475.0, 370.0)
    # 22:30: only A (420 kW); B and C missing
    assert rows[at(22, 30)]["latest_power_kw"] == 420.0
    assert rows[at(22, 30)]["n_missing_latest"] == 2
    # 22:45: no asset has a forecast -> null, not 0; all 3 missing
    assert rows[at(22, 45)]["latest_power_kw"] is None
    assert rows[at(22, 45)]["tradeable_energy_mwh"] is None
    assert rows[at(22, 45)]["n_missing_tradeable"] == 3


def test_missing_forecasts_per_asset(asset_forecast):
    # A: 22:45 missing (1 QH); B: 22:30 and 22:45 (2); C: all 4 QHs
    assert missing_forecasts(asset_forecast).rows() == [("A", 1, 1), ("B", 2, 2), ("C", 4, 4)]
    complete = asset_forecast.filter(pl.col("delivery_start") < at(22, 30), pl.col("asset_id") != "C")
    assert missing_forecasts(complete).height == 0
