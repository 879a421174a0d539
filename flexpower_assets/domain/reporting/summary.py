"""The written summary of every scope of a report, by fixed rules: what happened, what stood out,
what is still provisional."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

from flexpower_assets.domain.reporting.inputs import ReportInputs
from flexpower_assets.domain.reporting.model import PORTFOLIO, Report, Summary
from flexpower_assets.domain.reporting.text import fmt_eur, fmt_mwh, fmt_num, fmt_pct, fmt_price
from flexpower_assets.domain.time import BERLIN, day_ranges


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
