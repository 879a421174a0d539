"""Monthly customer invoices (DOMAIN.md, Invoices): amounts, status, versions and DSO claims.

What belongs here: turning a month of contract terms, best-of-infeed, forecasts and prices into
invoices, invoice lines and per-day volume tables; numbering their versions; listing the
redispatch payouts to reclaim from the DSOs. No Dagster, no files.

Rules fixed here where DOMAIN.md is silent (tested in tests/unit/test_invoicing.py):

- **Money** is computed with ``Decimal`` from the exact values of the float inputs and rounded
  half-up (away from zero at .5) to the cent once per line: net = round(quantity x unit price),
  VAT = round(net x 19 %), gross = net + VAT. Invoice totals are the signed sums of the lines
  (payouts minus fee; positive = the company pays the owner).
- **Units**: fixed price and fee per MWh: quantity in ``MWh`` (6 decimals) x EUR/MWh. Capacity
  fee: quantity in ``MW·month`` = capacity x active days / days in month (shown to 6 decimals;
  the net is the exact fraction rounded to the cent). Lines priced QH by QH (market payout,
  percent-of-market fee, redispatch payout) have no single EUR/MWh price, so their quantity is
  the priced value itself in EUR (``EUR market value``, ``EUR compensation``) and the unit price
  the share paid: 1 for payouts, fee_percent / 100 for the fee. Their ``volume_mwh`` and
  description carry the energy and the average price.
- **Terms that change within the month**: every day is priced with that day's terms; a line
  type gets one line per run of consecutive active days with the same terms (e.g. a price change
  on the 15th gives two infeed lines, each with its period). The redispatch payout needs no terms
  and is one line.
- **Volume** is the energy of the QHs of the contract's active days whose data is built, taken
  as measured: negative night-time solar values reduce it. A line whose formula gives a negative
  sum (e.g. a market value in a month of negative prices) keeps its sign.
- **Unpriced QHs**: a QH with energy != 0 whose public VWAP is missing, on a day whose terms need
  it (market price or percent-of-market fee), is valued at 0 and counted; the invoice is
  provisional and its reason says how many. Likewise a redispatched QH without a latest forecast
  or a compensation price.
- **Status**: ``final`` when every active day is built, every one of its QHs has final DSO data
  and nothing is unpriced; otherwise ``provisional`` with the counts and the missing days named.
  ``blocked`` when some active day's terms cannot be applied (fixed price without a price, a fee
  model without its fee / fee_percent, an unknown model): reason given, amounts null, no lines.
  A blocked contract is computed on its own and never affects another invoice; its per-day
  volumes are still listed (they do not depend on the terms). Also ``blocked``: a contract in
  conflict on some active day (another active contract for its asset, or its metering point on
  another asset: both would be paid for the same energy), and a contract with a built QH whose
  energy, or redispatched forecast energy, is beyond 110 % of its capacity for 15 minutes (either
  sign): a number that cannot be physical is never paid out.
- **Versions**: an invoice's identity is its id; its content hash covers all columns of the
  invoice, its lines and its day volumes except the version fields. An unchanged hash keeps the
  issued version; a changed one issues version n + 1 that supersedes n and says what changed.
- **DSO of a metering point**: the inbound data does not name it, so every metering point belongs
  to one configurable DSO id (``DEFAULT_DSO_ID``) unless a mapping is given.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from flexpower_assets.domain import contracts
from flexpower_assets.domain.contracts import ZERO, Amount, DaySums, cents, micro
from flexpower_assets.domain.contracts import dec as _dec
from flexpower_assets.domain.infeed import CAPACITY_TOLERANCE
from flexpower_assets.domain.portfolio import contract_conflicts
from flexpower_assets.domain.time import UTC_DATETIME, day_ranges, delivery_day_of, month_days, quarter_hours_in_day
from flexpower_assets.schemas import columns_of, validate
from flexpower_assets.schemas.inbound import Contract
from flexpower_assets.schemas.invoicing import LINE_SIGN, LINE_TYPES, Invoice, InvoiceDayVolume, InvoiceLine
from flexpower_assets.schemas.published import SOURCES

VAT_RATE = Decimal("0.19")
DEFAULT_DSO_ID = "DSO"
# Columns that are not content: excluded from the content hash and the change description.
VERSION_FIELDS = ("version", "content_hash", "supersedes_version", "changes", "is_current")
# The contract columns an invoice reads: the registry's, without what does not bill.
TERM_COLUMNS = [c for c in columns_of(Contract) if c not in ("technology", "snapshot_created_at")]


@dataclass(frozen=True)
class InvoiceSet:
    """Invoices (schemas.invoicing.Invoice), their lines and their per-day volumes."""

    invoices: pl.DataFrame
    lines: pl.DataFrame
    day_volumes: pl.DataFrame


# --- small helpers --------------------------------------------------------------------------------


__all__ = ["InvoiceSet", "assign_versions", "cents", "compute_invoices", "dso_of_metering_point", "month_days",
           "redispatch_claims"]


def invoice_id_of(contract_id: str, month: str) -> str:
    """``INV-<contract_id>-<YYYY-MM>``."""
    return f"INV-{contract_id}-{month}"


def _require(frame: pl.DataFrame, name: str, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing columns {missing} (has {frame.columns})")


def _unique_on(frame: pl.DataFrame, name: str, keys: list[str]) -> pl.DataFrame:
    duplicated = frame.filter(pl.struct(keys).is_duplicated())
    if not duplicated.is_empty():
        first = duplicated.row(0, named=True)
        raise ValueError(f"{name}: more than one row for {', '.join(f'{k}={first[k]}' for k in keys)}")
    return frame


def _as_utc(expr_name: str) -> pl.Expr:
    return pl.col(expr_name).cast(UTC_DATETIME)


# --- inputs --------------------------------------------------------------------------------------


def active_terms(contracts_by_day: pl.DataFrame, days: list[date]) -> pl.DataFrame:
    """One row per (contract, day of ``days``) on which the contract is active, with that day's terms."""
    _require(contracts_by_day, "contracts_by_day", ["delivery_day", *TERM_COLUMNS])
    terms = (
        contracts_by_day.select("delivery_day", *TERM_COLUMNS)
        .with_columns(pl.col("delivery_day").cast(pl.Date))
        .filter(
            pl.col("delivery_day").is_in(days) & contracts.is_active()
        )
    )
    return _unique_on(terms, "contracts_by_day", ["contract_id", "delivery_day"]).sort("contract_id", "delivery_day")


