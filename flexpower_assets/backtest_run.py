"""A backtest run over the warehouse: load each day's inputs, replay the strategies, summarise.

Each delivery day's inputs are what the pipeline published for it (the gate-closure forecast,
the quantiles made at the gate) plus prices of days up to D-2; the outcome (best-of-infeed,
the realised auction price, the day's reBAP) is used for the settlement only. The realised auction
price comes from the bidding simulator's ``market/day_ahead_prices_<YYYYMMDD>.csv``; where a day
has none the public intraday VWAP of the QH (``trading_pnl.vwap_public``) stands in, and the
result says which (``price_basis``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from flexpower_assets.domain import backtest
from flexpower_assets.parsers.market import parse_day_ahead_prices
from resources.warehouse import Warehouse


@dataclass
class BacktestRun:
    results: pl.DataFrame
    summary: pl.DataFrame
    quality: pl.DataFrame
    levels: pl.DataFrame


def day_ahead_prices(landing_dir: Path, warehouse: Warehouse, days: list[date]) -> pl.DataFrame:
    """Realised auction prices of ``days``: the market file, else the public VWAP stand-in."""
    parts = []
    for day in days:
        path = Path(landing_dir) / "market" / f"day_ahead_prices_{day:%Y%m%d}.csv"
        if path.is_file():
            parts.append(parse_day_ahead_prices(path).select("delivery_start", "price_eur_per_mwh").with_columns(
                price_basis=pl.lit("day_ahead_auction")))
        elif warehouse.table_exists("main", "trading_pnl"):
            vwap = warehouse.read("select delivery_start, vwap_public as price_eur_per_mwh from main.trading_pnl "
                                  "where delivery_day = ? and vwap_public is not null", [day])
            parts.append(vwap.with_columns(price_basis=pl.lit("public_vwap_stand_in")))
    if not parts:
        return pl.DataFrame(schema={"delivery_start": pl.Datetime("us", "UTC"), "price_eur_per_mwh": pl.Float64,
                                    "price_basis": pl.Utf8})
    return pl.concat(parts)


def _needs(warehouse: Warehouse) -> None:
    for schema, table in (("core", "gate_forecast"), ("main", "asset_forecast_quantile"), ("main", "best_of_infeed"),
                          ("core", "imbalance_prices")):
        if not warehouse.table_exists(schema, table):
            raise ValueError(f"the backtest needs {schema}.{table}: build the days first (flexpower demo or the daily job)")


def run_backtest(warehouse: Warehouse, landing_dir: Path, first: date, last: date,
                 strategies: tuple[str, ...] = backtest.STRATEGIES, curtailment_price: float = 0.0) -> BacktestRun:
    _needs(warehouse)
    strategies = tuple(dict.fromkeys((*strategies, backtest.PERFECT)))  # the bound is always needed for capture
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    price_days = [first - timedelta(days=backtest.CRITICAL_RATIO_DAYS + 1) + timedelta(days=k)
                  for k in range((last - first).days + backtest.CRITICAL_RATIO_DAYS + 2)]
    da_all = day_ahead_prices(landing_dir, warehouse, price_days)
    imbalance_all = warehouse.read("select * from core.imbalance_prices where delivery_day between ? and ?",
                                   [price_days[0], last])
    parts, levels = [], []
    for day in days:
        gate = warehouse.read("select asset_id, delivery_start, forecast_version as version, power_kw "
                              "from core.gate_forecast where delivery_day = ?", [day])
        quantiles = warehouse.read("select asset_id, delivery_start, quantile_level, power_kw from main.asset_forecast_quantile "
                                   "where delivery_day = ? and is_champion", [day])
        realised = warehouse.read("select delivery_day, asset_id, delivery_start, energy_mwh, is_redispatched "
                                  "from main.best_of_infeed where delivery_day = ?", [day])
        if gate.is_empty() or quantiles.is_empty() or realised.is_empty():
            continue
        result, level = backtest.backtest_day(day, gate, quantiles, realised, da_all, imbalance_all, curtailment_price,
                                              strategies)
        parts.append(result)
        basis = da_all.filter(pl.col("delivery_start").is_in(realised["delivery_start"].implode()))["price_basis"]
        levels.append({"delivery_day": day, "quantile_level": level,
                       "price_basis": basis[0] if len(basis) else "none"})
    if not parts:
        raise ValueError(f"no day between {first} and {last} has a gate forecast, quantiles and best-of-infeed")
    results = pl.concat(parts)
    quality = pl.DataFrame()
    if warehouse.table_exists("main", "forecast_skill"):
        quality = warehouse.read(
            "select delivery_day, avg(crps_kw) as crps_kw, avg(rcrps) as rcrps, avg(coverage_80) as coverage_80 "
            "from main.forecast_skill where is_champion and delivery_day between ? and ? group by 1 order by 1",
            [first, last])
    return BacktestRun(results=results, summary=backtest.summary(results), quality=quality, levels=pl.DataFrame(levels))
