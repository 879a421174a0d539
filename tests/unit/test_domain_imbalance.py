"""Imbalance prices (final > newest estimate > missing), asset imbalance and the portfolio's net."""

from datetime import date, datetime, timezone

import polars as pl
import pytest

from flexpower_assets.domain.imbalance import asset_imbalance, imbalance_prices, portfolio_imbalance
from flexpower_assets.domain.time import UTC_DATETIME, quarter_hours
from flexpower_assets.schemas import validate
from flexpower_assets.schemas.published import AssetImbalance, PortfolioImbalance

UTC = timezone.utc
DAY = date(2025, 6, 8)


def at(hh: int, mm: int) -> datetime:
    """A UTC time on 2025-06-07; 22:00 UTC is midnight of the Berlin day 2025-06-08."""
    return datetime(2025, 6, 7, hh, mm, tzinfo=UTC)


GRID = quarter_hours(at(22, 0), at(23, 0))  # 22:00, 22:15, 22:30, 22:45


def final_prices(rows: list[tuple[datetime, float, float]], created: datetime) -> pl.DataFrame:
    """Rows of one final reBAP file, shaped like ``inbound.ImbalanceFinal`` plus ``file_id``."""
    return pl.DataFrame(
        [(s, short, long, created, 1) for s, short, long in rows], orient="row",
        schema={"delivery_start": UTC_DATETIME, "price_short_eur_per_mwh": pl.Float64,
                "price_long_eur_per_mwh": pl.Float64, "file_created_at": UTC_DATETIME, "file_id": pl.Int64},
    )


def estimates(rows: list[tuple[datetime, float]], created: datetime) -> pl.DataFrame:
    """Rows of one estimate file, shaped like ``inbound.ImbalanceEstimate`` plus ``file_id``."""
    return pl.DataFrame(
        [(s, p, "1", created, 2) for s, p in rows], orient="row",
        schema={"delivery_start": UTC_DATETIME, "price_eur_per_mwh": pl.Float64, "status": pl.String,
                "file_created_at": UTC_DATETIME, "file_id": pl.Int64},
    )


@pytest.fixture
def prices() -> pl.DataFrame:
    final = pl.concat([
        final_prices([(at(22, 0), 100.0, 80.0), (at(22, 15), 60.0, -20.0)], datetime(2025, 6, 8, 17, 8, tzinfo=UTC)),
        # a newer final file for 22:00 wins
        final_prices([(at(22, 0), 110.0, 90.0)], datetime(2025, 6, 9, 9, 0, tzinfo=UTC)),
    ])
    estimate = pl.concat([
        # the newer estimate file (10:00) is listed first: order must not matter
        estimates([(at(22, 30), 75.0)], datetime(2025, 6, 7, 10, 0, tzinfo=UTC)),
        estimates([(at(22, 0), 70.0), (at(22, 15), 71.0), (at(22, 30), 72.0)], datetime(2025, 6, 7, 4, 18, tzinfo=UTC)),
    ])
    return imbalance_prices(final, estimate, GRID)


def test_imbalance_prices_final_then_newest_estimate_then_missing(prices):
    assert prices.select("delivery_start", "price_short_eur_per_mwh", "price_long_eur_per_mwh", "price_source").rows() == [
        (at(22, 0), 110.0, 90.0, "final"),      # newest final file (06-09) beats the one of 06-08 (100/80)
        (at(22, 15), 60.0, -20.0, "final"),     # final beats the estimate 71
        (at(22, 30), 75.0, 75.0, "estimate"),   # no final: newest estimate file (10:00: 75, not 04:18: 72)
        (at(22, 45), None, None, "missing"),    # nothing covers it
    ]
    assert prices["delivery_day"].unique().to_list() == [DAY]


def keyed(rows: list[tuple[str, datetime, float | None]], column: str) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"asset_id": pl.String, "delivery_start": UTC_DATETIME, column: pl.Float64},
                        orient="row")


