"""The open position while trading runs: forecast against what is sold, per quarter-hour.

Everything is as of one instant ``as_of`` (the platform clock): only what was known then counts.

- **Forecast**: per portfolio asset the latest forecast known at ``as_of`` (DOMAIN.md's latest
  forecast, among the versions made by ``as_of``: the newest version <= min(delivery_start,
  as_of)), summed over the assets that have one; assets without one are counted, not taken as 0.
- **Band**: P10 / P90 = the sum over the assets of the champion's quantiles 0.10 / 0.90 from
  ``asset_forecast_quantile`` (made from the gate-closure forecast). A sum of quantiles is the
  portfolio's quantile only when the assets' errors move together; otherwise it is wider than
  the true band (a cautious band). An asset without a quantile contributes its latest forecast
  to both bounds (no spread known for it) and is counted in ``n_without_quantile``.
- **Position** (MWh sold, positive = sold): the day-ahead volume the exchange accepted (the
  live accepted order cleared at the auction price, ``bidding.clearing.clear``; counted once
  gate closure has passed and the auction's prices are in) plus the net of our intraday trades
  (``domain.trading``: sold - bought) from the exports made by ``as_of``.
- **Open** = forecast - position: positive = long (more expected than sold: still to sell),
  negative = short (more sold than expected: to buy back), the sign of DOMAIN.md's imbalance.
  ``open_p10_mwh`` / ``open_p90_mwh`` are the band minus the position.

``open_warnings`` picks the QHs a trader must act on: not yet delivered, less than a configured
time to delivery, and ``|open|`` above a configured share of the portfolio's capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from flexpower_assets.bidding.clearing import clear
from flexpower_assets.domain import forecasts, trading
from flexpower_assets.domain.exact import exact_sum
from flexpower_assets.domain.time import QH_HOURS, UTC_DATETIME

P10, P90 = 0.10, 0.90
DA_CLEARED, DA_NO_RESULT, DA_NO_ORDER = "cleared", "awaiting_result", "no_order"
SLICE_SCHEMA = {"trade_id": pl.Utf8, "side": pl.Utf8, "delivery_start": UTC_DATETIME,
                "price_eur_per_mwh": pl.Float64, "volume_mw": pl.Float64, "energy_mwh": pl.Float64}
COLUMNS = ["delivery_day", "delivery_start", "as_of", "minutes_to_delivery", "forecast_mwh", "forecast_p10_mwh",
           "forecast_p90_mwh", "newest_forecast_version", "n_assets", "n_missing_forecast", "n_without_quantile",
           "day_ahead_mwh", "day_ahead_status", "intraday_sold_mwh", "intraday_bought_mwh", "intraday_net_mwh",
           "position_mwh", "open_mwh", "open_p10_mwh", "open_p90_mwh", "capacity_mw", "open_share_of_capacity"]


@dataclass(frozen=True)
class PositionLimits:
    """When an open QH is worth a warning (defaults documented in the README, "Open position")."""

    max_open_share_of_capacity: float = 0.10  # |open MW| / portfolio capacity MW
    warn_within_minutes: float = 120.0        # ... for QHs starting within this time from now


def known_forecasts(forecast_rows: pl.DataFrame, asset_grid: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """Per asset x QH of ``asset_grid``: the latest forecast among the versions made by ``as_of``
    (``latest_power_kw``, ``latest_version``; null where none)."""
    known = forecast_rows.filter(pl.col("version") <= as_of) if forecast_rows.height else forecast_rows
    if known.is_empty():
        return asset_grid.select("delivery_day", "asset_id", "delivery_start").with_columns(
            latest_power_kw=pl.lit(None, dtype=pl.Float64), latest_version=pl.lit(None, dtype=UTC_DATETIME))
    return forecasts.latest_forecasts(known, asset_grid).select(
        "delivery_day", "asset_id", "delivery_start", "latest_power_kw", "latest_version")


def asset_bands(latest: pl.DataFrame, quantiles: pl.DataFrame) -> pl.DataFrame:
    """Per asset x QH: P10 / P90 (kW) of the champion, or the latest forecast where no quantile exists.

    ``quantiles``: asset_id, delivery_start, quantile_level, power_kw, is_champion (rows of
    ``asset_forecast_quantile``; only the champion's 0.10 and 0.90 are used).
    """
    if quantiles.height:
        champion = quantiles.filter(pl.col("is_champion") & pl.col("quantile_level").round(2).is_in([P10, P90]))
        band = champion.group_by("asset_id", "delivery_start").agg(
            p10_kw=pl.col("power_kw").filter(pl.col("quantile_level").round(2) == P10).first(),
            p90_kw=pl.col("power_kw").filter(pl.col("quantile_level").round(2) == P90).first())
    else:
        band = pl.DataFrame(schema={"asset_id": pl.Utf8, "delivery_start": UTC_DATETIME,
                                    "p10_kw": pl.Float64, "p90_kw": pl.Float64})
    joined = latest.join(band, on=["asset_id", "delivery_start"], how="left")
    has_band = pl.col("p10_kw").is_not_null() & pl.col("p90_kw").is_not_null()
    # an asset without a forecast is in neither the forecast nor the band (it is counted missing)
    bound = {name: pl.when(pl.col("latest_power_kw").is_null()).then(None)
             .when(has_band).then(pl.col(name)).otherwise(pl.col("latest_power_kw")) for name in ("p10_kw", "p90_kw")}
    return joined.with_columns(has_quantile=has_band, **bound)


def _sum_or_null(column: str) -> pl.Expr:
    return pl.when(pl.col(column).count() > 0).then(exact_sum(pl.col(column).drop_nulls()))


def portfolio_forecast_band(bands: pl.DataFrame) -> pl.DataFrame:
    """Per QH: forecast, P10 and P90 in MWh over the assets that have a forecast, and the counts."""
    with_energy = bands.with_columns(
        forecast_mwh=forecasts.energy_mwh(pl.col("latest_power_kw")),
        forecast_p10_mwh=forecasts.energy_mwh(pl.col("p10_kw")),
        forecast_p90_mwh=forecasts.energy_mwh(pl.col("p90_kw")))
    return with_energy.group_by("delivery_start").agg(
        _sum_or_null("forecast_mwh").alias("forecast_mwh"),
        _sum_or_null("forecast_p10_mwh").alias("forecast_p10_mwh"),
        _sum_or_null("forecast_p90_mwh").alias("forecast_p90_mwh"),
        newest_forecast_version=pl.col("latest_version").max(),
        n_assets=pl.col("asset_id").n_unique().cast(pl.Int64),
        n_missing_forecast=pl.col("latest_power_kw").null_count().cast(pl.Int64),
        n_without_quantile=(pl.col("latest_power_kw").is_not_null() & ~pl.col("has_quantile")).sum().cast(pl.Int64),
    )


def intraday_net(private_trades: pl.DataFrame, grid: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """Per QH of the grid: our intraday sold, bought and net (sold - bought) MWh from the exports
    made by ``as_of`` (a trade in several exports counts once, from the newest of them)."""
    known = private_trades.filter(pl.col("exported_at") <= as_of) if private_trades.height else private_trades
    slices = (trading.slice_trades(trading.deduplicate_trades(known)) if known.height
              else pl.DataFrame(schema=SLICE_SCHEMA))
    pnl = trading.trading_pnl(slices, pl.DataFrame(schema=SLICE_SCHEMA), grid)
    return pnl.select("delivery_start", intraday_sold_mwh="sold_mwh", intraday_bought_mwh="bought_mwh",
                      intraday_net_mwh="net_mwh")


def day_ahead_accepted(orders: pl.DataFrame, auction_prices: pl.DataFrame, grid: pl.DataFrame,
                       gate_closed: bool) -> pl.DataFrame:
    """Per QH of the grid: the day-ahead MWh the exchange accepted (``day_ahead_mwh``) and its status.

    ``orders``: the live accepted bid matrices of the portfolio's clients (client_id,
    delivery_start, point, price_eur_per_mwh, volume_mw). Each is cleared at the auction's price
    (the exchange's rule, ``bidding.clearing.clear``); accepted MW x 0.25 h is the MWh sold.
    Before gate closure or without the auction's prices nothing is counted yet
    (``awaiting_result``); without an order, ``no_order``.
    """
    base = grid.select("delivery_start")
    if orders.is_empty():
        return base.with_columns(day_ahead_mwh=pl.lit(0.0), day_ahead_status=pl.lit(DA_NO_ORDER))
    if not gate_closed or auction_prices.is_empty():
        return base.with_columns(day_ahead_mwh=pl.lit(0.0), day_ahead_status=pl.lit(DA_NO_RESULT))
    parts = [clear(order.drop("client_id"), auction_prices) for order in orders.partition_by("client_id")]
    accepted = pl.concat(parts).group_by("delivery_start").agg(
        day_ahead_mwh=exact_sum(pl.col("accepted_mw") * QH_HOURS))
    return base.join(accepted, on="delivery_start", how="left").with_columns(
        pl.col("day_ahead_mwh").fill_null(0.0), day_ahead_status=pl.lit(DA_CLEARED))


def open_position(band: pl.DataFrame, day_ahead: pl.DataFrame, intraday: pl.DataFrame, grid: pl.DataFrame,
                  as_of: datetime, capacity_mw: float) -> pl.DataFrame:
    """One row per QH of the grid (``COLUMNS``): forecast and band, position, open = forecast - position."""
    position = pl.col("day_ahead_mwh") + pl.col("intraday_net_mwh")
    open_mwh = pl.col("forecast_mwh") - pl.col("position_mwh")
    capacity_mwh = capacity_mw * QH_HOURS
    frame = (
        grid.select("delivery_day", "delivery_start")
        .join(band, on="delivery_start", how="left")
        .join(day_ahead, on="delivery_start", how="left")
        .join(intraday, on="delivery_start", how="left")
        .with_columns(pl.col("n_assets", "n_missing_forecast", "n_without_quantile").fill_null(0),
                      as_of=pl.lit(as_of, dtype=UTC_DATETIME),
                      minutes_to_delivery=(pl.col("delivery_start") - pl.lit(as_of, dtype=UTC_DATETIME))
                      .dt.total_seconds().cast(pl.Float64) / 60.0,
                      capacity_mw=pl.lit(float(capacity_mw)))
        .with_columns(position_mwh=position)
        .with_columns(open_mwh=open_mwh,
                      open_p10_mwh=pl.col("forecast_p10_mwh") - pl.col("position_mwh"),
                      open_p90_mwh=pl.col("forecast_p90_mwh") - pl.col("position_mwh"))
        .with_columns(open_share_of_capacity=pl.when(capacity_mwh > 0)
                      .then(pl.col("open_mwh").abs() / capacity_mwh))
    )
    return frame.select(COLUMNS).sort("delivery_start")


def open_warnings(frame: pl.DataFrame, limits: PositionLimits) -> pl.DataFrame:
    """QHs not yet delivered, starting within ``warn_within_minutes``, whose open position is above
    ``max_open_share_of_capacity`` of the capacity (a QH without a forecast is not judged)."""
    return frame.filter(
        (pl.col("minutes_to_delivery") > 0)
        & (pl.col("minutes_to_delivery") < limits.warn_within_minutes)
        & (pl.col("open_share_of_capacity") > limits.max_open_share_of_capacity)
    ).select("delivery_start", "minutes_to_delivery", "forecast_mwh", "position_mwh", "open_mwh",
             "open_share_of_capacity")
