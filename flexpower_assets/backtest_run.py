"""A backtest run over the warehouse: load each day's inputs, replay the strategies, summarise.

Each delivery day's inputs are what the pipeline published for it (the gate-closure forecast,
the quantiles made at the gate) plus prices of days up to D-2; the outcome (best-of-infeed,
the realised auction price, the day's reBAP) is used for the settlement only. The realised auction
price comes from the bidding simulator's ``market/day_ahead_prices_<YYYYMMDD>.csv``; where a day
has none the public intraday VWAP of the QH (``trading_pnl.vwap_public``) stands in, and the
result says which (``price_basis``).

With a bidding configuration that has reservoir plants, the ``scenario_curves`` strategy replays
each day's hydro bids from the inputs known at its gate closure (the landing catalog is brought up
to date for the hydro kinds first) and settles them by ``domain.hydro_backtest``; plants or days
that cannot be replayed are listed in ``BacktestRun.skipped`` with the reason (never silently 0).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from flexpower_assets.bidding.asset_types import asset_type
from flexpower_assets.bidding.config import BiddingConfig
from flexpower_assets.bidding.hydro import NAME as HYDRO
from flexpower_assets.bidding.inputs import landing_kinds, load_day_inputs
from flexpower_assets.domain import backtest, hydro_backtest
from flexpower_assets.ingestion.catalog import accepted_rows, sync_landing
from flexpower_assets.parsers.market import parse_day_ahead_prices
from flexpower_assets.pools import spawned_pool
from resources.warehouse import Warehouse

RENEWABLE = "renewable"
# the hydro days are replayed in this many processes (each day's solves are independent of the
# others'): from this many days on, below that the processes' start costs more than they save
REPLAY_WORKERS = 2
PARALLEL_FROM_DAYS = 4
#: every strategy a backtest run knows: the renewables' and the hydro clients' scenario curves
STRATEGIES = (*backtest.STRATEGIES, hydro_backtest.SCENARIO_CURVES)


@dataclass
class BacktestRun:
    results: pl.DataFrame
    summary: pl.DataFrame
    quality: pl.DataFrame
    levels: pl.DataFrame
    skipped: pl.DataFrame = field(default_factory=pl.DataFrame)


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
                 strategies: tuple[str, ...] = STRATEGIES, curtailment_price: float = 0.0,
                 bidding_config: BiddingConfig | None = None, min_file_age_s: float = 0.0) -> BacktestRun:
    """The renewables' strategies (``point``, ``quantile``) over the portfolio, and with
    ``scenario_curves`` and a ``bidding_config`` the hydro clients' plants; ``perfect_foresight``
    is always added (the bound of the capture rate)."""
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    price_days = [first - timedelta(days=backtest.CRITICAL_RATIO_DAYS + 1) + timedelta(days=k)
                  for k in range((last - first).days + backtest.CRITICAL_RATIO_DAYS + 2)]
    da_all = day_ahead_prices(landing_dir, warehouse, price_days)
    imbalance_all = (warehouse.read("select * from core.imbalance_prices where delivery_day between ? and ?",
                                    [price_days[0], last]) if warehouse.table_exists("core", "imbalance_prices")
                     else pl.DataFrame())
    renewable = tuple(s for s in strategies if s in backtest.STRATEGIES and s != backtest.PERFECT)
    parts, levels, skipped = [], [], []
    if renewable or hydro_backtest.SCENARIO_CURVES not in strategies:
        rows, levels = _renewables(warehouse, days, (*renewable, backtest.PERFECT), da_all, imbalance_all,
                                   curtailment_price)
        parts.append(rows.with_columns(asset_type=pl.lit(RENEWABLE), end_water_value_eur=pl.lit(None, dtype=pl.Float64)))
    if hydro_backtest.SCENARIO_CURVES in strategies:
        if bidding_config is None or not any(HYDRO in c.asset_types().values() for c in bidding_config.clients):
            skipped.append({"delivery_day": None, "asset_id": None,
                            "reason": "scenario_curves: the bidding configuration has no reservoir plants"})
        else:
            rows, left_out = _hydro(warehouse, landing_dir, days, bidding_config, da_all, imbalance_all, min_file_age_s)
            skipped += left_out
            if rows.height:
                parts.append(rows.with_columns(asset_type=pl.lit(HYDRO)))
    parts = [p for p in parts if p.height]
    if not parts:
        reasons = "; ".join(sorted({str(s["reason"]) for s in skipped})[:3])
        raise ValueError(f"no day between {first} and {last} could be replayed" + (f" ({reasons})" if reasons else ""))
    results = pl.concat(parts, how="diagonal_relaxed").sort("strategy", "asset_id", "delivery_day")
    quality = pl.DataFrame()
    if warehouse.table_exists("main", "forecast_skill"):
        quality = warehouse.read(
            "select delivery_day, avg(crps_kw) as crps_kw, avg(rcrps) as rcrps, avg(coverage_80) as coverage_80 "
            "from main.forecast_skill where is_champion and delivery_day between ? and ? group by 1 order by 1",
            [first, last])
    skipped_frame = pl.DataFrame(skipped, schema={"delivery_day": pl.Date, "asset_id": pl.String, "reason": pl.String})
    return BacktestRun(results=results, summary=backtest.summary(results), quality=quality,
                       levels=pl.DataFrame(levels), skipped=skipped_frame)


def _renewables(warehouse: Warehouse, days: list[date], strategies: tuple[str, ...], da_all: pl.DataFrame,
                imbalance_all: pl.DataFrame, curtailment_price: float) -> tuple[pl.DataFrame, list[dict]]:
    _needs(warehouse)
    parts, levels = [], []
    for day in days:
        with warehouse.session() as store:  # a day's reads on one connection (a short shared lock per day)
            gate = store.read("select asset_id, delivery_start, forecast_version as version, power_kw "
                              "from core.gate_forecast where delivery_day = ?", [day])
            quantiles = store.read("select asset_id, delivery_start, quantile_level, power_kw "
                                   "from main.asset_forecast_quantile where delivery_day = ? and is_champion", [day])
            realised = store.read("select delivery_day, asset_id, delivery_start, energy_mwh, is_redispatched "
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
        return pl.DataFrame(), levels
    return pl.concat(parts), levels


def _hydro(warehouse: Warehouse, landing_dir: Path, days: list[date], config: BiddingConfig, da_all: pl.DataFrame,
           imbalance_all: pl.DataFrame, min_file_age_s: float) -> tuple[pl.DataFrame, list[dict]]:
    kinds = asset_type(HYDRO).input_kinds
    sync_landing(landing_dir, warehouse, kinds=landing_kinds([HYDRO], kinds), min_age_s=min_file_age_s)
    workers = min(REPLAY_WORKERS, os.cpu_count() or 1) if len(days) >= PARALLEL_FROM_DAYS else 1
    with _replay_pool(workers) as pool:  # started first: the workers import while the days are read
        parts, skipped, replays = [], [], []
        for day in days:
            gate = config.market.gate_closure_utc(day)
            around = [day - timedelta(days=1), day]
            with warehouse.session() as store:  # a day's reads on one connection (a short shared lock per day)
                inputs = load_day_inputs(store, day, gate, kinds, [HYDRO])
                inflow_rows = accepted_rows(store, "inflow_forecast", days=around)
                level_rows = accepted_rows(store, "reservoir_level", days=[day - timedelta(days=2), *around])
            auction = da_all.filter(pl.col("delivery_start").is_in(config.market.mtu_starts(day)))
            prices = imbalance_all.filter(pl.col("delivery_day") == day) if imbalance_all.height else imbalance_all
            if auction.height < len(config.market.mtu_starts(day)) or prices.is_empty():
                skipped.append({"delivery_day": day, "asset_id": None,
                                "reason": "scenario_curves: no auction price or no imbalance prices for the day"})
                continue
            arguments = (config, inputs, inflow_rows, level_rows, auction, prices, day)
            replays.append(pool.submit(hydro_backtest.backtest_hydro_day, *arguments) if pool
                           else _Done(hydro_backtest.backtest_hydro_day(*arguments)))
        for replay in replays:  # in day order, whichever worker finished first
            rows, left_out = replay.result()
            parts.append(rows)
            skipped += left_out
    parts = [p for p in parts if p.height]
    return (pl.concat(parts) if parts else pl.DataFrame()), skipped


@dataclass
class _Done:
    value: tuple

    def result(self) -> tuple:
        return self.value


@contextmanager
def _replay_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """Spawned processes for the days' replays (pure: solves and frames, no warehouse, no lock);
    None for one process. They start (and import this module, with the replay) right away."""
    if workers <= 1:
        yield None
        return
    pool = spawned_pool(workers, _ready)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ready() -> int:
    """A task that only brings a worker up (its imports come with this module)."""
    return os.getpid()
