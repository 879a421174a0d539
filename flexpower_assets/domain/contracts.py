"""Contract rules, in one place: active days, term validity and the money of a contract's terms.

Used by the portfolio (which assets are in it), the invoices, the performance reports and, through
the ``core.contract_days`` table, the portal's row filters. No Dagster, no files.

- **Active day** (DOMAIN.md, Portfolio): a contract is active on ``day`` when
  ``contract_begin <= day`` and (no ``contract_end`` or ``day < contract_end``): the begin is
  inclusive, the end exclusive.
- **Term validity**: ``term_issues`` lists what is wrong with one row of terms. An issue that
  ``blocks`` the payout or the fee keeps that amount from being computed (a fixed price without a
  price, a fee model without its fee, fee_percent or capacity, an unknown model); the others are
  inconsistencies that the data-quality check reports but that do not change an amount (a price
  on a market-price contract, a fee_percent on a fixed fee, a fee on a percent fee).
- **Money** (DOMAIN.md, Invoices): ``Decimal`` from the exact values of the float inputs; per run
  of consecutive active days with the same terms, one infeed payout and one fee, each rounded
  half-up to the cent once. Fixed price and fixed fee: quantity = volume rounded to 6 decimals
  (MWh) x the price rounded to 6 decimals. Market price: the market value (sum over QHs of energy
  x public VWAP). Percent fee: market value x fee_percent / 100. Capacity fee: capacity x fee x
  active days of the run / days of the month. Invoices and reports both take their amounts from
  ``contract_money``, so a report's payout and fee are the invoice's to the cent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl

from flexpower_assets.schemas.inbound import FEE_MODELS, PRICE_MODELS

CENT = Decimal("0.01")
MICRO = Decimal("0.000001")
ZERO = Decimal(0)
FIXED_FEE_MODELS = ("fixed_as_produced", "fixed_for_capacity")
PERCENT_FEE_MODEL = "percent_of_market"
CONTRACT_DAY_COLUMNS = ("contract_id", "asset_id", "delivery_day", "is_active")


# --- numbers --------------------------------------------------------------------------------------


def cents(amount: Decimal) -> Decimal:
    """Round half-up (away from zero at exactly .5) to the cent."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def micro(value: Decimal) -> Decimal:
    """Round half-up to 6 decimals (quantities in MWh, prices in EUR/MWh)."""
    return value.quantize(MICRO, rounding=ROUND_HALF_UP)


def dec(value: float | int | None) -> Decimal | None:
    """The exact decimal of a float input (its shortest repr); None for null/NaN."""
    if value is None or value != value:
        return None
    return Decimal(repr(value))


# --- active days ----------------------------------------------------------------------------------


def is_active(day: pl.Expr | date | None = None) -> pl.Expr:
    """True where the row's contract is active on ``day`` (default: the row's ``delivery_day``)."""
    if day is None:
        day_expr = pl.col("delivery_day")
    elif isinstance(day, pl.Expr):
        day_expr = day
    else:
        day_expr = pl.lit(day, dtype=pl.Date)
    return (pl.col("contract_begin") <= day_expr) & (
        pl.col("contract_end").is_null() | (day_expr < pl.col("contract_end"))
    )


def active_on(contracts: pl.DataFrame, day: date) -> pl.DataFrame:
    """The contracts of ``contracts`` that are active on ``day``."""
    return contracts.filter(is_active(day))


def active_rows(contracts_by_day: pl.DataFrame) -> pl.DataFrame:
    """The rows of a (contract, delivery_day) frame on which the contract is active that day."""
    return contracts_by_day.filter(is_active())


def contract_days(contracts_by_day: pl.DataFrame) -> pl.DataFrame:
    """``contract_id, asset_id, delivery_day, is_active``: every contract of each day's snapshot.

    This is the ``core.contract_days`` table that the portal's row filters join: a customer owns an
    asset on a day when its contract has ``is_active`` on that row.
    """
    if contracts_by_day.is_empty():
        return pl.DataFrame(schema={"contract_id": pl.String, "asset_id": pl.String,
                                    "delivery_day": pl.Date, "is_active": pl.Boolean})
    return (
        contracts_by_day.select(
            "contract_id", "asset_id", pl.col("delivery_day").cast(pl.Date),
            is_active=is_active(pl.col("delivery_day").cast(pl.Date)),
        )
        .unique(maintain_order=True)
        .sort("delivery_day", "contract_id", "asset_id")
    )


