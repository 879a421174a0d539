"""Trades, their quarter-hour slices, PnL and VWAPs (DOMAIN.md, Trading).

A trade is cut into QH slices of the same MW (four for an hourly product); a trade belongs to
the delivery days of its slices. Revenue is signed (+ SELL, - BUY); VWAPs are unsigned
(sum(price * energy) / sum(energy)) over private (our) and public (market) slices.
"""

from __future__ import annotations

import polars as pl

from flexpower_assets.domain.exact import exact_sum
from flexpower_assets.domain.time import QH, QH_HOURS

SLICE_COLUMNS = ["trade_id", "side", "delivery_start", "price_eur_per_mwh", "volume_mw", "energy_mwh"]


def deduplicate_trades(trades: pl.DataFrame) -> pl.DataFrame:
    """One row per ``trade_id``: a trade found in several exports keeps the row of the newest
    export (``exported_at``)."""
    return trades.sort("exported_at").unique("trade_id", keep="last", maintain_order=True)


def slice_trades(trades: pl.DataFrame) -> pl.DataFrame:
    """QH slices of trades: ``trade_id, side, delivery_start, price_eur_per_mwh, volume_mw,
    energy_mwh``.

    A product of n quarter-hours (4 for hourly, 1 for quarter-hourly) gives n slices of the same
    MW, each of ``volume_mw * 0.25`` MWh. A product whose length is not a positive whole number of
    QHs raises ``ValueError`` naming the trades.
    """
    length_us = (pl.col("delivery_end") - pl.col("delivery_start")).dt.total_microseconds()
    qh_us = int(QH.total_seconds() * 1_000_000)
    bad = trades.filter((length_us <= 0) | (length_us % qh_us != 0))
    if not bad.is_empty():
        raise ValueError(
            f"trades {bad['trade_id'].head(5).to_list()}: delivery period is not a whole number of quarter-hours"
        )
    return (
        trades.select(
            "trade_id", "side", "price_eur_per_mwh", "volume_mw",
            delivery_start=pl.datetime_ranges(pl.col("delivery_start"), pl.col("delivery_end") - QH, interval="15m"),
        )
        .explode("delivery_start")
        .with_columns(energy_mwh=pl.col("volume_mw") * QH_HOURS)
        .select(SLICE_COLUMNS)
    )


def _in_grid(slices: pl.DataFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """Slices whose QH belongs to the grid (the delivery day)."""
    return slices.join(grid.select("delivery_start"), on="delivery_start", how="semi")


def _vwap(energy: pl.Expr = pl.col("energy_mwh")) -> pl.Expr:
    """sum(price * energy) / sum(energy), null when there is no energy (exact sums: the same
    whatever order the slices come in)."""
    traded = exact_sum(energy)
    return pl.when(traded > 0).then(exact_sum(pl.col("price_eur_per_mwh") * energy) / traded)


def _private_figures() -> list[pl.Expr]:
    """Revenue, volumes and VWAP of our slices (aggregations)."""
    sell = pl.col("side") == "SELL"
    signed = pl.when(sell).then(1.0).otherwise(-1.0)
    sold = exact_sum(pl.col("energy_mwh").filter(sell))
    bought = exact_sum(pl.col("energy_mwh").filter(~sell))
    return [
        exact_sum(signed * pl.col("price_eur_per_mwh") * pl.col("energy_mwh")).alias("revenue_eur"),
        sold.alias("sold_mwh"),
        bought.alias("bought_mwh"),
        _vwap().alias("vwap_private"),
    ]


def _public_figures() -> list[pl.Expr]:
    return [_vwap().alias("vwap_public"), exact_sum(pl.col("energy_mwh")).alias("public_mwh")]


def _with_spread(frame: pl.DataFrame) -> pl.DataFrame:
    """Net volume and our performance against the market: spread in EUR/MWh and in EUR."""
    spread = pl.col("vwap_private") - pl.col("vwap_public")
    return frame.with_columns(
        net_mwh=pl.col("sold_mwh") - pl.col("bought_mwh"),
        spread_eur_per_mwh=spread,
        spread_eur=spread * (pl.col("sold_mwh") + pl.col("bought_mwh")),
    )


def trading_pnl(private_slices: pl.DataFrame, public_slices: pl.DataFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """Per QH of the grid (published ``TradingPnl``), a row also where nothing was traded.

    ``revenue_eur`` = sum(+price * energy for SELL, -price * energy for BUY); sold, bought and net
    MWh; ``vwap_private``/``vwap_public`` (null without trades); ``public_mwh``;
    ``spread_eur_per_mwh = vwap_private - vwap_public`` and ``spread_eur`` = that spread * our
    traded MWh (sold + bought). Slices outside the grid are ignored.
    """
    private = _in_grid(private_slices, grid).group_by("delivery_start").agg(_private_figures())
    public = _in_grid(public_slices, grid).group_by("delivery_start").agg(_public_figures())
    joined = (
        grid.select("delivery_day", "delivery_start")
        .join(private, on="delivery_start", how="left")
        .join(public, on="delivery_start", how="left")
        .with_columns(pl.col("revenue_eur", "sold_mwh", "bought_mwh", "public_mwh").fill_null(0.0))
    )
    return _with_spread(joined).select(
        "delivery_day", "delivery_start", "revenue_eur", "sold_mwh", "bought_mwh", "net_mwh",
        "vwap_private", "vwap_public", "public_mwh", "spread_eur_per_mwh", "spread_eur",
    ).sort("delivery_start")


def trading_daily(private_slices: pl.DataFrame, public_slices: pl.DataFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """One row for the delivery day of the grid (published ``TradingDaily``).

    ``n_trades`` counts distinct trade ids with at least one slice in the day (an hourly trade
    split across midnight counts on both days); revenue and volumes are sums over the day's
    slices; the VWAPs run over all of the day's slices; the spread is ``vwap_private -
    vwap_public`` of the day, in EUR that spread * our traded MWh of the day.
    """
    days = grid["delivery_day"].unique()
    if days.len() != 1:
        raise ValueError(f"trading_daily needs the grid of one delivery day, got {days.to_list()}")
    private = _in_grid(private_slices, grid).select(
        pl.col("trade_id").n_unique().cast(pl.Int64).alias("n_trades"), *_private_figures()
    )
    public = _in_grid(public_slices, grid).select(
        pl.col("trade_id").n_unique().cast(pl.Int64).alias("n_public_trades"), *_public_figures()
    )
    daily = pl.concat([private, public], how="horizontal").with_columns(
        pl.lit(days[0]).alias("delivery_day"),
        pl.col("revenue_eur", "sold_mwh", "bought_mwh", "public_mwh").fill_null(0.0),
    )
    return _with_spread(daily).select(
        "delivery_day", "n_trades", "revenue_eur", "sold_mwh", "bought_mwh", "net_mwh", "vwap_private",
        "vwap_public", "n_public_trades", "public_mwh", "spread_eur_per_mwh", "spread_eur",
    )
