"""What the portal's HTML pages show, formatted as the documents print it: no Dagster, no I/O.

- ``invoice_view``: an invoice version as its PDF reads (``documents/invoice_pdf.py``): labels in
  words, money to the cent with thousands separators (``44,886.13 EUR``), energy to the kWh
  (``1,234.567 MWh``), the totals and the settlement sentence, the volume per day.
- ``finance_index``: the invoices and reports of the index page filtered by month, status and
  customer (contract, asset or e-mail, part of the text), a page at a time.
- ``position_view``: the open position of some delivery days per QH for traders (MWh to the kWh,
  the QH in Berlin time with its UTC start, long / short in words).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flexpower_assets.documents.invoice_pdf import FEE_LINES, LINE_TITLES, money, number
from flexpower_assets.domain.time import BERLIN

PAGE_SIZE = 50
STATUS_WORDS = {"final": "Final", "provisional": "Provisional", "blocked": "Blocked"}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def month_in_words(month: str) -> str:
    """``2025-06`` -> ``June 2025``."""
    try:
        year, number_ = month.split("-")
        return f"{MONTHS[int(number_) - 1]} {int(year)}"
    except (ValueError, IndexError):
        return month


def eur(value: Any) -> str:
    """``44,886.13 EUR``; ``-`` for no amount."""
    return "-" if value is None else f"{money(value)} EUR"


def energy(value: Any) -> str:
    """MWh to the kWh: ``1,234.567 MWh``."""
    return "-" if value is None else f"{number(value, 3, 3)} MWh"


def _quantity(line: dict[str, Any]) -> str:
    if line.get("unit") == "MWh":
        return energy(line.get("quantity"))
    if line.get("unit") == "EUR":  # a value priced QH by QH: the quantity is the amount in EUR
        return eur(line.get("quantity"))
    return number(line.get("quantity"), 0, 3) + (f" {line['unit']}" if line.get("unit") else "")


def _unit_price(line: dict[str, Any]) -> str:
    price = line.get("unit_price_eur")
    if price is None:
        return "-"
    if line.get("unit") == "EUR":  # the share of the priced value that is paid
        return f"{number(Decimal(str(price)) * 100, 0, 2)} %"
    return f"{number(price, 2, 4)} EUR/{line.get('unit') or 'unit'}"


def invoice_view(header: dict[str, Any], lines: list[dict[str, Any]], day_volumes: list[dict[str, Any]]) -> dict:
    """The invoice page's content, every value already text."""
    status = str(header.get("status") or "")
    fields = [("Contract", header.get("contract_id")), ("Asset", header.get("asset_id")),
              ("Metering point", header.get("metering_point_id")),
              ("Month", month_in_words(str(header.get("month") or ""))),
              ("Status", STATUS_WORDS.get(status, status.capitalize()))]
    if header.get("period_start") and header.get("period_end"):
        days = (f" ({header['active_days']} active days of {header['days_in_month']})"
                if header.get("active_days") is not None and header.get("days_in_month") else "")
        fields.insert(4, ("Period", f"{header['period_start']} to {header['period_end']}{days}"))
    if header.get("price_model") or header.get("fee_model"):
        fields.append(("Terms", f"price model {header.get('price_model') or '-'}, "
                                f"fee model {header.get('fee_model') or '-'}"))
    if header.get("reason"):
        fields.append(("Reason", header["reason"]))
    if header.get("supersedes_version"):
        fields.append(("Supersedes", f"version {header['supersedes_version']}: {header.get('changes') or ''}"))
    rows = [{
        "title": f"{line.get('line_no', '')}. {LINE_TITLES.get(line.get('line_type'), str(line.get('line_type')))}",
        "description": line.get("description") or "",
        "quantity": _quantity(line), "unit_price": _unit_price(line),
        "net": money(line.get("net_eur")), "vat": money(line.get("vat_eur")), "gross": money(line.get("gross_eur")),
    } for line in sorted(lines, key=lambda l: l.get("line_no") or 0)]

    def total(fee: bool, column: str) -> Decimal:
        return sum((Decimal(str(l[column])) for l in lines
                    if (l.get("line_type") in FEE_LINES) == fee and l.get(column) is not None), Decimal(0))

    totals = [("Payouts to you", *(money(total(False, c)) for c in ("net_eur", "vat_eur", "gross_eur"))),
              ("Fee to us", *(money(-total(True, c)) for c in ("net_eur", "vat_eur", "gross_eur"))),
              ("Total", money(header.get("net_eur")), money(header.get("vat_eur")), money(header.get("gross_eur")))]
    gross = header.get("gross_eur")
    settlement = None
    if gross is not None and status != "blocked":
        amount = Decimal(str(gross))
        settlement = f"We pay you {eur(amount)}." if amount >= 0 else f"You pay us {eur(-amount)}."
    days = [{
        "day": str(d.get("delivery_day")), "volume": energy(d.get("volume_mwh")),
        "final": f"{d.get('final_qh', 0)} of {d.get('total_qh', 0)}",
        "redispatched": str(d.get("redispatched_qh", 0) or 0), "sources": d.get("source_summary") or "",
    } for d in sorted(day_volumes, key=lambda d: d.get("delivery_day") or date.min)]
    return {"title": f"Invoice {header.get('invoice_id')}, version {header.get('version')}",
            "to": header.get("email"), "fields": [(k, str(v)) for k, v in fields if v not in (None, "")],
            "blocked": status == "blocked", "lines": rows, "totals": totals, "gross": eur(gross),
            "settlement": settlement, "days": days}


