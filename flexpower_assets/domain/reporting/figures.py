"""Every figure table of a report: the asset x QH frame they start from, then production, forecast
accuracy, trading, imbalance, redispatch, money and completeness, one row per scope."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl

from flexpower_assets.domain import contracts
from flexpower_assets.domain.contracts import ZERO
from flexpower_assets.domain.reporting.inputs import ReportInputs
from flexpower_assets.domain.reporting.model import (
    INFEED_SOURCES,
    KW_PER_MWH_IN_QH,
    MEASURED_SOURCES,
    PORTFOLIO,
)
from flexpower_assets.domain.time import days_in_month, month_of, quarter_hours_in_day

_F = pl.Float64
_S = pl.Utf8
_I = pl.Int64


def active_contracts(contracts_by_day: pl.DataFrame) -> pl.DataFrame:
    """One contract per asset and delivery day: the one active that day that the portfolio counts
    (``portfolio.portfolio_members``: the latest begin, then the greatest contract_id)."""
    active = contracts.active_rows(contracts_by_day)
    return (
        active.sort(["asset_id", "delivery_day", "contract_begin", "contract_id"],
                    descending=[False, False, True, True])
        .unique(["asset_id", "delivery_day"], keep="first", maintain_order=True)
        .with_columns(capacity_kw=pl.col("capacity_mw") * 1000.0)
    )



def expected_quarter_hours(active: pl.DataFrame) -> pl.DataFrame:
    """Per asset: how many QHs its active days have (the QHs best-of-infeed should cover)."""
    days = active.select("asset_id", "delivery_day").unique()
    counts = [quarter_hours_in_day(d) for d in days["delivery_day"].to_list()]
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


def _sum(series: pl.Series) -> float:
    return float(series.fill_nan(None).sum() or 0.0) if series.dtype.is_float() else float(series.sum() or 0)


def _sum_or_none(series: pl.Series) -> float | None:
    return None if series.null_count() == len(series) else _sum(series)
