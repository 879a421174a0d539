"""Where documents for people go: invoice PDFs, DSO claims and reports, in the documents folder
of the warehouse they are built from (``Settings.documents_root``)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg


class DocumentStore(dg.ConfigurableResource):
    """The folder under which ``invoices/<YYYY-MM>/`` and ``reports/`` are written."""

    path: str

    @property
    def root(self) -> Path:
        return Path(self.path)