@pytest.fixture
def assets(prices) -> pl.DataFrame:
    boi = keyed([
        ("A", at(22, 0), 0.5), ("B", at(22, 0), 1.0), ("C", at(22, 0), 0.2),
        ("A", at(22, 15), 0.7), ("B", at(22, 15), 0.0), ("C", at(22, 15), None),
        ("A", at(22, 30), 0.4), ("B", at(22, 30), 0.9), ("C", at(22, 30), 0.3),
        ("A", at(22, 45), 0.3), ("B", at(22, 45), 0.5), ("C", at(22, 45), 0.1),
    ], "energy_mwh").with_columns(
        delivery_day=pl.lit(DAY),
        is_redispatched=(pl.col("asset_id") == "B") & (pl.col("delivery_start") == at(22, 15)),
    )
    forecast = keyed([
        ("A", at(22, 0), 0.8), ("B", at(22, 0), 0.6), ("C", at(22, 0), 0.2),
        ("A", at(22, 15), 0.5), ("B", at(22, 15), 0.6), ("C", at(22, 15), 0.1),
        ("A", at(22, 30), 0.5), ("B", at(22, 30), 0.4), ("C", at(22, 30), None),
        ("A", at(22, 45), 0.3), ("B", at(22, 45), 0.3), ("C", at(22, 45), 0.2),
    ], "tradeable_energy_mwh")
    return asset_imbalance(boi, forecast, prices)


def row(frame: pl.DataFrame, asset: str, start: datetime) -> dict:
    return frame.filter((pl.col("asset_id") == asset) & (pl.col("delivery_start") == start)).row(0, named=True)


def test_asset_imbalance_directions_and_prices(assets):
    validate(assets, AssetImbalance)
    assert assets.height == 12

    a = row(assets, "A", at(22, 0))
    # 0.5 - 0.8 = -0.3 MWh short -> short price 110 -> cost -(-0.3) * 110 = +33 EUR (a cost)
    assert (a["imbalance_mwh"], a["price_eur_per_mwh"], a["imbalance_cost_eur"]) == pytest.approx((-0.3, 110.0, 33.0))
    assert a["price_source"] == "final"
    b = row(assets, "B", at(22, 0))
    # 1.0 - 0.6 = +0.4 MWh long -> long price 90 -> cost -0.4 * 90 = -36 EUR (earns)
    assert (b["imbalance_mwh"], b["price_eur_per_mwh"], b["imbalance_cost_eur"]) == pytest.approx((0.4, 90.0, -36.0))
    c = row(assets, "C", at(22, 0))
    # 0.2 - 0.2 = 0: exactly 0 EUR, no direction so no price
    assert (c["imbalance_mwh"], c["price_eur_per_mwh"], c["imbalance_cost_eur"]) == (0.0, None, 0.0)

    a = row(assets, "A", at(22, 15))
    # 0.7 - 0.5 = +0.2 long at a negative long price -20 -> cost -0.2 * -20 = +4 EUR (a cost)
    assert (a["imbalance_mwh"], a["price_eur_per_mwh"], a["imbalance_cost_eur"]) == pytest.approx((0.2, -20.0, 4.0))
    b = row(assets, "B", at(22, 15))
    # redispatched: 0 - 0.6 would be -0.6, but the grid operator balances it -> 0
    assert (b["is_redispatched"], b["imbalance_mwh"], b["imbalance_cost_eur"]) == (True, 0.0, 0.0)
    c = row(assets, "C", at(22, 15))
    # no best-of-infeed -> no imbalance, no cost (not 0)
    assert (c["imbalance_mwh"], c["imbalance_cost_eur"]) == (None, None)

    a = row(assets, "A", at(22, 30))
    # 0.4 - 0.5 = -0.1 short at the estimate 75 -> +7.5 EUR
    assert (a["imbalance_mwh"], a["imbalance_cost_eur"], a["price_source"]) == pytest.approx((-0.1, 7.5, "estimate"))
    c = row(assets, "C", at(22, 30))
    # no tradeable forecast -> no imbalance
    assert (c["imbalance_mwh"], c["imbalance_cost_eur"]) == (None, None)

    a = row(assets, "A", at(22, 45))
    # 0.3 - 0.3 = 0 without any price: still exactly 0 EUR; the source says the price is missing
    assert (a["imbalance_mwh"], a["imbalance_cost_eur"], a["price_source"]) == (0.0, 0.0, "missing")
    b = row(assets, "B", at(22, 45))
    # 0.5 - 0.3 = +0.2 without a price: the cost is missing, never 0
    assert (b["imbalance_mwh"], b["price_eur_per_mwh"], b["imbalance_cost_eur"]) == pytest.approx((0.2, None, None))


