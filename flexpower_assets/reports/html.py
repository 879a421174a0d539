"""A ``Report`` as one self-contained HTML file per scope, with interactive Plotly charts.

plotly.js is embedded (the file opens offline and from the portal without other files). Output is
deterministic: chart div ids are fixed, series are sorted, numbers are formatted by fixed rules and
nothing depends on the clock, so the same report gives a byte-identical file.

Two audiences, by scope:
- ``portfolio``: the company's view: everything, including trading, imbalance cost and margin per
  asset.
- an asset id: the owner's view of one asset: its production, forecasts, accuracy, imbalance
  volume, curtailment, market value, payout and fees. Company-internal figures (trading, the
  company's imbalance cost and margin) and other assets never appear in it, so it can be handed to
  the customer who owns the asset.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from flexpower_assets.domain.reporting import (
    INFEED_SOURCES,
    PORTFOLIO,
    Report,
    fmt_eur,
    fmt_mwh,
    fmt_num,
    fmt_pct,
    fmt_price,
)

REPORT_KINDS = ("daily", "monthly")
SOURCE_COLOURS = {
    "final": "#1b7837", "live": "#5aae61", "forecast": "#f1a340", "forecast_redispatched": "#b35806",
    "missing": "#bdbdbd",
}
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def report_path(data_dir: Path, kind: str, period: str | date, scope: str) -> Path:
    """``<data_dir>/reports/daily/<YYYY-MM-DD>/<scope>.html`` or ``.../monthly/<YYYY-MM>/<scope>.html``."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"report kind must be one of {REPORT_KINDS}, not {kind!r}")
    if isinstance(period, date):
        period = period.isoformat() if kind == "daily" else period.strftime("%Y-%m")
    return Path(data_dir) / "reports" / kind / period / f"{scope}.html"


def render_report_html(report: Report, path: Path, scope: str) -> Path:
    """Write the report of ``scope`` (``portfolio`` or an asset id) to ``path``; return ``path``."""
    if scope not in report.scopes:
        raise ValueError(f"{scope!r} is not a scope of the {report.kind} report {report.period}: {report.scopes}")
    html = report_html(report, scope)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)  # readers (the portal) never see a half-written file
    return path


def report_html(report: Report, scope: str) -> str:
    """The HTML text of one scope's report."""
    internal = scope == PORTFOLIO
    summary = report.summaries[scope]
    sections = [
        _section("Production", "Best-of-infeed by source against the latest and the tradeable forecast.",
                 _production_chart(report, scope), _production_table(report, scope)),
        _section("Forecast accuracy",
                 "Forecast minus measured production (final or live, not redispatched QHs); positive bias = "
                 "over-forecast. Normalised errors are relative to installed capacity.",
                 _error_chart(report, scope), _accuracy_table(report, scope)),
    ]
    if internal:
        sections.append(_section(
            "Trading", "Our execution against the market: spread = our VWAP - market VWAP; in EUR times our volume.",
            _trading_chart(report), _trading_table(report)))
    sections.append(_section(
        "Imbalance",
        "Production minus the tradeable forecast (positive = long)."
        + (" The portfolio is settled on its net imbalance; the netting benefit is the stand-alone sum minus "
           "the net settlement. Cost: positive = cost." if internal else ""),
        _imbalance_chart(report, scope, internal), _imbalance_table(report, scope, internal)))
    sections.append(_section(
        "Redispatch", "Curtailed energy = latest forecast of redispatched QHs; compensation at the DSO's price.",
        None, _redispatch_table(report, scope)))
    sections.append(_section(
        "Money",
        ("Market value of production at the public VWAP, payout to the owners, fees, imbalance cost (net "
         "settlement for the portfolio) and margin = market value - payout + fees - imbalance cost. The "
         "redispatch payout is passed through to the DSO and not part of the margin."
         if internal else "Market value of production at the public VWAP, payout to the owner and fees."),
        _money_chart(report) if internal else None, _money_table(report, scope, internal)))
    if internal:
        sections.append(_section("Assets", "Key figures per asset.", None, _asset_table(report)))
    sections.append(_section(
        "Data completeness", "Where each asset-QH's production came from; missing = no value at all.",
        _completeness_chart(report, scope) if internal else None, _completeness_table(report, scope)))
    return _template().render(
        title=f"{report.kind.capitalize()} performance report {report.period} - "
              + ("portfolio" if internal else f"asset {scope}"),
        report=report,
        scope=scope,
        internal=internal,
        summary=summary,
        sections=sections,
        plotlyjs=Markup(_plotly_js()),
    )