def _qh_rows(
    terms: pl.DataFrame,
    best_of_infeed: pl.DataFrame,
    asset_forecast: pl.DataFrame,
    public_vwap: pl.DataFrame,
    redispatch_compensation: pl.DataFrame,
) -> pl.DataFrame:
    """Every best-of-infeed QH of the given (contract, day)s with its VWAP, forecast and compensation."""
    _require(best_of_infeed, "best_of_infeed", ["asset_id", "delivery_start", "energy_mwh", "source", "is_redispatched"])
    _require(asset_forecast, "asset_forecast", ["asset_id", "delivery_start", "latest_energy_mwh"])
    _require(public_vwap, "public_vwap", ["delivery_start", "vwap_public"])
    _require(redispatch_compensation, "redispatch_compensation", ["delivery_start", "price_eur_per_mwh"])
    infeed = best_of_infeed.select(
        "asset_id", _as_utc("delivery_start"), pl.col("energy_mwh").cast(pl.Float64),
        pl.col("source").cast(pl.String), pl.col("is_redispatched").cast(pl.Boolean),
    ).with_columns(delivery_day=delivery_day_of(pl.col("delivery_start")))
    vwap = _unique_on(
        public_vwap.select(_as_utc("delivery_start"), pl.col("vwap_public").cast(pl.Float64)),
        "public_vwap", ["delivery_start"],
    )
    forecast = _unique_on(
        asset_forecast.select("asset_id", _as_utc("delivery_start"), pl.col("latest_energy_mwh").cast(pl.Float64)),
        "asset_forecast", ["asset_id", "delivery_start"],
    )
    compensation = _unique_on(
        redispatch_compensation.select(
            _as_utc("delivery_start"), pl.col("price_eur_per_mwh").cast(pl.Float64).alias("compensation_eur_per_mwh")
        ),
        "redispatch_compensation", ["delivery_start"],
    )
    return (
        terms.select("contract_id", "asset_id", "delivery_day", pl.col("capacity_mw").cast(pl.Float64))
        .join(_unique_on(infeed, "best_of_infeed", ["asset_id", "delivery_start"]), on=["asset_id", "delivery_day"])
        .join(vwap, on="delivery_start", how="left")
        .join(forecast, on=["asset_id", "delivery_start"], how="left")
        .join(compensation, on="delivery_start", how="left")
        .sort("contract_id", "delivery_start")
    )


