"""The portal in a real headless Chromium (Debian's ``chromium`` package) driven by Playwright.

A customer logs in with its token, opens its asset's daily report (rendered from a test warehouse
by the report code itself) and its invoice, and the test reads what is on the screen: the charts
(drawn by the folder's plotly.min.js, served by the portal) and the summary are there, and the
other customer's asset and invoice are not. The same report also opens from disk, offline.

Chromium must be installed (``apt-get install -y chromium``); without it this test fails.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import uvicorn
from fpdf import FPDF
from pypdf import PdfReader

from flexpower_assets.documents.store import file_sha256
from flexpower_assets.domain.contracts import contract_days
from flexpower_assets.portal.app import create_app
from flexpower_assets.portal.tokens import TokenStore
from flexpower_assets.ports import free_port
from flexpower_assets.reports import build_daily_report, load_report_inputs, record_report_documents, render_reports
from resources.warehouse import Warehouse

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DAY = date(2025, 6, 8)
START = datetime(2025, 6, 7, 22, 0, tzinfo=timezone.utc)  # 2025-06-08 00:00 in Berlin
QHS = [START + timedelta(minutes=15 * i) for i in range(4)]
ASSETS = {"SOL-A": ("CON-A", "alice@example.com"), "WND-B": ("CON-B", "bob@example.com")}


def write_warehouse(path: Path) -> None:
    contracts = pl.DataFrame([
        dict(delivery_day=DAY, contract_id=c, asset_id=a, metering_point_id=f"MP-{a}", capacity_mw=1.0,
             technology="solar", contract_begin=date(2025, 1, 1), contract_end=None, price_model="market",
             price_eur_per_mwh=None, fee_model="percent_of_market", fee=None, fee_percent=3.0, email=e)
        for a, (c, e) in ASSETS.items()
    ], schema_overrides={"contract_end": pl.Date, "price_eur_per_mwh": pl.Float64, "fee": pl.Float64})
    per_asset = [(a, i, t) for a in ASSETS for i, t in enumerate(QHS)]
    infeed = pl.DataFrame([dict(delivery_day=DAY, asset_id=a, delivery_start=t, power_kw=400.0 + 100 * i,
                                energy_mwh=(400.0 + 100 * i) / 4000, source="final", is_redispatched=False)
                           for a, i, t in per_asset])
    forecast = pl.DataFrame([dict(delivery_day=DAY, asset_id=a, delivery_start=t, latest_power_kw=420.0 + 100 * i,
                                  tradeable_power_kw=440.0 + 100 * i) for a, i, t in per_asset])
    imbalance = pl.DataFrame([dict(delivery_day=DAY, asset_id=a, delivery_start=t, imbalance_mwh=-0.01,
                                   price_eur_per_mwh=90.0, price_source="final", imbalance_cost_eur=0.9)
                              for a, i, t in per_asset])
    pnl = pl.DataFrame([dict(delivery_day=DAY, delivery_start=t, revenue_eur=20.0, sold_mwh=0.25, bought_mwh=0.0,
                             net_mwh=0.25, vwap_private=80.0, vwap_public=79.0, public_mwh=50.0) for t in QHS])
    invoices = pl.DataFrame([
        dict(invoice_id=f"INV-{c}-2025-06", version=1, contract_id=c, asset_id=a, month="2025-06",
             status="provisional", reason="29 days not built", net_eur=Decimal("100.00"), vat_eur=Decimal("19.00"),
             gross_eur=Decimal("119.00") if a == "SOL-A" else Decimal("238.00"), is_current=True)
        for a, (c, _) in ASSETS.items()
    ])
    with Warehouse(path).writer() as conn:
        for schema in ("raw", "core", "main"):
            conn.execute(f"create schema if not exists {schema}")
        for name, frame in {"raw.raw_crm__contracts": contracts, "core.contract_days": contract_days(contracts),
                            "main.best_of_infeed": infeed,
                            "main.asset_forecast": forecast, "main.asset_imbalance": imbalance,
                            "main.trading_pnl": pnl, "main.invoice": invoices}.items():
            conn.register("frame", frame.to_arrow())
            conn.execute(f"create table {name} as select * from frame")
            conn.unregister("frame")


def write_invoice_pdf(path: Path, invoice_id: str, gross: str) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=f"Invoice {invoice_id} version 1")
    pdf.ln()
    pdf.cell(text=f"Gross total {gross} EUR")
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    data_dir = tmp_path / "data"
    warehouse = data_dir / "warehouse" / "flexpower.duckdb"
    write_warehouse(warehouse)
    report = build_daily_report(DAY, load_report_inputs(Warehouse(warehouse), DAY, DAY))
    record_report_documents(Warehouse(warehouse), data_dir, report, render_reports(report, data_dir))
    with Warehouse(warehouse).writer() as conn:  # the hash the monthly run stores with each invoice row
        conn.execute("alter table main.invoice add column document_sha256 varchar")
        for contract, gross in (("CON-A", "119.00"), ("CON-B", "238.00")):
            invoice_id = f"INV-{contract}-2025-06"
            path = data_dir / "invoices" / "2025-06" / f"{invoice_id}-v1.pdf"
            write_invoice_pdf(path, invoice_id, gross)
            conn.execute("update main.invoice set document_sha256 = ? where invoice_id = ?",
                         [file_sha256(path), invoice_id])
    store = TokenStore(data_dir / "portal")
    tokens = {"alice": store.create("alice", "customer", "CON-A"), "bob": store.create("bob", "customer", "CON-B")}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(warehouse, data_dir, data_dir / "portal"),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the portal did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", tokens, data_dir
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_customer_sees_its_report_and_invoice_and_nothing_else(portal: tuple[str, dict[str, str], Path]) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium with `apt-get install -y chromium` "
                    "(`.ci/run` does this when it is missing)")
    from playwright.sync_api import sync_playwright

    base, tokens, data_dir = portal
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})  # a laptop screen
            # not logged in: the login page
            page.goto(f"{base}/")
            assert page.locator("#login-button").is_visible()
            page.fill("#token", tokens["alice"])
            page.click("#login-button")
            page.wait_for_url(f"{base}/")
            assert "alice (customer, contract CON-A)" in page.locator("#whoami").inner_text()
            reports = page.locator("#reports").inner_text()
            assert "SOL-A" in reports and "WND-B" not in reports and "portfolio" not in reports
            invoices = page.locator("#invoices").inner_text()
            assert "INV-CON-A-2025-06" in invoices and "CON-B" not in invoices
            assert "WND-B" not in page.content() and "bob" not in page.content()

            assert page.evaluate("document.documentElement.scrollWidth") <= 1280

            # the report: summary and drawn charts, the asset's own figures only
            with page.expect_response(f"{base}/reports/daily/2025-06-08/plotly.min.js") as bundle:
                page.click("#reports a:has-text('SOL-A')")
            assert bundle.value.status == 200  # plotly.js from the report's folder, through the portal
            page.wait_for_url(f"{base}/reports/daily/2025-06-08/SOL-A")
            assert page.locator("#report-title").inner_text() == "Daily performance report 2025-06-08 - asset SOL-A"
            summary = page.locator("#summary").inner_text()
            assert "What happened" in summary and "asset SOL-A produced 0.550 MWh" in summary
            # 4 QHs of 400, 500, 600, 700 kW: (400 + 500 + 600 + 700) / 4000 = 0.55 MWh
            page.wait_for_selector("#chart-production .main-svg")
            drawn = page.locator(".plotly-graph-div.js-plotly-plot .main-svg").count()
            assert page.locator(".plotly-graph-div").count() == 3 and drawn >= 3
            # the production chart holds the asset's 4 QHs: 6 traces (4 sources, 2 forecasts)
            assert page.evaluate("document.getElementById('chart-production').data.length") == 6
            # the first trace is the final production: 400, 500, 600, 700 kW / 4000 = MWh per QH
            assert page.evaluate("document.getElementById('chart-production').data[0].y") == [0.1, 0.125, 0.15, 0.175]
            text = page.locator("body").inner_text()
            assert "WND-B" not in text and "Trading" not in text and "margin" not in text.lower()

            # the invoice page and its PDF, fetched with the browser's session
            page.goto(f"{base}/")
            page.click("#invoices a:has-text('INV-CON-A-2025-06')")
            page.wait_for_url(f"{base}/invoices/INV-CON-A-2025-06")
            assert page.locator("#invoice-title").inner_text() == "Invoice INV-CON-A-2025-06, version 1"
            assert "119.00 EUR" in page.locator("#invoice-gross").inner_text()
            assert "Month\tJune 2025" in page.locator("#invoice-header").inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scrolling
            pdf_url = page.locator("#invoice-pdf").get_attribute("href")
            response = page.request.get(f"{base}{pdf_url}")
            assert response.status == 200 and response.headers["content-type"] == "application/pdf"
            pdf_text = PdfReader(io.BytesIO(response.body())).pages[0].extract_text()
            assert "INV-CON-A-2025-06" in pdf_text and "119.00" in pdf_text

            # bob's report and invoice are not found for alice, exactly like things that do not exist
            for url in ("/reports/daily/2025-06-08/WND-B", "/invoices/INV-CON-B-2025-06",
                        "/reports/daily/2025-06-08/portfolio"):
                answer = page.goto(f"{base}{url}")
                assert answer.status == 404 and page.locator("body").inner_text() == '{"detail":"Not Found"}'
            assert page.request.get(f"{base}/invoices/INV-CON-B-2025-06/pdf").status == 404

            # the report folder opens from disk too, offline: its plotly.min.js is next to it
            offline = browser.new_page()
            offline.route("http*://**", lambda route: route.abort())  # no network at all
            offline.goto((data_dir / "reports" / "daily" / "2025-06-08" / "SOL-A.html").as_uri())
            offline.wait_for_selector("#chart-imbalance .main-svg")
            assert offline.locator(".plotly-graph-div.js-plotly-plot").count() == 3
            offline.close()

            # logging out ends the session
            page.goto(f"{base}/")
            page.click("text=Log out")
            page.wait_for_url(f"{base}/login")
            assert page.goto(f"{base}/reports/daily/2025-06-08/SOL-A").status == 401
        finally:
            browser.close()
