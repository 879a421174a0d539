"""A ``Report`` as one HTML file per scope, with interactive Plotly charts.

Every report folder (``<data>/reports/daily/<YYYY-MM-DD>/``, ``.../monthly/<YYYY-MM>/``) holds one
copy of plotly's own ``plotly.min.js`` (the one shipped with the ``plotly`` package), written by the
renderer when it is missing or different; every HTML file of the folder loads it with a relative
``<script src="plotly.min.js">``. The folder is self-contained: it opens offline from disk and is
served as it is by the portal.

The charts are Plotly figures written as plotly.js's JSON (``{"data": [...], "layout": {...}}``) and
drawn in the browser by ``Plotly.newPlot``; building them as ``plotly.graph_objects`` would validate
every property in Python and cost a thousand times more than writing the file. The page carries
the parts of plotly's ``plotly_white`` template its charts use, once.

Output is deterministic: chart div ids are fixed, series are sorted, numbers are rounded and
formatted by fixed rules and nothing depends on the clock, so the same report gives byte-identical
files.

Two audiences, by scope:
- ``portfolio``: the company's view: everything, including trading, imbalance cost and margin per
  asset.
- an asset id: the owner's view of one asset: its production, forecasts, accuracy, imbalance
  volume, curtailment, market value, payout and fees. Company-internal figures (trading, the
  company's imbalance cost and margin) and other assets never appear in it, so it can be handed to
  the customer who owns the asset.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import polars as pl
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from flexpower_assets.documents.store import indexed_file, record_documents
from flexpower_assets.domain.reporting import (
    INFEED_SOURCES,
    PORTFOLIO,
    REPORT_KINDS,
    Report,
    fmt_eur,
    fmt_mwh,
    fmt_num,
    fmt_pct,
    fmt_price,
)
from resources.warehouse import Warehouse

PLOTLY_BUNDLE = "plotly.min.js"
SOURCE_COLOURS = {
    "final": "#1b7837", "live": "#5aae61", "forecast": "#f1a340", "forecast_redispatched": "#b35806",
    "missing": "#bdbdbd",
}
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
LOCAL_ZONE = "Europe/Berlin"
SERIES = ("production_series", "error_series", "trading_series", "imbalance_series")


def report_path(data_dir: Path, kind: str, period: str | date, scope: str) -> Path:
    """``<data_dir>/reports/daily/<YYYY-MM-DD>/<scope>.html`` or ``.../monthly/<YYYY-MM>/<scope>.html``."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"report kind must be one of {REPORT_KINDS}, not {kind!r}")
    if isinstance(period, date):
        period = period.isoformat() if kind == "daily" else period.strftime("%Y-%m")
    return Path(data_dir) / "reports" / kind / period / f"{scope}.html"


def plotly_bundle_path(folder: Path) -> Path:
    """Where the reports of ``folder`` find plotly.js: ``<folder>/plotly.min.js``."""
    return Path(folder) / PLOTLY_BUNDLE


def write_plotly_bundle(folder: Path) -> Path:
    """Put plotly's ``plotly.min.js`` into ``folder`` unless an identical copy is there; return its path."""
    path = plotly_bundle_path(folder)
    bundle = _plotly_js()
    if path.is_file() and path.stat().st_size == len(bundle) and path.read_bytes() == bundle:
        return path
    _write_atomically(path, bundle)
    return path


def render_reports(report: Report, data_dir: Path) -> list[Path]:
    """Write every scope of ``report`` (portfolio first, then every asset) under ``data_dir`` (see
    ``report_path``) with the folder's one ``plotly.min.js``; return the HTML paths in scope order."""
    folder = report_path(data_dir, report.kind, report.period, PORTFOLIO).parent
    write_plotly_bundle(folder)
    charts = _ChartData(report)
    paths = []
    for scope in report.scopes:
        path = report_path(data_dir, report.kind, report.period, scope)
        _write_atomically(path, _html(report, scope, charts).encode("utf-8"))
        paths.append(path)
    return paths