# --- term validity --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermIssue:
    """One problem of a row of contract terms; ``blocks`` is ``payout``/``fee`` or None."""

    code: str
    blocks: str | None


def term_issues(terms: Mapping[str, Any]) -> list[TermIssue]:
    """Every problem of one row of terms, price first, then fee, then inconsistencies."""
    issues: list[TermIssue] = []
    price_model, fee_model = terms.get("price_model"), terms.get("fee_model")
    price, fee, percent = dec(terms.get("price_eur_per_mwh")), dec(terms.get("fee")), dec(terms.get("fee_percent"))
    if price_model not in PRICE_MODELS:
        issues.append(TermIssue("unknown_price_model", "payout"))
    elif price_model == "fixed" and price is None:
        issues.append(TermIssue("price_missing", "payout"))
    elif price_model == "market" and price is not None:
        issues.append(TermIssue("price_on_market", None))
    if fee_model not in FEE_MODELS:
        issues.append(TermIssue("unknown_fee_model", "fee"))
    elif fee_model in FIXED_FEE_MODELS and fee is None:
        issues.append(TermIssue("fee_missing", "fee"))
    elif fee_model == PERCENT_FEE_MODEL and percent is None:
        issues.append(TermIssue("fee_percent_missing", "fee"))
    if fee_model == "fixed_for_capacity" and not (dec(terms.get("capacity_mw")) or ZERO) > 0:
        issues.append(TermIssue("capacity_missing", "fee"))
    if fee_model != PERCENT_FEE_MODEL and percent is not None:
        issues.append(TermIssue("fee_percent_on_fixed", None))
    if fee_model == PERCENT_FEE_MODEL and fee is not None:
        issues.append(TermIssue("fee_on_percent", None))
    return issues


def blocking_issues(terms: Mapping[str, Any], amount: str | None = None) -> list[TermIssue]:
    """The issues that keep an amount (``payout``, ``fee``, or either when None) from being computed."""
    return [i for i in term_issues(terms) if i.blocks is not None and (amount is None or i.blocks == amount)]


# --- money ----------------------------------------------------------------------------------------


@dataclass
class DaySums:
    """What one active day of a contract adds up to, exactly: volume (MWh) and market value (EUR)."""

    volume: Decimal = ZERO
    market_value: Decimal = ZERO
    unpriced_qh: int = 0

    def add(self, energy_mwh: float | None, vwap: float | None) -> Decimal | None:
        """Add one QH (energy, public VWAP); a producing QH without VWAP is counted, valued at 0.

        Returns the QH's exact energy (None when it has none)."""
        energy = dec(energy_mwh)
        if energy is None:
            return None
        self.volume += energy
        price = dec(vwap)
        if price is not None:
            self.market_value += energy * price
        elif energy != 0:
            self.unpriced_qh += 1
        return energy


def day_sums(rows: Iterable[tuple[Any, float | None, float | None]]) -> dict[Any, DaySums]:
    """``DaySums`` per key from ``(key, energy_mwh, vwap_public)`` rows (one per QH)."""
    sums: dict[Any, DaySums] = {}
    for key, energy, vwap in rows:
        sums.setdefault(key, DaySums()).add(energy, vwap)
    return sums


@dataclass(frozen=True)
class Amount:
    """The money of one run of days: an infeed payout or a fee, net, rounded to the cent."""

    line_type: str  # infeed_payout | fee
    run: tuple[Mapping[str, Any], ...]  # the day terms of the run, in day order
    quantity: Decimal
    unit: str
    unit_price: Decimal
    net: Decimal
    volume: Decimal  # exact MWh of the run's built days
    market_value: Decimal  # exact EUR of the run's built days

    @property
    def terms(self) -> Mapping[str, Any]:
        return self.run[0]

    @property
    def period(self) -> tuple[date, date]:
        return self.run[0]["delivery_day"], self.run[-1]["delivery_day"]