# ---------------------------------------------------------------------------------------------
# charts (fixed div ids, x values as text so the JSON does not depend on the platform)


def _x(values: list[Any]) -> list[str]:
    out = []
    for v in values:
        if isinstance(v, datetime):
            out.append(v.strftime("%Y-%m-%d %H:%M"))
        elif isinstance(v, date):
            out.append(v.isoformat())
        else:
            out.append(str(v))
    return out


def _rounded(frame: pl.DataFrame) -> pl.DataFrame:
    """Chart values to 6 decimals (1 Wh, 0.000001 EUR): sums computed in a different order by
    parallel aggregation then still give the same file."""
    return frame.with_columns(pl.col(pl.Float64).round(6) + 0.0)  # + 0.0 turns -0.0 into 0.0


def _axis_title(report: Report) -> str:
    return "delivery start (UTC)" if report.kind == "daily" else "delivery day"


def _figure_html(fig: go.Figure, div_id: str, height: int = 380, by_day: bool = False) -> Markup:
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=60, r=30, t=40, b=50),
                      legend=dict(orientation="h", y=-0.2))
    if by_day:  # monthly series: one tick per day, no clock times
        fig.update_xaxes(type="date", tickformat="%d %b", dtick=86_400_000)
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOTLY_CONFIG))


def _production_chart(report: Report, scope: str) -> Markup:
    s = _rounded(report.production_series.filter(pl.col("scope") == scope))
    x = _x(s["t"].to_list())
    fig = go.Figure()
    for source in INFEED_SOURCES[:4]:
        fig.add_bar(x=x, y=s[f"{source}_mwh"].to_list(), name=source, marker_color=SOURCE_COLOURS[source])
    fig.add_scatter(x=x, y=s["latest_forecast_mwh"].to_list(), name="latest forecast", mode="lines",
                    line=dict(color="#2166ac"))
    fig.add_scatter(x=x, y=s["tradeable_forecast_mwh"].to_list(), name="tradeable forecast", mode="lines",
                    line=dict(color="#762a83", dash="dash"))
    fig.update_layout(barmode="stack", xaxis_title=_axis_title(report), yaxis_title="MWh")
    return _figure_html(fig, "chart-production", by_day=report.kind == "monthly")


def _error_chart(report: Report, scope: str) -> Markup:
    s = _rounded(report.error_series.filter(pl.col("scope") == scope))
    x = _x(s["t"].to_list())
    fig = go.Figure()
    fig.add_bar(x=x, y=s["latest_error_mwh"].to_list(), name="latest forecast error", marker_color="#2166ac")
    fig.add_bar(x=x, y=s["tradeable_error_mwh"].to_list(), name="tradeable forecast error", marker_color="#762a83")
    fig.update_layout(barmode="group", yaxis_title="forecast - measured (MWh)",
                      xaxis_title="hour (UTC)" if report.kind == "daily" else "delivery day")
    return _figure_html(fig, "chart-forecast-error", by_day=report.kind == "monthly")


def _trading_chart(report: Report) -> Markup:
    s = _rounded(report.trading_series)
    x = _x(s["t"].to_list())
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=x, y=s["revenue_eur"].to_list(), name="PnL (EUR)", marker_color="#4393c3", secondary_y=False)
    fig.add_scatter(x=x, y=s["vwap_private"].to_list(), name="our VWAP", mode="lines+markers",
                    line=dict(color="#d6604d"), secondary_y=True)
    fig.add_scatter(x=x, y=s["vwap_public"].to_list(), name="market VWAP", mode="lines",
                    line=dict(color="#4d4d4d", dash="dot"), secondary_y=True)
    fig.update_yaxes(title_text="PnL (EUR)", secondary_y=False)
    fig.update_yaxes(title_text="EUR/MWh", secondary_y=True)
    fig.update_xaxes(title_text=_axis_title(report))
    return _figure_html(fig, "chart-trading", by_day=report.kind == "monthly")


