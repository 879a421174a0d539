"""Performance reports: every figure of a daily or monthly report, and its written summary.

Pure functions over polars frames: no Dagster, no plotting (``flexpower_assets.reports`` draws
the charts). ``load_report_inputs`` reads the data-contract tables of a period from the warehouse;
``build_daily_report``/``build_monthly_report`` turn them into a ``Report``: one row per scope
(``"portfolio"`` and every asset) in each figure table, the series behind the charts, and a
rule-based written summary per scope.

Choices where DOMAIN.md is silent (documented in the README as well):
- Forecast accuracy compares a forecast with *measured* production only: QHs whose best-of-infeed
  source is ``final`` or ``live`` and that were not redispatched (a curtailed QH says nothing about
  the forecast). Errors are ``forecast - measured`` in kW (positive bias = over-forecast);
  normalised errors divide each QH's error by the capacity of the assets evaluated in that QH.
  The portfolio error of a QH is the sum of the evaluated assets' errors.
- The worst forecast hour is the UTC hour (a Berlin hour too: offsets are whole hours) with the
  largest absolute tradeable-forecast error in MWh; ties go to the earliest hour.
- Curtailed energy is the latest forecast energy of redispatched QHs: the energy the DSO
  compensates (DOMAIN.md, redispatch payout).
- Trading is a portfolio figure. Over a period, VWAPs are volume-weighted over QHs, the spread is
  our VWAP minus the market VWAP (positive: our trades averaged above the market) and the spread
  in EUR is that spread times our traded volume (sold + bought), as DOMAIN.md defines it per day.
- Money: market value = production x the QH's public VWAP. Payout (infeed), fee and redispatch
  payout come from the month's current invoice lines (net, without VAT) in a monthly report when
  the asset has a computable invoice, otherwise from the contract terms of each day
  (``fixed_for_capacity`` pro rata: capacity x fee / days of the month per active day). Margin =
  market value - payout + fee - imbalance cost; the redispatch payout is passed through (claimed
  back from the DSO) and is not part of the margin. The portfolio's imbalance cost is the net
  settlement of the balancing group, so the portfolio margin exceeds the sum of the asset margins
  by the netting benefit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, Protocol

import polars as pl

from flexpower_assets.domain import contracts
from flexpower_assets.domain.contracts import ZERO
from flexpower_assets.domain.time import BERLIN, QH, UTC_DATETIME, day_window, days_in_month, month_days, month_of

PORTFOLIO = "portfolio"
REPORT_KINDS = ("daily", "monthly")
MEASURED_SOURCES = ("final", "live")
INFEED_SOURCES = ("final", "live", "forecast", "forecast_redispatched", "missing")
KW_PER_MWH_IN_QH = 4000.0  # 1 MWh in one quarter-hour is a mean power of 4 MW = 4,000 kW

_F = pl.Float64
_S = pl.Utf8
_D = pl.Date
_I = pl.Int64
_B = pl.Boolean

# The columns a report reads from each table (the data contract's names); others are ignored.
INPUT_COLUMNS: dict[str, dict[str, pl.DataType]] = {
    "asset_forecast": {
        "delivery_day": _D, "asset_id": _S, "delivery_start": UTC_DATETIME,
        "latest_power_kw": _F, "tradeable_power_kw": _F,
    },
    "best_of_infeed": {
        "delivery_day": _D, "asset_id": _S, "delivery_start": UTC_DATETIME,
        "power_kw": _F, "energy_mwh": _F, "source": _S, "is_redispatched": _B,
    },
    "trading_pnl": {
        "delivery_day": _D, "delivery_start": UTC_DATETIME, "revenue_eur": _F, "sold_mwh": _F,
        "bought_mwh": _F, "net_mwh": _F, "vwap_private": _F, "vwap_public": _F, "public_mwh": _F,
    },
    "trading_daily": {"delivery_day": _D, "n_trades": _I},
    "asset_imbalance": {
        "delivery_day": _D, "asset_id": _S, "delivery_start": UTC_DATETIME, "imbalance_mwh": _F,
        "price_eur_per_mwh": _F, "price_source": _S, "imbalance_cost_eur": _F,
    },
    "portfolio_imbalance": {
        "delivery_day": _D, "delivery_start": UTC_DATETIME, "imbalance_mwh": _F,
        "price_eur_per_mwh": _F, "price_source": _S, "imbalance_cost_eur": _F,
        "standalone_cost_eur": _F,
    },
    "contracts": {
        "delivery_day": _D, "contract_id": _S, "asset_id": _S, "capacity_mw": _F,
        "contract_begin": _D, "contract_end": _D, "price_model": _S, "price_eur_per_mwh": _F,
        "fee_model": _S, "fee": _F, "fee_percent": _F,
    },
    "redispatch_compensation": {"delivery_day": _D, "delivery_start": UTC_DATETIME, "price_eur_per_mwh": _F},
    "invoices": {
        "invoice_id": _S, "version": _I, "contract_id": _S, "asset_id": _S, "month": _S,
        "status": _S, "reason": _S, "net_eur": _F, "is_current": _B,
    },
    "invoice_lines": {"invoice_id": _S, "version": _I, "line_type": _S, "net_eur": _F},
}

# Where each input lives in the warehouse (schema.table) and how its period is selected.
INPUT_TABLES: dict[str, tuple[str, str]] = {
    "asset_forecast": ("main", "asset_forecast"),
    "best_of_infeed": ("main", "best_of_infeed"),
    "trading_pnl": ("main", "trading_pnl"),
    "trading_daily": ("main", "trading_daily"),
    "asset_imbalance": ("main", "asset_imbalance"),
    "portfolio_imbalance": ("main", "portfolio_imbalance"),
    "contracts": ("raw", "raw_crm__contracts"),
    "redispatch_compensation": ("core", "redispatch_compensation"),
    "invoices": ("main", "invoice"),
    "invoice_lines": ("main", "invoice_line"),
}


def conform_input(name: str, frame: pl.DataFrame | None) -> pl.DataFrame:
    """The columns a report reads from ``name``, typed; absent columns are null."""
    wanted = INPUT_COLUMNS[name]
    frame = frame if frame is not None else pl.DataFrame()
    if name == "invoices" and "month" in frame.columns:
        # the month may be stored as a DATE (first of the month) or as 'YYYY-MM'
        frame = frame.with_columns(pl.col("month").cast(pl.Utf8).str.slice(0, 7))
    exprs = [_typed(frame, col, dtype) for col, dtype in wanted.items()]
    return frame.select(exprs) if frame.columns else pl.DataFrame(schema=wanted)


def _typed(frame: pl.DataFrame, col: str, dtype: pl.DataType) -> pl.Expr:
    if col not in frame.columns:
        return pl.lit(None, dtype=dtype).alias(col)
    have = frame.schema[col]
    if isinstance(have, pl.Datetime) and have.time_zone not in (None, "UTC"):
        return pl.col(col).dt.convert_time_zone("UTC").cast(dtype)  # DuckDB may say Etc/UTC
    return pl.col(col).cast(dtype, strict=False)


@dataclass(frozen=True)
class ReportInputs:
    """The rows of one period that a report reads, one polars frame per table (empty if absent)."""

    asset_forecast: pl.DataFrame | None = None
    best_of_infeed: pl.DataFrame | None = None
    trading_pnl: pl.DataFrame | None = None
    trading_daily: pl.DataFrame | None = None
    asset_imbalance: pl.DataFrame | None = None
    portfolio_imbalance: pl.DataFrame | None = None
    contracts: pl.DataFrame | None = None
    redispatch_compensation: pl.DataFrame | None = None
    invoices: pl.DataFrame | None = None
    invoice_lines: pl.DataFrame | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, conform_input(f.name, getattr(self, f.name)))

    def for_days(self, start_day: date, end_day: date) -> ReportInputs:
        """Only the rows of ``start_day .. end_day``; invoices of the months those days touch."""
        months = {start_day.strftime("%Y-%m"), end_day.strftime("%Y-%m")}
        kept: dict[str, pl.DataFrame] = {}
        for f in fields(self):
            frame: pl.DataFrame = getattr(self, f.name)
            if "delivery_day" in frame.columns:
                frame = frame.filter(pl.col("delivery_day").is_between(start_day, end_day))
            elif f.name == "invoices":
                frame = frame.filter(pl.col("month").is_in(sorted(months)))
            kept[f.name] = frame
        return ReportInputs(**kept)


class _Reads(Protocol):
    def read(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame: ...


def load_report_inputs(warehouse: _Reads, start_day: date, end_day: date) -> ReportInputs:
    """Read every input of ``start_day .. end_day`` (inclusive) through ``warehouse.read``.

    Tables that do not exist yet give empty frames. Invoices are those of the months the period
    touches, all versions (the report picks the current one).
    """
    existing = warehouse.read(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('main', 'raw', 'core')"
    )
    present = set(zip(existing["table_schema"].to_list(), existing["table_name"].to_list(), strict=True))
    months = sorted({start_day.strftime("%Y-%m"), end_day.strftime("%Y-%m")})
    frames: dict[str, pl.DataFrame] = {}
    for name, (schema, table) in INPUT_TABLES.items():
        if (schema, table) not in present:
            continue
        relation = f'"{schema}"."{table}"'  # identifiers come from INPUT_TABLES above, never from input
        if name == "invoices":
            sql = f"select * from {relation} where left(cast(month as varchar), 7) in (?, ?)"
            frames[name] = warehouse.read(sql, [months[0], months[-1]])
        elif name == "invoice_lines":
            if ("main", "invoice") not in present:
                continue
            sql = (
                f"select l.* from {relation} l where l.invoice_id in ("
                'select invoice_id from "main"."invoice" where left(cast(month as varchar), 7) in (?, ?))'
            )
            frames[name] = warehouse.read(sql, [months[0], months[-1]])
        else:
            sql = f"select * from {relation} where delivery_day between ? and ?"
            frames[name] = warehouse.read(sql, [start_day, end_day])
    return ReportInputs(**frames)


@dataclass(frozen=True)
class Summary:
    """The written summary of one scope: three short lists of sentences."""

    happened: tuple[str, ...]
    stood_out: tuple[str, ...]
    provisional: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """Every figure of one report. Figure tables have a ``scope`` column (``portfolio`` or an asset)."""

    kind: str  # "daily" | "monthly"
    period: str  # "YYYY-MM-DD" | "YYYY-MM"
    start_day: date
    end_day: date
    assets: tuple[str, ...]
    production: pl.DataFrame
    accuracy: pl.DataFrame
    trading: pl.DataFrame
    imbalance: pl.DataFrame
    redispatch: pl.DataFrame
    money: pl.DataFrame
    completeness: pl.DataFrame
    worst_hours: pl.DataFrame
    production_series: pl.DataFrame
    error_series: pl.DataFrame
    trading_series: pl.DataFrame
    imbalance_series: pl.DataFrame
    summaries: Mapping[str, Summary] = field(default_factory=dict)

    @property
    def scopes(self) -> tuple[str, ...]:
        """``portfolio`` first, then every asset: one HTML file each."""
        return (PORTFOLIO, *self.assets)

    def row(self, table: str, scope: str, **match: str) -> dict[str, Any]:
        """The single row of figure table ``table`` for ``scope`` (and e.g. ``forecast='latest'``)."""
        for row in self.rows(table, scope):
            if all(row[column] == value for column, value in match.items()):
                return dict(row)
        return {}

    def rows(self, table: str, scope: str) -> list[dict[str, Any]]:
        """Every row of figure table ``table`` for ``scope``, in the table's order (read-only).

        A table is split by scope once, on first use: a report of 1,000 assets looks rows up
        tens of thousands of times while it is written."""
        index = self._scope_index.get(table)
        if index is None:
            index = {}
            for row in getattr(self, table).iter_rows(named=True):
                index.setdefault(row["scope"], []).append(row)
            self._scope_index[table] = index
        return index.get(scope, [])

    def series(self, table: str, scope: str) -> pl.DataFrame:
        """The rows of series ``table`` (e.g. ``imbalance_series``) for ``scope``, split once like ``rows``."""
        key = f"series:{table}"
        parts = self._scope_index.get(key)
        if parts is None:
            frame: pl.DataFrame = getattr(self, table)
            parts = {scope_: part for (scope_,), part in
                     frame.partition_by("scope", as_dict=True, maintain_order=True).items()}
            parts[None] = frame.clear()
            self._scope_index[key] = parts
        return parts.get(scope, parts[None])

    @cached_property
    def _scope_index(self) -> dict[str, dict[Any, Any]]:
        return {}


# ---------------------------------------------------------------------------------------------
# entry points


def build_daily_report(day: date, frames: ReportInputs) -> Report:
    """The report of one delivery day (series per QH, forecast error per hour)."""
    return _build("daily", day.isoformat(), day, day, frames)


def build_monthly_report(month: str, frames: ReportInputs) -> Report:
    """The report of one calendar month ``YYYY-MM`` (series per day)."""
    days = month_days(month)
    return _build("monthly", month, days[0], days[-1], frames)


def _build(kind: str, period: str, start_day: date, end_day: date, frames: ReportInputs) -> Report:
    frames = frames.for_days(start_day, end_day)
    active = active_contracts(frames.contracts)
    aq = asset_quarter_hours(frames, active)
    assets = tuple(sorted(set(aq["asset_id"].to_list()) | set(active["asset_id"].to_list())))
    expected = expected_quarter_hours(active)
    bucket = "delivery_start" if kind == "daily" else "delivery_day"
    evaluable = accuracy_rows(aq)
    parts = dict(
        production=production_figures(aq, assets),
        accuracy=accuracy_figures(evaluable, assets),
        trading=trading_figures(frames.trading_pnl, frames.trading_daily),
        imbalance=imbalance_figures(frames.asset_imbalance, frames.portfolio_imbalance, assets),
        redispatch=redispatch_figures(aq, assets),
        money=money_figures(kind, period, aq, active, frames, assets),
        completeness=completeness_figures(aq, expected, assets),
        worst_hours=worst_forecast_hours(evaluable, assets),
        production_series=production_series(aq, bucket),
        error_series=error_series(evaluable, "hour" if kind == "daily" else "delivery_day"),
        trading_series=trading_series(frames.trading_pnl, bucket),
        imbalance_series=imbalance_series(frames.asset_imbalance, frames.portfolio_imbalance, bucket),
    )
    report = Report(kind=kind, period=period, start_day=start_day, end_day=end_day, assets=assets, **parts)
    summaries = written_summaries(report, frames)
    return Report(kind=kind, period=period, start_day=start_day, end_day=end_day, assets=assets,
                  summaries=summaries, **parts)


# ---------------------------------------------------------------------------------------------
# the asset x QH frame every figure starts from


def active_contracts(contracts_by_day: pl.DataFrame) -> pl.DataFrame:
    """One contract per asset and delivery day: the one active that day (latest begin wins)."""
    active = contracts_by_day.filter(contracts.is_active())
    return (
        active.sort(["asset_id", "delivery_day", "contract_begin", "contract_id"],
                    descending=[False, False, True, False])
        .unique(["asset_id", "delivery_day"], keep="first", maintain_order=True)
        .with_columns(capacity_kw=pl.col("capacity_mw") * 1000.0)
    )


def quarter_hours_of_day(day: date) -> int:
    """92, 96 or 100."""
    start, end = day_window(day)
    return int((end - start) / QH)


def expected_quarter_hours(active: pl.DataFrame) -> pl.DataFrame:
    """Per asset: how many QHs its active days have (the QHs best-of-infeed should cover)."""
    days = active.select("asset_id", "delivery_day").unique()
    counts = [quarter_hours_of_day(d) for d in days["delivery_day"].to_list()]
    return (
        days.with_columns(pl.Series("n_qh", counts, dtype=pl.Int64))
        .group_by("asset_id").agg(expected_qh=pl.col("n_qh").sum())
    )


def asset_quarter_hours(frames: ReportInputs, active: pl.DataFrame) -> pl.DataFrame:
    """asset x QH: measured/best production, both forecasts, capacity, public VWAP, compensation price."""
    keys = ["asset_id", "delivery_day", "delivery_start"]
    infeed = frames.best_of_infeed.select(
        *keys,
        actual_kw=pl.coalesce(pl.col("power_kw"), pl.col("energy_mwh") * KW_PER_MWH_IN_QH),
        actual_mwh=pl.coalesce(pl.col("energy_mwh"), pl.col("power_kw") / KW_PER_MWH_IN_QH),
        source=pl.col("source"),
        is_redispatched=pl.col("is_redispatched"),
    )
    forecast = frames.asset_forecast.select(
        *keys, latest_kw=pl.col("latest_power_kw"), tradeable_kw=pl.col("tradeable_power_kw")
    )
    vwap = frames.trading_pnl.select("delivery_start", "vwap_public").unique("delivery_start", keep="first")
    compensation = frames.redispatch_compensation.select(
        "delivery_start", compensation_eur_per_mwh=pl.col("price_eur_per_mwh")
    ).unique("delivery_start", keep="first")
    capacity = active.select("asset_id", "delivery_day", "capacity_kw")
    return (
        infeed.join(forecast, on=keys, how="full", coalesce=True)
        .join(capacity, on=["asset_id", "delivery_day"], how="left")
        .join(vwap, on="delivery_start", how="left")
        .join(compensation, on="delivery_start", how="left")
        .with_columns(
            source=pl.col("source").fill_null("missing"),
            is_redispatched=pl.col("is_redispatched").fill_null(False),
            latest_mwh=pl.col("latest_kw") / KW_PER_MWH_IN_QH,
            tradeable_mwh=pl.col("tradeable_kw") / KW_PER_MWH_IN_QH,
        )
        .sort(keys)
    )


def _by_scope(frame: pl.DataFrame, aggs: list[pl.Expr], assets: tuple[str, ...],
              portfolio: pl.DataFrame | None = None) -> pl.DataFrame:
    """Aggregate ``frame`` per asset and over the portfolio; one row per scope, every asset present."""
    per_asset = frame.group_by("asset_id").agg(aggs).rename({"asset_id": "scope"})
    whole = (portfolio if portfolio is not None else frame).select(aggs).with_columns(scope=pl.lit(PORTFOLIO))
    scopes = pl.DataFrame({"scope": [PORTFOLIO, *assets]}, schema={"scope": pl.Utf8})
    stacked = pl.concat([whole.select(per_asset.columns), per_asset], how="vertical_relaxed")
    return scopes.join(stacked, on="scope", how="left", maintain_order="left")


# ---------------------------------------------------------------------------------------------
# figures


def production_figures(aq: pl.DataFrame, assets: tuple[str, ...]) -> pl.DataFrame:
    """Production by source against the latest and the tradeable forecast (MWh)."""
    aggs = [
        pl.col("actual_mwh").sum().alias("production_mwh"),
        *[pl.col("actual_mwh").filter(pl.col("source") == s).sum().alias(f"{s}_mwh") for s in INFEED_SOURCES[:4]],
        pl.col("latest_mwh").sum().alias("latest_forecast_mwh"),
        pl.col("tradeable_mwh").sum().alias("tradeable_forecast_mwh"),
        pl.col("latest_kw").is_null().sum().cast(pl.Int64).alias("n_qh_without_latest"),
        pl.col("tradeable_kw").is_null().sum().cast(pl.Int64).alias("n_qh_without_tradeable"),
    ]
    return _by_scope(aq, aggs, assets)


def accuracy_rows(aq: pl.DataFrame) -> pl.DataFrame:
    """The asset-QHs a forecast is judged on: measured (final/live), not redispatched."""
    return aq.filter(
        pl.col("source").is_in(MEASURED_SOURCES) & ~pl.col("is_redispatched") & pl.col("actual_kw").is_not_null()
    ).with_columns(
        latest_error_kw=pl.col("latest_kw") - pl.col("actual_kw"),
        tradeable_error_kw=pl.col("tradeable_kw") - pl.col("actual_kw"),
    )


def _error_aggs() -> list[pl.Expr]:
    e, cap = pl.col("error_kw"), pl.col("capacity_kw")
    share = e / cap
    return [
        pl.len().cast(pl.Int64).alias("n_qh"),
        e.abs().mean().alias("mae_kw"),
        (e**2).mean().sqrt().alias("rmse_kw"),
        e.mean().alias("bias_kw"),
        (share.abs().mean() * 100).alias("nmae_pct"),
        ((share**2).mean().sqrt() * 100).alias("nrmse_pct"),
        (share.mean() * 100).alias("nbias_pct"),
    ]


def accuracy_figures(evaluable: pl.DataFrame, assets: tuple[str, ...]) -> pl.DataFrame:
    """MAE, RMSE, bias (kW) and the same normalised by capacity (%) for both forecasts."""
    out = []
    for forecast in ("latest", "tradeable"):
        rows = evaluable.filter(pl.col(f"{forecast}_kw").is_not_null()).select(
            "asset_id", "delivery_start", "capacity_kw", error_kw=pl.col(f"{forecast}_error_kw")
        )
        portfolio = rows.group_by("delivery_start").agg(
            pl.col("error_kw").sum(),
            # a QH's normalised error needs the capacity of every asset evaluated in it
            pl.when(pl.col("capacity_kw").is_null().any()).then(None).otherwise(pl.col("capacity_kw").sum())
            .alias("capacity_kw"),
        )
        figures = _by_scope(rows, _error_aggs(), assets, portfolio=portfolio)
        out.append(figures.with_columns(forecast=pl.lit(forecast), n_qh=pl.col("n_qh").fill_null(0)))
    return pl.concat(out).select("scope", "forecast", pl.exclude("scope", "forecast"))


def worst_forecast_hours(evaluable: pl.DataFrame, assets: tuple[str, ...]) -> pl.DataFrame:
    """Per scope, the UTC hour with the largest absolute tradeable-forecast error (MWh)."""
    rows = evaluable.filter(pl.col("tradeable_kw").is_not_null()).with_columns(
        hour=pl.col("delivery_start").dt.truncate("1h"),
        error_mwh=pl.col("tradeable_error_kw") / KW_PER_MWH_IN_QH,
    )
    per_asset = rows.group_by("asset_id", "hour").agg(pl.col("error_mwh").sum()).rename({"asset_id": "scope"})
    whole = rows.group_by("hour").agg(pl.col("error_mwh").sum()).with_columns(scope=pl.lit(PORTFOLIO))
    hours = pl.concat([whole.select(per_asset.columns), per_asset])
    worst = (
        hours.sort(["scope", pl.col("error_mwh").abs(), "hour"], descending=[False, True, False])
        .unique("scope", keep="first", maintain_order=True)
    )
    scopes = pl.DataFrame({"scope": [PORTFOLIO, *assets]}, schema={"scope": pl.Utf8})
    return scopes.join(worst, on="scope", how="left", maintain_order="left")


def trading_figures(pnl: pl.DataFrame, daily: pl.DataFrame) -> pl.DataFrame:
    """Portfolio trading: revenue, volumes, our VWAP against the market's and the spread."""
    volume = pl.col("sold_mwh") + pl.col("bought_mwh")
    ours = pnl.filter(pl.col("vwap_private").is_not_null() & (volume > 0))
    market = pnl.filter(pl.col("vwap_public").is_not_null() & (pl.col("public_mwh") > 0))
    sold, bought = _sum(pnl["sold_mwh"]), _sum(pnl["bought_mwh"])
    our_volume = _sum(ours.select(volume).to_series()) if ours.height else 0.0
    vwap_private = (
        _sum(ours.select(pl.col("vwap_private") * volume).to_series()) / our_volume if our_volume else None
    )
    market_volume = _sum(market["public_mwh"])
    vwap_public = _sum(market.select(pl.col("vwap_public") * pl.col("public_mwh")).to_series()) / market_volume \
        if market_volume else None
    spread = vwap_private - vwap_public if vwap_private is not None and vwap_public is not None else None
    return pl.DataFrame(
        [{
            "scope": PORTFOLIO,
            "n_qh": pnl.height,
            "n_trades": int(daily["n_trades"].sum()) if daily["n_trades"].null_count() < daily.height else None,
            "revenue_eur": _sum(pnl["revenue_eur"]),
            "sold_mwh": sold,
            "bought_mwh": bought,
            "net_mwh": sold - bought,
            "vwap_private": vwap_private,
            "vwap_public": vwap_public,
            "spread_eur_per_mwh": spread,
            "spread_eur": spread * (sold + bought) if spread is not None else None,
        }],
        schema={"scope": _S, "n_qh": _I, "n_trades": _I, "revenue_eur": _F, "sold_mwh": _F, "bought_mwh": _F,
                "net_mwh": _F, "vwap_private": _F, "vwap_public": _F, "spread_eur_per_mwh": _F, "spread_eur": _F},
    )


