"""PDF layout of the monthly invoice and of the redispatch claim to a DSO.

fpdf2 writes the PDFs: it is pure Python (no system libraries such as Cairo or a browser, unlike
WeasyPrint or a headless Chrome), small, has a table API, and its output is reproducible once the
creation date and producer are fixed. Both documents set the creation date to the first day of
their month (00:00 UTC) and a fixed producer, so identical input gives byte-identical files and a
re-run rewrites a document without changing it.

The text uses fpdf2's built-in Helvetica (Latin-1: German umlauts work); a character outside
Latin-1 (possible in a CRM e-mail address) is printed as ``?``. Amounts print as ``1,234.56``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from flexpower_assets.documents.store import write_document

COMPANY = "RouteToMarket"
PRODUCER = "flexpower-assets documents"
LINE_TITLES = {"infeed_payout": "Infeed payout", "fee": "Fee", "redispatch_payout": "Redispatch payout"}
FEE_LINES = {"fee"}


# --- formatting ----------------------------------------------------------------------------------


def _latin1(text: Any) -> str:
    return str(text).encode("latin-1", errors="replace").decode("latin-1")


def money(value: Any) -> str:
    """``1,234.56``; ``-`` for no amount."""
    if value is None:
        return "-"
    return f"{Decimal(str(value)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def number(value: Any, min_places: int = 2, max_places: int = 6) -> str:
    """A quantity or unit price with trailing zeros dropped down to ``min_places`` decimals."""
    if value is None:
        return "-"
    exact = Decimal(str(value)).quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_HALF_UP)
    text = f"{exact:,.{max_places}f}"
    while text.count(".") and len(text.split(".")[1]) > min_places and text.endswith("0"):
        text = text[:-1]
    return text


def _month_start(month: str) -> datetime:
    year, number_ = (int(part) for part in month.split("-"))
    return datetime(year, number_, 1, tzinfo=timezone.utc)


# --- page --------------------------------------------------------------------------------------


class _Document(FPDF):
    """A4 page with the company in the header and page numbers in the footer."""

    def __init__(self, title: str, month: str):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.document_title = _latin1(title)
        self.set_creation_date(_month_start(month))
        self.set_producer(PRODUCER)
        self.set_creator(COMPANY)
        self.set_title(self.document_title)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)

    def header(self) -> None:
        self.set_font("Helvetica", "B", 10)
        self.cell(0, 6, COMPANY, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(160)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, f"{self.document_title} - page {self.page_no()} of {{nb}}", align="C")

    def heading(self, text: str, size: int = 14) -> None:
        self.set_font("Helvetica", "B", size)
        self.multi_cell(0, size * 0.5, _latin1(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def field(self, label: str, value: Any) -> None:
        self.set_font("Helvetica", "B", 9)
        self.cell(38, 5, _latin1(label))
        self.set_font("Helvetica", "", 9)
        self.multi_cell(0, 5, _latin1(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def grid(self, rows: list[list[str]], widths: tuple[float, ...], align: tuple[str, ...]) -> None:
        """A table whose first row is the heading (repeated on every page)."""
        self.set_font("Helvetica", "", 8)
        with self.table(col_widths=widths, text_align=align, width=sum(widths), align="LEFT",
                        borders_layout="HORIZONTAL_LINES", line_height=4.5, padding=(0.8, 1)) as table:
            for cells in rows:
                row = table.row()
                for cell in cells:
                    row.cell(_latin1(cell))
        self.ln(3)


# --- invoice -------------------------------------------------------------------------------------


def _line_rows(lines: list[dict]) -> list[list[str]]:
    rows = [["Line", "Description", "Quantity", "Unit", "Unit price EUR", "Net EUR", "VAT EUR", "Gross EUR"]]
    for line in sorted(lines, key=lambda l: l["line_no"]):
        rows.append([
            f"{line['line_no']}. {LINE_TITLES.get(line['line_type'], line['line_type'])}",
            line.get("description") or "", number(line["quantity"], 2, 6), line["unit"],
            number(line["unit_price_eur"], 2, 6), money(line["net_eur"]), money(line["vat_eur"]),
            money(line["gross_eur"]),
        ])
    return rows


def _total_rows(invoice: dict, lines: list[dict]) -> list[list[str]]:
    def total(kind: set[str] | None, column: str) -> Decimal:
        chosen = [l for l in lines if (kind is None and l["line_type"] not in FEE_LINES) or (kind and l["line_type"] in kind)]
        return sum((Decimal(str(l[column])) for l in chosen), Decimal(0))

    rows = [["", "Net EUR", "VAT 19 % EUR", "Gross EUR"]]
    rows.append(["Payouts to you", *(money(total(None, c)) for c in ("net_eur", "vat_eur", "gross_eur"))])
    rows.append(["Fee to us", *(money(-total(FEE_LINES, c)) for c in ("net_eur", "vat_eur", "gross_eur"))])
    rows.append(["Total", money(invoice["net_eur"]), money(invoice["vat_eur"]), money(invoice["gross_eur"])])
    return rows


def _day_rows(day_volumes: list[dict]) -> list[list[str]]:
    rows = [["Day", "Volume MWh", "Final QHs", "QHs", "Redispatched QHs", "Data sources"]]
    for day in sorted(day_volumes, key=lambda d: d["delivery_day"]):
        rows.append([
            str(day["delivery_day"]), number(day["volume_mwh"], 3, 6), str(day["final_qh"]), str(day["total_qh"]),
            str(day["redispatched_qh"]), day["source_summary"],
        ])
    return rows


def _settlement(gross: Any) -> str:
    amount = Decimal(str(gross))
    if amount >= 0:
        return f"We pay you {money(amount)} EUR."
    return f"You pay us {money(-amount)} EUR."


def render_invoice_pdf(invoice: dict, lines: list[dict], day_volumes: list[dict], path: Path) -> Path:
    """Write one invoice version as a PDF at ``path`` (folders created; rewritten when its bytes
    differ) and return the path."""
    write_document(path, invoice_pdf_content(invoice, lines, day_volumes))
    return Path(path)


def invoice_pdf_content(invoice: dict, lines: list[dict], day_volumes: list[dict]) -> bytes:
    """The bytes of one invoice version's PDF."""
    title = f"Invoice {invoice['invoice_id']} version {invoice['version']}"
    pdf = _Document(title, invoice["month"])
    pdf.add_page()
    pdf.heading(title)
    pdf.field("To", invoice.get("email") or "(no e-mail address in the contract)")
    pdf.field("Contract", invoice["contract_id"])
    pdf.field("Asset", f"{invoice['asset_id']} (metering point {invoice.get('metering_point_id') or '-'})")
    pdf.field("Month", invoice["month"])
    pdf.field("Period", f"{invoice['period_start']} to {invoice['period_end']} "
                        f"({invoice['active_days']} active days of {invoice['days_in_month']})")
    pdf.field("Terms", f"price model {invoice.get('price_model')}, fee model {invoice.get('fee_model')}")
    pdf.field("Status", invoice["status"])
    if invoice.get("reason"):
        pdf.field("Reason", invoice["reason"])
    if invoice.get("supersedes_version"):
        pdf.field("Supersedes", f"version {invoice['supersedes_version']}: {invoice.get('changes') or ''}")
    pdf.ln(3)
    if invoice["status"] == "blocked":
        pdf.heading("No amounts: the contract terms cannot be applied", 11)
    else:
        pdf.heading("Lines", 11)
        pdf.grid(_line_rows(lines), (24, 50, 18, 22, 16, 16, 15, 19), ("LEFT", "LEFT", "RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"))
        pdf.heading("Totals (payouts minus fee)", 11)
        pdf.grid(_total_rows(invoice, lines), (60, 35, 35, 35), ("LEFT", "RIGHT", "RIGHT", "RIGHT"))
        pdf.field("Total gross", f"{money(invoice['gross_eur'])} EUR")
        pdf.field("Settlement", _settlement(invoice["gross_eur"]))
        pdf.ln(3)
    pdf.heading("Volume per day", 11)
    pdf.grid(_day_rows(day_volumes), (22, 24, 18, 12, 26, 78), ("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT"))
    return bytes(pdf.output())


