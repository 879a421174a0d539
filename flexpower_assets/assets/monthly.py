"""Monthly invoices: versioned tables and PDF documents, from the daily partitions already built.

The month's assets never rebuild a day: they read what the daily tables hold for the month
(days without daily data are named on the invoice and make it provisional). Contract terms are
taken for every day of the month from the CRM snapshots in the landing catalog, so a capacity
fee is pro rata to the contract's active days whether or not their data is built. Earlier
versions of an invoice are read back and written again with the new ones: the month's partition
always holds every version.
"""


from datetime import date

import dagster as dg
import polars as pl

from flexpower_assets.assets.metadata import markdown_table, partitioned_check_spec
from flexpower_assets.documents import dso_claim_pdf_path, invoice_pdf_path, render_dso_claim_pdf
from flexpower_assets.documents.invoice_pdf import invoice_pdf_content
from flexpower_assets.documents.store import indexed_file, record_documents, write_document
from flexpower_assets.domain import invoice_checks
from flexpower_assets.domain.invoicing import (
    InvoiceSet,
    active_terms,
    assign_versions,
    compute_invoices,
    month_days,
    redispatch_claims,
)
from flexpower_assets.domain.portfolio import applicable_snapshot
from flexpower_assets.domain.time import day_window
from flexpower_assets.ingestion.catalog import accepted_rows
from flexpower_assets.partitions import monthly_partitions, partition_days, partition_month
from resources.documents import DocumentStore
from resources.warehouse import Warehouse
from resources.warehouse_resource import WarehouseResource

MONTHLY_META = {"partition_expr": "month_start", "schema": "main"}
INVOICE_TABLES = {"invoice": "invoices", "invoice_line": "lines", "invoice_day_volume": "day_volumes"}
ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


def contracts_by_day(warehouse: Warehouse, days: list[date]) -> pl.DataFrame:
    """For every day, the contracts of the CRM snapshot that applies to it."""
    rows = accepted_rows(warehouse, "contracts")
    if rows.is_empty():
        return pl.DataFrame()
    frames = [applicable_snapshot(rows, day_window(day)[1]).with_columns(delivery_day=pl.lit(day, dtype=pl.Date))
              for day in days]
    return pl.concat(frames, how="vertical_relaxed")


def previous_versions(warehouse: Warehouse, month: str) -> list[pl.DataFrame | None]:
    """Every version issued so far for the month: invoices, lines, day volumes (None before the first)."""
    if not warehouse.table_exists("main", "invoice"):
        return [None, None, None]
    return [
        warehouse.read(f"select * exclude (month_start) from main.{table} where invoice_id in "
                       f"(select invoice_id from main.invoice where month = ?)", [month])
        for table in INVOICE_TABLES
    ]


def _month_of(context: dg.AssetExecutionContext) -> tuple[str, date]:
    return partition_month(context), partition_days(context)[0]


@dg.multi_asset(
    partitions_def=monthly_partitions,
    group_name="invoicing",
    outs={
        "invoice": dg.AssetOut(metadata=MONTHLY_META, kinds={"duckdb", "pdf"},
                               description="Invoices per contract and month, every version."),
        "invoice_line": dg.AssetOut(metadata=MONTHLY_META, description="Invoice lines, every version."),
        "invoice_day_volume": dg.AssetOut(metadata=MONTHLY_META,
                                          description="Per-day volume table of each invoice version."),
    },
    ins={
        "best_of_infeed": dg.AssetIn(),
        "asset_forecast": dg.AssetIn(),
        "trading_pnl": dg.AssetIn(),
        "compensation": dg.AssetIn(key=["core", "redispatch_compensation"]),
    },
    check_specs=[
        partitioned_check_spec("every_active_contract_invoiced", asset="invoice", partitions_def=monthly_partitions, blocking=True),
        partitioned_check_spec("lines_sum_to_totals", asset="invoice", partitions_def=monthly_partitions, blocking=True),
        partitioned_check_spec("vat_is_19_percent", asset="invoice", partitions_def=monthly_partitions, blocking=True),
        partitioned_check_spec("no_day_without_infeed", asset="invoice", partitions_def=monthly_partitions, blocking=True),
        partitioned_check_spec("market_invoices_priced", asset="invoice", partitions_def=monthly_partitions,
                          description="Market-model invoices have a public VWAP for every producing QH."),
    ],

)
def invoices(context: dg.AssetExecutionContext, warehouse: WarehouseResource, documents: DocumentStore,
             best_of_infeed: pl.DataFrame, asset_forecast: pl.DataFrame, trading_pnl: pl.DataFrame,
             compensation: pl.DataFrame):
    month, month_start = _month_of(context)
    days = month_days(month)
    terms = contracts_by_day(warehouse.get(), days)
    if terms.is_empty():
        raise dg.Failure(description=f"No CRM snapshot in the landing catalog: cannot invoice {month}.")
    built_days = sorted(set(best_of_infeed["delivery_day"].to_list())) if best_of_infeed.height else []
    vwap = (trading_pnl.select("delivery_start", "vwap_public") if trading_pnl.height
            else pl.DataFrame(schema={"delivery_start": pl.Datetime("us", "UTC"), "vwap_public": pl.Float64}))
    fresh = compute_invoices(month, terms, best_of_infeed, asset_forecast, vwap,
                             compensation.select("delivery_start", "price_eur_per_mwh") if compensation.height
                             else pl.DataFrame(schema={"delivery_start": pl.Datetime("us", "UTC"),
                                                       "price_eur_per_mwh": pl.Float64}),
                             built_days)
    every_version, issued = assign_versions(fresh, *previous_versions(warehouse.get(), month))
    every_version, paths = write_documents(documents, warehouse.get(), month, every_version)
    current = every_version.invoices.filter(pl.col("is_current"))
    status_counts = current.group_by("status").len().sort("status")
    summary = {
        "month": month,
        "invoices": current.height,
        "versions_issued_now": len(issued),
        "days_built": len(built_days),
        "statuses": dg.MetadataValue.md(markdown_table(status_counts)),
        "current": dg.MetadataValue.md(markdown_table(current.select(
            "invoice_id", "version", "status", "net_eur", "gross_eur", "reason"), max_rows=40)),
        "documents": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in paths[:40]) or "_none_"),
    }
    for name, attr in INVOICE_TABLES.items():
        frame = getattr(every_version, attr).with_columns(month_start=pl.lit(month_start, dtype=pl.Date))
        yield dg.Output(frame, output_name=name, metadata=summary if name == "invoice" else {})
    yield from invoice_check_results(every_version, terms, best_of_infeed, month)


