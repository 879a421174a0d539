"""Monthly customer invoices: the invoice, its lines and the per-day volume table.

Money columns are ``Decimal(18, 2)``: amounts are computed with Python ``Decimal`` and rounded
half-up to the cent per line, so they are stored exactly (no float noise in a published amount).
Unit prices are ``Decimal(18, 6)`` (a fee percentage of 2.5 % is the unit price 0.025 per EUR of
market value). Quantities are floats rounded to 6 decimals. DOMAIN.md's ``invoice`` and
``invoice_line`` tables are the first columns of ``Invoice`` and ``InvoiceLine``; the rest are
additions for the document and the audit trail.

``version`` is 0 in what ``compute_invoices`` returns; ``assign_versions`` numbers the versions
from 1 and keeps every earlier one (``is_current`` marks the newest of each invoice).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import pandera.polars as pa
import polars as pl

Money = Annotated[pl.Decimal, 18, 2]
UnitPrice = Annotated[pl.Decimal, 18, 6]

INVOICE_STATUSES = ["final", "provisional", "blocked"]
LINE_TYPES = ["infeed_payout", "fee", "redispatch_payout"]
# Payouts are paid by the company to the owner, the fee by the owner to the company.
LINE_SIGN = {"infeed_payout": 1, "redispatch_payout": 1, "fee": -1}


class Invoice(pa.DataFrameModel):
    """contract x month x version: the totals (payouts minus fee; positive = company pays owner)."""

    invoice_id: str = pa.Field(nullable=False, description="INV-<contract_id>-<YYYY-MM>")
    version: int = pa.Field(ge=0)
    contract_id: str = pa.Field(nullable=False)
    asset_id: str = pa.Field(nullable=False)
    month: str = pa.Field(str_matches=r"^\d{4}-\d{2}$")
    status: str = pa.Field(isin=INVOICE_STATUSES)
    reason: str = pa.Field(nullable=True, description="why provisional or blocked; null when final")
    net_eur: Money = pa.Field(nullable=True)
    vat_eur: Money = pa.Field(nullable=True)
    gross_eur: Money = pa.Field(nullable=True)
    metering_point_id: str = pa.Field(nullable=True)
    email: str = pa.Field(nullable=True)
    period_start: dt.date = pa.Field(description="first active day of the contract in the month")
    period_end: dt.date = pa.Field(description="last active day of the contract in the month")
    days_in_month: int = pa.Field(ge=28, le=31)
    active_days: int = pa.Field(ge=1)
    built_days: int = pa.Field(ge=0, description="active days whose daily data has been built")
    missing_days: str = pa.Field(nullable=True, description="active days not built, comma-separated")
    volume_mwh: float = pa.Field(description="energy over the QHs of the built active days")
    n_qh: int = pa.Field(ge=0, description="QHs of the built active days")
    n_qh_not_final: int = pa.Field(ge=0, description="QHs of built active days without final data")
    n_qh_unpriced: int = pa.Field(ge=0, description="producing QHs without a public VWAP where needed")
    n_qh_redispatched: int = pa.Field(ge=0)
    n_qh_redispatch_unpriced: int = pa.Field(ge=0, description="redispatched QHs without forecast or price")
    price_model: str = pa.Field(nullable=True, description="distinct models of the month, comma-separated")
    fee_model: str = pa.Field(nullable=True, description="distinct models of the month, comma-separated")
    content_hash: str = pa.Field(nullable=False, description="sha256 of everything but the version")
    supersedes_version: int = pa.Field(nullable=True)
    changes: str = pa.Field(nullable=True, description="what changed against the superseded version")
    is_current: bool

    class Config:
        unique = ["invoice_id", "version"]


class InvoiceLine(pa.DataFrameModel):
    """One line of an invoice; amounts positive, the direction follows from ``line_type``.

    ``net_eur`` = quantity x unit price rounded half-up to the cent; VAT 19 % of net rounded to
    the cent; gross = net + VAT. Units: ``MWh`` (fixed price, fee per MWh), ``MW·month``
    (capacity fee, pro rata to the active days), ``EUR market value`` (market payout and
    percent-of-market fee), ``EUR compensation`` (redispatch payout).
    """

    invoice_id: str = pa.Field(nullable=False)
    version: int = pa.Field(ge=0)
    line_type: str = pa.Field(isin=LINE_TYPES)
    quantity: float
    unit: str
    unit_price_eur: UnitPrice
    net_eur: Money
    vat_eur: Money
    gross_eur: Money
    line_no: int = pa.Field(ge=1)
    description: str
    period_start: dt.date
    period_end: dt.date
    volume_mwh: float = pa.Field(description="the energy the line is about")

    class Config:
        unique = ["invoice_id", "version", "line_no"]


class InvoiceDayVolume(pa.DataFrameModel):
    """invoice x version x active day: the volume of the day and where its data came from."""

    invoice_id: str = pa.Field(nullable=False)
    version: int = pa.Field(ge=0)
    delivery_day: dt.date
    is_built: bool
    volume_mwh: float = pa.Field(nullable=True, description="null when the day is not built")
    final_qh: int = pa.Field(ge=0)
    total_qh: int = pa.Field(ge=92, le=100)
    redispatched_qh: int = pa.Field(ge=0)
    source_summary: str = pa.Field(description="QHs per source, e.g. 'final 92, live 4'")

    class Config:
        unique = ["invoice_id", "version", "delivery_day"]