@dataclass
class _Day(DaySums):
    """What one built active day of a contract adds up to (exact decimals)."""

    rows: int = 0
    final_qh: int = 0
    redispatched_qh: int = 0
    redispatch_energy: Decimal = ZERO
    redispatch_value: Decimal = ZERO
    redispatch_unpriced_qh: int = 0
    implausible_qh: int = 0
    sources: dict[str, int] | None = None


def _day_stats(qh_rows: pl.DataFrame) -> dict[tuple[str, date], _Day]:
    stats: dict[tuple[str, date], _Day] = defaultdict(lambda: _Day(sources=defaultdict(int)))
    columns = ["contract_id", "delivery_day", "energy_mwh", "source", "is_redispatched", "vwap_public",
               "latest_energy_mwh", "compensation_eur_per_mwh", "capacity_mw"]
    rows = qh_rows.select(columns).iter_rows()
    for contract_id, day, energy, source, redispatched, vwap, forecast, compensation, capacity in rows:
        s = stats[(contract_id, day)]
        s.rows += 1
        s.sources[source] += 1
        if _implausible(energy, capacity) or (redispatched and _implausible(forecast, capacity)):
            s.implausible_qh += 1
        if s.add(energy, vwap) is not None and source == "final":
            s.final_qh += 1
        if redispatched:
            s.redispatched_qh += 1
            forecast_d, compensation_d = _dec(forecast), _dec(compensation)
            if forecast_d is not None:
                s.redispatch_energy += forecast_d
            if forecast_d is None or compensation_d is None:
                s.redispatch_unpriced_qh += 1
            else:
                s.redispatch_value += forecast_d * compensation_d
    return stats


def _implausible(energy_mwh: float | None, capacity_mw: float | None) -> bool:
    """Energy of a QH beyond 110 % of the capacity for 15 minutes, either sign."""
    if energy_mwh is None or capacity_mw is None:
        return False
    return abs(energy_mwh) > CAPACITY_TOLERANCE * capacity_mw * 0.25


# --- terms ----------------------------------------------------------------------------------------


def term_problems(terms: Mapping[str, Any]) -> list[str]:
    """Why a day's contract terms cannot be applied (empty when they can): ``contracts.term_issues``
    that block an amount, in the invoice's words."""
    fee, fee_percent = _dec(terms["fee"]), _dec(terms["fee_percent"])
    texts = {
        "unknown_price_model": f"unknown price_model {terms['price_model']!r}",
        "price_missing": "price_model fixed without price",
        "unknown_fee_model": f"unknown fee_model {terms['fee_model']!r}",
        "fee_missing": f"fee_model {terms['fee_model']} without fee"
                       + (f" (fee_percent {fee_percent} given)" if fee_percent is not None else ""),
        "fee_percent_missing": "fee_model percent_of_market without fee_percent"
                               + (f" (fee {fee} given)" if fee is not None else ""),
        "capacity_missing": "fee_model fixed_for_capacity without capacity",
    }
    return [texts[issue.code] for issue in contracts.blocking_issues(terms)]


def _needs_vwap(terms: Mapping[str, Any]) -> bool:
    return terms["price_model"] == "market" or terms["fee_model"] == "percent_of_market"


# --- lines ---------------------------------------------------------------------------------------


def _fmt(value: Decimal, places: int = 2) -> str:
    return f"{value:,.{places}f}"


def _line(amount: Amount, description: str, volume: Decimal | None = None) -> dict:
    net = amount.net
    vat = cents(net * VAT_RATE)
    return {
        "line_type": amount.line_type, "description": description,
        "period_start": amount.period[0], "period_end": amount.period[1],
        "quantity": float(amount.quantity), "unit": amount.unit, "unit_price_eur": amount.unit_price,
        "net_eur": net, "vat_eur": vat, "gross_eur": net + vat,
        "volume_mwh": float(micro(amount.volume if volume is None else volume)),
    }