def record_report_documents(warehouse: Warehouse, root: Path, report: Report, paths: list[Path]) -> None:
    """Make the files just written by ``render_reports`` the warehouse's index of this report's
    period: one row per scope and one for the folder's plotly.js, each with its SHA-256."""
    folder = report_path(root, report.kind, report.period, PORTFOLIO).parent
    entries = [indexed_file(root, Path(path).stem, path) for path in paths]
    entries.append(indexed_file(root, PLOTLY_BUNDLE, plotly_bundle_path(folder)))
    record_documents(warehouse, f"{report.kind}_report", report.period, entries)


def render_report_html(report: Report, path: Path, scope: str) -> Path:
    """Write the report of ``scope`` (``portfolio`` or an asset id) to ``path``, and plotly.js next to
    it; return ``path``. For every scope of a report at once, ``render_reports`` is faster."""
    if scope not in report.scopes:
        raise ValueError(f"{scope!r} is not a scope of the {report.kind} report {report.period}: {report.scopes}")
    path = Path(path)
    write_plotly_bundle(path.parent)
    _write_atomically(path, report_html(report, scope).encode("utf-8"))
    return path


def report_html(report: Report, scope: str) -> str:
    """The HTML text of one scope's report (it loads ``plotly.min.js`` from its own folder)."""
    if scope not in report.scopes:
        raise ValueError(f"{scope!r} is not a scope of the {report.kind} report {report.period}: {report.scopes}")
    return _html(report, scope, _ChartData(report, only=scope))


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    tmp.replace(path)  # readers (the portal) never see a half-written file


def _html(report: Report, scope: str, charts: _ChartData) -> str:
    internal = scope == PORTFOLIO
    summary = report.summaries[scope]
    sections = [
        _section("Production", "Best-of-infeed by source against the latest and the tradeable forecast.",
                 _production_chart(report, charts.of("production_series", scope)),
                 _production_table(report, scope)),
        _section("Forecast accuracy",
                 "Forecast minus measured production (final or live, not redispatched QHs); positive bias = "
                 "over-forecast. Normalised errors are relative to installed capacity.",
                 _error_chart(report, charts.of("error_series", scope)), _accuracy_table(report, scope)),
    ]
    if internal:
        sections.append(_section(
            "Trading", "Our execution against the market: spread = our VWAP - market VWAP; in EUR times our volume.",
            _trading_chart(report, charts.of("trading_series", None)), _trading_table(report)))
    sections.append(_section(
        "Imbalance",
        "Production minus the tradeable forecast (positive = long)."
        + (" The portfolio is settled on its net imbalance; the netting benefit is the stand-alone sum minus "
           "the net settlement. Cost: positive = cost." if internal else ""),
        _imbalance_chart(report, charts.of("imbalance_series", scope), internal),
        _imbalance_table(report, scope, internal)))
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
        _completeness_chart(report) if internal else None, _completeness_table(report, scope)))
    return _template().render(
        title=f"{report.kind.capitalize()} performance report {report.period} - "
              + ("portfolio" if internal else f"asset {scope}"),
        report=report,
        scope=scope,
        internal=internal,
        summary=summary,
        sections=sections,
        bundle=PLOTLY_BUNDLE,
        chart_setup=_chart_setup(),
    )


# ---------------------------------------------------------------------------------------------
# chart data: each series rounded, its time axis as text and split by scope once per report


class _ChartData:
    """The series behind the charts as plain lists, per scope (``None``: a series without scopes)."""

    def __init__(self, report: Report, only: str | None = None) -> None:
        self._report = report
        self._only = only
        self._split: dict[str, tuple[dict[str | None, dict[str, list[Any]]], dict[str, list[Any]]]] = {}

    def of(self, series: str, scope: str | None) -> dict[str, list[Any]]:
        """Column name -> values of ``series`` for ``scope``; empty lists when it has no rows."""
        if series not in self._split:
            self._split[series] = self._by_scope(getattr(self._report, series))
        parts, empty = self._split[series]
        return parts.get(scope, empty)

    def _by_scope(self, frame: pl.DataFrame) -> tuple[dict[str | None, dict[str, list[Any]]], dict[str, list[Any]]]:
        if "scope" in frame.columns and self._only is not None:
            frame = frame.filter(pl.col("scope") == self._only)
        frame = _rounded(frame).with_columns(x=_x(frame.schema["t"]))
        if isinstance(frame.schema["t"], pl.Datetime):  # the hover and tick labels: Berlin local time
            frame = frame.with_columns(x_local=_x_local(frame.schema["t"]))
        empty: dict[str, list[Any]] = {name: [] for name in frame.columns}
        if "scope" not in frame.columns:
            return {None: frame.to_dict(as_series=False)}, empty
        frame = frame.sort("scope", "t", maintain_order=True)
        columns = frame.to_dict(as_series=False)
        parts: dict[str | None, dict[str, list[Any]]] = {}
        first = 0  # the frame is sorted by scope: each scope's rows are one run
        for scope, n in frame.group_by("scope", maintain_order=True).len().iter_rows():
            parts[scope] = {name: values[first:first + n] for name, values in columns.items()}
            first += n
        return parts, empty