def _imbalance_chart(report: Report, scope: str, internal: bool) -> Markup:
    s = _rounded(report.imbalance_series.filter(pl.col("scope") == scope))
    x = _x(s["t"].to_list())
    if not internal:
        fig = go.Figure()
        fig.add_bar(x=x, y=s["imbalance_mwh"].to_list(), name="imbalance (MWh)", marker_color="#8073ac")
        fig.update_layout(xaxis_title=_axis_title(report), yaxis_title="MWh (positive = long)")
        return _figure_html(fig, "chart-imbalance", by_day=report.kind == "monthly")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=x, y=s["imbalance_mwh"].to_list(), name="net imbalance (MWh)", marker_color="#8073ac",
                secondary_y=False)
    fig.add_scatter(x=x, y=s["imbalance_cost_eur"].to_list(), name="net settlement (EUR)", mode="lines",
                    line=dict(color="#b2182b"), secondary_y=True)
    fig.add_scatter(x=x, y=s["standalone_cost_eur"].to_list(), name="stand-alone sum (EUR)", mode="lines",
                    line=dict(color="#f4a582", dash="dot"), secondary_y=True)
    fig.update_yaxes(title_text="MWh (positive = long)", secondary_y=False)
    fig.update_yaxes(title_text="cost (EUR)", secondary_y=True)
    fig.update_xaxes(title_text=_axis_title(report))
    return _figure_html(fig, "chart-imbalance", by_day=report.kind == "monthly")


def _money_chart(report: Report) -> Markup:
    m = report.row("money", PORTFOLIO)
    steps = [
        ("market value", m.get("market_value_eur"), "relative"),
        ("payout", -(m.get("payout_eur") or 0.0), "relative"),
        ("fees", m.get("fee_eur") or 0.0, "relative"),
        ("imbalance cost", -(m.get("imbalance_cost_eur") or 0.0), "relative"),
        ("margin", m.get("margin_eur"), "total"),
    ]
    fig = go.Figure(go.Waterfall(
        x=[s[0] for s in steps], y=[None if s[1] is None else round(s[1], 6) + 0.0 for s in steps],
        measure=[s[2] for s in steps],
        text=[fmt_eur(s[1]) for s in steps], textposition="outside",
    ))
    fig.update_layout(yaxis_title="EUR", showlegend=False)
    return _figure_html(fig, "chart-money")


def _completeness_chart(report: Report, scope: str) -> Markup:
    c = report.completeness.filter(pl.col("scope") != PORTFOLIO) if scope == PORTFOLIO else \
        report.completeness.filter(pl.col("scope") == scope)
    fig = go.Figure()
    for source in INFEED_SOURCES:
        part = c.filter(pl.col("source") == source)
        fig.add_bar(y=part["scope"].to_list(), x=part["n_qh"].to_list(), name=source, orientation="h",
                    marker_color=SOURCE_COLOURS[source])
    fig.update_layout(barmode="stack", xaxis_title="asset-QHs", yaxis=dict(autorange="reversed"))
    return _figure_html(fig, "chart-completeness", height=max(260, 40 + 28 * c["scope"].n_unique()))


# ---------------------------------------------------------------------------------------------
# tables: (header, rows) with every cell already formatted as text


Table = tuple[list[str], list[list[str]]]


def _production_table(report: Report, scope: str) -> Table:
    p = report.row("production", scope)
    rows = [[f"production ({s})", fmt_mwh(p.get(f"{s}_mwh"))] for s in INFEED_SOURCES[:4]]
    return ["figure", "value"], [
        ["production (best-of-infeed)", fmt_mwh(p.get("production_mwh"))], *rows,
        ["latest forecast", fmt_mwh(p.get("latest_forecast_mwh"))],
        ["tradeable forecast", fmt_mwh(p.get("tradeable_forecast_mwh"))],
        ["asset-QHs without latest forecast", str(p.get("n_qh_without_latest", 0))],
        ["asset-QHs without tradeable forecast", str(p.get("n_qh_without_tradeable", 0))],
    ]