@dataclass(frozen=True)
class Filters:
    month: str = ""
    status: str = ""
    customer: str = ""
    page: int = 1
    report_page: int = 1

    def query(self, **changes: Any) -> str:
        """The index URL's query for these filters with ``changes`` (empty values left out)."""
        values = {"month": self.month, "status": self.status, "customer": self.customer, "page": self.page,
                  "report_page": self.report_page, **changes}
        return urlencode({k: v for k, v in values.items() if v not in ("", None, 1)})


@dataclass(frozen=True)
class Page:
    items: list[Any]
    number: int
    pages: int
    total: int

    @property
    def first(self) -> int:
        return 0 if self.total == 0 else (self.number - 1) * PAGE_SIZE + 1

    @property
    def last(self) -> int:
        return min(self.total, self.number * PAGE_SIZE)


def paginate(items: list[Any], number: int) -> Page:
    pages = max(1, -(-len(items) // PAGE_SIZE))
    number = min(max(1, number), pages)
    return Page(items[(number - 1) * PAGE_SIZE: number * PAGE_SIZE], number, pages, len(items))


def _matches(text: str, *values: Any) -> bool:
    needle = text.strip().lower()
    return not needle or any(needle in str(v).lower() for v in values if v is not None)


def finance_index(invoices: list[dict[str, Any]], reports: list[Any], filters: Filters) -> dict:
    """The index page's invoices and reports under ``filters``, with the choices of the filters."""
    months = sorted({str(i.get("month")) for i in invoices} | {r.period[:7] for r in reports}, reverse=True)
    statuses = sorted({str(i.get("status")) for i in invoices})
    chosen = [i for i in invoices
              if (not filters.month or i.get("month") == filters.month)
              and (not filters.status or i.get("status") == filters.status)
              and _matches(filters.customer, i.get("contract_id"), i.get("asset_id"), i.get("email"),
                           i.get("invoice_id"))]
    chosen.sort(key=lambda i: (str(i.get("month")), str(i.get("invoice_id"))), reverse=False)
    shown = [{"invoice_id": i["invoice_id"], "month": month_in_words(str(i.get("month"))),
              "customer": i.get("contract_id"), "asset": i.get("asset_id"), "version": i.get("version"),
              "status": STATUS_WORDS.get(str(i.get("status")), str(i.get("status"))), "gross": eur(i.get("gross_eur"))}
             for i in chosen]
    report_rows = [r for r in reports
                   if (not filters.month or r.period.startswith(filters.month))
                   and _matches(filters.customer, r.scope)]
    return {"months": [(m, month_in_words(m)) for m in months], "statuses": [(s, STATUS_WORDS.get(s, s))
                                                                           for s in statuses],
            "invoices": paginate(shown, filters.page), "reports": paginate(report_rows, filters.report_page),
            "filters": filters}


def _mwh(value: Any) -> str:
    return "-" if value is None else number(value, 3, 3)


def _side(open_mwh: Any) -> str:
    if open_mwh is None:
        return "no forecast"
    if abs(open_mwh) < 0.0005:
        return "flat"
    return "long: sell" if open_mwh > 0 else "short: buy"


def _qh_row(row: dict[str, Any]) -> dict[str, str]:
    start: datetime = row["delivery_start"]
    minutes = row.get("minutes_to_delivery")
    band = "" if row.get("forecast_p10_mwh") is None else f"{_mwh(row['forecast_p10_mwh'])} .. {_mwh(row['forecast_p90_mwh'])}"
    share = row.get("open_share_of_capacity")
    return {
        "qh": start.astimezone(BERLIN).strftime("%H:%M"), "utc": start.strftime("%H:%M UTC"),
        "to_delivery": "delivered" if minutes is not None and minutes <= 0 else f"{minutes:,.0f} min",
        "forecast": _mwh(row.get("forecast_mwh")), "band": band or "-",
        "day_ahead": _mwh(row.get("day_ahead_mwh")), "intraday": _mwh(row.get("intraday_net_mwh")),
        "position": _mwh(row.get("position_mwh")), "open": _mwh(row.get("open_mwh")),
        "open_band": "-" if row.get("open_p10_mwh") is None else f"{_mwh(row['open_p10_mwh'])} .. {_mwh(row['open_p90_mwh'])}",
        "share": "-" if share is None else f"{share * 100:.1f} %", "side": _side(row.get("open_mwh")),
        "notes": ", ".join(note for note in (
            f"{row['n_missing_forecast']} asset(s) without forecast" if row.get("n_missing_forecast") else "",
            f"{row['n_without_quantile']} asset(s) without quantiles" if row.get("n_without_quantile") else "",
        ) if note),
    }


def position_view(rows: list[dict[str, Any]], days: list[date]) -> list[dict[str, Any]]:
    """Per delivery day: its clock (``as_of``), day-ahead status, totals and one row per QH."""
    out = []
    for day in days:
        mine = sorted((r for r in rows if r.get("delivery_day") == day), key=lambda r: r["delivery_start"])
        as_of = mine[0]["as_of"] if mine else None
        open_total = sum(r["open_mwh"] for r in mine if r.get("open_mwh") is not None)
        out.append({
            "day": day.isoformat(), "built": bool(mine),
            "as_of": as_of.strftime("%Y-%m-%d %H:%M UTC") if as_of else "",
            "day_ahead_status": ", ".join(sorted({str(r["day_ahead_status"]) for r in mine})),
            "forecast": _mwh(sum(r["forecast_mwh"] for r in mine if r.get("forecast_mwh") is not None)),
            "position": _mwh(sum(r["position_mwh"] for r in mine)), "open": _mwh(open_total),
            "capacity": number(mine[0]["capacity_mw"], 1, 3) if mine else "-",
            "rows": [_qh_row(r) for r in mine],
        })
    return out
