"""Invoice PDFs and reports belong to the warehouse they were built from.

Two warehouses are built from the same landing zone with the same data folder (as a user who
only points FLEXPOWER_WAREHOUSE elsewhere): the first builds 2025-06-07, the second 2025-06-08,
so both issue invoice version 1 of the same ids with different amounts. Each portal serves its own
warehouse's PDF and lists only its own reports; a document that does not match its row is refused.
"""

from __future__ import annotations

import io
from dataclasses import replace

import dagster as dg
from fastapi.testclient import TestClient
from pypdf import PdfReader

from flexpower_assets.definitions import build_defs
from flexpower_assets.documents.invoice_pdf import money
from flexpower_assets.portal import create_app
from flexpower_assets.portal.tokens import TokenStore
from flexpower_assets.runner import run_partition
from resources.warehouse import Warehouse

from .conftest import make_settings


def _build(settings, day: str, jobs=("daily_job", "daily_reports_job", "monthly_job")) -> None:
    defs = build_defs(settings)
    with dg.instance_for_test() as instance:
        for job in jobs:
            key = "2025-06-01" if job == "monthly_job" else day
            summary = run_partition(defs, job, key, instance)
            assert summary.success, summary.error


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_two_warehouses_with_the_same_invoice_ids_each_serve_their_own_documents(sample_landing, tmp_path):
    first = make_settings(sample_landing, tmp_path)
    second = replace(first, warehouse_path=tmp_path / "other" / "second.duckdb")
    assert first.data_dir == second.data_dir and first.documents_root != second.documents_root
    assert second.documents_root == tmp_path / "other" / "second.documents"
    _build(first, "2025-06-07")
    _build(second, "2025-06-08")

    query = "select invoice_id, gross_eur, document_sha256 from main.invoice where is_current order by invoice_id"
    one, two = Warehouse(first.warehouse_path).read(query), Warehouse(second.warehouse_path).read(query)
    invoice_id = one["invoice_id"][0]
    assert invoice_id in two["invoice_id"].to_list()
    gross_one = one.filter(one["invoice_id"] == invoice_id)["gross_eur"][0]
    gross_two = two.filter(two["invoice_id"] == invoice_id)["gross_eur"][0]
    assert gross_one != gross_two  # the same id, version 1 in both, different money

    state = tmp_path / "portal"
    token = TokenStore(state).create("ada", "admin")
    headers = {"Authorization": f"Bearer {token}"}
    for settings, gross, day in ((second, gross_two, "2025-06-08"), (first, gross_one, "2025-06-07")):
        client = TestClient(create_app(settings.warehouse_path, settings.documents_root, state))
        pdf = client.get(f"/invoices/{invoice_id}/pdf", headers=headers)
        assert pdf.status_code == 200
        assert f"{money(gross)} EUR" in _pdf_text(pdf.content)
        reports = client.get("/api/reports", headers=headers).json()
        assert {r["period"] for r in reports if r["kind"] == "daily"} == {day}

    # another warehouse's file under this warehouse's name is refused, not served
    own = second.documents_root / "invoices" / "2025-06" / f"{invoice_id}-v1.pdf"
    own.write_bytes((first.documents_root / "invoices" / "2025-06" / f"{invoice_id}-v1.pdf").read_bytes())
    client = TestClient(create_app(second.warehouse_path, second.documents_root, state))
    refused = client.get(f"/invoices/{invoice_id}/pdf", headers=headers)
    assert refused.status_code == 409 and "does not match the warehouse" in refused.json()["detail"]
    report = second.documents_root / "reports" / "daily" / "2025-06-08" / "portfolio.html"
    report.write_text("<html>another plant</html>")
    assert client.get("/reports/daily/2025-06-08/portfolio", headers=headers).status_code == 409

    # a rebuild rewrites the documents whose bytes differ (not only missing ones) and serves again
    _build(second, "2025-06-08", jobs=("daily_reports_job", "monthly_job"))
    assert client.get(f"/invoices/{invoice_id}/pdf", headers=headers).status_code == 200
    assert client.get("/reports/daily/2025-06-08/portfolio", headers=headers).status_code == 200
    assert "another plant" not in report.read_text()