def _accuracy_table(report: Report, scope: str) -> Table:
    rows = []
    for forecast in ("latest", "tradeable"):
        a = report.row("accuracy", scope, forecast=forecast)
        rows.append([forecast, str(a.get("n_qh") or 0), fmt_num(a.get("mae_kw"), 1), fmt_num(a.get("rmse_kw"), 1),
                     fmt_num(a.get("bias_kw"), 1, sign=True), fmt_pct(a.get("nmae_pct")),
                     fmt_pct(a.get("nrmse_pct")), fmt_pct(a.get("nbias_pct"))])
    worst = report.row("worst_hours", scope)
    if worst.get("hour") is not None:
        rows.append([f"worst hour (tradeable): {worst['hour']:%Y-%m-%d %H:%M} UTC", "", "", "",
                     fmt_mwh(worst["error_mwh"], sign=True), "", "", ""])
    return ["forecast", "QHs", "MAE (kW)", "RMSE (kW)", "bias (kW)", "nMAE", "nRMSE", "nBias"], rows


def _trading_table(report: Report) -> Table:
    t = report.row("trading", PORTFOLIO)
    return ["figure", "value"], [
        ["trades", "n/a" if t.get("n_trades") is None else f"{t['n_trades']:,}"],
        ["revenue", fmt_eur(t.get("revenue_eur"))],
        ["sold", fmt_mwh(t.get("sold_mwh"))],
        ["bought", fmt_mwh(t.get("bought_mwh"))],
        ["net traded", fmt_mwh(t.get("net_mwh"), sign=True)],
        ["our VWAP", fmt_price(t.get("vwap_private"))],
        ["market VWAP", fmt_price(t.get("vwap_public"))],
        ["spread", fmt_price(t.get("spread_eur_per_mwh"), sign=True)],
        ["spread x our volume", fmt_eur(t.get("spread_eur"), sign=True)],
    ]


def _imbalance_table(report: Report, scope: str, internal: bool) -> Table:
    i = report.row("imbalance", scope)
    rows = [
        ["net imbalance", fmt_mwh(i.get("imbalance_mwh"), sign=True)],
        ["long", fmt_mwh(i.get("long_mwh"))],
        ["short", fmt_mwh(i.get("short_mwh"))],
        ["volume (long + short)", fmt_mwh(i.get("volume_mwh"))],
    ]
    if internal:
        rows += [
            ["cost (net settlement)", fmt_eur(i.get("cost_eur"))],
            ["cost per MWh of imbalance", fmt_price(i.get("cost_eur_per_mwh"))],
            ["stand-alone sum of asset costs", fmt_eur(i.get("standalone_cost_eur"))],
            ["netting benefit", fmt_eur(i.get("netting_benefit_eur"), sign=True)],
            ["QHs with final / estimated / no price",
             f"{i.get('n_qh_final_price', 0)} / {i.get('n_qh_estimated_price', 0)} / {i.get('n_qh_without_price', 0)}"],
        ]
    return ["figure", "value"], rows


def _redispatch_table(report: Report, scope: str) -> Table:
    r = report.row("redispatch", scope)
    return ["figure", "value"], [
        ["redispatched QHs", str(r.get("n_qh", 0))],
        ["curtailed energy", fmt_mwh(r.get("curtailed_mwh"))],
        ["compensation", fmt_eur(r.get("compensation_eur"))],
        ["QHs without compensation price", str(r.get("n_qh_without_price", 0))],
    ]


