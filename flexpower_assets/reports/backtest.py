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

COLOURS = {"point": "#1f77b4", "quantile": "#2ca02c", "perfect_foresight": "#7f7f7f"}


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
                           path: Path) -> Path:
    """Write the report for ``results`` (``backtest_result`` rows) to ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bundle = write_plotly_bundle(path.parent)
    daily = results.group_by("strategy", "delivery_day").agg(pl.col("net_eur", "imbalance_cost_eur", "revenue_eur").sum()).sort(
        "strategy", "delivery_day")
    bound = daily.filter(pl.col("strategy") == "perfect_foresight").select("delivery_day", bound="net_eur")
    daily = daily.join(bound, on="delivery_day", how="left").with_columns(
        capture_rate=pl.when(pl.col("bound") > 0).then(pl.col("net_eur") / pl.col("bound")))
    figures = []
    cumulative, cost, capture = go.Figure(), go.Figure(), go.Figure()
    for strategy in daily["strategy"].unique().sort().to_list():
        mine = daily.filter(pl.col("strategy") == strategy)
        colour = COLOURS.get(strategy, "#d62728")
        cumulative.add_trace(go.Scatter(x=mine["delivery_day"].to_list(), y=mine["net_eur"].cum_sum().to_list(),
                                        name=strategy, line={"color": colour}))
        cost.add_trace(go.Bar(x=mine["delivery_day"].to_list(), y=mine["imbalance_cost_eur"].to_list(), name=strategy,
                              marker={"color": colour}))
        if strategy != "perfect_foresight":
            capture.add_trace(go.Scatter(x=mine["delivery_day"].to_list(), y=mine["capture_rate"].to_list(), name=strategy,
                                         mode="lines+markers", line={"color": colour}))
    cumulative.update_layout(title="Cumulative net EUR (revenue - imbalance cost), portfolio", yaxis_title="EUR")
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
        "auction price and reBAP. The confidence interval is a 95 % bootstrap over days of the portfolio's daily net: "
        "two strategies whose intervals overlap widely are not told apart by this history.</p>"
        f"<h2>Summary</h2>{_table(summary)}"
        f"<h2>Forecast quality next to the euros</h2>{_table(quality) if quality.height else '<p>no skill yet</p>'}"
        f"<h2>Quantile level sold per day (critical ratio)</h2>{_table(levels)}"
        + "".join(parts) + "</body></html>"
    )
    path.write_text(html, encoding="utf-8")
    return path
