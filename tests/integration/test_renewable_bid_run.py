"""The renewable client's bid run through Dagster: its matrix is the champion quantile it sells.

The warehouse holds the day's portfolio (capacities) and ``asset_forecast_quantile`` with two
methods (only the champion's rows may count); the bid job reads them, builds one solve per asset,
and the matrix of the client is, per MTU, 0 MW from the minimum price and the sum of the assets'
quantiles (each rounded to the 0.1 MW step) from the curtailment price on.
"""

from datetime import date, datetime, timedelta, timezone

import polars as pl

from flexpower_assets.bidding.exchange_mock import ExchangeServer, prices_from_landing
from resources.warehouse import Warehouse
from tests.integration.bidding_harness import Bench, mtus, write_day_ahead_prices, write_scenarios

UTC = timezone.utc
DAY = date(2025, 10, 15)
VERSION = datetime(2025, 10, 14, 9, 0, tzinfo=UTC)


def _warehouse_inputs(warehouse: Warehouse) -> None:
    starts = mtus(DAY)
    portfolio = pl.DataFrame({"delivery_day": [DAY, DAY], "asset_id": ["PV-1", "WND-1"], "technology": ["solar", "wind"],
                              "capacity_mw": [None, 3.0], "capacity_vpp_kw": [2000.0, 3000.0]})
    rows = []
    for t, start in enumerate(starts):
        for i in range(1, 20):
            level = round(0.05 * i, 2)
            # champion (gbm): WND-1 = 2000 x level + 1 + 6 x t kW, PV-1 = 1000 x level kW; empirical 10x larger
            rows += [(DAY, "WND-1", start, level, 2000.0 * level + 1.0 + 6.0 * t, "gbm", VERSION, True),
                     (DAY, "WND-1", start, level, 20000.0 * level, "empirical", VERSION, False),
                     (DAY, "PV-1", start, level, 1000.0 * level, "gbm", VERSION, True)]
    quantiles = pl.DataFrame(rows, orient="row", schema={
        "delivery_day": pl.Date, "asset_id": pl.String, "delivery_start": pl.Datetime("us", "UTC"),
        "quantile_level": pl.Float64, "power_kw": pl.Float64, "method": pl.String,
        "forecast_version": pl.Datetime("us", "UTC"), "is_champion": pl.Boolean})
    with warehouse.writer() as conn:
        conn.execute("create schema if not exists core")
        conn.register("portfolio_frame", portfolio.to_arrow())
        conn.register("quantile_frame", quantiles.to_arrow())
        conn.execute("create table core.portfolio_assets as select * from portfolio_frame")
        conn.execute("create table main.asset_forecast_quantile as select * from quantile_frame")


def _past_prices(bench: Bench, warehouse: Warehouse) -> None:
    """D-2: auction 40, reBAP short 100 / long 20 in every MTU -> c_short 60, c_long 20, q* = 0.25.
    D-1 (not known at the gate): short 500 would pull q* down to 20 / (20 + 460) = 0.04 -> 0.05."""
    frames = []
    for offset, short in ((2, 100.0), (1, 500.0)):
        day = DAY - timedelta(days=offset)
        starts = mtus(day)
        lines = ["delivery_start,price_eur_per_mwh"] + [f"{t:%Y-%m-%dT%H:%M:%SZ},40.0" for t in starts]
        (bench.landing / "market" / f"day_ahead_prices_{day:%Y%m%d}.csv").write_text("\n".join(lines) + "\n")
        frames.append(pl.DataFrame({"delivery_day": [day] * 96, "delivery_start": starts,
                                    "price_short_eur_per_mwh": [short] * 96, "price_long_eur_per_mwh": [20.0] * 96,
                                    "price_source": ["final"] * 96}))
    imbalance = pl.concat(frames)
    with warehouse.writer() as conn:
        conn.register("imbalance_frame", imbalance.to_arrow())
        conn.execute("create table core.imbalance_prices as select * from imbalance_frame")