def _money_table(report: Report, scope: str, internal: bool) -> Table:
    m = report.row("money", scope)
    rows = [
        ["production", fmt_mwh(m.get("volume_mwh"))],
        ["market value at the public VWAP", fmt_eur(m.get("market_value_eur"))],
        ["payout to the owner (infeed)", fmt_eur(m.get("payout_eur"))],
        ["redispatch payout (claimed from the DSO)", fmt_eur(m.get("redispatch_payout_eur"))],
        ["fees", fmt_eur(m.get("fee_eur"))],
    ]
    if internal:
        rows += [["imbalance cost", fmt_eur(m.get("imbalance_cost_eur"))],
                 ["margin", fmt_eur(m.get("margin_eur"), sign=True)]]
    rows.append(["source of payout and fees", str(m.get("money_source") or "")])
    if m.get("reason"):
        rows.append(["terms not applicable", str(m["reason"])])
    return ["figure", "value"], rows


def _asset_table(report: Report) -> Table:
    rows = []
    for asset in report.assets:
        p, a = report.row("production", asset), report.row("accuracy", asset, forecast="tradeable")
        i, r, m = report.row("imbalance", asset), report.row("redispatch", asset), report.row("money", asset)
        rows.append([
            asset, fmt_mwh(p.get("production_mwh")), fmt_pct(a.get("nmae_pct")), fmt_mwh(i.get("volume_mwh")),
            fmt_eur(i.get("cost_eur")), fmt_mwh(r.get("curtailed_mwh")), fmt_eur(m.get("market_value_eur")),
            fmt_eur(m.get("payout_eur")), fmt_eur(m.get("fee_eur")), fmt_eur(m.get("margin_eur"), sign=True),
        ])
    return ["asset", "production", "tradeable nMAE", "imbalance", "imbalance cost", "curtailed",
            "market value", "payout", "fees", "margin"], rows


def _completeness_table(report: Report, scope: str) -> Table:
    c = report.completeness.filter(pl.col("scope") == scope)
    rows = [
        [r["source"], f"{r['n_qh']:,}", fmt_pct(None if r["n_qh_share"] is None else r["n_qh_share"] * 100),
         fmt_mwh(r["energy_mwh"])]
        for r in c.iter_rows(named=True)
    ]
    return ["source", "asset-QHs", "share of QHs", "energy"], rows


def _section(title: str, note: str, chart: Markup | None, table: Table) -> dict[str, Any]:
    header, rows = table
    return {"title": title, "note": note, "chart": chart, "header": header, "rows": rows,
            "anchor": title.lower().replace(" ", "-")}


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    return get_plotlyjs()


@lru_cache(maxsize=1)
def _template():
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    return env.from_string(_TEMPLATE)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1rem 2rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.summary { background: #f6f8fa; border-left: 4px solid #2166ac; padding: .5rem 1rem; }
.summary h3 { font-size: 1rem; margin: .6rem 0 .2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { color: #555; font-size: .9rem; }
nav a { margin-right: .8rem; }
</style>
<script type="text/javascript">{{ plotlyjs }}</script>
</head>
<body>
<h1 id="report-title">{{ title }}</h1>
<p class="note">Delivery days {{ report.start_day.isoformat() }} to {{ report.end_day.isoformat() }} (Europe/Berlin).
Times in charts are UTC.{% if not internal %} This report shows asset {{ scope }} only.{% endif %}</p>
<nav>{% for s in sections %}<a href="#{{ s.anchor }}">{{ s.title }}</a>{% endfor %}</nav>
<section class="summary" id="summary">
<h2>Summary</h2>
<h3>What happened</h3>
<ul>{% for line in summary.happened %}<li>{{ line }}</li>{% endfor %}</ul>
<h3>What stood out</h3>
<ul>{% for line in summary.stood_out %}<li>{{ line }}</li>{% endfor %}</ul>
<h3>Still provisional</h3>
<ul>{% for line in summary.provisional %}<li>{{ line }}</li>{% endfor %}</ul>
</section>
{% for s in sections %}
<section id="{{ s.anchor }}">
<h2>{{ s.title }}</h2>
<p class="note">{{ s.note }}</p>
{% if s.chart %}{{ s.chart }}{% endif %}
<table>
<thead><tr>{% for h in s.header %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in s.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
</section>
{% endfor %}
</body>
</html>
"""
