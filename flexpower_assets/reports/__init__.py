"""Performance reports as files: HTML per scope (Plotly charts) and a markdown summary for the UI.

The figures and the written summary come from ``flexpower_assets.domain.reporting``; this package
reads their inputs from the warehouse (``inputs``), draws and writes them. The Dagster assets call, per report::

    report = build_daily_report(day, load_report_inputs(warehouse, day, day))
    paths = render_reports(report, documents_dir)  # every scope, and the folder's plotly.min.js
    record_report_documents(warehouse, documents_dir, report, paths)  # their SHA-256 in the warehouse
    report_markdown_summary(report)  # -> asset metadata
"""

from flexpower_assets.domain.reporting import (
    Report,
    ReportInputs,
    build_daily_report,
    build_monthly_report,
    report_markdown_summary,
)
from flexpower_assets.reports.html import (
    PLOTLY_BUNDLE,
    REPORT_KINDS,
    plotly_bundle_path,
    record_report_documents,
    render_report_html,
    render_reports,
    report_html,
    report_path,
    write_plotly_bundle,
)
from flexpower_assets.reports.inputs import load_report_inputs

__all__ = [
    "PLOTLY_BUNDLE",
    "REPORT_KINDS",
    "Report",
    "ReportInputs",
    "build_daily_report",
    "build_monthly_report",
    "load_report_inputs",
    "plotly_bundle_path",
    "record_report_documents",
    "render_report_html",
    "render_reports",
    "report_html",
    "report_markdown_summary",
    "report_path",
    "write_plotly_bundle",
]
