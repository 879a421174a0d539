"""Invoice and DSO claim PDFs: what they print, their paths, and byte-identical re-renders."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from flexpower_assets.documents import (
    dso_claim_pdf_path,
    invoice_pdf_path,
    render_dso_claim_pdf,
    render_invoice_pdf,
)
from flexpower_assets.documents.invoice_pdf import money, number

INVOICE = {
    "invoice_id": "INV-C1-2025-06", "version": 2, "contract_id": "C1", "asset_id": "A1", "month": "2025-06",
    "status": "provisional", "reason": "3 of 192 QHs without final DSO data (best-of-infeed stands in)",
    "net_eur": Decimal("1291.87"), "vat_eur": Decimal("245.46"), "gross_eur": Decimal("1537.33"),
    "metering_point_id": "MP-A1", "email": "owner@example.com", "period_start": date(2025, 6, 1),
    "period_end": date(2025, 6, 30), "days_in_month": 30, "active_days": 30, "price_model": "fixed",
    "fee_model": "fixed_as_produced", "supersedes_version": 1, "changes": "infeed_payout net 1200.00 -> 1300.00",
}
# payout 16.25 MWh * 80 = 1300.00, VAT 247.00, gross 1547.00
# fee 16.25 MWh * 0.50 = 8.125 -> 8.13, VAT 8.13 * 0.19 = 1.5447 -> 1.54, gross 9.67
# invoice: net 1300.00 - 8.13 = 1291.87; VAT 247.00 - 1.54 = 245.46; gross 1291.87 + 245.46 = 1537.33
LINES = [
    {"line_no": 1, "line_type": "infeed_payout", "description": "Infeed 16.250 MWh at the fixed price of 80.00 EUR/MWh",
     "quantity": 16.25, "unit": "MWh", "unit_price_eur": Decimal("80.000000"), "net_eur": Decimal("1300.00"),
     "vat_eur": Decimal("247.00"), "gross_eur": Decimal("1547.00")},
    {"line_no": 2, "line_type": "fee", "description": "Fee on 16.250 MWh produced", "quantity": 16.25, "unit": "MWh",
     "unit_price_eur": Decimal("0.500000"), "net_eur": Decimal("8.13"), "vat_eur": Decimal("1.54"),
     "gross_eur": Decimal("9.67")},
    {"line_no": 3, "line_type": "redispatch_payout", "description": "Redispatch compensation: no curtailed QHs",
     "quantity": 0.0, "unit": "EUR compensation", "unit_price_eur": Decimal("1"), "net_eur": Decimal("0.00"),
     "vat_eur": Decimal("0.00"), "gross_eur": Decimal("0.00")},
]


def day_volumes(n_days: int) -> list[dict]:
    return [{"delivery_day": date(2025, 6, d), "volume_mwh": 0.5 * d, "final_qh": 96, "total_qh": 96,
             "redispatched_qh": 0, "source_summary": "final 96"} for d in range(1, n_days + 1)]


def text_of(path: Path) -> tuple[int, str]:
    reader = PdfReader(path)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_invoice_pdf_prints_id_version_lines_totals_and_days(tmp_path):
    path = render_invoice_pdf(INVOICE, LINES, day_volumes(2), invoice_pdf_path(tmp_path, "INV-C1-2025-06", "2025-06", 2))
    assert path == tmp_path / "invoices" / "2025-06" / "INV-C1-2025-06-v2.pdf"
    pages, text = text_of(path)
    assert pages == 1
    assert "Invoice INV-C1-2025-06 version 2" in text
    assert "owner@example.com" in text and "2025-06-01 to 2025-06-30" in text
    assert "provisional" in text and "3 of 192 QHs without final DSO data" in text
    assert "Total gross 1,537.33 EUR" in text and "We pay you 1,537.33 EUR." in text
    # line 1 as printed: quantity, unit, unit price, net, VAT, gross
    assert "16.25 MWh 80.00 1,300.00 247.00 1,547.00" in text
    assert "16.25 MWh 0.50 8.13 1.54 9.67" in text
    # totals: the payouts, the fee as a deduction, and the invoice total
    assert "Payouts to you 1,300.00 247.00 1,547.00" in text
    assert "Fee to us -8.13 -1.54 -9.67" in text
    assert "Total 1,291.87 245.46 1,537.33" in text
    assert "2025-06-02 1.000 96 96 0 final 96" in text  # 0.5 MWh * 2
    assert "version 1: infeed_payout net 1200.00 -> 1300.00" in text


def test_a_month_of_days_runs_onto_a_second_page(tmp_path):
    pages, text = text_of(render_invoice_pdf(INVOICE, LINES, day_volumes(30), tmp_path / "inv.pdf"))
    assert pages == 2
    assert "2025-06-30 15.000 96 96 0 final 96" in text  # 0.5 MWh * 30


def test_rendering_twice_gives_identical_bytes(tmp_path):
    first = render_invoice_pdf(INVOICE, LINES, day_volumes(30), tmp_path / "a.pdf")
    second = render_invoice_pdf(INVOICE, LINES, day_volumes(30), tmp_path / "b.pdf")
    assert first.read_bytes() == second.read_bytes()
    assert PdfReader(first).metadata.creation_date.date() == date(2025, 6, 1)


def test_blocked_invoice_pdf_has_the_reason_and_no_amounts(tmp_path):
    blocked = INVOICE | {"status": "blocked", "reason": "terms cannot be applied: price_model fixed without price",
                         "net_eur": None, "vat_eur": None, "gross_eur": None, "supersedes_version": None}
    _, text = text_of(render_invoice_pdf(blocked, [], day_volumes(1), tmp_path / "blocked.pdf"))
    assert "price_model fixed without price" in text
    assert "No amounts" in text and "Total gross" not in text


def test_negative_total_says_the_owner_pays(tmp_path):
    owing = INVOICE | {"net_eur": Decimal("-366.67"), "vat_eur": Decimal("-69.67"), "gross_eur": Decimal("-436.34")}
    _, text = text_of(render_invoice_pdf(owing, LINES, day_volumes(1), tmp_path / "owing.pdf"))
    assert "You pay us 436.34 EUR." in text


def test_dso_claim_pdf_prints_each_metering_point_and_the_total(tmp_path):
    claims = [
        {"asset_id": "A1", "metering_point_id": "MP-A1", "contract_id": "C1", "curtailed_qh": 4, "energy_mwh": 2.0,
         "amount_eur": Decimal("191.00")},
        {"asset_id": "A2", "metering_point_id": "MP-A2", "contract_id": "C2", "curtailed_qh": 1, "energy_mwh": 1.2,
         "amount_eur": Decimal("114.60")},
    ]
    path = render_dso_claim_pdf("DSO", "2025-06", claims, dso_claim_pdf_path(tmp_path, "DSO", "2025-06"))
    assert path == tmp_path / "invoices" / "2025-06" / "DSO-CLAIM-DSO-2025-06.pdf"
    pages, text = text_of(path)
    assert pages == 1
    assert "A1 MP-A1 C1 4 2.000 95.50 191.00" in text  # 191.00 EUR / 2.0 MWh = 95.50 EUR/MWh
    assert "Amount claimed 305.60 EUR" in text  # 191.00 + 114.60
    again = render_dso_claim_pdf("DSO", "2025-06", claims, tmp_path / "again.pdf")
    assert again.read_bytes() == path.read_bytes()


def test_paths_keep_ids_inside_the_month_folder(tmp_path):
    assert invoice_pdf_path(tmp_path, "INV-../x-2025-06", "2025-06", 1).parent == tmp_path / "invoices" / "2025-06"
    assert invoice_pdf_path(tmp_path, "INV-../x-2025-06", "2025-06", 1).name == "INV-.._x-2025-06-v1.pdf"
    with pytest.raises(ValueError, match="YYYY-MM"):
        invoice_pdf_path(tmp_path, "INV-C1-2025-06", "../2025", 1)


def test_number_formats():
    assert money(Decimal("1538.065")) == "1,538.07"  # half up
    assert number(0.666667, 2, 6) == "0.666667" and number(Decimal("80.000000")) == "80.00"