# --- DSO claim -------------------------------------------------------------------------------------


def render_dso_claim_pdf(dso_id: str, month: str, claims: list[dict], path: Path) -> Path:
    """Write the month's redispatch compensation claim to one DSO at ``path`` (rewritten when its
    bytes differ) and return the path."""
    write_document(path, dso_claim_pdf_content(dso_id, month, claims))
    return Path(path)


def dso_claim_pdf_content(dso_id: str, month: str, claims: list[dict]) -> bytes:
    """The bytes of the month's redispatch compensation claim to one DSO.

    ``claims``: one dict per asset / metering point with ``asset_id``, ``metering_point_id``,
    ``curtailed_qh``, ``energy_mwh`` (latest forecast energy of the curtailed QHs) and
    ``amount_eur`` (the compensation paid to the owner); ``contract_id`` is optional. The average
    compensation price is amount / energy.
    """
    title = f"Redispatch compensation claim DSO-CLAIM-{dso_id}-{month}"
    pdf = _Document(title, month)
    pdf.add_page()
    pdf.heading(title)
    pdf.field("To", dso_id)
    pdf.field("Month", month)
    pdf.field("Basis", "Latest forecast energy of each curtailed quarter-hour at the DSO compensation price, "
                       "as paid to the asset owners")
    pdf.ln(3)
    rows = [["Asset", "Metering point", "Contract", "Curtailed QHs", "Energy MWh", "Avg compensation EUR/MWh", "Amount EUR"]]
    total_qh, total_energy, total_amount = 0, Decimal(0), Decimal(0)
    for claim in sorted(claims, key=lambda c: (c["metering_point_id"], c["asset_id"])):
        energy, amount = Decimal(str(claim["energy_mwh"])), Decimal(str(claim["amount_eur"]))
        total_qh, total_energy, total_amount = total_qh + int(claim["curtailed_qh"]), total_energy + energy, total_amount + amount
        average = money(amount / energy) if energy else "-"
        rows.append([claim["asset_id"], claim["metering_point_id"], claim.get("contract_id") or "",
                     str(claim["curtailed_qh"]), number(energy, 3, 6), average, money(amount)])
    rows.append(["Total", "", "", str(total_qh), number(total_energy, 3, 6), "", money(total_amount)])
    pdf.grid(rows, (26, 28, 32, 20, 22, 28, 24), ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"))
    pdf.field("Amount claimed", f"{money(total_amount)} EUR")
    return bytes(pdf.output())