def _x(dtype: pl.DataType) -> pl.Expr:
    """Time axis values as text, so the JSON does not depend on the platform."""
    if isinstance(dtype, pl.Datetime):
        return pl.col("t").dt.strftime("%Y-%m-%d %H:%M")
    if dtype == pl.Date:
        return pl.col("t").dt.strftime("%Y-%m-%d")
    return pl.col("t").cast(pl.Utf8)


def _x_local(dtype: pl.Datetime) -> pl.Expr:
    """The Europe/Berlin wall-clock time of a UTC time axis, as text (``2025-06-08 00:00``)."""
    t = pl.col("t") if dtype.time_zone else pl.col("t").dt.replace_time_zone("UTC")
    return t.dt.convert_time_zone(LOCAL_ZONE).dt.strftime("%Y-%m-%d %H:%M")


def _local_time_axis(data: list[dict[str, Any]], layout: dict[str, Any], s: dict[str, list[Any]]) -> None:
    """Label a UTC time axis in Europe/Berlin local time; the hover shows both.

    The bars stay at their UTC positions (so the repeated autumn hour does not fall onto itself);
    ticks every three local hours carry the local clock time, and each point's hover reads
    ``2025-06-08 00:00 Berlin (22:00 UTC)``."""
    if not s.get("x_local"):
        return
    pairs = dict(zip(s["x"], s["x_local"], strict=True))
    ticks = [(x, local[-5:]) for x, local in pairs.items() if local.endswith(":00") and int(local[-5:-3]) % 3 == 0]
    axis = {"tickmode": "array", "tickvals": [x for x, _ in ticks], "ticktext": [label for _, label in ticks],
            "hoverformat": "%H:%M"}
    layout["xaxis"] = {**layout.get("xaxis", {}), **axis}
    for trace in data:
        trace["customdata"] = s["x_local"]
        trace["hovertemplate"] = "%{customdata} Berlin (%{x} UTC)<br>%{y}<extra>%{fullData.name}</extra>"


def _rounded(frame: pl.DataFrame) -> pl.DataFrame:
    """Chart values to 6 decimals (1 Wh, 0.000001 EUR): sums computed in a different order by
    parallel aggregation then still give the same file."""
    return frame.with_columns(pl.col(pl.Float64).round(6) + 0.0)  # + 0.0 turns -0.0 into 0.0


def _json(value: Any) -> str:
    r"""JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` only occur in strings, where
    their ``\u`` escapes mean the same."""
    text = orjson.dumps(value).decode("utf-8")
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ---------------------------------------------------------------------------------------------
# charts as plotly.js figures (fixed div ids)


def _chart(div_id: str, data: list[dict[str, Any]], layout: dict[str, Any], height: int = 380,
           by_day: bool = False, times: dict[str, list[Any]] | None = None) -> Markup:
    layout = {**layout, "height": height, "margin": {"l": 60, "r": 30, "t": 40, "b": 50},
              "legend": {"orientation": "h", "y": -0.2}}
    if times is not None and not by_day:
        _local_time_axis(data, layout, times)
    if by_day:  # monthly series: one tick per day, no clock times
        layout["xaxis"] = {**layout.get("xaxis", {}), "type": "date", "tickformat": "%d %b", "dtick": 86_400_000}
    return Markup(
        f'<div id="{div_id}" class="plotly-graph-div" style="height:{height}px; width:100%;"></div>\n'
        f'<script>drawChart("{div_id}", {_json(data)}, {_json(layout)});</script>'
    )


