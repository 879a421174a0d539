"""Numbers as text, for the written summary, the HTML reports and the markdown shown in the UI."""

from __future__ import annotations

import math

from flexpower_assets.domain.reporting.model import PORTFOLIO, Report


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