def invoice_check_results(invoice_set: InvoiceSet, terms: pl.DataFrame, best_of_infeed: pl.DataFrame,
                          month: str | None = None):
    days = sorted(set(terms["delivery_day"].to_list()))
    active_ids = active_terms(terms, days)["contract_id"].unique().to_list()
    uninvoiced = invoice_checks.contracts_without_invoice(active_ids, invoice_set.invoices)
    mismatched = invoice_checks.totals_not_matching_lines(invoice_set.invoices, invoice_set.lines)
    bad_vat = invoice_checks.vat_not_19_percent(invoice_set.lines)
    boi_days = (best_of_infeed.filter(pl.col("source") != "missing").select("asset_id", "delivery_day")
                if best_of_infeed.height else pl.DataFrame(schema={"asset_id": pl.String, "delivery_day": pl.Date}))
    without_infeed = invoice_checks.days_used_without_infeed(invoice_set.day_volumes, invoice_set.invoices, boi_days)
    unpriced = invoice_checks.market_invoices_unpriced(invoice_set.invoices)
    named = f"month {month}" if month else None
    yield dg.AssetCheckResult(check_name="every_active_contract_invoiced", asset_key="invoice", description=named,
                              passed=not uninvoiced, severity=ERROR,
                              metadata={"missing": ", ".join(uninvoiced) or "none"})
    yield dg.AssetCheckResult(check_name="lines_sum_to_totals", asset_key="invoice", description=named, passed=mismatched.is_empty(),
                              severity=ERROR, metadata={"mismatches": dg.MetadataValue.md(markdown_table(mismatched))})
    yield dg.AssetCheckResult(check_name="vat_is_19_percent", asset_key="invoice", description=named, passed=bad_vat.is_empty(),
                              severity=ERROR, metadata={"wrong_lines": dg.MetadataValue.md(markdown_table(bad_vat))})
    yield dg.AssetCheckResult(check_name="no_day_without_infeed", asset_key="invoice", description=named,
                              passed=without_infeed.is_empty(), severity=ERROR,
                              metadata={"days": dg.MetadataValue.md(markdown_table(without_infeed))})
    yield dg.AssetCheckResult(check_name="market_invoices_priced", asset_key="invoice", description=named, passed=unpriced.is_empty(),
                              severity=WARN, metadata={"unpriced": dg.MetadataValue.md(markdown_table(unpriced))})


def write_documents(documents: DocumentStore, warehouse: Warehouse, month: str,
                    invoice_set: InvoiceSet) -> tuple[InvoiceSet, list[str]]:
    """One PDF per invoice version and one redispatch claim per DSO, each rewritten when its bytes
    differ. Returns the invoice set with every version's ``document_sha256`` (stored with the
    invoice row, which the portal checks before serving the PDF) and the current documents' paths;
    the claims go into the document index of the warehouse."""
    paths: list[str] = []
    hashes: list[str] = []
    for invoice in invoice_set.invoices.iter_rows(named=True):
        path = invoice_pdf_path(documents.root, invoice["invoice_id"], month, invoice["version"])
        key = (pl.col("invoice_id") == invoice["invoice_id"]) & (pl.col("version") == invoice["version"])
        content = invoice_pdf_content(invoice, invoice_set.lines.filter(key).to_dicts(),
                                      invoice_set.day_volumes.filter(key).to_dicts())
        hashes.append(write_document(path, content))
        if invoice["is_current"]:
            paths.append(str(path))
    claims = redispatch_claims(invoice_set)
    indexed = []
    for (dso_id,), rows in claims.partition_by("dso_id", as_dict=True).items() if claims.height else []:
        path = render_dso_claim_pdf(dso_id, month, rows.to_dicts(), dso_claim_pdf_path(documents.root, dso_id, month))
        indexed.append(indexed_file(documents.root, dso_id, path))
        paths.append(str(path))
    record_documents(warehouse, "dso_claim", month, indexed)
    invoices = invoice_set.invoices.with_columns(document_sha256=pl.Series(hashes, dtype=pl.String))
    return InvoiceSet(invoices=invoices, lines=invoice_set.lines, day_volumes=invoice_set.day_volumes), paths


monthly_assets = [invoices]