def _imbalance_aggs() -> list[pl.Expr]:
    imb, cost = pl.col("imbalance_mwh"), pl.col("imbalance_cost_eur")
    priced = cost.is_not_null()
    return [
        imb.sum().alias("imbalance_mwh"),
        imb.clip(lower_bound=0).sum().alias("long_mwh"),
        (-imb).clip(lower_bound=0).sum().alias("short_mwh"),
        imb.abs().sum().alias("volume_mwh"),
        pl.when(priced.any()).then(cost.sum()).otherwise(None).alias("cost_eur"),
        # cost per MWh of imbalance volume, over the QHs that have a price
        pl.when(imb.abs().filter(priced).sum() > 0)
        .then(cost.sum() / imb.abs().filter(priced).sum()).otherwise(None).alias("cost_eur_per_mwh"),
        (pl.col("price_source") == "final").sum().cast(pl.Int64).alias("n_qh_final_price"),
        (pl.col("price_source") == "estimate").sum().cast(pl.Int64).alias("n_qh_estimated_price"),
        (imb.is_not_null() & ~priced).sum().cast(pl.Int64).alias("n_qh_without_price"),
    ]


def imbalance_figures(asset_imbalance: pl.DataFrame, portfolio_imbalance: pl.DataFrame,
                      assets: tuple[str, ...]) -> pl.DataFrame:
    """Imbalance volume, cost and cost per MWh; for the portfolio the net settlement, the stand-alone
    sum (the assets' own costs) and the netting benefit (stand-alone - net)."""
    figures = _by_scope(asset_imbalance, _imbalance_aggs(), assets, portfolio=portfolio_imbalance)
    standalone_table = portfolio_imbalance["standalone_cost_eur"]
    standalone = (
        _sum(standalone_table) if standalone_table.null_count() < len(standalone_table)
        else _sum_or_none(asset_imbalance["imbalance_cost_eur"])
    )
    net = figures.filter(pl.col("scope") == PORTFOLIO)["cost_eur"][0]
    return figures.with_columns(
        standalone_cost_eur=pl.when(pl.col("scope") == PORTFOLIO).then(pl.lit(standalone, dtype=_F))
        .otherwise(pl.col("cost_eur")),
        netting_benefit_eur=pl.when(pl.col("scope") == PORTFOLIO)
        .then(pl.lit(standalone - net if standalone is not None and net is not None else None, dtype=_F))
        .otherwise(None),
    )


