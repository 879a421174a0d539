"""Probabilistic forecasts: quantiles per asset and QH, their skill, and the champion rule
(BIDDING.md, "Probabilistic forecasts").

- The point forecast a quantile forecast starts from is the one available at gate closure: per
  asset and QH the newest version <= D-1 12:00 Europe/Berlin (``gate_forecasts``).
- Training rows are past days' gate forecasts next to their realised power (best-of-infeed), only
  of days whose outcome was complete before the forecast was made: days <= D-2 for delivery day D
  (``history_days``).
- Methods (``METHODS``): ``empirical`` (quantiles of the relative error by technology, lead-time
  bucket and forecast-level bucket), ``gbm`` (a quantile regression forest: one tree ensemble
  over all assets gives every level, in units of capacity), and ``fallback`` (a fixed relative
  error band by technology, used by every method when fewer than ``min_history_days`` days of
  history exist).
- Every method's output goes through ``finalise_quantiles``: sorted across levels (never crossing)
  and clipped to ``lower .. capacity`` (lower = 0, for solar the measured night minimum).
- Metrics: pinball loss per level, CRPS = 2 x mean pinball over the 19 levels, rCRPS = CRPS / (P99 -
  P1 of the realised power in the window), coverage of [q0.10, q0.90], mean width of that interval.
- The champion is the method with the lowest rolling CRPS; it changes only when a challenger beats
  it by ``switch_margin`` (relative) on ``switch_days`` evaluation days in a row; an operator pin
  overrides the rule from its day on (``champion_sequence``).

No Dagster import: plain polars and numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from statistics import NormalDist

import numpy as np
import polars as pl

from flexpower_assets.domain.quantile_forest import fit_quantile_forest
from flexpower_assets.domain.time import BERLIN, UTC, delivery_day_of

LEVELS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))
EMPIRICAL, GBM, FALLBACK = "empirical", "gbm", "fallback"
METHODS = (EMPIRICAL, GBM)
GATE_TIME = time(12, 0)  # D-1 12:00 Europe/Berlin: the day-ahead auction's gate closure
LEAD_BUCKET_HOURS = 6  # lead-time buckets of the empirical method: [12, 18), [18, 24), ... hours
LEVEL_EDGES = (0.02, 0.15, 0.35, 0.6)  # forecast / capacity buckets of the empirical method
MIN_GROUP_ROWS = 40  # fewer errors in a (technology, lead, level) group: drop the level bucket
# fallback: relative error band (standard deviation in units of capacity, by technology); chosen
# wide on purpose (about the 36 h error of the simulator's model) so that it over-covers rather than under
FALLBACK_SIGMA = {"solar": 0.12, "wind": 0.16}
FALLBACK_SIGMA_DEFAULT = 0.16
KEY = ["asset_id", "delivery_start"]
# the gbm method's forest (README, "Probabilistic forecasts": CRPS within 0.5 kW of the 19
# gradient-boosted models it replaced on the calibration history, seeds 3, 7 and 11, in a tenth of
# their CPU time and without scikit-learn's 1.1-1.7 s import)
FOREST_TREES = 8
FOREST_DEPTH = 8
FOREST_MIN_LEAF = 60
FOREST_MAX_BINS = 64


@dataclass(frozen=True)
class ForecastingSettings:
    """The forecasting configuration (defaults documented in the README, "Probabilistic forecasts").

    ``window_days``: evaluation window of the skill (days); ``history_days``: training window;
    ``min_history_days``: fewer history days than this and the fallback is used; ``switch_margin``:
    relative CRPS improvement a challenger needs (0.05 = 5 % lower); ``switch_days``: evaluation days
    in a row it needs it; ``initial_champion``: the champion before any evidence.
    """

    window_days: int = 14
    history_days: int = 28
    min_history_days: int = 7
    switch_margin: float = 0.05
    switch_days: int = 3
    initial_champion: str = EMPIRICAL


# ---------------------------------------------------------------- inputs


def gate_closure(day: date) -> datetime:
    """The gate closure of delivery day ``day``: D-1 12:00 Europe/Berlin, in UTC."""
    return datetime.combine(day - timedelta(days=1), GATE_TIME, tzinfo=BERLIN).astimezone(UTC)


def history_days(day: date, settings: ForecastingSettings) -> tuple[date, date]:
    """First and last delivery day whose outcome may train or evaluate the forecast of ``day``.

    The forecast is made at D-1 12:00, when D-1 is still running: the last complete day is D-2.
    """
    last = day - timedelta(days=2)
    return last - timedelta(days=settings.history_days - 1), last


def gate_forecasts(forecast_rows: pl.DataFrame, day: date) -> pl.DataFrame:
    """Per asset and QH of ``forecast_rows``: the newest version <= the gate closure of ``day``.

    Returns ``asset_id, delivery_start, power_kw, forecast_version, lead_hours`` (hours from the
    version to the QH's start); a QH without such a version has no row.
    """
    gate = gate_closure(day)
    return (
        forecast_rows.filter(pl.col("version") <= gate)
        .sort("version")
        .group_by(KEY)
        .agg(pl.col("power_kw").last(), pl.col("version").last().alias("forecast_version"))
        .with_columns(lead_hours=(pl.col("delivery_start") - pl.col("forecast_version")).dt.total_minutes() / 60.0)
        .sort(KEY)
    )


def training_rows(gate_history: pl.DataFrame, realised: pl.DataFrame, assets: pl.DataFrame) -> pl.DataFrame:
    """Past gate forecasts next to realised power: ``asset_id, delivery_start, delivery_day,
    technology, capacity_kw, power_kw, lead_hours, realised_kw``; QHs without a realised value are
    left out (they have no error to learn from)."""
    return (
        gate_history.select(*KEY, "power_kw", "lead_hours")
        .join(realised.select(*KEY, "realised_kw").drop_nulls("realised_kw"), on=KEY, how="inner")
        .join(assets.select("asset_id", "technology", "capacity_kw"), on="asset_id", how="inner")
        .with_columns(delivery_day=delivery_day_of(pl.col("delivery_start")))
        .sort(KEY)
    )


def night_minimum_kw(training: pl.DataFrame) -> pl.DataFrame:
    """Per solar asset: the lowest realised power measured when its forecast was 0 (night), at most
    0 (the lower bound of its quantiles); other technologies: 0."""
    dark = training.filter((pl.col("technology") == "solar") & (pl.col("power_kw") <= 0))
    mins = dark.group_by("asset_id").agg(night_min_kw=pl.col("realised_kw").min().clip(upper_bound=0.0))
    return mins


# ---------------------------------------------------------------- methods


def _features(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        fc_share=pl.col("power_kw") / pl.col("capacity_kw"),
        lead_bucket=(pl.col("lead_hours") // LEAD_BUCKET_HOURS).cast(pl.Int64),
        level_bucket=pl.col("power_kw") / pl.col("capacity_kw"),
    ).with_columns(level_bucket=pl.col("level_bucket").cut(list(LEVEL_EDGES), labels=[str(i) for i in range(len(LEVEL_EDGES) + 1)]).cast(pl.Utf8))


def _long(frame: pl.DataFrame, shares: np.ndarray, method: str) -> pl.DataFrame:
    """Frame rows x levels of quantiles in units of capacity -> long rows in kW."""
    n = frame.height
    rows = np.repeat(np.arange(n), len(LEVELS))
    return pl.DataFrame({
        "asset_id": frame["asset_id"].gather(rows),
        "delivery_start": frame["delivery_start"].gather(rows),
        "quantile_level": pl.Series(np.tile(np.array(LEVELS), n), dtype=pl.Float64),
        "power_kw": pl.Series((shares * frame["capacity_kw"].to_numpy()[:, None]).reshape(-1), dtype=pl.Float64),
        "method": pl.Series([method] * (n * len(LEVELS)), dtype=pl.Utf8),
    })


def empirical_quantiles(target: pl.DataFrame, training: pl.DataFrame) -> pl.DataFrame:
    """Gate forecast + empirical quantiles of the error (realised - forecast, in units of capacity)
    of the same technology, lead-time bucket and forecast-level bucket; a group with fewer than
    ``MIN_GROUP_ROWS`` errors uses its technology and lead bucket only, then its technology only."""
    train = _features(training).with_columns(error=(pl.col("realised_kw") - pl.col("power_kw")) / pl.col("capacity_kw"))
    tgt = _features(target)
    out = np.full((tgt.height, len(LEVELS)), np.nan)
    for keys in (["technology", "lead_bucket", "level_bucket"], ["technology", "lead_bucket"], ["technology"]):
        groups = train.group_by(keys).agg(pl.col("error").quantile(q, interpolation="linear").alias(f"q{i}")
                                          for i, q in enumerate(LEVELS)).join(
            train.group_by(keys).len("n"), on=keys)
        groups = groups.filter(pl.col("n") >= MIN_GROUP_ROWS)
        joined = tgt.select(keys).with_row_index("row").join(groups, on=keys, how="left").sort("row")
        found = joined.select(f"q{i}" for i in range(len(LEVELS))).to_numpy().astype(float)
        fill = np.isnan(out[:, 0]) & ~np.isnan(found[:, 0])
        out[fill] = found[fill]
    missing = np.isnan(out[:, 0])
    if missing.any():
        out[missing] = _fallback_errors(tgt.filter(pl.Series(missing)))
    shares = tgt["fc_share"].to_numpy()[:, None] + out
    return _long(tgt, shares, EMPIRICAL)


def _fallback_errors(target: pl.DataFrame) -> np.ndarray:
    sigma = np.array([FALLBACK_SIGMA.get(t, FALLBACK_SIGMA_DEFAULT) for t in target["technology"].to_list()])
    z = np.array([NormalDist().inv_cdf(q) for q in LEVELS])
    return sigma[:, None] * z[None, :]


def fallback_quantiles(target: pl.DataFrame) -> pl.DataFrame:
    """Too little history: gate forecast + a fixed normal band of ``FALLBACK_SIGMA[technology]`` x
    capacity (the quantile of level q is forecast + z_q x sigma x capacity, before clipping)."""
    tgt = _features(target)
    shares = tgt["fc_share"].to_numpy()[:, None] + _fallback_errors(tgt)
    return _long(tgt, shares, FALLBACK)


def _gbm_matrix(frame: pl.DataFrame) -> np.ndarray:
    local_hour = frame["delivery_start"].dt.convert_time_zone("Europe/Berlin").dt.hour().to_numpy()
    return np.column_stack([
        frame["fc_share"].to_numpy(), frame["lead_hours"].to_numpy(), local_hour,
        (frame["technology"] == "solar").to_numpy().astype(float),
    ])


def gbm_quantiles(target: pl.DataFrame, training: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """Tree-ensemble quantile regression (``domain.quantile_forest``: one forest of regression
    trees gives all 19 levels from its leaves' quantiles) of realised / capacity on forecast /
    capacity, lead time, local hour and technology, over every asset's history. The method keeps
    the name ``gbm`` it had when it was scikit-learn's gradient boosting (one model per level):
    stored rows, pins and champion histories carry it.

    Dark QHs (a solar forecast of 0: night) are neither learnt nor predicted: their quantiles are 0
    (then clipped to the night minimum). Deterministic for a seed (each tree's seeded half-sample).
    """
    train = _features(training).filter(~_dark())
    tgt = _features(target)
    lit = ~tgt.select(_dark()).to_series().to_numpy()
    shares = np.zeros((tgt.height, len(LEVELS)))
    if train.height == 0 or not lit.any():
        return _long(tgt, shares, GBM)
    y = (train["realised_kw"] / train["capacity_kw"]).to_numpy()
    forest = fit_quantile_forest(_gbm_matrix(train), y, np.array(LEVELS), n_trees=FOREST_TREES, depth=FOREST_DEPTH,
                                 min_leaf=FOREST_MIN_LEAF, max_bins=FOREST_MAX_BINS, seed=seed)
    shares[lit] = forest.predict(_gbm_matrix(tgt.filter(pl.Series(lit))))
    return _long(tgt, shares, GBM)


def _dark() -> pl.Expr:
    return (pl.col("technology") == "solar") & (pl.col("power_kw") <= 0)


def finalise_quantiles(quantiles: pl.DataFrame, assets: pl.DataFrame, night_min: pl.DataFrame) -> pl.DataFrame:
    """Sort each (method, asset, QH)'s levels so that they never cross, then clip to ``lower ..
    capacity_kw``: lower is 0, for solar its measured night minimum (<= 0). Sorting the values and
    assigning them to the levels in order is the rearrangement of Chernozhukov et al. (2010)."""
    bounds = assets.select("asset_id", "technology", "capacity_kw").join(night_min, on="asset_id", how="left").with_columns(
        lower_kw=pl.when(pl.col("technology") == "solar").then(pl.col("night_min_kw").fill_null(0.0)).otherwise(0.0))
    keys = ["method", "asset_id", "delivery_start"]
    return (
        quantiles.sort([*keys, "quantile_level"])
        .with_columns(power_kw=pl.col("power_kw").sort().over(keys))
        .join(bounds.select("asset_id", "capacity_kw", "lower_kw"), on="asset_id", how="left")
        .with_columns(power_kw=pl.max_horizontal(pl.min_horizontal("power_kw", "capacity_kw"), "lower_kw"))
        .drop("capacity_kw", "lower_kw")
    )


def quantile_forecast(target: pl.DataFrame, training: pl.DataFrame, assets: pl.DataFrame,
                      settings: ForecastingSettings, methods: tuple[str, ...] = METHODS) -> tuple[pl.DataFrame, int]:
    """Every method's quantiles for the target rows (gate forecasts with ``technology, capacity_kw``),
    sorted and clipped, with ``forecast_version``; and the number of history days used.

    With fewer than ``settings.min_history_days`` history days every method is replaced by the
    single ``fallback`` method."""
    n_days = training["delivery_day"].n_unique() if training.height else 0
    enriched = target.join(assets.select("asset_id", "technology", "capacity_kw"), on="asset_id", how="inner")
    if n_days < settings.min_history_days:
        frames = [fallback_quantiles(enriched)]
    else:
        frames = [empirical_quantiles(enriched, training) if m == EMPIRICAL else gbm_quantiles(enriched, training)
                  for m in methods]
    night = night_minimum_kw(training) if training.height else pl.DataFrame(
        schema={"asset_id": pl.Utf8, "night_min_kw": pl.Float64})
    result = finalise_quantiles(pl.concat(frames), assets, night)
    versions = target.select(*KEY, "forecast_version")
    return result.join(versions, on=KEY, how="left"), n_days


# ---------------------------------------------------------------- metrics


def pinball_loss(realised: pl.Expr, quantile: pl.Expr, level: pl.Expr) -> pl.Expr:
    """Pinball loss of a quantile forecast: level x (y - q) if y >= q, else (1 - level) x (q - y)."""
    diff = realised - quantile
    return pl.max_horizontal(level * diff, (level - 1) * diff)


def score_rows(quantiles: pl.DataFrame, realised: pl.DataFrame) -> pl.DataFrame:
    """Per method, asset and QH with a realised value: ``crps_kw`` (2 x mean pinball over the
    levels), ``q10_kw``, ``q90_kw``, ``is_covered_80`` (q10 <= y <= q90), ``width_80_kw``, and
    ``realised_kw``."""
    keys = ["method", "asset_id", "delivery_start"]
    joined = quantiles.join(realised.select(*KEY, "realised_kw").drop_nulls("realised_kw"), on=KEY, how="inner")
    return (
        joined.with_columns(loss=pinball_loss(pl.col("realised_kw"), pl.col("power_kw"), pl.col("quantile_level")))
        .group_by(keys)
        .agg(
            crps_kw=2 * pl.col("loss").mean(),
            q10_kw=pl.col("power_kw").filter((pl.col("quantile_level") - 0.10).abs() < 1e-9).first(),
            q90_kw=pl.col("power_kw").filter((pl.col("quantile_level") - 0.90).abs() < 1e-9).first(),
            realised_kw=pl.col("realised_kw").first(),
        )
        .with_columns(
            is_covered_80=(pl.col("realised_kw") >= pl.col("q10_kw")) & (pl.col("realised_kw") <= pl.col("q90_kw")),
            width_80_kw=pl.col("q90_kw") - pl.col("q10_kw"),
        )
        .with_columns(delivery_day=delivery_day_of(pl.col("delivery_start")))
        .sort(keys)
    )


def skill(scored: pl.DataFrame, evaluated_on: date, window_days: int) -> pl.DataFrame:
    """Per method and asset over the scored rows of the window: ``crps_kw`` (mean), ``rcrps``
    (crps / (P99 - P1 of realised in the window), null when that range is 0), ``coverage_80``,
    ``mean_width_kw``, ``n_qh``, ``n_days``. Coverage and width skip the QHs whose 80 % interval is
    a single point that the outcome equals (solar at night): they say nothing about calibration."""
    informative = ~((pl.col("width_80_kw") == 0) & (pl.col("realised_kw") == pl.col("q10_kw")))
    return (
        scored.group_by("method", "asset_id")
        .agg(
            crps_kw=pl.col("crps_kw").mean(),
            p99=pl.col("realised_kw").quantile(0.99, interpolation="linear"),
            p1=pl.col("realised_kw").quantile(0.01, interpolation="linear"),
            coverage_80=pl.col("is_covered_80").filter(informative).mean(),
            mean_width_kw=pl.col("width_80_kw").filter(informative).mean(),
            n_qh=pl.len().cast(pl.Int64),
            n_days=pl.col("delivery_day").n_unique().cast(pl.Int64),
        )
        .with_columns(rcrps=pl.when(pl.col("p99") > pl.col("p1")).then(pl.col("crps_kw") / (pl.col("p99") - pl.col("p1"))))
        .with_columns(evaluated_on=pl.lit(evaluated_on, dtype=pl.Date), window_days=pl.lit(window_days, dtype=pl.Int64))
        .select("method", "asset_id", "evaluated_on", "window_days", "crps_kw", "rcrps", "coverage_80",
                "mean_width_kw", "n_qh", "n_days")
        .sort("method", "asset_id")
    )


def evaluation_window(day: date, window_days: int) -> tuple[date, date]:
    """Delivery days whose forecasts and outcomes evaluate the methods for the forecast of ``day``:
    the ``window_days`` days ending at D-2 (outcomes complete before D-1 12:00)."""
    last = day - timedelta(days=2)
    return last - timedelta(days=window_days - 1), last


# ---------------------------------------------------------------- champion


@dataclass(frozen=True)
class Pin:
    """An operator's pin: from ``from_day`` on, ``method`` is champion for ``asset_id`` (None: all)."""

    method: str
    from_day: date
    asset_id: str | None = None
    pinned_by: str = ""
    reason: str = ""


def champion_sequence(crps: pl.DataFrame, settings: ForecastingSettings, pins: list[Pin] | None = None) -> pl.DataFrame:
    """Run the champion rule over the rolling CRPS of each asset, day by day.

    ``crps``: ``method, asset_id, evaluated_on, crps_kw`` (the rolling CRPS of the window). On each
    day the champion is kept unless the best other method has had a CRPS at least
    ``switch_margin`` below the champion's (``challenger <= (1 - margin) x champion``) on each of
    the last ``switch_days`` evaluation days; then it becomes champion and the streak restarts. A
    day without the champion's CRPS breaks the streak. A pin sets the champion from its day on
    (the newest pin that applies wins) and is recorded as the reason.

    Returns per asset and day: ``asset_id, evaluated_on, champion, previous_champion, is_switch,
    reason, champion_crps_kw, challenger, challenger_crps_kw, days_better``.
    """
    pins = sorted(pins or [], key=lambda p: p.from_day)
    rows = []
    for asset_id in sorted(crps["asset_id"].unique().to_list()):
        wide = crps.filter(pl.col("asset_id") == asset_id).pivot(
            on="method", index="evaluated_on", values="crps_kw", aggregate_function="first").sort("evaluated_on")
        methods = [c for c in wide.columns if c != "evaluated_on"]
        champion, streak = settings.initial_champion, 0
        for record in wide.iter_rows(named=True):
            day = record["evaluated_on"]
            previous = champion
            scores = {m: record[m] for m in methods if record[m] is not None}
            own = scores.get(champion)
            others = {m: s for m, s in scores.items() if m != champion}
            challenger = min(others, key=others.get) if others else None
            challenger_crps = others.get(challenger) if challenger else None
            better = own is not None and challenger_crps is not None and challenger_crps <= (1 - settings.switch_margin) * own
            streak = streak + 1 if better else 0
            reason = "kept: no challenger better by the margin" if not better else (
                f"kept: challenger better by the margin {streak} of {settings.switch_days} days")
            if better and streak >= settings.switch_days:
                champion, streak = challenger, 0
                reason = (f"switched: {challenger} CRPS {challenger_crps:.3f} kW <= (1 - {settings.switch_margin}) x "
                          f"{previous} {own:.3f} kW on {settings.switch_days} days in a row")
            pin = next((p for p in reversed(pins) if p.from_day <= day and p.asset_id in (None, asset_id)), None)
            if pin is not None and pin.method != champion:
                champion, streak = pin.method, 0
                reason = f"pinned by {pin.pinned_by or 'operator'} from {pin.from_day}: {pin.reason}".rstrip(": ")
            elif pin is not None:
                reason = f"pinned by {pin.pinned_by or 'operator'} from {pin.from_day}"
            rows.append({
                "asset_id": asset_id, "evaluated_on": day, "champion": champion, "previous_champion": previous,
                "is_switch": champion != previous, "reason": reason, "champion_crps_kw": scores.get(champion),
                "challenger": next((m for m in sorted(scores, key=scores.get) if m != champion), None),
                "challenger_crps_kw": min((s for m, s in scores.items() if m != champion), default=None),
                "days_better": streak,
            })
    schema = {"asset_id": pl.Utf8, "evaluated_on": pl.Date, "champion": pl.Utf8, "previous_champion": pl.Utf8,
              "is_switch": pl.Boolean, "reason": pl.Utf8, "champion_crps_kw": pl.Float64, "challenger": pl.Utf8,
              "challenger_crps_kw": pl.Float64, "days_better": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


# ---------------------------------------------------------------- trading rule


def critical_ratio(short_prices: np.ndarray, long_prices: np.ndarray, day_ahead_prices: np.ndarray) -> float:
    """The newsvendor's critical ratio from past prices: the level q* to sell.

    Selling one MWh more than produced costs (short price - day-ahead price) on average
    (``c_short``); selling one MWh less forgoes (day-ahead price - long price) (``c_long``). The
    expected-profit-maximising volume is the quantile q* = c_long / (c_long + c_short), each cost
    floored at 0; with both 0 it is 0.5.
    """
    c_short = max(float(np.nanmean(np.asarray(short_prices) - np.asarray(day_ahead_prices))), 0.0)
    c_long = max(float(np.nanmean(np.asarray(day_ahead_prices) - np.asarray(long_prices))), 0.0)
    if c_short + c_long == 0:
        return 0.5
    return c_long / (c_long + c_short)


def nearest_level(q: float) -> float:
    """The level of ``LEVELS`` closest to ``q`` (0.05 .. 0.95)."""
    return min(LEVELS, key=lambda level: (abs(level - q), level))


CRITICAL_RATIO_DAYS = 14


def past_price_window(day: date, days: int = CRITICAL_RATIO_DAYS) -> tuple[date, date]:
    """Days whose imbalance and auction prices are known at the gate closure of ``day``: up to D-2
    (the reBAP of D-1 is not even estimated for its later QHs at D-1 12:00)."""
    last = day - timedelta(days=2)
    return last - timedelta(days=days - 1), last


def critical_ratio_level(day: date, imbalance_prices: pl.DataFrame, day_ahead: pl.DataFrame,
                         days: int = CRITICAL_RATIO_DAYS) -> float:
    """The level a critical-ratio seller sells on ``day`` (the backtest's ``quantile`` strategy and
    the renewable bid with ``renewable_quantile: critical_ratio``): the critical ratio of the QHs of
    the past window that have both prices, rounded to the nearest of the 19 levels; 0.5 without any.

    ``imbalance_prices``: ``delivery_day, delivery_start, price_short_eur_per_mwh,
    price_long_eur_per_mwh``; ``day_ahead``: ``delivery_start, price_eur_per_mwh``; either may hold
    other days (only the window's are used).
    """
    first, last = past_price_window(day, days)
    if imbalance_prices.is_empty() or day_ahead.is_empty():
        return 0.5
    joined = (
        imbalance_prices.filter(pl.col("delivery_day").is_between(first, last))
        .join(day_ahead.select("delivery_start", da="price_eur_per_mwh"), on="delivery_start", how="inner")
        .drop_nulls(["price_short_eur_per_mwh", "price_long_eur_per_mwh", "da"])
    )
    if joined.is_empty():
        return 0.5
    ratio = critical_ratio(joined["price_short_eur_per_mwh"].to_numpy(),
                           joined["price_long_eur_per_mwh"].to_numpy(), joined["da"].to_numpy())
    return nearest_level(ratio)