def _run(tmp_path, level, past_prices: bool = False):
    bench = Bench(tmp_path, DAY, "2025-10-14T09:30:00Z")
    write_scenarios(bench.landing, DAY, datetime(2025, 10, 14, 6, 0, tzinfo=UTC), 2)
    write_day_ahead_prices(bench.landing, DAY)
    bench.write_config({"policy": {"curtailment_price_eur_per_mwh": 0.0},
                        "clients": [{"id": "OWN-PORTFOLIO", "name": "Own portfolio", "approval": "auto",
                                     "asset_type": "renewable", "renewable_quantile": level, "fallback": "zero",
                                     "assets": ["WND-1", "PV-1"]}]})
    warehouse = Warehouse(bench.root / "wh.duckdb")
    _warehouse_inputs(warehouse)
    if past_prices:
        _past_prices(bench, warehouse)
    with ExchangeServer(prices_from_landing(bench.landing),
                        now=lambda: datetime(2025, 10, 14, 9, 30, tzinfo=UTC)) as exchange:
        bench.exchange_url = exchange.url
        result = bench.run()
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return warehouse


def test_the_critical_ratio_client_sells_the_level_of_past_prices(tmp_path):
    warehouse = _run(tmp_path, "critical_ratio", past_prices=True)
    runs = warehouse.read("select distinct message from main.solver_run")
    assert runs["message"].to_list() == ["quantile 0.25 of the probabilistic forecast (gbm)"]
    wind = warehouse.read("select delivery_start, max(volume_mw) as mw from main.asset_bid_curve where asset_id = 'WND-1' "
                          "group by 1 order by 1")["mw"].to_list()
    # level 0.25: 2000 x 0.25 + 1 + 6 t kW: t = 0 -> 501 kW -> 0.5 MW; t = 95 -> 1071 kW -> 1.1 MW
    assert (wind[0], wind[95]) == (0.5, 1.1)


def test_the_renewable_clients_matrix_is_the_quantile_it_sells(tmp_path):
    warehouse = _run(tmp_path, 0.9)

    curves = warehouse.read("select distinct asset_id, curve_status, coverage from main.asset_bid_curve order by 1")
    assert curves.rows() == [("PV-1", "complete", 1.0), ("WND-1", "complete", 1.0)]
    matrix = warehouse.read("select delivery_start, point, price_eur_per_mwh, volume_mw from main.bid_matrix "
                            "where client_id = 'OWN-PORTFOLIO' and delivery_day = ? order by delivery_start, point", [DAY])
    starts = mtus(DAY)
    assert matrix["delivery_start"].unique().len() == 96
    sold = matrix.filter(pl.col("price_eur_per_mwh") >= 0.0).group_by("delivery_start").agg(
        pl.col("volume_mw").min().alias("low"), pl.col("volume_mw").max().alias("high")).sort("delivery_start")
    # level 0.9: WND-1 = 1800 + 1 + 6 t kW (never a half step), rounded to 0.1 MW; PV-1 = 900 kW -> 0.9 MW
    def expected(t: int) -> float:
        return round(round((1801.0 + 6.0 * t) / 100.0) / 10.0 + 0.9, 1)

    assert sold["low"].to_list() == sold["high"].to_list()          # one volume from the curtailment price on
    assert sold["high"].to_list() == [expected(t) for t in range(96)]
    # t = 0: 1801 kW -> 1.8 + 0.9 = 2.7; t = 8: 1849 -> 1.8 -> 2.7; t = 9: 1855 -> 1.9 -> 2.8; t = 95: 2371 -> 2.4 -> 3.3
    assert [sold["high"][t] for t in (0, 8, 9, 95)] == [2.7, 2.7, 2.8, 3.3]
    below = matrix.filter(pl.col("price_eur_per_mwh") < 0.0)
    assert below["volume_mw"].unique().to_list() == [0.0]            # nothing below the curtailment price
    assert below["price_eur_per_mwh"].unique().to_list() == [-500.0]
    # the bid run reads the quantiles, nothing from the landing zone's forecasts: no "every asset failed"
    runs = warehouse.read("select asset_id, status, message from main.solver_run order by 1")
    assert runs.rows() == [("PV-1", "optimal", "quantile 0.9 of the probabilistic forecast (gbm)"),
                           ("WND-1", "optimal", "quantile 0.9 of the probabilistic forecast (gbm)")]
    assert starts[0] == matrix["delivery_start"][0]