def redispatch_figures(aq: pl.DataFrame, assets: tuple[str, ...]) -> pl.DataFrame:
    """Curtailed energy (latest forecast of redispatched QHs) and its compensation."""
    rd = aq.filter(pl.col("is_redispatched"))
    aggs = [
        pl.len().cast(pl.Int64).alias("n_qh"),
        pl.col("latest_mwh").sum().alias("curtailed_mwh"),
        (pl.col("latest_mwh") * pl.col("compensation_eur_per_mwh")).sum().alias("compensation_eur"),
        pl.col("compensation_eur_per_mwh").is_null().sum().cast(pl.Int64).alias("n_qh_without_price"),
        pl.col("latest_mwh").is_null().sum().cast(pl.Int64).alias("n_qh_without_forecast"),
    ]
    return _by_scope(rd, aggs, assets).with_columns(
        pl.col("n_qh", "n_qh_without_price", "n_qh_without_forecast").fill_null(0),
        pl.col("curtailed_mwh", "compensation_eur").fill_null(0.0),
    )


def contract_terms_money(aq: pl.DataFrame, active: pl.DataFrame) -> pl.DataFrame:
    """Per asset: infeed payout, fee and a reason when the terms cannot be applied, from the
    contract of each day (DOMAIN.md, Invoices; volume = best-of-infeed of the report's QHs).

    The amounts are those of ``domain.contracts`` (exact decimals, rounded to the cent per run of
    days with the same terms), so a month's report from contract terms shows the invoice's money.
    """
    qh = aq.join(active.select("asset_id", "delivery_day", "contract_id"), on=["asset_id", "delivery_day"])
    sums = contracts.day_sums(((c, d), e, v) for c, d, e, v in
                              qh.select("contract_id", "delivery_day", "actual_mwh", "vwap_public").iter_rows())
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in active.sort("contract_id", "delivery_day").iter_rows(named=True):
        groups.setdefault((row["contract_id"], month_of(row["delivery_day"])), []).append(row)
    money: dict[str, dict[str, Any]] = {}
    for (contract_id, _month), day_terms in groups.items():
        asset = money.setdefault(day_terms[0]["asset_id"],
                                 {"payout_eur": ZERO, "fee_eur": ZERO, "reasons": set()})
        mine = {t["delivery_day"]: sums[(contract_id, t["delivery_day"])]
                for t in day_terms if (contract_id, t["delivery_day"]) in sums}
        for terms in day_terms:
            if reason := _day_terms_reason(terms):
                asset["reasons"].add(reason)
        if any(contracts.blocking_issues(t, "payout") for t in day_terms):
            asset["payout_eur"] = None
        elif asset["payout_eur"] is not None:
            asset["payout_eur"] += sum((a.net for a in contracts.payouts(day_terms, mine)), ZERO)
        if any(contracts.blocking_issues(t, "fee") for t in day_terms):
            asset["fee_eur"] = None
        elif asset["fee_eur"] is not None:
            n_days = days_in_month(day_terms[0]["delivery_day"])
            asset["fee_eur"] += sum((a.net for a in contracts.fees(day_terms, mine, n_days)), ZERO)
    rows = [{"asset_id": asset, "payout_eur": _float(m["payout_eur"]), "fee_eur": _float(m["fee_eur"]),
             "reason": "; ".join(sorted(m["reasons"])) or None} for asset, m in money.items()]
    return pl.DataFrame(rows, schema={"asset_id": _S, "payout_eur": _F, "fee_eur": _F, "reason": _S})


