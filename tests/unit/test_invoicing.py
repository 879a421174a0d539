"""Monthly invoices: amounts per price and fee model, status, blocking, rounding and versions.

Inputs are tiny and inline: a contract active on a few days of June 2025, a best-of-infeed of 0 MWh
except a few quarter-hours, and prices for those quarter-hours. Every expected amount is worked
out by hand in the test.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import polars as pl
import pytest

from flexpower_assets.domain.invoicing import (
    InvoiceSet,
    assign_versions,
    cents,
    compute_invoices,
    dso_of_metering_point,
    month_days,
    redispatch_claims,
)
from flexpower_assets.domain.time import QH, UTC_DATETIME, day_window, days_between

MONTH = "2025-06"
JUNE = days_between(date(2025, 6, 1), date(2025, 6, 30))
D1, D2 = date(2025, 6, 1), date(2025, 6, 2)


def contract(**overrides) -> dict:
    """A contract row of a CRM snapshot (fixed 80 EUR/MWh, fee 2 EUR/MWh) with overrides."""
    row = {
        "contract_id": "C1", "asset_id": "A1", "metering_point_id": "MP-A1", "capacity_mw": 10.0,
        "technology": "solar", "contract_begin": date(2025, 1, 1), "contract_end": None,
        "price_model": "fixed", "price_eur_per_mwh": 80.0, "fee_model": "fixed_as_produced", "fee": 2.0,
        "fee_percent": None, "email": "owner@example.com",
        "snapshot_created_at": datetime(2025, 5, 25, 4, 30, tzinfo=timezone.utc),
    }
    return row | overrides


def contracts_by_day(*contracts: dict, days: list[date] = JUNE) -> pl.DataFrame:
    """Every contract in the snapshot of every day of ``days``."""
    return pl.DataFrame(
        [{"delivery_day": day} | row for day in days for row in contracts],
        schema_overrides={"contract_end": pl.Date, "price_eur_per_mwh": pl.Float64, "fee": pl.Float64,
                          "fee_percent": pl.Float64, "snapshot_created_at": UTC_DATETIME},
    )


def qh(day: date, index: int) -> datetime:
    """The UTC start of the ``index``-th QH of a Berlin delivery day."""
    return day_window(day)[0] + index * QH


def infeed(asset_id: str, days: list[date], energy: dict[tuple[date, int], float] | None = None,
           source: str = "final", sources: dict[tuple[date, int], str] | None = None,
           redispatched: set[tuple[date, int]] = frozenset()) -> pl.DataFrame:
    """Best-of-infeed rows for every QH of ``days``: 0 MWh except ``energy``, all ``source`` except ``sources``."""
    energy, sources = energy or {}, sources or {}
    rows = []
    for day in days:
        start, end = day_window(day)
        for index in range((end - start) // QH):
            value = energy.get((day, index), 0.0)
            rows.append({
                "delivery_day": day, "asset_id": asset_id, "delivery_start": qh(day, index),
                "power_kw": value * 4000, "energy_mwh": value, "source": sources.get((day, index), source),
                "is_redispatched": (day, index) in redispatched,
            })
    return pl.DataFrame(rows, schema_overrides={"delivery_start": UTC_DATETIME})


def vwap(prices: dict[datetime, float] | None = None) -> pl.DataFrame:
    """Public VWAP per QH (QHs not listed had no public trades)."""
    prices = prices or {}
    return pl.DataFrame({"delivery_start": list(prices), "vwap_public": list(prices.values())},
                        schema={"delivery_start": UTC_DATETIME, "vwap_public": pl.Float64})


def forecast(values: dict[tuple[str, datetime], float] | None = None) -> pl.DataFrame:
    values = values or {}
    return pl.DataFrame(
        {"asset_id": [a for a, _ in values], "delivery_start": [s for _, s in values],
         "latest_energy_mwh": list(values.values())},
        schema={"asset_id": pl.String, "delivery_start": UTC_DATETIME, "latest_energy_mwh": pl.Float64},
    )


def compensation(prices: dict[datetime, float] | None = None) -> pl.DataFrame:
    prices = prices or {}
    return pl.DataFrame({"delivery_start": list(prices), "price_eur_per_mwh": list(prices.values())},
                        schema={"delivery_start": UTC_DATETIME, "price_eur_per_mwh": pl.Float64})


# --- helpers -------------------------------------------------------------------------------------

# Two QHs produce: 1.5 MWh on 1 June (QH 48) and 2.25 MWh on 2 June (QH 50); volume 3.75 MWh.
ENERGY = {(D1, 48): 1.5, (D2, 50): 2.25}
# Public VWAP of those QHs; every other QH had no public trade (fine: it produced 0 MWh).
PRICES = {qh(D1, 48): 60.0, qh(D2, 50): 100.5}
TWO_DAYS = {"contract_begin": D1, "contract_end": date(2025, 6, 3)}  # active on 1 and 2 June


def run(*contracts: dict, boi: pl.DataFrame, prices: dict | None = None, forecasts: dict | None = None,
        compensations: dict | None = None, built: list[date] = (D1, D2)) -> InvoiceSet:
    return compute_invoices(
        MONTH, contracts_by_day(*contracts), boi, forecast(forecasts), vwap(prices), compensation(compensations),
        list(built),
    )


def invoice_of(result: InvoiceSet, contract_id: str = "C1") -> dict:
    return result.invoices.filter(pl.col("contract_id") == contract_id).row(0, named=True)


def lines_of(result: InvoiceSet, contract_id: str = "C1") -> dict[str, dict]:
    """The lines of an invoice by line type (one line per type in these tests)."""
    rows = result.lines.filter(pl.col("invoice_id").str.starts_with(f"INV-{contract_id}-20")).to_dicts()
    assert rows and len(rows) == len({r["line_type"] for r in rows})
    return {r["line_type"]: r for r in rows}


def amounts(line: dict) -> tuple[Decimal, Decimal, Decimal]:
    return line["net_eur"], line["vat_eur"], line["gross_eur"]


def D(text: str) -> Decimal:
    return Decimal(text)


# --- one invoice per price model x fee model -----------------------------------------------------


def test_fixed_price_with_fee_as_produced():
    result = run(contract(**TWO_DAYS), boi=infeed("A1", [D1, D2], ENERGY))
    invoice, lines = invoice_of(result), lines_of(result)
    assert invoice["invoice_id"] == "INV-C1-2025-06" and invoice["version"] == 0
    assert invoice["status"] == "final" and invoice["reason"] is None
    assert invoice["volume_mwh"] == pytest.approx(3.75)  # 1.5 + 2.25
    payout, fee, redispatch = lines["infeed_payout"], lines["fee"], lines["redispatch_payout"]
    # payout: 3.75 MWh * 80 EUR/MWh = 300.00; VAT 300.00 * 0.19 = 57.00; gross 357.00
    assert (payout["quantity"], payout["unit"], payout["unit_price_eur"]) == (3.75, "MWh", D("80"))
    assert amounts(payout) == (D("300.00"), D("57.00"), D("357.00"))
    # fee: 3.75 MWh * 2 EUR/MWh = 7.50; VAT 7.50 * 0.19 = 1.425 -> 1.43 (half up); gross 8.93
    assert (fee["quantity"], fee["unit"], fee["unit_price_eur"]) == (3.75, "MWh", D("2"))
    assert amounts(fee) == (D("7.50"), D("1.43"), D("8.93"))
    # no redispatched QH: the line is there with 0
    assert amounts(redispatch) == (D("0.00"), D("0.00"), D("0.00"))
    # invoice = payouts - fee: net 300.00 - 7.50 = 292.50; VAT 57.00 - 1.43 = 55.57; gross 348.07
    assert (invoice["net_eur"], invoice["vat_eur"], invoice["gross_eur"]) == (D("292.50"), D("55.57"), D("348.07"))


def test_fixed_price_with_capacity_fee_is_pro_rata_to_active_days():
    terms = contract(**TWO_DAYS, fee_model="fixed_for_capacity", fee=1000.0, capacity_mw=10.0)
    result = run(terms, boi=infeed("A1", [D1, D2], ENERGY))
    fee = lines_of(result)["fee"]
    # 10 MW * 2/30 month = 0.666667 MW·month; 10 * 1000 EUR/MW * 2/30 = 666.666... -> 666.67
    # VAT 666.67 * 0.19 = 126.6673 -> 126.67; gross 793.34
    assert (fee["quantity"], fee["unit"], fee["unit_price_eur"]) == (0.666667, "MW·month", D("1000"))
    assert amounts(fee) == (D("666.67"), D("126.67"), D("793.34"))
    # payout 300.00 (3.75 MWh * 80) and 57.00 VAT; the fee exceeds it: net 300.00 - 666.67 = -366.67
    invoice = invoice_of(result)
    assert (invoice["net_eur"], invoice["vat_eur"], invoice["gross_eur"]) == (D("-366.67"), D("-69.67"), D("-436.34"))


def test_market_price_with_percent_of_market_fee():
    terms = contract(**TWO_DAYS, price_model="market", price_eur_per_mwh=None,
                     fee_model="percent_of_market", fee=None, fee_percent=5.0)
    result = run(terms, boi=infeed("A1", [D1, D2], ENERGY), prices=PRICES)
    payout, fee = lines_of(result)["infeed_payout"], lines_of(result)["fee"]
    # market value: 1.5 MWh * 60.00 + 2.25 MWh * 100.50 = 90 + 226.125 = 316.125 EUR
    # payout 316.125 -> 316.13 (half up); VAT 316.13 * 0.19 = 60.0647 -> 60.06; gross 376.19
    assert (payout["quantity"], payout["unit"], payout["unit_price_eur"]) == (316.125, "EUR market value", D("1"))
    assert payout["volume_mwh"] == pytest.approx(3.75)
    assert amounts(payout) == (D("316.13"), D("60.06"), D("376.19"))
    # fee: 316.125 * 5 % = 15.80625 -> 15.81; VAT 15.81 * 0.19 = 3.0039 -> 3.00; gross 18.81
    assert (fee["quantity"], fee["unit_price_eur"]) == (316.125, D("0.05"))
    assert amounts(fee) == (D("15.81"), D("3.00"), D("18.81"))
    invoice = invoice_of(result)
    # net 316.13 - 15.81 = 300.32; VAT 60.06 - 3.00 = 57.06; gross 357.38
    assert (invoice["net_eur"], invoice["vat_eur"], invoice["gross_eur"]) == (D("300.32"), D("57.06"), D("357.38"))
    assert invoice["status"] == "final" and invoice["n_qh_unpriced"] == 0


def test_market_price_with_fee_as_produced():
    terms = contract(**TWO_DAYS, price_model="market", price_eur_per_mwh=None, fee=2.0)
    result = run(terms, boi=infeed("A1", [D1, D2], ENERGY), prices=PRICES)
    lines = lines_of(result)
    assert amounts(lines["infeed_payout"]) == (D("316.13"), D("60.06"), D("376.19"))  # as above
    assert amounts(lines["fee"]) == (D("7.50"), D("1.43"), D("8.93"))  # 3.75 MWh * 2; VAT 1.425 -> 1.43
    # net 316.13 - 7.50 = 308.63; VAT 60.06 - 1.43 = 58.63; gross 367.26
    invoice = invoice_of(result)
    assert (invoice["net_eur"], invoice["vat_eur"], invoice["gross_eur"]) == (D("308.63"), D("58.63"), D("367.26"))


def test_market_qh_without_public_vwap_is_counted_and_makes_the_invoice_provisional():
    terms = contract(**TWO_DAYS, price_model="market", price_eur_per_mwh=None)
    result = run(terms, boi=infeed("A1", [D1, D2], ENERGY), prices={qh(D1, 48): 60.0})
    invoice = invoice_of(result)
    # 2 June QH 50 produced 2.25 MWh but has no public VWAP: valued at 0, payout 1.5 * 60 = 90.00
    assert amounts(lines_of(result)["infeed_payout"]) == (D("90.00"), D("17.10"), D("107.10"))
    assert invoice["status"] == "provisional" and invoice["n_qh_unpriced"] == 1
    assert invoice["reason"] == "1 producing QHs without public VWAP (valued at 0)"


# --- periods, redispatch, status -----------------------------------------------------------------


def test_contract_starting_mid_month_counts_only_its_active_days():
    begin = date(2025, 6, 16)
    terms = contract(contract_begin=begin, fee_model="fixed_for_capacity", fee=600.0, capacity_mw=5.0)
    # 15 June (before the contract) produced 9 MWh: not invoiced. 16 and 17 June are built.
    boi = pl.concat([infeed("A1", [date(2025, 6, 15)], {(date(2025, 6, 15), 40): 9.0}),
                     infeed("A1", [begin, date(2025, 6, 17)], {(begin, 40): 1.0, (date(2025, 6, 17), 41): 0.5})])
    result = run(terms, boi=boi, built=[date(2025, 6, 15), begin, date(2025, 6, 17)])
    invoice, lines = invoice_of(result), lines_of(result)
    assert (invoice["period_start"], invoice["period_end"], invoice["active_days"]) == (begin, date(2025, 6, 30), 15)
    assert invoice["volume_mwh"] == pytest.approx(1.5)  # 1.0 + 0.5, not the 9 MWh of 15 June
    # capacity fee, pro rata to the 15 active days (16..30 June) whether built or not:
    # 5 MW * 600 EUR/MW * 15/30 = 1500.00; quantity 5 * 15/30 = 2.5 MW·month; VAT 285.00
    assert (lines["fee"]["quantity"], lines["fee"]["unit_price_eur"]) == (2.5, D("600"))
    assert amounts(lines["fee"]) == (D("1500.00"), D("285.00"), D("1785.00"))
    assert amounts(lines["infeed_payout"]) == (D("120.00"), D("22.80"), D("142.80"))  # 1.5 MWh * 80
    assert invoice["status"] == "provisional" and invoice["built_days"] == 2
    assert invoice["reason"] == "13 of 15 active days not built: 2025-06-18..2025-06-30"
    assert invoice["missing_days"].split(", ")[0] == "2025-06-18" and len(invoice["missing_days"].split(", ")) == 13
    days = result.day_volumes.filter(pl.col("invoice_id") == "INV-C1-2025-06")
    assert days.height == 15 and days["delivery_day"].min() == begin
    assert days.filter(pl.col("delivery_day") == date(2025, 6, 18)).row(0, named=True)["source_summary"] == "not built"


def test_redispatch_payout_is_latest_forecast_times_compensation():
    curtailed = (D1, 52)
    boi = infeed("A1", [D1, D2], ENERGY | {curtailed: 0.2}, redispatched={curtailed})
    result = run(contract(**TWO_DAYS), boi=boi, forecasts={("A1", qh(*curtailed)): 1.2},
                 compensations={qh(*curtailed): 95.5, qh(D1, 53): 99.0})
    redispatch = lines_of(result)["redispatch_payout"]
    # 1 curtailed QH: 1.2 MWh latest forecast * 95.50 EUR/MWh = 114.60; VAT 21.774 -> 21.77; gross 136.37
    assert (redispatch["quantity"], redispatch["unit"], redispatch["volume_mwh"]) == (114.6, "EUR compensation", 1.2)
    assert amounts(redispatch) == (D("114.60"), D("21.77"), D("136.37"))
    invoice = invoice_of(result)
    # the measured 0.2 MWh is infeed as usual: payout (3.75 + 0.2) * 80 = 316.00, fee 3.95 * 2 = 7.90
    # net 316.00 - 7.90 + 114.60 = 422.70; VAT 60.04 - 1.50 + 21.77 = 80.31; gross 503.01
    assert (invoice["net_eur"], invoice["vat_eur"], invoice["gross_eur"]) == (D("422.70"), D("80.31"), D("503.01"))
    assert invoice["n_qh_redispatched"] == 1 and invoice["status"] == "final"
    claims = redispatch_claims(assign_versions(result, None, None, None)[0])
    assert claims.select("dso_id", "metering_point_id", "curtailed_qh", "energy_mwh", "amount_eur").to_dicts() == [
        {"dso_id": "DSO", "metering_point_id": "MP-A1", "curtailed_qh": 1, "energy_mwh": 1.2, "amount_eur": D("114.60")}
    ]


def test_provisional_invoice_counts_qhs_without_final_data_and_names_missing_days():
    terms = contract(contract_begin=D1, contract_end=date(2025, 6, 4))  # active 1, 2, 3 June
    live = {(D1, 48): "live", (D1, 49): "live", (D2, 10): "forecast"}
    result = run(terms, boi=infeed("A1", [D1, D2], ENERGY, sources=live))  # 3 June not built
    invoice = invoice_of(result)
    # 3 QHs of 2 * 96 = 192 are not final; 3 June is not built
    assert (invoice["n_qh"], invoice["n_qh_not_final"], invoice["missing_days"]) == (192, 3, "2025-06-03")
    assert invoice["status"] == "provisional"
    assert invoice["reason"] == ("3 of 192 QHs without final DSO data (best-of-infeed stands in); "
                                 "1 of 3 active days not built: 2025-06-03")
    # the live value of QH 48 stands in: 3.75 MWh * 80 = 300.00
    assert lines_of(result)["infeed_payout"]["net_eur"] == D("300.00")
    day1 = result.day_volumes.filter(pl.col("delivery_day") == D1).row(0, named=True)
    assert (day1["final_qh"], day1["total_qh"], day1["source_summary"]) == (94, 96, "final 94, live 2")


def test_missing_best_of_infeed_rows_count_as_not_final():
    result = run(contract(**TWO_DAYS), boi=infeed("A1", [D1], {(D1, 48): 1.5}))  # 2 June built but no rows
    invoice = invoice_of(result)
    assert (invoice["n_qh_not_final"], invoice["status"]) == (96, "provisional")
    day2 = result.day_volumes.filter(pl.col("delivery_day") == D2).row(0, named=True)
    assert (day2["volume_mwh"], day2["source_summary"]) == (0.0, "no data 96")


def test_blocked_contract_has_reason_no_amounts_and_does_not_affect_others():
    broken = contract(**TWO_DAYS, contract_id="CON1_WND-DE-003", asset_id="WND-DE-003",
                      metering_point_id="MP-WND-003", price_eur_per_mwh=None, fee=None, fee_percent=5.0)
    boi = pl.concat([infeed("A1", [D1, D2], ENERGY), infeed("WND-DE-003", [D1, D2], {(D1, 10): 2.5})])
    result = run(contract(**TWO_DAYS), broken, boi=boi)
    blocked = invoice_of(result, "CON1_WND-DE-003")
    assert blocked["status"] == "blocked"
    assert blocked["reason"] == ("terms cannot be applied: price_model fixed without price (2025-06-01..2025-06-02); "
                                 "fee_model fixed_as_produced without fee (fee_percent 5.0 given) (2025-06-01..2025-06-02)")
    assert (blocked["net_eur"], blocked["vat_eur"], blocked["gross_eur"]) == (None, None, None)
    assert result.lines.filter(pl.col("invoice_id") == "INV-CON1_WND-DE-003-2025-06").height == 0
    normal = invoice_of(result, "C1")  # same numbers as test_fixed_price_with_fee_as_produced
    assert (normal["status"], normal["net_eur"], normal["gross_eur"]) == ("final", D("292.50"), D("348.07"))


def test_terms_changing_within_the_month_give_one_line_per_term_period():
    cbd = pl.concat([contracts_by_day(contract(**TWO_DAYS), days=[D1]),
                     contracts_by_day(contract(**TWO_DAYS, price_eur_per_mwh=90.0), days=[D2])])
    result = compute_invoices(MONTH, cbd, infeed("A1", [D1, D2], ENERGY), forecast(), vwap(), compensation(), [D1, D2])
    payouts = result.lines.filter(pl.col("line_type") == "infeed_payout").sort("line_no").to_dicts()
    # 1 June: 1.5 MWh * 80 = 120.00; 2 June: 2.25 MWh * 90 = 202.50
    assert [(p["period_start"], p["quantity"], p["unit_price_eur"], p["net_eur"]) for p in payouts] == [
        (D1, 1.5, D("80"), D("120.00")), (D2, 2.25, D("90"), D("202.50"))]
    assert [line["line_no"] for line in result.lines.to_dicts()] == [1, 2, 3, 4]
    # fee unchanged: one line 3.75 * 2 = 7.50; net 120.00 + 202.50 - 7.50 = 315.00
    assert invoice_of(result)["net_eur"] == D("315.00")


def test_negative_night_solar_energy_enters_the_volume_as_measured():
    result = run(contract(**TWO_DAYS), boi=infeed("A1", [D1, D2], ENERGY | {(D1, 2): -0.001}))
    # 3.75 - 0.001 = 3.749 MWh; payout 3.749 * 80 = 299.92
    assert invoice_of(result)["volume_mwh"] == pytest.approx(3.749)
    assert lines_of(result)["infeed_payout"]["net_eur"] == D("299.92")


def test_redispatched_qh_without_forecast_is_valued_at_0_and_counted():
    curtailed = (D1, 52)
    boi = infeed("A1", [D1, D2], ENERGY, redispatched={curtailed})
    result = run(contract(**TWO_DAYS), boi=boi, compensations={qh(*curtailed): 95.5})
    invoice = invoice_of(result)
    assert lines_of(result)["redispatch_payout"]["net_eur"] == D("0.00")
    assert (invoice["n_qh_redispatch_unpriced"], invoice["status"]) == (1, "provisional")
    assert invoice["reason"] == "1 redispatched QHs without latest forecast or compensation price (valued at 0)"


def test_autumn_dst_day_has_100_quarter_hours():
    day = date(2025, 10, 26)
    terms = contract(contract_begin=day, contract_end=date(2025, 10, 27))
    result = compute_invoices("2025-10", contracts_by_day(terms, days=[day]), infeed("A1", [day], {(day, 99): 1.0}),
                              forecast(), vwap(), compensation(), [day])
    invoice = invoice_of(result)
    # 25 hours * 4 = 100 QHs, all final; the last QH (index 99) produced 1 MWh: 1 * 80 = 80.00
    assert (invoice["n_qh"], invoice["n_qh_not_final"], invoice["status"]) == (100, 0, "final")
    assert (invoice["days_in_month"], invoice["active_days"]) == (31, 1)
    assert lines_of(result)["infeed_payout"]["net_eur"] == D("80.00")
    assert result.invoices["invoice_id"].to_list() == ["INV-C1-2025-10"]


def test_contract_absent_or_inactive_in_the_month_gets_no_invoice():
    ended = contract(contract_id="C0", contract_end=date(2025, 6, 1))  # ends before 1 June is active
    result = run(contract(**TWO_DAYS), ended, boi=infeed("A1", [D1, D2], ENERGY))
    assert result.invoices["contract_id"].to_list() == ["C1"]


# --- rounding ------------------------------------------------------------------------------------


def test_rounding_is_half_up_to_the_cent_per_line():
    assert cents(D("10.005")) == D("10.01") and cents(D("10.004999")) == D("10.00")
    assert cents(D("-10.005")) == D("-10.01")  # away from zero
    # 50 MW: 10.005 MWh in a QH is plausible (at most 1.1 x 50 MW x 0.25 h = 13.75 MWh)
    terms = contract(**TWO_DAYS, price_eur_per_mwh=1.0, fee=0.0, capacity_mw=50.0)
    result = run(terms, boi=infeed("A1", [D1, D2], {(D1, 30): 10.005}))
    payout = lines_of(result)["infeed_payout"]
    # 10.005 MWh * 1.00 EUR/MWh = 10.005 -> 10.01 (a float product 10.004999... would give 10.00)
    # VAT 10.01 * 0.19 = 1.9019 -> 1.90; gross 11.91
    assert amounts(payout) == (D("10.01"), D("1.90"), D("11.91"))
    assert result.lines.schema["net_eur"] == pl.Decimal(18, 2)


def test_month_must_be_year_dash_month():
    assert len(month_days("2024-02")) == 29
    with pytest.raises(ValueError, match="2025-13"):
        month_days("2025-13")


# --- versions ------------------------------------------------------------------------------------


def test_same_inputs_keep_the_version_and_give_identical_frames():
    inputs = dict(boi=infeed("A1", [D1, D2], ENERGY))
    first, issued = assign_versions(run(contract(**TWO_DAYS), **inputs), None, None, None)
    assert [(i["invoice_id"], i["version"], i["supersedes_version"]) for i in issued] == [("INV-C1-2025-06", 1, None)]
    again, issued_again = assign_versions(
        run(contract(**TWO_DAYS), **inputs), first.invoices, first.lines, first.day_volumes
    )
    assert issued_again == []
    assert again.invoices.equals(first.invoices) and again.lines.equals(first.lines)
    assert again.day_volumes.equals(first.day_volumes)
    assert first.invoices.select("version", "is_current").rows() == [(1, True)]


def test_dso_correction_issues_version_2_and_keeps_version_1():
    first, _ = assign_versions(run(contract(**TWO_DAYS), boi=infeed("A1", [D1, D2], ENERGY)), None, None, None)
    corrected = run(contract(**TWO_DAYS), boi=infeed("A1", [D1, D2], ENERGY | {(D2, 50): 2.5}))
    both, issued = assign_versions(corrected, first.invoices, first.lines, first.day_volumes)
    # 2 June QH 50: 2.25 -> 2.5 MWh; volume 3.75 -> 4.0; payout 4.0 * 80 = 320.00; fee 4.0 * 2 = 8.00
    assert both.invoices.select("version", "supersedes_version", "is_current").rows() == [(1, None, False), (2, 1, True)]
    v1, v2 = both.invoices.to_dicts()
    assert v1 | {"is_current": True} == first.invoices.row(0, named=True)  # version 1 kept as issued
    assert v2["changes"] == (
        "volume_mwh 3.750000 -> 4.000000; infeed_payout net 300.00 -> 320.00; fee net 7.50 -> 8.00; "
        "invoice net_eur 292.50 -> 312.00; invoice gross_eur 348.07 -> 371.28; "
        "day volume 2025-06-02 2.250000 -> 2.500000 MWh"
    )
    # net 320.00 - 8.00 = 312.00; VAT 60.80 - 1.52 = 59.28; gross 371.28
    assert v2["gross_eur"] == D("371.28")
    assert issued == [{"invoice_id": "INV-C1-2025-06", "version": 2, "supersedes_version": 1, "changes": v2["changes"],
                       "contract_id": "C1", "month": MONTH, "status": "final", "gross_eur": D("371.28")}]
    assert both.lines.group_by("version").len().sort("version").rows() == [(1, 3), (2, 3)]
    assert both.day_volumes.filter(pl.col("version") == 1)["volume_mwh"].to_list() == [1.5, 2.25]
    # re-running the correction changes nothing more
    rerun, issued_again = assign_versions(corrected, both.invoices, both.lines, both.day_volumes)
    assert issued_again == [] and rerun.invoices.equals(both.invoices) and rerun.lines.equals(both.lines)


def test_status_change_is_named_in_changes():
    provisional = run(contract(**TWO_DAYS), boi=infeed("A1", [D1, D2], ENERGY, sources={(D1, 48): "live"}))
    first, _ = assign_versions(provisional, None, None, None)
    final = run(contract(**TWO_DAYS), boi=infeed("A1", [D1, D2], ENERGY))
    both, _ = assign_versions(final, first.invoices, first.lines, first.day_volumes)
    assert both.invoices.filter(pl.col("version") == 2)["changes"].item() == "status provisional -> final; n_qh_not_final 1 -> 0"


# --- DSO -----------------------------------------------------------------------------------------


def test_dso_of_metering_point_defaults_to_one_configurable_dso():
    assert dso_of_metering_point("MP-A1") == "DSO"
    assert dso_of_metering_point("MP-A1", default="DSO-WEST") == "DSO-WEST"
    assert dso_of_metering_point("MP-A1", {"MP-A1": "DSO-NORTH"}) == "DSO-NORTH"
