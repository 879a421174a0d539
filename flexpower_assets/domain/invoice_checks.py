"""Data-quality rules over issued invoices (DOMAIN.md, Invoices): each returns the offending rows.

An empty result means the rule holds. The Dagster checks of the invoice assets call these.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from flexpower_assets.schemas.invoicing import LINE_SIGN

VAT_RATE = Decimal("0.19")


def contracts_without_invoice(active_contract_ids: list[str], invoices: pl.DataFrame) -> list[str]:
    """Contracts active in the month that have no current invoice."""
    invoiced = set(invoices.filter(pl.col("is_current"))["contract_id"].to_list())
    return sorted(set(active_contract_ids) - invoiced)


def totals_not_matching_lines(invoices: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Computable invoices whose net, VAT or gross differ from the signed sum of their lines."""
    signed = lines.with_columns(sign=pl.col("line_type").replace_strict(LINE_SIGN, return_dtype=pl.Int8))
    sums = signed.group_by("invoice_id", "version").agg(
        [(pl.col(c) * pl.col("sign")).sum().alias(f"lines_{c}") for c in ("net_eur", "vat_eur", "gross_eur")])
    computable = invoices.filter(pl.col("status") != "blocked")
    joined = computable.join(sums, on=["invoice_id", "version"], how="left")
    differs = pl.lit(False)
    for column in ("net_eur", "vat_eur", "gross_eur"):
        differs = differs | pl.col(f"lines_{column}").is_null() | (pl.col(column) != pl.col(f"lines_{column}"))
    return joined.filter(differs).select("invoice_id", "version", "net_eur", "lines_net_eur", "gross_eur",
                                         "lines_gross_eur")


def vat_not_19_percent(lines: pl.DataFrame) -> pl.DataFrame:
    """Lines whose VAT is not 19 % of their net, rounded half-up to the cent."""
    wrong = [
        row for row in lines.select("invoice_id", "version", "line_no", "net_eur", "vat_eur").iter_rows(named=True)
        if (Decimal(row["net_eur"]) * VAT_RATE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        != Decimal(row["vat_eur"])
    ]
    return pl.DataFrame(wrong, schema=lines.select("invoice_id", "version", "line_no", "net_eur", "vat_eur").schema)


def days_used_without_infeed(day_volumes: pl.DataFrame, invoices: pl.DataFrame,
                             best_of_infeed_days: pl.DataFrame) -> pl.DataFrame:
    """Invoice days counted with a volume although the asset has no best-of-infeed that day."""
    used = (day_volumes.filter(pl.col("volume_mwh").is_not_null())
            .join(invoices.select("invoice_id", "version", "asset_id"), on=["invoice_id", "version"]))
    present = best_of_infeed_days.select("asset_id", "delivery_day").unique()
    return used.join(present, on=["asset_id", "delivery_day"], how="anti").select(
        "invoice_id", "version", "asset_id", "delivery_day")


def market_invoices_unpriced(invoices: pl.DataFrame) -> pl.DataFrame:
    """Current invoices priced at the market (a market price or a percent-of-market fee) with
    producing quarter-hours that have no public VWAP (``n_qh_unpriced`` counts only those)."""
    return invoices.filter(pl.col("is_current") & (pl.col("n_qh_unpriced") > 0)).select(
        "invoice_id", "version", "n_qh_unpriced")
