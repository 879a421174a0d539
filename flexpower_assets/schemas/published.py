"""The data contract of DOMAIN.md: published tables, their grain and columns.

Columns beyond DOMAIN.md's minimum are welcome additions (``delivery_day`` on every daily table,
energies next to powers, counts of what is missing). ``SOURCES`` and ``PRICE_SOURCES`` are the
only values the ``source``/``price_source`` columns take.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa

from flexpower_assets.schemas import UtcDatetime

SOURCES = ["final", "live", "forecast", "forecast_redispatched", "missing"]
PRICE_SOURCES = ["final", "estimate", "missing"]


class AssetForecast(pa.DataFrameModel):
    """asset x QH: the latest and the latest tradeable forecast, with their versions."""

    delivery_day: dt.date
    asset_id: str
    delivery_start: UtcDatetime
    latest_power_kw: float = pa.Field(nullable=True)
    latest_version: UtcDatetime = pa.Field(nullable=True)
    tradeable_power_kw: float = pa.Field(nullable=True)
    tradeable_version: UtcDatetime = pa.Field(nullable=True)
    latest_energy_mwh: float = pa.Field(nullable=True)
    tradeable_energy_mwh: float = pa.Field(nullable=True)

    class Config:
        unique = ["asset_id", "delivery_start"]


class PortfolioForecast(pa.DataFrameModel):
    """QH: sums over the portfolio assets that have a forecast; missing ones are counted."""

    delivery_day: dt.date
    delivery_start: UtcDatetime
    latest_power_kw: float = pa.Field(nullable=True)
    tradeable_power_kw: float = pa.Field(nullable=True)
    latest_energy_mwh: float = pa.Field(nullable=True)
    tradeable_energy_mwh: float = pa.Field(nullable=True)
    n_assets: int = pa.Field(ge=0, description="portfolio assets on the day")
    n_missing_latest: int = pa.Field(ge=0)
    n_missing_tradeable: int = pa.Field(ge=0)

    class Config:
        unique = ["delivery_start"]


class BestOfInfeed(pa.DataFrameModel):
    """asset x QH: the best available production value and where it came from."""

    delivery_day: dt.date
    asset_id: str
    delivery_start: UtcDatetime
    power_kw: float = pa.Field(nullable=True)
    energy_mwh: float = pa.Field(nullable=True)
    source: str = pa.Field(isin=SOURCES)
    is_redispatched: bool

    class Config:
        unique = ["asset_id", "delivery_start"]


class PortfolioBestOfInfeed(pa.DataFrameModel):
    """QH: portfolio production and the share of energy from each source (0..1, empty at 0 MWh)."""

    delivery_day: dt.date
    delivery_start: UtcDatetime
    power_kw: float = pa.Field(nullable=True)
    energy_mwh: float = pa.Field(nullable=True)
    final_share: float = pa.Field(nullable=True)
    live_share: float = pa.Field(nullable=True)
    forecast_share: float = pa.Field(nullable=True)
    n_assets: int = pa.Field(ge=0)
    n_missing: int = pa.Field(ge=0)

    class Config:
        unique = ["delivery_start"]


class TradingPnl(pa.DataFrameModel):
    """QH: our trading result and VWAPs against the market."""

    delivery_day: dt.date
    delivery_start: UtcDatetime
    revenue_eur: float
    sold_mwh: float = pa.Field(ge=0)
    bought_mwh: float = pa.Field(ge=0)
    net_mwh: float
    vwap_private: float = pa.Field(nullable=True)
    vwap_public: float = pa.Field(nullable=True)
    public_mwh: float = pa.Field(ge=0)
    spread_eur_per_mwh: float = pa.Field(nullable=True)
    spread_eur: float = pa.Field(nullable=True)

    class Config:
        unique = ["delivery_start"]


class TradingDaily(pa.DataFrameModel):
    """Day: trades, revenue, volumes and VWAPs."""

    delivery_day: dt.date
    n_trades: int = pa.Field(ge=0)
    revenue_eur: float
    sold_mwh: float = pa.Field(ge=0)
    bought_mwh: float = pa.Field(ge=0)
    net_mwh: float
    vwap_private: float = pa.Field(nullable=True)
    vwap_public: float = pa.Field(nullable=True)
    n_public_trades: int = pa.Field(ge=0)
    public_mwh: float = pa.Field(ge=0)
    spread_eur_per_mwh: float = pa.Field(nullable=True)
    spread_eur: float = pa.Field(nullable=True)

    class Config:
        unique = ["delivery_day"]


class AssetImbalance(pa.DataFrameModel):
    """asset x QH: production minus what was sold, and what it costs (positive = cost)."""

    delivery_day: dt.date
    asset_id: str
    delivery_start: UtcDatetime
    best_of_infeed_mwh: float = pa.Field(nullable=True)
    tradeable_forecast_mwh: float = pa.Field(nullable=True)
    is_redispatched: bool
    imbalance_mwh: float = pa.Field(nullable=True)
    price_eur_per_mwh: float = pa.Field(nullable=True)
    price_source: str = pa.Field(isin=PRICE_SOURCES)
    imbalance_cost_eur: float = pa.Field(nullable=True)

    class Config:
        unique = ["asset_id", "delivery_start"]


class PortfolioImbalance(pa.DataFrameModel):
    """QH: the balancing group settled on its net imbalance, against the stand-alone sum."""

    delivery_day: dt.date
    delivery_start: UtcDatetime
    imbalance_mwh: float = pa.Field(nullable=True)
    price_eur_per_mwh: float = pa.Field(nullable=True)
    price_source: str = pa.Field(isin=PRICE_SOURCES)
    imbalance_cost_eur: float = pa.Field(nullable=True)
    standalone_cost_eur: float = pa.Field(nullable=True)
    netting_benefit_eur: float = pa.Field(nullable=True)
    n_assets: int = pa.Field(ge=0)
    n_assets_missing: int = pa.Field(ge=0)

    class Config:
        unique = ["delivery_start"]


#: The published tables of DOMAIN.md's data contract, by table name.
CONTRACT_TABLES: dict[str, type[pa.DataFrameModel]] = {
    "asset_forecast": AssetForecast,
    "portfolio_forecast": PortfolioForecast,
    "best_of_infeed": BestOfInfeed,
    "portfolio_best_of_infeed": PortfolioBestOfInfeed,
    "trading_pnl": TradingPnl,
    "trading_daily": TradingDaily,
    "asset_imbalance": AssetImbalance,
    "portfolio_imbalance": PortfolioImbalance,
}