def _title(text: str) -> dict[str, Any]:
    return {"title": {"text": text}}


def _bar(x: list[Any], y: list[Any], name: str, colour: str, **more: Any) -> dict[str, Any]:
    return {"type": "bar", "x": x, "y": y, "name": name, "marker": {"color": colour}, **more}


def _line(x: list[Any], y: list[Any], name: str, line: dict[str, Any], mode: str = "lines",
          **more: Any) -> dict[str, Any]:
    return {"type": "scatter", "x": x, "y": y, "name": name, "mode": mode, "line": line, **more}


def _secondary_y_layout(report: Report, left: str, right: str) -> dict[str, Any]:
    """Two y axes over one x axis (as ``make_subplots(specs=[[{"secondary_y": True}]])`` lays them out)."""
    return {
        "xaxis": {"anchor": "y", "domain": [0.0, 0.94], **_title(_axis_title(report))},
        "yaxis": {"anchor": "x", "domain": [0.0, 1.0], **_title(left)},
        "yaxis2": {"anchor": "x", "overlaying": "y", "side": "right", **_title(right)},
    }


def _axis_title(report: Report) -> str:
    return "delivery start (Europe/Berlin; UTC in the hover)" if report.kind == "daily" else "delivery day"


def _production_chart(report: Report, s: dict[str, list[Any]]) -> Markup:
    x = s["x"]
    data = [_bar(x, s[f"{source}_mwh"], source, SOURCE_COLOURS[source]) for source in INFEED_SOURCES[:4]]
    data.append(_line(x, s["latest_forecast_mwh"], "latest forecast", {"color": "#2166ac"}))
    data.append(_line(x, s["tradeable_forecast_mwh"], "tradeable forecast", {"color": "#762a83", "dash": "dash"}))
    layout = {"barmode": "stack", "xaxis": _title(_axis_title(report)), "yaxis": _title("MWh")}
    return _chart("chart-production", data, layout, by_day=report.kind == "monthly", times=s)


def _error_chart(report: Report, s: dict[str, list[Any]]) -> Markup:
    x = s["x"]
    data = [_bar(x, s["latest_error_mwh"], "latest forecast error", "#2166ac"),
            _bar(x, s["tradeable_error_mwh"], "tradeable forecast error", "#762a83")]
    layout = {"barmode": "group", "yaxis": _title("forecast - measured (MWh)"),
              "xaxis": _title("hour (Europe/Berlin; UTC in the hover)" if report.kind == "daily" else "delivery day")}
    return _chart("chart-forecast-error", data, layout, by_day=report.kind == "monthly", times=s)


def _trading_chart(report: Report, s: dict[str, list[Any]]) -> Markup:
    x = s["x"]
    data = [
        _bar(x, s["revenue_eur"], "PnL (EUR)", "#4393c3", xaxis="x", yaxis="y"),
        _line(x, s["vwap_private"], "our VWAP", {"color": "#d6604d"}, mode="lines+markers", xaxis="x", yaxis="y2"),
        _line(x, s["vwap_public"], "market VWAP", {"color": "#4d4d4d", "dash": "dot"}, xaxis="x", yaxis="y2"),
    ]
    return _chart("chart-trading", data, _secondary_y_layout(report, "PnL (EUR)", "EUR/MWh"),
                  by_day=report.kind == "monthly", times=s)


def _imbalance_chart(report: Report, s: dict[str, list[Any]], internal: bool) -> Markup:
    x = s["x"]
    if not internal:
        data = [_bar(x, s["imbalance_mwh"], "imbalance (MWh)", "#8073ac")]
        layout = {"xaxis": _title(_axis_title(report)), "yaxis": _title("MWh (positive = long)")}
        return _chart("chart-imbalance", data, layout, by_day=report.kind == "monthly", times=s)
    data = [
        _bar(x, s["imbalance_mwh"], "net imbalance (MWh)", "#8073ac", xaxis="x", yaxis="y"),
        _line(x, s["imbalance_cost_eur"], "net settlement (EUR)", {"color": "#b2182b"}, xaxis="x", yaxis="y2"),
        _line(x, s["standalone_cost_eur"], "stand-alone sum (EUR)", {"color": "#f4a582", "dash": "dot"},
              xaxis="x", yaxis="y2"),
    ]
    return _chart("chart-imbalance", data, _secondary_y_layout(report, "MWh (positive = long)", "cost (EUR)"),
                  by_day=report.kind == "monthly", times=s)


