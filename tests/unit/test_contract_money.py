"""One home for the contract rules: active days, term validity, and money that reports share with invoices.

The central check: a month's performance report computed from the contract terms shows the same
payout and fee, to the cent, as the sum of that month's invoice lines for the same inputs.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import pytest

from flexpower_assets.domain import contracts
from flexpower_assets.domain.invoicing import compute_invoices
from flexpower_assets.domain.reporting import ReportInputs, build_monthly_report
from flexpower_assets.domain.time import UTC_DATETIME, day_window, days_between, month_days

MONTH = "2025-06"
JUNE = days_between(date(2025, 6, 1), date(2025, 6, 30))
BUILT = [date(2025, 6, 1), date(2025, 6, 16), date(2025, 6, 20)]


def terms(contract_id: str, asset_id: str, day: date, **overrides) -> dict:
    row = dict(delivery_day=day, contract_id=contract_id, asset_id=asset_id, metering_point_id=f"MP-{asset_id}",
               capacity_mw=1.0, technology="solar", contract_begin=date(2025, 1, 1), contract_end=None,
               price_model="fixed", price_eur_per_mwh=80.123, fee_model="fixed_as_produced", fee=1.337,
               fee_percent=None, email=None)
    return row | overrides


def contracts_by_day() -> pl.DataFrame:
    rows = []
    for day in JUNE:
        # A: fixed price that changes on the 16th (two payout lines), fixed fee per MWh
        rows.append(terms("CA", "A", day, capacity_mw=2.0,
                          price_eur_per_mwh=80.123 if day < date(2025, 6, 16) else 81.5))
        # B: market price, 3.7 % of the market value
        rows.append(terms("CB", "B", day, capacity_mw=2.0, price_model="market", price_eur_per_mwh=None,
                          fee_model="percent_of_market", fee=None, fee_percent=3.7))
        # C: begins on the 10th (21 active days), capacity fee 123.45 EUR/MW per month on 1.7 MW
        rows.append(terms("CC", "C", day, contract_begin=date(2025, 6, 10), capacity_mw=1.7,
                          price_eur_per_mwh=67.89, fee_model="fixed_for_capacity", fee=123.45))
    return pl.DataFrame(rows)


ENERGY = {"A": [0.0123457, 0.2468013, 0.3333333], "B": [0.1111111, 0.0777777, 0.0555559],
          "C": [0.3444441, 0.0000007, 0.1212121]}
VWAP = [71.37, -3.11, 93.333]  # energies stay below 110 % of capacity x 0.25 h (plausible)


def infeed_and_prices() -> tuple[pl.DataFrame, pl.DataFrame]:
    infeed, prices = [], []
    for day in BUILT:
        start = day_window(day)[0]
        for i, vwap in enumerate(VWAP):
            qh = start + timedelta(hours=10, minutes=15 * i)
            prices.append(dict(delivery_day=day, delivery_start=qh, vwap_public=vwap))
            for asset, energies in ENERGY.items():
                energy = energies[i] * (1 + day.day / 100)
                infeed.append(dict(delivery_day=day, asset_id=asset, delivery_start=qh, energy_mwh=energy,
                                   power_kw=energy * 4000, source="final", is_redispatched=False))
    return (pl.DataFrame(infeed).with_columns(pl.col("delivery_start").cast(UTC_DATETIME)),
            pl.DataFrame(prices).with_columns(pl.col("delivery_start").cast(UTC_DATETIME)))


def _invoice_set():
    infeed, prices = infeed_and_prices()
    forecast = pl.DataFrame(schema={"asset_id": pl.String, "delivery_start": UTC_DATETIME,
                                    "latest_energy_mwh": pl.Float64})
    compensation = pl.DataFrame(schema={"delivery_start": UTC_DATETIME, "price_eur_per_mwh": pl.Float64})
    invoices = compute_invoices(MONTH, contracts_by_day(), infeed, forecast, prices.drop("delivery_day"),
                                compensation, BUILT)
    return invoices, infeed, prices


def _line_sums(invoices) -> dict[tuple[str, str], Decimal]:
    lines = invoices.lines.join(invoices.invoices.select("invoice_id", "asset_id"), on="invoice_id")
    sums: dict[tuple[str, str], Decimal] = {}
    for asset, line_type, net in lines.select("asset_id", "line_type", "net_eur").iter_rows():
        sums[(asset, line_type)] = sums.get((asset, line_type), Decimal(0)) + net
    return sums


def test_monthly_report_from_contract_terms_equals_the_invoice_lines_to_the_cent() -> None:
    invoices, infeed, prices = _invoice_set()
    assert invoices.invoices["status"].to_list() == ["provisional"] * 3  # 27 of 30 days not built
    lines = _line_sums(invoices)
    report = build_monthly_report(MONTH, ReportInputs(contracts=contracts_by_day(), best_of_infeed=infeed,
                                                      trading_pnl=prices))
    for asset in ("A", "B", "C"):
        money = report.row("money", asset)
        assert money["money_source"] == "contract terms"
        assert Decimal(str(money["payout_eur"])) == lines[(asset, "infeed_payout")], asset
        assert Decimal(str(money["fee_eur"])) == lines[(asset, "fee")], asset
    # by hand: C's capacity fee is 1.7 MW x 123.45 EUR/MW x 21/30 active days = 146.9055 -> 146.91 EUR
    assert lines[("C", "fee")] == Decimal("146.91")
    assert report.row("money", "C")["fee_eur"] == 146.91
    # A's price changed on the 16th: two payout lines (1st..15th and 16th..30th)
    assert invoices.lines.filter((pl.col("invoice_id") == "INV-CA-2025-06")
                                 & (pl.col("line_type") == "infeed_payout")).height == 2
    portfolio = report.row("money", "portfolio")
    assert round(portfolio["payout_eur"], 2) == float(sum(v for (_, t), v in lines.items() if t == "infeed_payout"))
    assert round(portfolio["fee_eur"], 2) == float(sum(v for (_, t), v in lines.items() if t == "fee"))


def test_monthly_report_from_the_invoices_equals_the_invoice_lines() -> None:
    invoices, infeed, prices = _invoice_set()
    lines = _line_sums(invoices)
    current = invoices.invoices.with_columns(month=pl.lit(MONTH), is_current=pl.lit(True))
    report = build_monthly_report(MONTH, ReportInputs(contracts=contracts_by_day(), best_of_infeed=infeed,
                                                      trading_pnl=prices, invoices=current,
                                                      invoice_lines=invoices.lines))
    for asset in ("A", "B", "C"):
        money = report.row("money", asset)
        assert money["money_source"].startswith("invoice INV-C")
        assert Decimal(str(money["payout_eur"])) == lines[(asset, "infeed_payout")]
        assert Decimal(str(money["fee_eur"])) == lines[(asset, "fee")]


def test_fixed_price_payout_rounds_once_per_run_not_per_day() -> None:
    # two days of 0.0015 MWh at 3.00 EUR/MWh: per day 0.0045 EUR -> 0.00 each; per run 0.009 -> 0.01 EUR
    day_terms = [terms("C1", "A", d, price_eur_per_mwh=3.0) for d in (date(2025, 6, 1), date(2025, 6, 2))]
    sums = contracts.day_sums([(d, 0.0015, 50.0) for d in (date(2025, 6, 1), date(2025, 6, 2))])
    (payout,) = contracts.payouts(day_terms, sums)
    assert payout.net == Decimal("0.01") and payout.quantity == Decimal("0.003000")


def test_percent_fee_of_a_negative_market_value_keeps_its_sign() -> None:
    # 0.5 MWh at -20 EUR/MWh = -10 EUR market value; 4 % of it = -0.40 EUR
    day_terms = [terms("C1", "A", date(2025, 6, 1), price_model="market", price_eur_per_mwh=None,
                       fee_model="percent_of_market", fee=None, fee_percent=4.0)]
    sums = contracts.day_sums([(date(2025, 6, 1), 0.5, -20.0)])
    (fee,) = contracts.fees(day_terms, sums, 30)
    assert fee.net == Decimal("-0.40")


def test_active_day_rule_begin_inclusive_end_exclusive() -> None:
    frame = pl.DataFrame([
        dict(contract_id="C1", asset_id="A", delivery_day=date(2025, 6, 8), contract_begin=date(2025, 6, 8),
             contract_end=None),
        dict(contract_id="C2", asset_id="B", delivery_day=date(2025, 6, 8), contract_begin=date(2025, 1, 1),
             contract_end=date(2025, 6, 8)),
        dict(contract_id="C3", asset_id="C", delivery_day=date(2025, 6, 8), contract_begin=date(2025, 1, 1),
             contract_end=date(2025, 6, 9)),
    ])
    days = contracts.contract_days(frame)
    assert days.columns == list(contracts.CONTRACT_DAY_COLUMNS)
    assert dict(days.select("contract_id", "is_active").iter_rows()) == {"C1": True, "C2": False, "C3": True}
    assert contracts.active_on(frame, date(2025, 6, 9))["contract_id"].to_list() == ["C1"]


@pytest.mark.parametrize(("overrides", "codes"), [
    (dict(price_eur_per_mwh=None), [("price_missing", "payout")]),
    (dict(price_model="market"), [("price_on_market", None)]),
    (dict(price_model="auction"), [("unknown_price_model", "payout")]),
    (dict(fee=None, fee_percent=5.0), [("fee_missing", "fee"), ("fee_percent_on_fixed", None)]),
    (dict(fee_model="percent_of_market"), [("fee_percent_missing", "fee"), ("fee_on_percent", None)]),
    (dict(fee_model="fixed_for_capacity", capacity_mw=None), [("capacity_missing", "fee")]),
    (dict(), []),
])
def test_term_issues_name_what_blocks_an_amount(overrides: dict, codes: list) -> None:
    issues = contracts.term_issues(terms("C1", "A", date(2025, 6, 1), **overrides))
    assert [(i.code, i.blocks) for i in issues] == codes


def test_month_days_and_month_of() -> None:
    assert len(month_days("2024-02")) == 29 and month_days("2025-06")[-1] == date(2025, 6, 30)
    with pytest.raises(ValueError, match="2025-13"):
        month_days("2025-13")
    assert datetime(2025, 6, 1, tzinfo=timezone.utc).date() == month_days("2025-06")[0]
