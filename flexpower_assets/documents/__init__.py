"""Documents sent to customers and DSOs: invoice PDFs and redispatch claim PDFs, and where they live.

Every document of a month is written under ``<documents>/invoices/<YYYY-MM>/``, in the documents
folder of the warehouse it was built from (``Settings.documents_root``; ``store.py`` keeps the
content hashes that bind each file to its warehouse row):
``INV-<contract>-<YYYY-MM>-v<version>.pdf`` per invoice version and
``DSO-CLAIM-<dso>-<YYYY-MM>.pdf`` per DSO. Ids come from outside (the CRM), so characters other
than letters, digits, ``.``, ``_`` and ``-`` are replaced by ``_`` in file names.
"""

from __future__ import annotations

import re
from pathlib import Path

from flexpower_assets.documents.invoice_pdf import render_dso_claim_pdf, render_invoice_pdf

__all__ = ["dso_claim_pdf_path", "invoice_pdf_path", "render_dso_claim_pdf", "render_invoice_pdf"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name)
    return "_" + cleaned if cleaned.startswith(".") else cleaned


def _month_dir(data_dir: Path | str, month: str) -> Path:
    if not _MONTH.match(month):
        raise ValueError(f"month {month!r} is not of the form 'YYYY-MM'")
    return Path(data_dir) / "invoices" / month


def invoice_pdf_path(data_dir: Path | str, invoice_id: str, month: str, version: int) -> Path:
    """``<documents>/invoices/<YYYY-MM>/<invoice_id>-v<version>.pdf``."""
    return _month_dir(data_dir, month) / f"{_safe(invoice_id)}-v{int(version)}.pdf"


def dso_claim_pdf_path(data_dir: Path | str, dso_id: str, month: str) -> Path:
    """``<documents>/invoices/<YYYY-MM>/DSO-CLAIM-<dso>-<YYYY-MM>.pdf``."""
    return _month_dir(data_dir, month) / f"DSO-CLAIM-{_safe(dso_id)}-{month}.pdf"