def _average(value: Decimal, volume: Decimal) -> str:
    return f"avg {_fmt(value / volume)} EUR/MWh" if volume != 0 else "no volume"


def _infeed_text(amount: Amount) -> str:
    if amount.terms["price_model"] == "fixed":
        return f"Infeed {_fmt(amount.quantity, 3)} MWh at the fixed price of {_fmt(amount.unit_price)} EUR/MWh"
    return (f"Infeed {_fmt(micro(amount.volume), 3)} MWh at the public VWAP of each QH "
            f"({_average(amount.quantity, amount.volume)})")


def _fee_text(amount: Amount, days_in_month: int) -> str:
    model = amount.terms["fee_model"]
    if model == "fixed_as_produced":
        return f"Fee on {_fmt(amount.quantity, 3)} MWh produced at {_fmt(amount.unit_price)} EUR/MWh"
    if model == "fixed_for_capacity":
        return (f"Capacity fee {_dec(amount.terms['capacity_mw'])} MW x {_fmt(amount.unit_price)} EUR/MW per month "
                f"x {len(amount.run)}/{days_in_month} active days")
    return (f"Fee of {_dec(amount.terms['fee_percent'])} % on the market value of "
            f"{_fmt(micro(amount.volume), 3)} MWh")


def _redispatch_line(run: list[dict], stats: Mapping[date, _Day]) -> dict:
    days = [stats[t["delivery_day"]] for t in run if t["delivery_day"] in stats]
    energy = sum((d.redispatch_energy for d in days), ZERO)
    value = micro(sum((d.redispatch_value for d in days), ZERO))
    n_qh = sum(d.redispatched_qh for d in days)
    text = "Redispatch compensation: no curtailed QHs"
    if n_qh:
        text = (f"Redispatch compensation: {n_qh} curtailed QHs, {_fmt(micro(energy), 3)} MWh latest forecast "
                f"at the DSO compensation price ({_average(value, energy)})")
    amount = Amount("redispatch_payout", tuple(run), value, "EUR compensation", Decimal(1), cents(value), energy, ZERO)
    return _line(amount, text)


def invoice_lines(day_terms: list[dict], stats: Mapping[date, _Day], days_in_month: int) -> list[dict]:
    """The lines of a computable invoice: infeed payout(s), fee(s), redispatch payout, numbered."""
    lines = [
        _line(amount, _infeed_text(amount) if amount.line_type == "infeed_payout" else _fee_text(amount, days_in_month))
        for amount in contracts.contract_money(day_terms, stats, days_in_month)
    ]
    lines.append(_redispatch_line(day_terms, stats))
    period = (day_terms[0]["delivery_day"], day_terms[-1]["delivery_day"])
    for number, line in enumerate(lines, start=1):
        line["line_no"] = number
        if (line["period_start"], line["period_end"]) != period:
            line["description"] += f" ({line['period_start']}..{line['period_end']})"
    return lines


# --- invoices ------------------------------------------------------------------------------------


def _source_summary(day: _Day | None, total_qh: int) -> str:
    if day is None:
        return "not built"
    parts = [f"{source} {day.sources[source]}" for source in SOURCES if day.sources.get(source)]
    parts += [f"{source} {n}" for source, n in sorted(day.sources.items()) if source not in SOURCES and n]
    if total_qh > day.rows:
        parts.append(f"no data {total_qh - day.rows}")
    return ", ".join(parts)


def _day_volume_rows(invoice_id: str, day_terms: list[dict], stats: Mapping[date, _Day], built: set[date]) -> list[dict]:
    rows = []
    for terms in day_terms:
        day = terms["delivery_day"]
        s = stats.get(day, _Day(sources={})) if day in built else None
        total = quarter_hours_in_day(day)
        rows.append({
            "invoice_id": invoice_id, "version": 0, "delivery_day": day, "is_built": s is not None,
            "volume_mwh": float(micro(s.volume)) if s is not None else None,
            "final_qh": s.final_qh if s else 0, "total_qh": total,
            "redispatched_qh": s.redispatched_qh if s else 0, "source_summary": _source_summary(s, total),
        })
    return rows


def _distinct(values: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(v for v in values if v is not None))