def infeed_key(terms: Mapping[str, Any]) -> tuple:
    """Days with the same key share an infeed payout line."""
    if terms["price_model"] == "fixed":
        return ("fixed", dec(terms["price_eur_per_mwh"]))
    return ("market",)


def fee_key(terms: Mapping[str, Any]) -> tuple:
    """Days with the same key share a fee line."""
    model = terms["fee_model"]
    if model == "fixed_as_produced":
        return (model, dec(terms["fee"]))
    if model == "fixed_for_capacity":
        return (model, dec(terms["fee"]), dec(terms["capacity_mw"]))
    return (model, dec(terms["fee_percent"]))


def runs(day_terms: list[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], tuple]) -> list[list[Mapping]]:
    """Consecutive active days with the same key (a gap in the active days also starts a run)."""
    found: list[list[Mapping]] = []
    for terms in day_terms:
        if (
            found
            and key(found[-1][-1]) == key(terms)
            and terms["delivery_day"] - found[-1][-1]["delivery_day"] == timedelta(days=1)
        ):
            found[-1].append(terms)
        else:
            found.append([terms])
    return found


def _totals(run: list[Mapping], sums: Mapping[date, DaySums]) -> tuple[Decimal, Decimal]:
    days = [sums[t["delivery_day"]] for t in run if t["delivery_day"] in sums]
    return sum((d.volume for d in days), ZERO), sum((d.market_value for d in days), ZERO)


def infeed_payout(run: list[Mapping], sums: Mapping[date, DaySums]) -> Amount:
    """The infeed payout of a run of days with the same price terms."""
    volume, value = _totals(run, sums)
    terms = run[0]
    if terms["price_model"] == "fixed":
        quantity, price = micro(volume), micro(dec(terms["price_eur_per_mwh"]))
        return Amount("infeed_payout", tuple(run), quantity, "MWh", price, cents(quantity * price), volume, value)
    market_value = micro(value)
    return Amount("infeed_payout", tuple(run), market_value, "EUR market value", Decimal(1), cents(market_value),
                  volume, value)


def fee(run: list[Mapping], sums: Mapping[date, DaySums], days_in_month: int) -> Amount:
    """The fee of a run of days with the same fee terms."""
    volume, value = _totals(run, sums)
    terms = run[0]
    model = terms["fee_model"]
    if model == "fixed_as_produced":
        quantity, unit_fee = micro(volume), micro(dec(terms["fee"]))
        return Amount("fee", tuple(run), quantity, "MWh", unit_fee, cents(quantity * unit_fee), volume, value)
    if model == "fixed_for_capacity":
        capacity, unit_fee, active = dec(terms["capacity_mw"]), micro(dec(terms["fee"])), len(run)
        net = cents(capacity * unit_fee * active / days_in_month)
        return Amount("fee", tuple(run), micro(capacity * active / days_in_month), "MW·month", unit_fee, net,
                      volume, value)
    market_value, share = micro(value), micro(dec(terms["fee_percent"]) / 100)
    return Amount("fee", tuple(run), market_value, "EUR market value", share, cents(market_value * share),
                  volume, value)


def payouts(day_terms: list[Mapping[str, Any]], sums: Mapping[date, DaySums]) -> list[Amount]:
    """One infeed payout per run of days with the same price terms."""
    return [infeed_payout(run, sums) for run in runs(day_terms, infeed_key)]


def fees(day_terms: list[Mapping[str, Any]], sums: Mapping[date, DaySums], days_in_month: int) -> list[Amount]:
    """One fee per run of days with the same fee terms."""
    return [fee(run, sums, days_in_month) for run in runs(day_terms, fee_key)]


def contract_money(day_terms: list[Mapping[str, Any]], sums: Mapping[date, DaySums],
                   days_in_month: int) -> list[Amount]:
    """Infeed payouts, then fees, of one contract's active days of one month (terms that apply).

    ``day_terms`` are the contract's active days in order, each with its terms and
    ``delivery_day``; ``sums`` the exact sums of its built days.
    """
    return payouts(day_terms, sums) + fees(day_terms, sums, days_in_month)