def test_portfolio_imbalance_nets_the_balancing_group(assets, prices):
    portfolio = portfolio_imbalance(assets, prices)
    validate(portfolio, PortfolioImbalance)
    rows = {r["delivery_start"]: r for r in portfolio.iter_rows(named=True)}
    assert len(rows) == 4

    q = rows[at(22, 0)]
    # net -0.3 + 0.4 + 0 = +0.1 long -> long price 90 -> -0.1 * 90 = -9 EUR;
    # stand-alone 33 - 36 + 0 = -3 EUR; netting benefit -3 - (-9) = 6 EUR
    assert q["imbalance_mwh"] == pytest.approx(0.1)
    assert (q["price_eur_per_mwh"], q["price_source"]) == (90.0, "final")
    assert (q["imbalance_cost_eur"], q["standalone_cost_eur"], q["netting_benefit_eur"]) == pytest.approx((-9.0, -3.0, 6.0))
    assert (q["n_assets"], q["n_assets_missing"]) == (3, 0)

    q = rows[at(22, 15)]
    # net over A (+0.2) and B (0; redispatched), C missing: +0.2 at -20 -> +4 EUR; stand-alone 4 + 0 = 4; benefit 0
    assert q["imbalance_mwh"] == pytest.approx(0.2)
    assert (q["imbalance_cost_eur"], q["standalone_cost_eur"], q["netting_benefit_eur"]) == pytest.approx((4.0, 4.0, 0.0))
    assert q["n_assets_missing"] == 1

    q = rows[at(22, 30)]
    # one price for both directions (estimate 75): net -0.1 + 0.5 = +0.4 -> -0.4 * 75 = -30;
    # stand-alone 7.5 - 37.5 = -30; benefit 0
    assert (q["imbalance_mwh"], q["imbalance_cost_eur"], q["standalone_cost_eur"]) == pytest.approx((0.4, -30.0, -30.0))
    assert q["netting_benefit_eur"] == pytest.approx(0.0)
    assert q["price_source"] == "estimate"

    q = rows[at(22, 45)]
    # no price: net 0 + 0.2 - 0.1 = +0.1 has no cost; stand-alone lacks B's and C's costs -> null
    assert q["imbalance_mwh"] == pytest.approx(0.1)
    assert (q["price_source"], q["imbalance_cost_eur"], q["standalone_cost_eur"], q["netting_benefit_eur"]) == (
        "missing", None, None, None)


def test_portfolio_without_price_but_balanced_costs_zero():
    grid = quarter_hours(at(22, 0), at(22, 15))
    prices = imbalance_prices(final_prices([], at(0, 0)), estimates([], at(0, 0)), grid)
    boi = keyed([("A", at(22, 0), 0.3), ("B", at(22, 0), 0.1)], "energy_mwh").with_columns(
        delivery_day=pl.lit(DAY), is_redispatched=pl.lit(False))
    forecast = keyed([("A", at(22, 0), 0.3), ("B", at(22, 0), 0.1)], "tradeable_energy_mwh")
    q = portfolio_imbalance(asset_imbalance(boi, forecast, prices), prices).row(0, named=True)
    # 0.3 - 0.3 = 0 and 0.1 - 0.1 = 0: net 0, every cost exactly 0 although no price is known
    assert (q["imbalance_mwh"], q["imbalance_cost_eur"], q["standalone_cost_eur"], q["netting_benefit_eur"]) == (
        0.0, 0.0, 0.0, 0.0)
    assert q["price_source"] == "missing"