def _blocked_reason(day_terms: list[dict], conflicts: Mapping[date, list[str]] | None = None,
                    stats: Mapping[date, _Day] | None = None) -> str | None:
    days_of: dict[str, list[date]] = defaultdict(list)
    for terms in day_terms:
        for problem in term_problems(terms):
            days_of[problem].append(terms["delivery_day"])
    conflict_days: dict[str, list[date]] = defaultdict(list)
    for day, found in sorted((conflicts or {}).items()):
        for conflict in found:
            conflict_days[conflict].append(day)
    implausible = {day: s.implausible_qh for day, s in (stats or {}).items() if s.implausible_qh}
    reasons = []
    if days_of:
        reasons.append("terms cannot be applied: " + "; ".join(f"{p} ({day_ranges(d)})" for p, d in days_of.items()))
    if conflict_days:
        reasons.append("contracts in conflict, the same production would be paid twice: "
                       + "; ".join(f"{c} ({day_ranges(d)})" for c, d in conflict_days.items()))
    if implausible:
        reasons.append(f"implausible production: {sum(implausible.values())} QHs beyond 110 % of the capacity "
                       f"({day_ranges(implausible)})")
    return "; ".join(reasons) or None


def _provisional_reason(n_qh: int, not_final: int, missing: list[date], active: int, unpriced: int,
                        redispatch_unpriced: int) -> str | None:
    reasons = []
    if not_final:
        reasons.append(f"{not_final} of {n_qh} QHs without final DSO data (best-of-infeed stands in)")
    if missing:
        reasons.append(f"{len(missing)} of {active} active days not built: {day_ranges(missing)}")
    if unpriced:
        reasons.append(f"{unpriced} producing QHs without public VWAP (valued at 0)")
    if redispatch_unpriced:
        reasons.append(f"{redispatch_unpriced} redispatched QHs without latest forecast or compensation price (valued at 0)")
    return "; ".join(reasons) or None


def _invoice(month: str, contract_id: str, day_terms: list[dict], stats: Mapping[date, _Day],
             built: set[date], days_in_month: int,
             conflicts: Mapping[date, list[str]] | None = None) -> tuple[dict, list[dict], list[dict]]:
    invoice_id = invoice_id_of(contract_id, month)
    last = day_terms[-1]
    built_days = [t for t in day_terms if t["delivery_day"] in built]
    built_stats = [stats.get(t["delivery_day"], _Day(sources={})) for t in built_days]
    missing = [t["delivery_day"] for t in day_terms if t["delivery_day"] not in built]
    n_qh = sum(quarter_hours_in_day(t["delivery_day"]) for t in built_days)
    unpriced = sum(s.unpriced_qh for t, s in zip(built_days, built_stats) if _needs_vwap(t))
    redispatch_unpriced = sum(s.redispatch_unpriced_qh for s in built_stats)
    invoice = {
        "invoice_id": invoice_id, "version": 0, "contract_id": contract_id, "asset_id": last["asset_id"],
        "month": month, "metering_point_id": last["metering_point_id"], "email": last["email"],
        "period_start": day_terms[0]["delivery_day"], "period_end": last["delivery_day"],
        "days_in_month": days_in_month, "active_days": len(day_terms), "built_days": len(built_days),
        "missing_days": ", ".join(str(d) for d in missing) or None,
        "volume_mwh": float(micro(sum((s.volume for s in built_stats), ZERO))),
        "n_qh": n_qh, "n_qh_not_final": n_qh - sum(s.final_qh for s in built_stats),
        "n_qh_unpriced": unpriced, "n_qh_redispatched": sum(s.redispatched_qh for s in built_stats),
        "n_qh_redispatch_unpriced": redispatch_unpriced,
        "price_model": _distinct(t["price_model"] for t in day_terms) or None,
        "fee_model": _distinct(t["fee_model"] for t in day_terms) or None,
        "supersedes_version": None, "changes": None, "is_current": True,
    }
    day_rows = _day_volume_rows(invoice_id, day_terms, stats, built)
    blocked = _blocked_reason(day_terms, conflicts, stats)
    if blocked:
        invoice.update(status="blocked", reason=blocked, net_eur=None, vat_eur=None, gross_eur=None)
        return invoice, [], day_rows
    lines = invoice_lines(day_terms, stats, days_in_month)
    for line in lines:
        line.update(invoice_id=invoice_id, version=0)
    net = sum((LINE_SIGN[line["line_type"]] * line["net_eur"] for line in lines), ZERO)
    vat = sum((LINE_SIGN[line["line_type"]] * line["vat_eur"] for line in lines), ZERO)
    reason = _provisional_reason(n_qh, invoice["n_qh_not_final"], missing, len(day_terms), unpriced, redispatch_unpriced)
    invoice.update(status="provisional" if reason else "final", reason=reason, net_eur=net, vat_eur=vat, gross_eur=net + vat)
    return invoice, lines, day_rows


