"""Performance reports: every figure of a daily or monthly report, and its written summary.

Pure functions over polars frames: no Dagster, no I/O, no plotting. ``flexpower_assets.reports``
reads the inputs from the warehouse (``reports.inputs.load_report_inputs``) and draws the charts.
``build_daily_report``/``build_monthly_report`` turn the inputs into a ``Report``: one row per
scope (``"portfolio"`` and every asset) in each figure table, the series behind the charts, and
a rule-based written summary per scope. The package's modules: ``inputs`` (the tables read, their
columns from the schema registry), ``model`` (``Report``), ``figures``, ``series`` (charts),
``summary`` (English sentences) and ``text`` (numbers as text).

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
  (``domain.contracts``, the invoice's rule: exact decimals, rounded to the cent per run of days
  with the same terms; ``fixed_for_capacity`` pro rata: capacity x fee x active days / days of
  the month). Margin = market value - payout + fee - imbalance cost; the redispatch payout is
  passed through (claimed back from the DSO) and is not part of the margin. The portfolio's imbalance cost is the net
  settlement of the balancing group, so the portfolio margin exceeds the sum of the asset margins
  by the netting benefit.
"""

from __future__ import annotations

from datetime import date

from flexpower_assets.domain.reporting.figures import (
    accuracy_figures,
    accuracy_rows,
    active_contracts,
    asset_quarter_hours,
    completeness_figures,
    expected_quarter_hours,
    imbalance_figures,
    money_figures,
    production_figures,
    redispatch_figures,
    trading_figures,
    worst_forecast_hours,
)
from flexpower_assets.domain.reporting.inputs import INPUT_MODELS, ReportInputs, conform_input, input_columns
from flexpower_assets.domain.reporting.model import (
    INFEED_SOURCES,
    KW_PER_MWH_IN_QH,
    MEASURED_SOURCES,
    PORTFOLIO,
    REPORT_KINDS,
    Report,
    Summary,
)
from flexpower_assets.domain.reporting.series import error_series, imbalance_series, production_series, trading_series
from flexpower_assets.domain.reporting.summary import written_summaries
from flexpower_assets.domain.reporting.text import (
    fmt_eur,
    fmt_mwh,
    fmt_num,
    fmt_pct,
    fmt_price,
    report_markdown_summary,
)
from flexpower_assets.domain.time import day_ranges, month_days
from flexpower_assets.domain.time import quarter_hours_in_day as quarter_hours_of_day

__all__ = [
    "INFEED_SOURCES", "INPUT_MODELS", "KW_PER_MWH_IN_QH", "MEASURED_SOURCES", "PORTFOLIO", "REPORT_KINDS",
    "Report", "ReportInputs", "Summary", "build_daily_report", "build_monthly_report", "conform_input",
    "day_ranges", "fmt_eur", "fmt_mwh", "fmt_num", "fmt_pct", "fmt_price", "input_columns",
    "quarter_hours_of_day", "report_markdown_summary",
]


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
