"""The invoice page reads like the PDF, and the finance index filters and paginates."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from flexpower_assets.portal.app import create_app
from resources.warehouse import Warehouse

from .test_portal import World, as_, build_world

RICH = "INV-CON-A-2025-05"  # a May invoice of alice's contract with real-looking amounts


def _add_invoices(world: World) -> None:
    """One invoice with large amounts and lines, and 120 more invoices of other customers."""
    with Warehouse(world.warehouse).writer() as conn:
        columns = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_name = 'invoice' "
            "order by ordinal_position").fetchall()]
        rich = dict(invoice_id=RICH, version=1, contract_id="CON-A", asset_id="SOL-A", month="2025-05",
                    status="final", reason=None, net_eur=Decimal("37719.44"), vat_eur=Decimal("7166.69"),
                    gross_eur=Decimal("44886.13"), email="alice@example.com", is_current=True, document_sha256=None)
        many = [dict(invoice_id=f"INV-CON-X{n:03d}-2025-06", version=1, contract_id=f"CON-X{n:03d}",
                     asset_id=f"WND-X{n:03d}", month="2025-06", status="provisional" if n % 3 else "final",
                     reason=None, net_eur=Decimal("1000.00"), vat_eur=Decimal("190.00"), gross_eur=Decimal("1190.00"),
                     email=f"x{n}@example.com", is_current=True, document_sha256=None) for n in range(120)]
        frame = pl.DataFrame([rich, *many]).select(columns).with_columns(
            pl.col("net_eur", "vat_eur", "gross_eur").cast(pl.Decimal(18, 2)))
        conn.register("frame", frame.to_arrow())
        conn.execute("insert into main.invoice by name select * from frame")
        lines = pl.DataFrame([
            dict(invoice_id=RICH, version=1, line_type="infeed_payout", quantity=1234.5678, unit="MWh",
                 unit_price_eur=Decimal("31.5"), net_eur=Decimal("38580.24"), vat_eur=Decimal("7330.25"),
                 gross_eur=Decimal("45910.49"), line_no=1),
            dict(invoice_id=RICH, version=1, line_type="fee", quantity=1234.5678, unit="MWh",
                 unit_price_eur=Decimal("0.7"), net_eur=Decimal("860.80"), vat_eur=Decimal("163.56"),
                 gross_eur=Decimal("1024.36"), line_no=2),
        ]).with_columns(pl.col("net_eur", "vat_eur", "gross_eur").cast(pl.Decimal(18, 2)))  # the table's column types
        conn.register("lines", lines.to_arrow())
        conn.execute("insert into main.invoice_line by name select * from lines")
        conn.execute("insert into main.invoice_day_volume values (?, 1, ?, 1234.5678, 96, 96)",
                     [RICH, date(2025, 5, 31)])


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = build_world(tmp_path)
    _add_invoices(world)
    return world


@pytest.fixture
def client(world: World) -> TestClient:
    return TestClient(create_app(world.warehouse, world.data_dir, world.state_dir))


def _cells(html: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table id="{table_id}".*?</table>', html, re.S).group(0)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]


def test_the_invoice_page_reads_like_the_pdf(client: TestClient, world: World) -> None:
    page = client.get(f"/invoices/{RICH}", headers=as_(world, "alice"))
    assert page.status_code == 200
    html = page.text
    header = dict(row for row in _cells(html, "invoice-header"))
    assert header["Contract"] == "CON-A" and header["Month"] == "May 2025" and header["Status"] == "Final"
    lines = _cells(html, "invoice-lines")
    assert lines[0] == ["Line", "Description", "Quantity", "Unit price", "Net EUR", "VAT EUR", "Gross EUR"]
    # energy to the kWh (1,234.5678 MWh -> 1,234.568), money to the cent with thousands separators
    assert lines[1] == ["1. Infeed payout", "", "1,234.568 MWh", "31.50 EUR/MWh", "38,580.24", "7,330.25",
                        "45,910.49"]
    assert lines[2][0] == "2. Fee" and lines[2][3] == "0.70 EUR/MWh"
    totals = _cells(html, "invoice-totals")
    # payouts 38,580.24 net; fee -860.80; total as on the invoice row
    assert totals[1] == ["Payouts to you", "38,580.24", "7,330.25", "45,910.49"]
    assert totals[2] == ["Fee to us", "-860.80", "-163.56", "-1,024.36"]
    assert totals[3] == ["Total", "37,719.44", "7,166.69", "44,886.13"]
    assert "We pay you 44,886.13 EUR." in html
    assert "net_eur" not in html and "gross_eur" not in html and "37719.44" not in html
    days = _cells(html, "invoice-days")
    assert days[1] == ["2025-05-31", "1,234.568 MWh", "96 of 96", "0", ""]


def test_the_finance_index_filters_by_month_status_and_customer_and_paginates(client: TestClient,
                                                                               world: World) -> None:
    def invoices(query: str = "") -> tuple[list[str], str]:
        html = client.get(f"/?{query}", headers=as_(world, "finance")).text
        return [row[0] for row in _cells(html, "invoices")[1:]], html

    everything, html = invoices()
    # 3 June invoices of the world + alice's May invoice + 120 others = 124, 50 a page
    assert len(everything) == 50 and "1&ndash;50 of 124 invoices" in html and "page 1 of 3" in html
    last, html = invoices("page=3")
    assert len(last) == 24 and "101&ndash;124 of 124" in html and 'rel="next"' not in html
    assert not set(everything) & set(last)
    may, html = invoices("month=2025-05")
    assert may == [RICH] and "44,886.13 EUR" in html and "May 2025" in html
    final, _ = invoices("status=final&month=2025-06")
    assert len(final) == 40  # n = 0, 3, ..., 117 of the 120 (every third) are final
    found, _ = invoices("customer=con-x01")  # CON-X010 .. CON-X019
    assert found == [f"INV-CON-X{n:03d}-2025-06" for n in range(10, 20)]
    html = client.get("/?customer=nobody", headers=as_(world, "finance")).text
    assert 'id="invoices"' not in html and "No invoices match these filters" in html
    # the page links keep the filters
    html = client.get("/?status=provisional", headers=as_(world, "finance")).text
    assert 'href="/?status=provisional&amp;page=2"' in html
    # reports follow the month filter too
    reports = _cells(client.get("/?month=2025-06", headers=as_(world, "finance")).text, "reports")[1:]
    assert {row[1] for row in reports} == {"2025-06-08", "2025-06-09", "2025-06"}
    assert client.get("/?month=June", headers=as_(world, "finance")).status_code == 400


def test_a_customer_index_shows_only_its_own_invoices(client: TestClient, world: World) -> None:
    html = client.get("/", headers=as_(world, "alice")).text
    assert [row[0] for row in _cells(html, "invoices")[1:]] == [RICH, "INV-CON-A-2025-06"]  # by month
    assert "CON-X" not in html
