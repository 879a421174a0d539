"""Invoice data-quality rules, each shown failing on a hand-made example."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from flexpower_assets.domain import invoice_checks

MONEY = pl.Decimal(18, 2)


def invoices(**overrides) -> pl.DataFrame:
    row = {"invoice_id": "INV-C1-2025-06", "version": 1, "contract_id": "C1", "asset_id": "A1",
           "status": "final", "net_eur": Decimal("90.00"), "vat_eur": Decimal("17.10"),
           "gross_eur": Decimal("107.10"), "is_current": True, "price_model": "market", "n_qh_unpriced": 0}
    row.update(overrides)
    return pl.DataFrame([row]).with_columns(pl.col("net_eur", "vat_eur", "gross_eur").cast(MONEY))


def lines(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame([
        {"invoice_id": "INV-C1-2025-06", "version": 1, "line_no": i + 1, "line_type": t,
         "net_eur": Decimal(net), "vat_eur": Decimal(vat), "gross_eur": Decimal(net) + Decimal(vat)}
        for i, (t, net, vat) in enumerate(rows)
    ]).with_columns(pl.col("net_eur", "vat_eur", "gross_eur").cast(MONEY))


def test_totals_are_payouts_minus_fee():
    # payout 100.00 (VAT 19.00) minus fee 10.00 (VAT 1.90): net 90.00, VAT 17.10, gross 107.10
    good = lines([("infeed_payout", "100.00", "19.00"), ("fee", "10.00", "1.90")])
    assert invoice_checks.totals_not_matching_lines(invoices(), good).is_empty()
    # a fee added instead of subtracted: 110.00 != 90.00
    wrong = invoice_checks.totals_not_matching_lines(invoices(net_eur=Decimal("110.00")), good)
    assert wrong["lines_net_eur"].to_list() == [Decimal("90.00")]


def test_vat_is_19_percent_rounded_half_up():
    # 10.05 x 0.19 = 1.9095 -> 1.91; 0.50 x 0.19 = 0.095 -> 0.10 (half-up), not 0.09
    assert invoice_checks.vat_not_19_percent(lines([("fee", "10.05", "1.91"), ("fee", "0.50", "0.10")])).is_empty()
    bad = invoice_checks.vat_not_19_percent(lines([("fee", "0.50", "0.09")]))
    assert bad["line_no"].to_list() == [1]


def test_contracts_without_invoice_and_unpriced_market_invoices():
    assert invoice_checks.contracts_without_invoice(["C1", "C2"], invoices()) == ["C2"]
    assert invoice_checks.market_invoices_unpriced(invoices()).is_empty()
    assert invoice_checks.market_invoices_unpriced(invoices(n_qh_unpriced=3))["n_qh_unpriced"].to_list() == [3]
    # a fixed price with a percent-of-market fee needs the VWAP as well
    fixed_with_percent_fee = invoices(price_model="fixed", n_qh_unpriced=3)
    assert invoice_checks.market_invoices_unpriced(fixed_with_percent_fee)["n_qh_unpriced"].to_list() == [3]
    assert invoice_checks.market_invoices_unpriced(invoices(n_qh_unpriced=3, is_current=False)).is_empty()


def test_day_used_without_infeed_is_found():
    days = pl.DataFrame({"invoice_id": ["INV-C1-2025-06"] * 2, "version": [1, 1],
                         "delivery_day": [date(2025, 6, 1), date(2025, 6, 2)], "volume_mwh": [1.0, 2.0]})
    boi = pl.DataFrame({"asset_id": ["A1"], "delivery_day": [date(2025, 6, 1)]})
    found = invoice_checks.days_used_without_infeed(days, invoices(), boi)
    assert found["delivery_day"].to_list() == [date(2025, 6, 2)]
