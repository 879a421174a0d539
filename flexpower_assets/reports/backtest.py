"""The backtest report: one self-contained HTML page (Plotly) per backtest run.

Cumulative portfolio net euros per strategy, daily imbalance cost, capture rate, the summary
with its bootstrap confidence intervals, and the champion forecast's quality (CRPS, coverage)
over the same days, next to the euros.
"""

from __future__ import annotations

from datetime import date
from html import escape
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from flexpower_assets.reports.html import write_plotly_bundle

COLOURS = {"point": "#1f77b4", "quantile": "#2ca02c", "perfect_foresight": "#7f7f7f", "scenario_curves": "#9467bd"}
DASH = {"reservoir_hydro": "dash"}


def report_path(data_dir: Path, first: date, last: date) -> Path:
    """``<documents>/reports/backtest/<first>_<last>.html`` (``data_dir``: the documents folder)."""
    return Path(data_dir) / "reports" / "backtest" / f"{first.isoformat()}_{last.isoformat()}.html"


def _table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in frame.rows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def render_backtest_report(results: pl.DataFrame, summary: pl.DataFrame, quality: pl.DataFrame, levels: pl.DataFrame,
                           path: Path, skipped: pl.DataFrame | None = None) -> Path:
    """Write the report for ``results`` (``backtest_result`` rows) to ``path``; return it.

    Renewables and hydro plants (``asset_type``) are shown as separate series, each strategy's
    capture rate against the perfect foresight of its own assets; ``skipped`` lists the plants and
    days left out of the run with the reason."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bundle = write_plotly_bundle(path.parent)
    if "asset_type" not in results.columns:
        results = results.with_columns(asset_type=pl.lit("renewable"))
    several = results["asset_type"].n_unique() > 1
    daily = results.group_by("asset_type", "strategy", "delivery_day").agg(
        pl.col("net_eur", "imbalance_cost_eur", "revenue_eur").sum()).sort("asset_type", "strategy", "delivery_day")
    bound = daily.filter(pl.col("strategy") == "perfect_foresight").select("asset_type", "delivery_day", bound="net_eur")
    daily = daily.join(bound, on=["asset_type", "delivery_day"], how="left").with_columns(
        capture_rate=pl.when(pl.col("bound") > 0).then(pl.col("net_eur") / pl.col("bound")))
    figures = []
    cumulative, cost, capture = go.Figure(), go.Figure(), go.Figure()
    for (kind, strategy), mine in sorted(daily.partition_by("asset_type", "strategy", as_dict=True).items()):
        colour = COLOURS.get(strategy, "#d62728")
        name = f"{kind}: {strategy}" if several else strategy
        line = {"color": colour, "dash": DASH.get(kind, "solid")}
        cumulative.add_trace(go.Scatter(x=mine["delivery_day"].to_list(), y=mine["net_eur"].cum_sum().to_list(),
                                        name=name, line=line))
        cost.add_trace(go.Bar(x=mine["delivery_day"].to_list(), y=mine["imbalance_cost_eur"].to_list(), name=name,
                              marker={"color": colour}))
        if strategy != "perfect_foresight":
            capture.add_trace(go.Scatter(x=mine["delivery_day"].to_list(), y=mine["capture_rate"].to_list(), name=name,
                                         mode="lines+markers", line=line))
    cumulative.update_layout(title="Cumulative net EUR (revenue - imbalance cost, + end water value for hydro)",
                             yaxis_title="EUR")
    cost.update_layout(title="Imbalance cost per day (positive = cost)", yaxis_title="EUR", barmode="group")
    capture.update_layout(title="Capture rate per day (net / perfect-foresight net)", yaxis_title="share")
    if quality.height:
        q = go.Figure()
        q.add_trace(go.Scatter(x=quality["delivery_day"].to_list(), y=quality["crps_kw"].to_list(), name="champion CRPS (kW)"))
        q.add_trace(go.Scatter(x=quality["delivery_day"].to_list(), y=quality["coverage_80"].to_list(), name="coverage 80 %",
                               yaxis="y2"))
        q.update_layout(title="Forecast quality of the champion (rolling window, mean over assets)",
                        yaxis={"title": "CRPS kW"}, yaxis2={"title": "coverage", "overlaying": "y", "side": "right"})
        figures.append(q)
    parts = [f.to_html(full_html=False, include_plotlyjs=False) for f in (cumulative, cost, capture, *figures)]
    first, last = results["delivery_day"].min(), results["delivery_day"].max()
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Backtest</title>"
        f"<script src='{bundle.name}'></script>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:right}</style></head><body>"
        f"<h1>Backtest {first} .. {last}</h1>"
        "<p>Each day replayed with what was known at its gate closure (D-1 12:00 Berlin); settled at the realised "
        "auction price and reBAP. Hydro plants: the scenario curves the bid pipeline would have made, cleared at the "
        "realised price, re-dispatched as close to the accepted schedule as the realised inflow allows, the deviation "
        "priced by the reBAP, plus the water value of the content change. The confidence interval is a 95 % bootstrap over days of the portfolio's daily net: "
        "two strategies whose intervals overlap widely are not told apart by this history.</p>"
        f"<h2>Summary</h2>{_table(summary)}"
        f"<h2>Forecast quality next to the euros</h2>{_table(quality) if quality.height else '<p>no skill yet</p>'}"
        f"<h2>Quantile level sold per day (critical ratio)</h2>{_table(levels) if levels.height else '<p>no renewables</p>'}"
        + (f"<h2>Left out (not replayed)</h2>{_table(skipped)}" if skipped is not None and skipped.height else "")
        + "".join(parts) + "</body></html>"
    )
    path.write_text(html, encoding="utf-8")
    return path
