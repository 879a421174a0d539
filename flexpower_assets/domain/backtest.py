"""Backtest of day-ahead selling strategies for the portfolio's renewables (BIDDING.md, "Backtest").

Each strategy turns what was known at a day's gate closure (D-1 12:00 Berlin) into a sell volume
per asset and QH; the bid is the renewable step ``(price_min, 0), (curtailment price, volume)``, so
it is accepted in full when the realised auction price is >= the curtailment price and not at all
otherwise. Settlement uses the outcome:

- revenue = accepted MWh x realised auction price;
- imbalance and its cost by DOMAIN.md's rules, computed by ``domain.imbalance.asset_imbalance``
  with the accepted volume in place of the tradeable forecast (imbalance = realised - accepted,
  0 in redispatched QHs, reBAP short/long price, a missing price leaves the cost null);
- a QH whose bid was not accepted is curtailed by the marketer: it produces nothing, so the
  realised energy counted there is 0 (the curtailment price exists for exactly that);
- net = revenue - imbalance cost; capture rate = net / perfect-foresight net of the same asset
  and day.

Strategies (``STRATEGIES``): ``point`` sells the gate-closure point forecast; ``quantile`` sells the
champion's quantile at the level of the critical ratio of past prices (days <= D-2);
``perfect_foresight`` sells the realised production (the bound: no imbalance).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from flexpower_assets.domain import imbalance, probabilistic
from flexpower_assets.domain.time import QH_HOURS

POINT, QUANTILE, PERFECT = "point", "quantile", "perfect_foresight"
STRATEGIES = (POINT, QUANTILE, PERFECT)
KEY = ["asset_id", "delivery_start"]
CRITICAL_RATIO_DAYS = probabilistic.CRITICAL_RATIO_DAYS
#: the critical-ratio rule has one home, ``domain.probabilistic`` (the renewable bid uses it too)
past_price_window = probabilistic.past_price_window
quantile_level = probabilistic.critical_ratio_level


def settle(volumes: pl.DataFrame, realised: pl.DataFrame, day_ahead: pl.DataFrame, prices: pl.DataFrame,
           curtailment_price: float) -> pl.DataFrame:
    """Per strategy, asset and QH: the bid's settlement.

    ``volumes``: ``strategy, asset_id, delivery_start, volume_mwh``; ``realised``: best-of-infeed rows
    (``delivery_day, asset_id, delivery_start, energy_mwh, is_redispatched``); ``day_ahead``:
    ``delivery_start, price_eur_per_mwh``; ``prices``: imbalance prices as
    ``domain.imbalance.imbalance_prices`` returns them.
    """
    da = day_ahead.select("delivery_start", da_price_eur_per_mwh="price_eur_per_mwh")
    bids = (
        volumes.join(da, on="delivery_start", how="left")
        .with_columns(is_accepted=pl.col("da_price_eur_per_mwh") >= curtailment_price)
        .with_columns(accepted_mwh=pl.when(pl.col("is_accepted")).then(pl.col("volume_mwh").clip(lower_bound=0.0))
                      .otherwise(0.0))
        .with_columns(revenue_eur=pl.col("accepted_mwh") * pl.col("da_price_eur_per_mwh"))
    )
    parts = []
    for strategy in bids["strategy"].unique().sort().to_list():
        mine = bids.filter(pl.col("strategy") == strategy)
        produced = realised.join(mine.select(*KEY, "is_accepted"), on=KEY, how="inner").with_columns(
            energy_mwh=pl.when(pl.col("is_accepted")).then(pl.col("energy_mwh")).otherwise(0.0))
        sold = mine.select(*KEY, tradeable_energy_mwh="accepted_mwh")
        settled = imbalance.asset_imbalance(produced, sold, prices)
        parts.append(mine.join(settled.select(*KEY, "delivery_day", "best_of_infeed_mwh", "imbalance_mwh",
                                              "imbalance_cost_eur", "price_source"), on=KEY, how="left"))
    return pl.concat(parts).sort("strategy", *KEY)


def daily_results(settled: pl.DataFrame) -> pl.DataFrame:
    """Per strategy, asset and delivery day (``backtest_result``): sums of the QHs; ``net_eur`` and
    the imbalance cost are null when a QH's imbalance has no price (never silently 0);
    ``capture_rate`` = net / perfect-foresight net (null when that is not positive or absent)."""
    per_day = settled.group_by("strategy", "asset_id", "delivery_day").agg(
        accepted_mwh=pl.col("accepted_mwh").sum(),
        revenue_eur=pl.col("revenue_eur").sum(),
        imbalance_mwh=pl.col("imbalance_mwh").sum(),
        imbalance_cost_eur=pl.when(pl.col("imbalance_cost_eur").null_count() == 0).then(pl.col("imbalance_cost_eur").sum()),
        n_qh_unpriced=pl.col("imbalance_cost_eur").null_count().cast(pl.Int64),
    ).with_columns(net_eur=pl.col("revenue_eur") - pl.col("imbalance_cost_eur"))
    return with_capture_rate(per_day).select(
        "strategy", "asset_id", "delivery_day", "accepted_mwh", "revenue_eur", "imbalance_mwh",
        "imbalance_cost_eur", "net_eur", "capture_rate", "n_qh_unpriced")


def with_capture_rate(per_day: pl.DataFrame) -> pl.DataFrame:
    """``capture_rate`` = net / the perfect-foresight net of the same asset and day (null when that
    is not positive or absent); renewables and hydro (``domain.hydro_backtest``) alike."""
    bound = per_day.filter(pl.col("strategy") == PERFECT).select("asset_id", "delivery_day", bound_eur="net_eur")
    return (
        per_day.join(bound, on=["asset_id", "delivery_day"], how="left")
        .with_columns(capture_rate=pl.when(pl.col("bound_eur") > 0).then(pl.col("net_eur") / pl.col("bound_eur")))
        .drop("bound_eur")
        .sort("strategy", "asset_id", "delivery_day")
    )


def strategy_volumes(day: date, gate: pl.DataFrame, champion_quantiles: pl.DataFrame, realised: pl.DataFrame,
                     level: float, strategies: tuple[str, ...] = STRATEGIES) -> pl.DataFrame:
    """Sell volumes (``volume_mwh`` per QH) per strategy, asset and QH of ``day``: ``point`` the gate
    forecast, ``quantile`` the champion's quantile at ``level``, ``perfect_foresight`` the realised
    energy itself (the outcome, on purpose: it is the bound; no kW round trip, so its imbalance is
    exactly 0)."""
    parts = []
    if POINT in strategies:
        parts.append(gate.select(*KEY, volume_mwh=pl.col("power_kw") / 1000 * QH_HOURS).with_columns(strategy=pl.lit(POINT)))
    if QUANTILE in strategies:
        rows = champion_quantiles.filter((pl.col("quantile_level") - level).abs() < 1e-9)
        parts.append(rows.select(*KEY, volume_mwh=pl.col("power_kw") / 1000 * QH_HOURS).with_columns(strategy=pl.lit(QUANTILE)))
    if PERFECT in strategies:
        parts.append(realised.select(*KEY, volume_mwh=pl.col("energy_mwh")).with_columns(
            strategy=pl.lit(PERFECT)))
    return pl.concat([p.select("strategy", *KEY, pl.col("volume_mwh").fill_null(0.0)) for p in parts])


def bootstrap_ci(values: np.ndarray, n_resamples: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` and the percentile bootstrap interval of the mean (resampling days)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(n_resamples, len(values)), replace=True).mean(axis=1)
    tail = (1 - level) / 2
    return float(values.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def summary(results: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """Per strategy: portfolio net euros per day (mean and 95 % bootstrap CI over days), total
    net, imbalance cost and the capture rate of the portfolio (sum of net / sum of the bound).

    With an ``asset_type`` column (renewables and hydro in one run) the summary is per asset type
    and strategy, each against the bound of its own assets.
    """
    if "asset_type" not in results.columns:
        return _summary(results, seed)
    parts = [_summary(results.filter(pl.col("asset_type") == kind), seed).select(
        pl.lit(kind).alias("asset_type"), pl.all()) for kind in results["asset_type"].unique().sort().to_list()]
    return pl.concat(parts, how="diagonal_relaxed")


def _summary(results: pl.DataFrame, seed: int) -> pl.DataFrame:
    per_day = results.group_by("strategy", "delivery_day").agg(pl.col("net_eur", "imbalance_cost_eur", "revenue_eur").sum())
    bound = float(results.filter(pl.col("strategy") == PERFECT)["net_eur"].sum())
    rows = []
    for strategy in per_day["strategy"].unique().sort().to_list():
        mine = per_day.filter(pl.col("strategy") == strategy).sort("delivery_day")
        mean, low, high = bootstrap_ci(mine["net_eur"].to_numpy(), seed=seed)
        total = float(mine["net_eur"].sum())
        rows.append({"strategy": strategy, "days": mine.height, "net_eur_per_day": mean, "ci_low_eur": low,
                     "ci_high_eur": high, "net_eur": total, "imbalance_cost_eur": float(mine["imbalance_cost_eur"].sum()),
                     "capture_rate": total / bound if bound > 0 else None})
    return pl.DataFrame(rows)


def backtest_day(day: date, forecast_rows: pl.DataFrame, champion_quantiles: pl.DataFrame, realised: pl.DataFrame,
                 day_ahead: pl.DataFrame, imbalance_prices: pl.DataFrame, curtailment_price: float,
                 strategies: tuple[str, ...] = STRATEGIES) -> tuple[pl.DataFrame, float]:
    """One delivery day replayed: ``(backtest rows, quantile level used)``.

    ``forecast_rows`` may hold every version (the gate rule picks the one of D-1 12:00);
    ``champion_quantiles`` are the day's quantiles as published (made at the gate from days <= D-2);
    ``day_ahead`` and ``imbalance_prices`` may span any days: the strategy sees only days <= D-2,
    the settlement only the day itself.
    """
    gate = probabilistic.gate_forecasts(forecast_rows, day)
    level = quantile_level(day, imbalance_prices, day_ahead)
    today = realised.filter(pl.col("delivery_day") == day)
    volumes = strategy_volumes(day, gate, champion_quantiles, today, level, strategies)
    volumes = volumes.join(today.select(KEY), on=KEY, how="semi")
    settled = settle(volumes, today, day_ahead, imbalance_prices.filter(pl.col("delivery_day") == day), curtailment_price)
    return daily_results(settled), level
