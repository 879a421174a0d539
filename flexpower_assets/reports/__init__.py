"""Performance reports as files: HTML per scope (Plotly charts) and a markdown summary for the UI.

The figures and the written summary come from ``flexpower_assets.domain.reporting``; this package
only draws and writes them. The Dagster assets call, per report::

    report = build_daily_report(day, load_report_inputs(warehouse, day, day))
    for scope in report.scopes:
        render_report_html(report, report_path(data_dir, "daily", day, scope), scope)
    report_markdown_summary(report)  # -> asset metadata
"""

from flexpower_assets.domain.reporting import (
    Report,
    ReportInputs,
    build_daily_report,
    build_monthly_report,
    load_report_inputs,
    report_markdown_summary,
)
from flexpower_assets.reports.html import REPORT_KINDS, render_report_html, report_html, report_path

__all__ = [
    "REPORT_KINDS",
    "Report",
    "ReportInputs",
    "build_daily_report",
    "build_monthly_report",
    "load_report_inputs",
    "render_report_html",
    "report_html",
    "report_markdown_summary",
    "report_path",
]