def _float(amount: Decimal | None) -> float | None:
    return None if amount is None else float(amount)


def _day_terms_reason(terms: dict[str, Any]) -> str | None:
    """Why a day's terms give no payout or no fee, in the report's words (None when they apply)."""
    contract, problems = terms["contract_id"], []
    if contracts.blocking_issues(terms, "payout"):
        problems.append(f"{contract}: price model {terms['price_model']!r} without a price")
    if contracts.blocking_issues(terms, "fee"):
        problems.append(f"{contract}: fee model {terms['fee_model']!r} without its parameter")
    return "; ".join(problems) or None


def invoice_money(month: str, invoices: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Per asset: payout, fee and redispatch payout from the month's current invoices (net EUR)."""
    current = invoices.filter(pl.col("month") == month)
    if current["is_current"].null_count() == current.height:
        current = current.sort("version", descending=True).unique("invoice_id", keep="first")
    else:
        current = current.filter(pl.col("is_current"))
    kind = (  # line types of DOMAIN.md: infeed_payout, fee, redispatch_payout
        pl.when(pl.col("line_type").str.starts_with("fee")).then(pl.lit("fee_eur"))
        .when(pl.col("line_type").str.starts_with("redispatch")).then(pl.lit("redispatch_payout_eur"))
        .otherwise(pl.lit("payout_eur"))
    )
    amounts = (
        lines.join(current.select("invoice_id", "version", "asset_id"), on=["invoice_id", "version"])
        .with_columns(kind=kind)
        .group_by("asset_id", "kind").agg(pl.col("net_eur").sum())
    )
    per_asset = current.group_by("asset_id").agg(
        is_blocked=(pl.col("status") == "blocked").any(),
        money_source=pl.concat_str(
            pl.lit("invoice "), pl.col("invoice_id"), pl.lit(" v"), pl.col("version").cast(_S),
            pl.lit(" ("), pl.col("status"), pl.lit(")"),
        ).sort().str.join(", "),
        reason=pl.col("reason").drop_nulls().sort().str.join("; "),
    )
    wide = {"payout_eur": [], "fee_eur": [], "redispatch_payout_eur": []}
    for asset in per_asset["asset_id"].to_list():
        mine = amounts.filter(pl.col("asset_id") == asset)
        for key in wide:
            wide[key].append(_sum(mine.filter(pl.col("kind") == key)["net_eur"]))
    return per_asset.with_columns(*[pl.Series(k, v, dtype=_F) for k, v in wide.items()])


def money_figures(kind: str, period: str, aq: pl.DataFrame, active: pl.DataFrame, frames: ReportInputs,
                  assets: tuple[str, ...]) -> pl.DataFrame:
    """Market value of production at the public VWAP, payout, fees, imbalance cost and margin."""
    value = aq.group_by("asset_id").agg(
        volume_mwh=pl.col("actual_mwh").sum(),
        market_value_eur=(pl.col("actual_mwh") * pl.col("vwap_public")).sum(),
        n_qh_without_vwap=(pl.col("actual_mwh").is_not_null() & pl.col("vwap_public").is_null())
        .sum().cast(pl.Int64),
        redispatch_payout_eur=(pl.col("latest_mwh") * pl.col("compensation_eur_per_mwh"))
        .filter(pl.col("is_redispatched")).sum(),
    )
    terms = contract_terms_money(aq, active).with_columns(money_source=pl.lit("contract terms"))
    cost = frames.asset_imbalance.group_by("asset_id").agg(
        imbalance_cost_eur=pl.col("imbalance_cost_eur").sum()
    )
    base = pl.DataFrame({"asset_id": list(assets)}, schema={"asset_id": _S})
    frame = base.join(value, on="asset_id", how="left", maintain_order="left").join(
        cost, on="asset_id", how="left", maintain_order="left")
    if kind == "monthly":
        billed = invoice_money(period, frames.invoices, frames.invoice_lines)
        usable = billed.filter(~pl.col("is_blocked")).drop("is_blocked", "reason")
        order = ["asset_id", "payout_eur", "fee_eur", "reason", "money_source", "redispatch_payout_eur"]
        terms = pl.concat([
            usable.with_columns(reason=pl.lit(None, dtype=_S)).select(order),
            terms.filter(~pl.col("asset_id").is_in(usable["asset_id"].to_list()))
            .with_columns(redispatch_payout_eur=pl.lit(None, dtype=_F)).select(order),
        ], how="vertical_relaxed")
    else:
        terms = terms.with_columns(redispatch_payout_eur=pl.lit(None, dtype=_F))
    frame = frame.join(terms.rename({"redispatch_payout_eur": "billed_redispatch_eur"}), on="asset_id", how="left",
                       maintain_order="left")
    frame = frame.with_columns(
        pl.col("volume_mwh", "market_value_eur", "imbalance_cost_eur").fill_null(0.0),
        pl.col("n_qh_without_vwap").fill_null(0),
        redispatch_payout_eur=pl.coalesce("billed_redispatch_eur", "redispatch_payout_eur", pl.lit(0.0)),
        money_source=pl.col("money_source").fill_null("no contract"),
    ).drop("billed_redispatch_eur")
    frame = frame.with_columns(
        margin_eur=pl.col("market_value_eur") - pl.col("payout_eur") + pl.col("fee_eur") - pl.col("imbalance_cost_eur")
    ).rename({"asset_id": "scope"})
    net_cost = _sum_or_none(frames.portfolio_imbalance["imbalance_cost_eur"])
    portfolio_cost = net_cost if net_cost is not None else _sum(frame["imbalance_cost_eur"])
    totals = {
        "scope": PORTFOLIO,
        "volume_mwh": _sum(frame["volume_mwh"]),
        "market_value_eur": _sum(frame["market_value_eur"]),
        "n_qh_without_vwap": int(frame["n_qh_without_vwap"].sum()),
        "redispatch_payout_eur": _sum(frame["redispatch_payout_eur"]),
        "imbalance_cost_eur": portfolio_cost,
        "payout_eur": _sum(frame["payout_eur"]),
        "fee_eur": _sum(frame["fee_eur"]),
        "reason": "; ".join(r for r in frame["reason"].to_list() if r) or None,
        "money_source": "sum of assets; imbalance at net settlement",
        "n_assets_without_terms": int((frame["payout_eur"].is_null() | frame["fee_eur"].is_null()).sum()),
    }
    complete = frame.filter(pl.col("payout_eur").is_not_null() & pl.col("fee_eur").is_not_null())
    totals["margin_eur"] = (
        _sum(complete["market_value_eur"]) - _sum(complete["payout_eur"]) + _sum(complete["fee_eur"])
        - portfolio_cost
    )
    frame = frame.with_columns(
        n_assets_without_terms=(pl.col("payout_eur").is_null() | pl.col("fee_eur").is_null()).cast(pl.Int64)
    )
    columns = ["scope", "volume_mwh", "market_value_eur", "payout_eur", "redispatch_payout_eur", "fee_eur",
               "imbalance_cost_eur", "margin_eur", "n_qh_without_vwap", "n_assets_without_terms",
               "money_source", "reason"]
    return pl.concat([pl.DataFrame([totals]).select(columns), frame.select(columns)], how="vertical_relaxed")


def completeness_figures(aq: pl.DataFrame, expected: pl.DataFrame, assets: tuple[str, ...]) -> pl.DataFrame:
    """scope x source: how many asset-QHs and how much energy came from each best-of-infeed source.

    ``missing`` also counts the QHs of an asset's active days that have no row at all."""
    counts = aq.group_by("asset_id", "source").agg(
        n_qh=pl.len().cast(pl.Int64), energy_mwh=pl.col("actual_mwh").sum()
    )
    grid = pl.DataFrame({"asset_id": list(assets)}, schema={"asset_id": _S}).join(
        pl.DataFrame({"source": list(INFEED_SOURCES)}), how="cross"
    )
    per_asset = grid.join(counts, on=["asset_id", "source"], how="left").with_columns(
        pl.col("n_qh").fill_null(0), pl.col("energy_mwh").fill_null(0.0)
    )
    present = per_asset.filter(pl.col("source") != "missing").group_by("asset_id").agg(present=pl.col("n_qh").sum())
    absent = (
        present.join(expected, on="asset_id", how="left")
        .with_columns(absent=(pl.col("expected_qh").fill_null(0) - pl.col("present")).clip(lower_bound=0))
        .select("asset_id", "absent")
    )
    per_asset = per_asset.join(absent, on="asset_id", how="left").with_columns(
        n_qh=pl.when(pl.col("source") == "missing")
        .then(pl.max_horizontal("n_qh", pl.col("absent").fill_null(0))).otherwise(pl.col("n_qh"))
    ).drop("absent").rename({"asset_id": "scope"})
    whole = per_asset.group_by("source").agg(pl.col("n_qh").sum(), pl.col("energy_mwh").sum()).with_columns(
        scope=pl.lit(PORTFOLIO)
    )
    both = pl.concat([whole.select(per_asset.columns), per_asset])
    order = {s: i for i, s in enumerate(INFEED_SOURCES)}
    both = both.with_columns(
        n_qh_share=pl.col("n_qh") / pl.col("n_qh").sum().over("scope"),
        energy_share=pl.when(pl.col("energy_mwh").abs().sum().over("scope") > 0)
        .then(pl.col("energy_mwh") / pl.col("energy_mwh").sum().over("scope")).otherwise(None),
        _order=pl.col("source").replace_strict(order, return_dtype=pl.Int64),
        _scope_order=pl.when(pl.col("scope") == PORTFOLIO).then(0).otherwise(1),
    )
    return both.sort("_scope_order", "scope", "_order").drop("_order", "_scope_order")


# ---------------------------------------------------------------------------------------------
# series behind the charts


def production_series(aq: pl.DataFrame, bucket: str) -> pl.DataFrame:
    """scope x bucket (QH or day): energy by source and both forecasts (MWh)."""
    aggs = [
        *[pl.col("actual_mwh").filter(pl.col("source") == s).sum().alias(f"{s}_mwh") for s in INFEED_SOURCES[:4]],
        pl.col("latest_mwh").sum().alias("latest_forecast_mwh"),
        pl.col("tradeable_mwh").sum().alias("tradeable_forecast_mwh"),
    ]
    per_asset = aq.group_by("asset_id", bucket).agg(aggs).rename({"asset_id": "scope"})
    whole = aq.group_by(bucket).agg(aggs).with_columns(scope=pl.lit(PORTFOLIO))
    return pl.concat([whole.select(per_asset.columns), per_asset]).rename({bucket: "t"}).sort("scope", "t")


def error_series(evaluable: pl.DataFrame, bucket: str) -> pl.DataFrame:
    """scope x bucket (UTC hour or day): summed forecast errors (MWh) of both forecasts."""
    rows = evaluable.with_columns(hour=pl.col("delivery_start").dt.truncate("1h"))
    aggs = [
        (pl.col("latest_error_kw").sum() / KW_PER_MWH_IN_QH).alias("latest_error_mwh"),
        (pl.col("tradeable_error_kw").sum() / KW_PER_MWH_IN_QH).alias("tradeable_error_mwh"),
    ]
    per_asset = rows.group_by("asset_id", bucket).agg(aggs).rename({"asset_id": "scope"})
    whole = rows.group_by(bucket).agg(aggs).with_columns(scope=pl.lit(PORTFOLIO))
    return pl.concat([whole.select(per_asset.columns), per_asset]).rename({bucket: "t"}).sort("scope", "t")


def trading_series(pnl: pl.DataFrame, bucket: str) -> pl.DataFrame:
    """bucket: PnL, volumes and both VWAPs (volume-weighted within a day bucket)."""
    volume = pl.col("sold_mwh") + pl.col("bought_mwh")
    return (
        pnl.group_by(bucket)
        .agg(
            revenue_eur=pl.col("revenue_eur").sum(),
            sold_mwh=pl.col("sold_mwh").sum(),
            bought_mwh=pl.col("bought_mwh").sum(),
            vwap_private=(pl.col("vwap_private") * volume).sum()
            / volume.filter(pl.col("vwap_private").is_not_null()).sum(),
            vwap_public=(pl.col("vwap_public") * pl.col("public_mwh")).sum()
            / pl.col("public_mwh").filter(pl.col("vwap_public").is_not_null()).sum(),
        )
        .with_columns(pl.col("vwap_private", "vwap_public").fill_nan(None))
        .rename({bucket: "t"})
        .sort("t")
    )


def imbalance_series(asset_imbalance: pl.DataFrame, portfolio_imbalance: pl.DataFrame, bucket: str) -> pl.DataFrame:
    """scope x bucket: imbalance (MWh) and its cost; the portfolio's is the net settlement."""
    aggs = [pl.col("imbalance_mwh").sum(), pl.col("imbalance_cost_eur").sum()]
    per_asset = asset_imbalance.group_by("asset_id", bucket).agg(aggs).rename({"asset_id": "scope"}).with_columns(
        standalone_cost_eur=pl.col("imbalance_cost_eur")
    )
    whole = portfolio_imbalance.group_by(bucket).agg(*aggs, pl.col("standalone_cost_eur").sum()).with_columns(
        scope=pl.lit(PORTFOLIO)
    )
    return pl.concat([whole.select(per_asset.columns), per_asset]).rename({bucket: "t"}).sort("scope", "t")


# ---------------------------------------------------------------------------------------------
# the written summary


@dataclass(frozen=True)
class _Shared:
    """What every scope's summary reads from the whole report, computed once per report."""

    built_days: frozenset[date]
    curtailed_assets: tuple[str, ...]  # most curtailed energy first


def _shared(report: Report, frames: ReportInputs) -> _Shared:
    curtailed = (
        report.redispatch.filter((pl.col("scope") != PORTFOLIO) & (pl.col("n_qh") > 0))
        .sort(["curtailed_mwh", "scope"], descending=[True, False])["scope"].to_list()
    )
    return _Shared(frozenset(frames.best_of_infeed["delivery_day"].unique().to_list()), tuple(curtailed))


def written_summaries(report: Report, frames: ReportInputs) -> dict[str, Summary]:
    """The written summary of every scope of ``report``."""
    shared = _shared(report, frames)
    return {scope: _summary(report, scope, frames, shared) for scope in report.scopes}


def _summary(report: Report, scope: str, frames: ReportInputs, shared: _Shared) -> Summary:
    return Summary(
        happened=tuple(_what_happened(report, scope)),
        stood_out=tuple(_what_stood_out(report, scope, shared)),
        provisional=tuple(_what_is_provisional(report, scope, frames, shared)),
    )


def _what_happened(report: Report, scope: str) -> list[str]:
    when = f"On {report.period}" if report.kind == "daily" else f"In {report.period}"
    prod = report.row("production", scope)
    who = f"the portfolio of {len(report.assets)} assets" if scope == PORTFOLIO else f"asset {scope}"
    lines = [
        f"{when} {who} produced {fmt_mwh(prod.get('production_mwh'))}; the tradeable forecast expected "
        f"{fmt_mwh(prod.get('tradeable_forecast_mwh'))} and the latest forecast "
        f"{fmt_mwh(prod.get('latest_forecast_mwh'))}."
    ]
    acc = report.row("accuracy", scope, forecast="tradeable")
    if acc.get("n_qh"):
        lines.append(
            f"Tradeable forecast error over {acc['n_qh']} measured QHs: MAE {fmt_num(acc['mae_kw'], 1)} kW "
            f"({fmt_pct(acc['nmae_pct'])} of capacity), bias {fmt_num(acc['bias_kw'], 1, sign=True)} kW."
        )
    if scope == PORTFOLIO:
        t = report.row("trading", PORTFOLIO)
        if t.get("n_qh"):
            lines.append(
                f"Trading: sold {fmt_mwh(t['sold_mwh'])}, bought {fmt_mwh(t['bought_mwh'])}, revenue "
                f"{fmt_eur(t['revenue_eur'])}; our VWAP {fmt_price(t['vwap_private'])} against the market's "
                f"{fmt_price(t['vwap_public'])} (spread {fmt_price(t['spread_eur_per_mwh'], sign=True)}, "
                f"{fmt_eur(t['spread_eur'], sign=True)})."
            )
        imb = report.row("imbalance", PORTFOLIO)
        lines.append(
            f"Imbalance: net settlement {fmt_eur(imb.get('cost_eur'))} on {fmt_mwh(imb.get('volume_mwh'))} against a "
            f"stand-alone sum of {fmt_eur(imb.get('standalone_cost_eur'))} (netting benefit "
            f"{fmt_eur(imb.get('netting_benefit_eur'), sign=True)})."
        )
    else:
        imb = report.row("imbalance", scope)
        lines.append(
            f"Imbalance: {fmt_mwh(imb.get('volume_mwh'))} (net {fmt_mwh(imb.get('imbalance_mwh'), sign=True)})."
        )
    money = report.row("money", scope)
    if scope == PORTFOLIO:
        left_out = money.get("n_assets_without_terms") or 0
        caveat = f" over the {len(report.assets) - left_out} assets whose terms apply" if left_out else ""
        lines.append(
            f"Money: market value {fmt_eur(money.get('market_value_eur'))}, payout {fmt_eur(money.get('payout_eur'))}, "
            f"fees {fmt_eur(money.get('fee_eur'))}, imbalance cost {fmt_eur(money.get('imbalance_cost_eur'))}, "
            f"margin {fmt_eur(money.get('margin_eur'), sign=True)}{caveat}."
        )
    else:
        lines.append(
            f"Money: market value {fmt_eur(money.get('market_value_eur'))}, payout to the owner "
            f"{fmt_eur(money.get('payout_eur'))}, fees {fmt_eur(money.get('fee_eur'))} ({money.get('money_source')})."
        )
    return lines


def _what_stood_out(report: Report, scope: str, shared: _Shared) -> list[str]:
    lines = []
    if scope == PORTFOLIO:
        costs = report.imbalance.filter((pl.col("scope") != PORTFOLIO) & pl.col("cost_eur").is_not_null())
        if costs.height:
            top = costs.sort(["cost_eur", "scope"], descending=[True, False]).row(0, named=True)
            lines.append(
                f"Largest imbalance cost: {top['scope']} with {fmt_eur(top['cost_eur'])} "
                f"on {fmt_mwh(top['volume_mwh'])}."
            )
    else:
        # an asset report is what the owner sees: its imbalance volume, not the company's cost
        series = report.series("imbalance_series", scope).filter(pl.col("imbalance_mwh").is_not_null())
        if series.height:
            top = series.sort([pl.col("imbalance_mwh").abs(), "t"], descending=[True, False]).row(0, named=True)
            when = f"{top['t']:%Y-%m-%d %H:%M} UTC" if report.kind == "daily" else f"{top['t']:%Y-%m-%d}"
            lines.append(f"Largest imbalance: {fmt_mwh(top['imbalance_mwh'], sign=True)} at {when}.")
    worst = report.row("worst_hours", scope)
    if worst.get("hour") is not None:
        start: datetime = worst["hour"]
        local = start.astimezone(BERLIN)
        lines.append(
            f"Worst forecast hour: {start:%Y-%m-%d %H:%M}-{start + timedelta(hours=1):%H:%M} UTC "
            f"({local:%H:%M}-{local + timedelta(hours=1):%H:%M} {local.tzname()}), tradeable forecast off by "
            f"{fmt_mwh(worst['error_mwh'], sign=True)}."
        )
    rd = report.row("redispatch", scope)
    if rd.get("n_qh"):
        which = ""
        if scope == PORTFOLIO:
            curtailed = shared.curtailed_assets
            named = ", ".join(curtailed[:3]) + (f" and {len(curtailed) - 3} more" if len(curtailed) > 3 else "")
            which = f" on {named}"
        lines.append(
            f"Curtailment: {rd['n_qh']} redispatched QHs{which}, {fmt_mwh(rd['curtailed_mwh'])} curtailed, "
            f"compensation {fmt_eur(rd['compensation_eur'])}."
        )
    else:
        lines.append("No curtailment.")
    return lines


def _what_is_provisional(report: Report, scope: str, frames: ReportInputs, shared: _Shared) -> list[str]:
    lines = []
    period = [report.start_day + timedelta(days=i) for i in range((report.end_day - report.start_day).days + 1)]
    unbuilt = [d for d in period if d not in shared.built_days]
    if unbuilt:
        lines.append(f"No data yet for {len(unbuilt)} of {len(period)} days: {day_ranges(unbuilt)}.")
    sources = {r["source"]: r for r in report.rows("completeness", scope)}
    total_qh = sum(r["n_qh"] for r in sources.values())
    not_final = {s: r for s, r in sources.items() if s != "final" and r["n_qh"]}
    if total_qh and not_final:
        parts = ", ".join(f"{s} {r['n_qh']}" for s, r in not_final.items())
        lines.append(f"{total_qh - sources.get('final', {}).get('n_qh', 0)} of {total_qh} asset-QHs are not final "
                     f"DSO data ({parts}).")
    imb = report.row("imbalance", scope) if scope == PORTFOLIO else {}
    if imb.get("n_qh_estimated_price"):
        lines.append(f"{imb['n_qh_estimated_price']} QHs priced with estimated imbalance prices.")
    if imb.get("n_qh_without_price"):
        lines.append(f"{imb['n_qh_without_price']} QHs have no imbalance price (cost missing).")
    prod = report.row("production", scope)
    if prod.get("n_qh_without_tradeable"):
        lines.append(f"{prod['n_qh_without_tradeable']} asset-QHs have no tradeable forecast.")
    money = report.row("money", scope)
    if money.get("reason"):
        lines.append(f"Contract terms cannot be applied: {money['reason']}.")
    if report.kind == "monthly":
        invoices = frames.invoices.filter(pl.col("month") == report.period)
        if scope != PORTFOLIO:
            invoices = invoices.filter(pl.col("asset_id") == scope)
        current = invoices.filter(pl.col("is_current").fill_null(True))
        statuses = current.group_by("status").len().sort("status")
        not_final_invoices = [
            f"{r['len']} {r['status']}" for r in statuses.iter_rows(named=True) if r["status"] != "final"
        ]
        if not_final_invoices:
            lines.append(f"Invoices not final: {', '.join(not_final_invoices)}.")
        elif current.height == 0:
            lines.append("No invoice for this month yet: money from contract terms.")
    if not lines:
        lines.append("Nothing provisional: every figure rests on final data.")
    return lines


# ---------------------------------------------------------------------------------------------
# numbers as text (also used by the HTML and markdown renderers)


def day_ranges(days: list[date]) -> str:
    """Sorted days as compact ranges: ``2025-06-01..2025-06-03, 2025-06-07``."""
    parts: list[str] = []
    run: list[date] = []
    for d in sorted(days):
        if run and d != run[-1] + timedelta(days=1):
            parts.append(run[0].isoformat() if len(run) == 1 else f"{run[0]}..{run[-1]}")
            run = []
        run.append(d)
    if run:
        parts.append(run[0].isoformat() if len(run) == 1 else f"{run[0]}..{run[-1]}")
    return ", ".join(parts)


def _sum(series: pl.Series) -> float:
    return float(series.fill_nan(None).sum() or 0.0) if series.dtype.is_float() else float(series.sum() or 0)


def _sum_or_none(series: pl.Series) -> float | None:
    return None if series.null_count() == len(series) else _sum(series)


def _is_missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_num(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if _is_missing(value):
        return "n/a"
    value = 0.0 if round(value, digits) == 0 else value  # no "-0.00"
    return f"{value:{'+' if sign else ''},.{digits}f}"


def fmt_mwh(value: float | None, sign: bool = False) -> str:
    return "n/a" if _is_missing(value) else f"{fmt_num(value, 3, sign)} MWh"


def fmt_eur(value: float | None, sign: bool = False) -> str:
    return "n/a" if _is_missing(value) else f"{fmt_num(value, 2, sign)} EUR"


def fmt_price(value: float | None, sign: bool = False) -> str:
    return "n/a" if _is_missing(value) else f"{fmt_num(value, 2, sign)} EUR/MWh"


def fmt_pct(value: float | None) -> str:
    return "n/a" if _is_missing(value) else f"{fmt_num(value, 1)} %"


def report_markdown_summary(report: Report) -> str:
    """Markdown for the Dagster UI: the portfolio summary and one line of key figures per asset."""
    s = report.summaries[PORTFOLIO]
    out = [f"### {report.kind.capitalize()} report {report.period}", ""]
    out += [f"- {line}" for line in s.happened]
    out += ["", "**What stood out**", ""] + [f"- {line}" for line in s.stood_out]
    out += ["", "**Still provisional**", ""] + [f"- {line}" for line in s.provisional]
    out += ["", "| asset | production | tradeable nMAE | imbalance cost | margin |", "|---|---:|---:|---:|---:|"]
    for asset in report.assets:
        prod, acc = report.row("production", asset), report.row("accuracy", asset, forecast="tradeable")
        money = report.row("money", asset)
        out.append(
            f"| {asset} | {fmt_mwh(prod.get('production_mwh'))} | {fmt_pct(acc.get('nmae_pct'))} | "
            f"{fmt_eur(money.get('imbalance_cost_eur'))} | {fmt_eur(money.get('margin_eur'), sign=True)} |"
        )
    return "\n".join(out) + "\n"