def _money_chart(report: Report) -> Markup:
    m = report.row("money", PORTFOLIO)
    steps = [
        ("market value", m.get("market_value_eur"), "relative"),
        ("payout", -(m.get("payout_eur") or 0.0), "relative"),
        ("fees", m.get("fee_eur") or 0.0, "relative"),
        ("imbalance cost", -(m.get("imbalance_cost_eur") or 0.0), "relative"),
        ("margin", m.get("margin_eur"), "total"),
    ]
    data = [{
        "type": "waterfall", "x": [s[0] for s in steps],
        "y": [None if s[1] is None else round(s[1], 6) + 0.0 for s in steps],
        "measure": [s[2] for s in steps], "text": [fmt_eur(s[1]) for s in steps], "textposition": "outside",
    }]
    return _chart("chart-money", data, {"yaxis": _title("EUR"), "showlegend": False})


def _completeness_chart(report: Report) -> Markup:
    """The portfolio's chart: one stacked bar per asset."""
    c = report.completeness.filter(pl.col("scope") != PORTFOLIO)
    data = []
    for source in INFEED_SOURCES:
        part = c.filter(pl.col("source") == source)
        data.append(_bar(part["n_qh"].to_list(), part["scope"].to_list(), source, SOURCE_COLOURS[source],
                         orientation="h"))
    layout = {"barmode": "stack", "xaxis": _title("asset-QHs"), "yaxis": {"autorange": "reversed"}}
    return _chart("chart-completeness", data, layout, height=max(260, 40 + 28 * c["scope"].n_unique()))


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
    rows = [
        [r["source"], f"{r['n_qh']:,}", fmt_pct(None if r["n_qh_share"] is None else r["n_qh_share"] * 100),
         fmt_mwh(r["energy_mwh"])]
        for r in report.rows("completeness", scope)
    ]
    return ["source", "asset-QHs", "share of QHs", "energy"], rows


def _section(title: str, note: str, chart: Markup | None, table: Table) -> dict[str, Any]:
    header, rows = table
    return {"title": title, "note": note, "chart": chart, "header": header, "rows": rows,
            "anchor": title.lower().replace(" ", "-")}


@lru_cache(maxsize=1)
def _plotly_js() -> bytes:
    return get_plotlyjs().encode("utf-8")


# the parts of plotly's ``plotly_white`` template the charts use (bar, scatter and waterfall traces)
_TEMPLATE_TRACES = ("bar", "scatter", "waterfall")


@lru_cache(maxsize=1)
def _chart_setup() -> Markup:
    """The page's one script that draws a chart: plotly_white and the config, then ``Plotly.newPlot``."""
    import plotly.io as pio  # the template registry loads its JSON files on first use

    white = pio.templates["plotly_white"].to_plotly_json()
    template = {"data": {k: v for k, v in white.get("data", {}).items() if k in _TEMPLATE_TRACES},
                "layout": white.get("layout", {})}
    return Markup(
        f"const PLOTLY_TEMPLATE = {_json(template)};\n"
        f"const PLOTLY_CONFIG = {_json(PLOTLY_CONFIG)};\n"
        "function drawChart(id, data, layout) {\n"
        "  if (!window.Plotly) { document.getElementById(id).textContent = "
        "'The chart needs plotly.min.js next to this file.'; return; }\n"
        "  layout.template = PLOTLY_TEMPLATE;\n"
        "  Plotly.newPlot(id, data, layout, PLOTLY_CONFIG);\n"
        "}"
    )


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
<script src="{{ bundle }}"></script>
<script>
{{ chart_setup }}
</script>
</head>
<body>
<h1 id="report-title">{{ title }}</h1>
<p class="note">Delivery days {{ report.start_day.isoformat() }} to {{ report.end_day.isoformat() }} (Europe/Berlin).
Times in charts are Europe/Berlin local time; the hover also shows UTC.{% if not internal %} This report shows asset {{ scope }} only.{% endif %}</p>
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