def compute_invoices(
    month: str,
    contracts_by_day: pl.DataFrame,
    best_of_infeed: pl.DataFrame,
    asset_forecast: pl.DataFrame,
    public_vwap: pl.DataFrame,
    redispatch_compensation: pl.DataFrame,
    built_days: list[date],
) -> InvoiceSet:
    """One invoice (version 0) per contract active on at least one day of ``month``."""
    days = month_days(month)
    built = set(built_days) & set(days)
    terms = active_terms(contracts_by_day, days)
    qh_rows = _qh_rows(terms.filter(pl.col("delivery_day").is_in(sorted(built))), best_of_infeed,
                       asset_forecast, public_vwap, redispatch_compensation)
    stats = _day_stats(qh_rows)
    conflicts_of: dict[str, dict[date, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in contract_conflicts(terms).iter_rows(named=True):
        conflicts_of[row["contract_id"]][row["delivery_day"]].append(row["conflict"])
    invoices, lines, day_volumes = [], [], []
    terms_of: dict[str, list[dict]] = defaultdict(list)
    for row in terms.iter_rows(named=True):
        terms_of[row["contract_id"]].append(row)
    for contract_id, day_terms in sorted(terms_of.items()):
        contract_stats = {t["delivery_day"]: stats[(contract_id, t["delivery_day"])]
                          for t in day_terms if (contract_id, t["delivery_day"]) in stats}
        invoice, invoice_lines_, day_rows = _invoice(month, contract_id, day_terms, contract_stats, built, len(days),
                                                     conflicts_of.get(contract_id))
        invoices.append(invoice | {"content_hash": ""})
        lines += invoice_lines_
        day_volumes += day_rows
    return _with_content_hashes(_invoice_set(invoices, lines, day_volumes))


def _with_content_hashes(invoice_set: InvoiceSet) -> InvoiceSet:
    """Hash each invoice from its typed rows, so the hash can be recomputed from stored tables."""
    lines_of, days_of = _rows_by_key(invoice_set.lines), _rows_by_key(invoice_set.day_volumes)
    hashes = [
        content_hash(invoice, lines_of.get(invoice["invoice_id"], []), days_of.get(invoice["invoice_id"], []))
        for invoice in invoice_set.invoices.iter_rows(named=True)
    ]
    invoices = invoice_set.invoices.with_columns(content_hash=pl.Series(hashes, dtype=pl.String))
    return InvoiceSet(invoices, invoice_set.lines, invoice_set.day_volumes)


def _frame(rows: list[dict], model) -> pl.DataFrame:
    schema = columns_of(model)
    frame = pl.DataFrame([{name: row.get(name) for name in schema} for row in rows], schema=schema)
    return validate(frame, model)


def _invoice_set(invoices: list[dict], lines: list[dict], day_volumes: list[dict]) -> InvoiceSet:
    return InvoiceSet(
        invoices=_frame(invoices, Invoice).sort("invoice_id", "version"),
        lines=_frame(lines, InvoiceLine).sort("invoice_id", "version", "line_no"),
        day_volumes=_frame(day_volumes, InvoiceDayVolume).sort("invoice_id", "version", "delivery_day"),
    )


# --- versions ------------------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (Decimal, date)):
        return str(value)
    return value


def content_hash(invoice: Mapping[str, Any], lines: Iterable[Mapping[str, Any]], day_volumes: Iterable[Mapping[str, Any]]) -> str:
    """sha256 over the invoice, its lines and day volumes, leaving out the version fields."""
    def strip(row: Mapping[str, Any], columns: Iterable[str]) -> dict:
        return {c: _canonical(row.get(c)) for c in columns if c not in VERSION_FIELDS and c != "invoice_id"}

    body = {
        "invoice": strip(invoice, columns_of(Invoice)) | {"invoice_id": invoice["invoice_id"]},
        "lines": [strip(line, columns_of(InvoiceLine)) for line in sorted(lines, key=lambda l: l["line_no"])],
        "days": [strip(day, columns_of(InvoiceDayVolume)) for day in sorted(day_volumes, key=lambda d: d["delivery_day"])],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _empty_or(frame: pl.DataFrame | None, model) -> pl.DataFrame:
    if frame is None or frame.is_empty():
        return pl.DataFrame(schema=columns_of(model))
    return validate(frame, model).select(list(columns_of(model)))


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def describe_changes(old: Mapping, old_lines: list[dict], old_days: list[dict],
                     new: Mapping, new_lines: list[dict], new_days: list[dict], max_days: int = 5) -> str:
    """What changed between two versions, e.g. ``status provisional -> final; infeed_payout net 812.40 -> 815.10``."""
    changes = []
    for field in ("status", "asset_id", "email", "price_model", "fee_model", "period_start", "period_end",
                  "active_days", "built_days", "missing_days", "n_qh_not_final", "n_qh_unpriced",
                  "n_qh_redispatched", "volume_mwh"):
        if old.get(field) != new.get(field):
            changes.append(f"{field} {_show(old.get(field))} -> {_show(new.get(field))}")

    def key(line: Mapping) -> tuple:
        return line["line_type"], line["period_start"], line["period_end"]

    old_by, new_by = {key(l): l for l in old_lines}, {key(l): l for l in new_lines}
    keys = sorted(old_by.keys() | new_by.keys(), key=lambda k: (LINE_TYPES.index(k[0]), k[1]))
    for k in keys:
        # name the period only where a line type has several lines
        label = k[0] if sum(1 for other in keys if other[0] == k[0]) == 1 else f"{k[0]} {k[1]}..{k[2]}"
        if k not in new_by:
            changes.append(f"{label} line removed")
        elif k not in old_by:
            changes.append(f"{label} line added (net {new_by[k]['net_eur']})")
        elif old_by[k]["net_eur"] != new_by[k]["net_eur"]:
            changes.append(f"{label} net {old_by[k]['net_eur']} -> {new_by[k]['net_eur']}")
    for field in ("net_eur", "gross_eur"):
        if old.get(field) != new.get(field):
            changes.append(f"invoice {field} {_show(old.get(field))} -> {_show(new.get(field))}")
    old_volume = {d["delivery_day"]: d["volume_mwh"] for d in old_days}
    day_changes = [f"{d['delivery_day']} {_show(old_volume.get(d['delivery_day']))} -> {_show(d['volume_mwh'])} MWh"
                   for d in new_days if old_volume.get(d["delivery_day"]) != d["volume_mwh"]]
    if day_changes:
        more = f" and {len(day_changes) - max_days} more days" if len(day_changes) > max_days else ""
        changes.append("day volume " + ", ".join(day_changes[:max_days]) + more)
    if old.get("reason") != new.get("reason") and old.get("status") == new.get("status"):
        changes.append("reason changed")
    return "; ".join(changes) or "details of lines or day volumes changed"


def assign_versions(
    new: InvoiceSet,
    previous_invoices: pl.DataFrame | None,
    previous_lines: pl.DataFrame | None,
    previous_day_volumes: pl.DataFrame | None,
) -> tuple[InvoiceSet, list[dict]]:
    """Number the new invoices against the issued ones and return every version plus what was issued.

    An invoice whose content hash equals that of its latest issued version is not re-issued. A new
    invoice is version 1; a changed one is latest + 1 with ``supersedes_version`` and ``changes``.
    Earlier versions are returned unchanged, except ``is_current`` (true for the newest version of
    each invoice). The second list has one dict per version issued now.
    """
    prev_invoices = _empty_or(previous_invoices, Invoice)
    prev_lines = _empty_or(previous_lines, InvoiceLine)
    prev_days = _empty_or(previous_day_volumes, InvoiceDayVolume)
    latest = {row["invoice_id"]: row for row in prev_invoices.sort("version").iter_rows(named=True)}
    lines_of = _rows_by_key(new.lines)
    days_of = _rows_by_key(new.day_volumes)
    issued_invoices, issued_lines, issued_days, issued = [], [], [], []
    for invoice in new.invoices.iter_rows(named=True):
        invoice_id = invoice["invoice_id"]
        before = latest.get(invoice_id)
        if before is not None and before["content_hash"] == invoice["content_hash"]:
            continue
        version = 1 if before is None else before["version"] + 1
        new_lines, new_days = lines_of.get(invoice_id, []), days_of.get(invoice_id, [])
        changes = None
        if before is not None:
            changes = describe_changes(
                before, _rows_of(prev_lines, invoice_id, before["version"]), _rows_of(prev_days, invoice_id, before["version"]),
                invoice, new_lines, new_days,
            )
        supersedes = None if before is None else before["version"]
        invoice = invoice | {"version": version, "supersedes_version": supersedes, "changes": changes}
        issued_invoices.append(invoice)
        issued_lines += [line | {"version": version} for line in new_lines]
        issued_days += [day | {"version": version} for day in new_days]
        issued.append({key: invoice[key] for key in ("invoice_id", "version", "supersedes_version", "changes",
                                                      "contract_id", "month", "status", "gross_eur")})
    fresh = _invoice_set(issued_invoices, issued_lines, issued_days)
    invoices = pl.concat([prev_invoices, fresh.invoices]).with_columns(
        is_current=pl.col("version") == pl.col("version").max().over("invoice_id")
    )
    combined = InvoiceSet(
        invoices=validate(invoices, Invoice).sort("invoice_id", "version"),
        lines=pl.concat([prev_lines, fresh.lines]).sort("invoice_id", "version", "line_no"),
        day_volumes=pl.concat([prev_days, fresh.day_volumes]).sort("invoice_id", "version", "delivery_day"),
    )
    return combined, issued


def _rows_by_key(frame: pl.DataFrame) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in frame.iter_rows(named=True):
        grouped[row["invoice_id"]].append(row)
    return grouped


def _rows_of(frame: pl.DataFrame, invoice_id: str, version: int) -> list[dict]:
    return frame.filter((pl.col("invoice_id") == invoice_id) & (pl.col("version") == version)).to_dicts()


# --- DSO claims ----------------------------------------------------------------------------------


def dso_of_metering_point(metering_point_id: str, mapping: Mapping[str, str] | None = None,
                          default: str = DEFAULT_DSO_ID) -> str:
    """The DSO a metering point belongs to.

    The inbound files do not name it: a ``mapping`` (metering point -> DSO id) can be passed once it
    is known; every other metering point belongs to ``default`` (one DSO for the whole portfolio).
    """
    if mapping and metering_point_id in mapping:
        return mapping[metering_point_id]
    return default


def redispatch_claims(invoices: InvoiceSet, mapping: Mapping[str, str] | None = None,
                      default_dso: str = DEFAULT_DSO_ID) -> pl.DataFrame:
    """Redispatch payouts to reclaim, one row per current non-blocked invoice with a payout line.

    Columns: dso_id, month, invoice_id, version, contract_id, asset_id, metering_point_id,
    curtailed_qh, energy_mwh, amount_eur (the net of the redispatch payout: what the owner was paid).
    A blocked invoice paid nothing, so nothing is claimed for it.
    """
    current = invoices.invoices.filter(pl.col("is_current") & (pl.col("status") != "blocked"))
    payouts = (
        invoices.lines.filter(pl.col("line_type") == "redispatch_payout")
        .group_by("invoice_id", "version")
        .agg(energy_mwh=pl.col("volume_mwh").sum(), amount_eur=pl.col("net_eur").sum())
    )
    claims = current.join(payouts, on=["invoice_id", "version"]).filter(pl.col("n_qh_redispatched") > 0)
    return claims.select(
        pl.col("metering_point_id").fill_null("").map_elements(
            lambda mp: dso_of_metering_point(mp, mapping, default_dso), return_dtype=pl.String
        ).alias("dso_id"),
        "month", "invoice_id", "version", "contract_id", "asset_id", "metering_point_id",
        pl.col("n_qh_redispatched").alias("curtailed_qh"), pl.col("energy_mwh").round(6),
        pl.col("amount_eur").cast(pl.Decimal(18, 2)),
    ).sort("dso_id", "month", "contract_id")
