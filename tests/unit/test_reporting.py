"""Performance report figures, worked out by hand on a few quarter-hours, and the written summary.

Every example is on delivery day 2025-06-08, whose first QH starts at 2025-06-07 22:00 UTC
(00:00 CEST). Powers are kW; a QH's energy is power / 4000 MWh (kW / 1000 x 0.25 h).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from plotly.offline import get_plotlyjs

from flexpower_assets.domain.reporting import (
    PORTFOLIO,
    ReportInputs,
    build_daily_report,
    build_monthly_report,
    quarter_hours_of_day,
    report_markdown_summary,
)
from flexpower_assets.reports import (
    load_report_inputs,
    plotly_bundle_path,
    render_report_html,
    render_reports,
    report_html,
    report_path,
    write_plotly_bundle,
)
from resources.warehouse import Warehouse

DAY = date(2025, 6, 8)
T0 = datetime(2025, 6, 7, 22, 0, tzinfo=timezone.utc)
QH4 = [T0 + timedelta(minutes=15 * i) for i in range(4)]


def contract(asset: str, capacity_mw: float = 1.0, price_model: str = "fixed", price: float | None = 70.0,
             fee_model: str = "fixed_as_produced", fee: float | None = 2.0, fee_percent: float | None = None,
             day: date = DAY) -> dict:
    return dict(delivery_day=day, contract_id=f"CON-{asset}", asset_id=asset, capacity_mw=capacity_mw,
                contract_begin=date(2025, 1, 1), contract_end=None, price_model=price_model,
                price_eur_per_mwh=price, fee_model=fee_model, fee=fee, fee_percent=fee_percent)


def infeed(asset: str, power_kw: list[float], sources: list[str] | None = None,
           redispatched: list[bool] | None = None, starts: list[datetime] = QH4) -> list[dict]:
    sources = sources or ["final"] * len(power_kw)
    redispatched = redispatched or [False] * len(power_kw)
    return [dict(delivery_day=DAY, asset_id=asset, delivery_start=t, power_kw=p, energy_mwh=p / 4000, source=s,
                 is_redispatched=r) for t, p, s, r in zip(starts, power_kw, sources, redispatched, strict=True)]


def forecast(asset: str, latest_kw: list[float], tradeable_kw: list[float], starts: list[datetime] = QH4) -> list[dict]:
    return [dict(delivery_day=DAY, asset_id=asset, delivery_start=t, latest_power_kw=lt, tradeable_power_kw=tr)
            for t, lt, tr in zip(starts, latest_kw, tradeable_kw, strict=True)]


def imbalance(asset: str, imbalance_mwh: list[float], cost_eur: list[float | None],
              price_source: list[str] | None = None) -> list[dict]:
    price_source = price_source or ["final"] * len(imbalance_mwh)
    return [dict(delivery_day=DAY, asset_id=asset, delivery_start=t, imbalance_mwh=i, price_eur_per_mwh=None,
                 price_source=s, imbalance_cost_eur=c)
            for t, i, c, s in zip(QH4, imbalance_mwh, cost_eur, price_source, strict=True)]


def pnl(vwap_public: list[float], **columns: list[float]) -> pl.DataFrame:
    n = len(vwap_public)
    base = dict(revenue_eur=[0.0] * n, sold_mwh=[0.0] * n, bought_mwh=[0.0] * n, vwap_private=[None] * n,
                public_mwh=[100.0] * n)
    base.update(columns)
    return pl.DataFrame(dict(delivery_day=[DAY] * n, delivery_start=QH4[:n], vwap_public=vwap_public, **base))


# ---------------------------------------------------------------------------------------------
# forecast accuracy


def test_mae_rmse_bias_on_four_quarter_hours() -> None:
    frames = ReportInputs(
        contracts=pl.DataFrame([contract("A", capacity_mw=1.0)]),
        best_of_infeed=pl.DataFrame(infeed("A", [100, 200, 300, 400])),
        asset_forecast=pl.DataFrame(forecast("A", latest_kw=[110, 190, 330, 400], tradeable_kw=[150, 150, 300, 500])),
    )
    report = build_daily_report(DAY, frames)
    tradeable = report.row("accuracy", "A", forecast="tradeable")
    # errors (forecast - measured): +50, -50, 0, +100 kW
    assert tradeable["n_qh"] == 4
    assert tradeable["mae_kw"] == pytest.approx(50.0)  # (50 + 50 + 0 + 100) / 4
    assert tradeable["rmse_kw"] == pytest.approx(math.sqrt(3750))  # sqrt((2500 + 2500 + 0 + 10000) / 4) = 61.24
    assert tradeable["bias_kw"] == pytest.approx(25.0)  # (50 - 50 + 0 + 100) / 4
    assert tradeable["nmae_pct"] == pytest.approx(5.0)  # 50 / 1000 kW capacity
    assert tradeable["nrmse_pct"] == pytest.approx(6.1237, abs=1e-4)  # 61.237 / 1000
    assert tradeable["nbias_pct"] == pytest.approx(2.5)  # 25 / 1000
    latest = report.row("accuracy", "A", forecast="latest")
    # errors: +10, -10, +30, 0 kW
    assert latest["mae_kw"] == pytest.approx(12.5)  # 50 / 4
    assert latest["rmse_kw"] == pytest.approx(math.sqrt(275))  # sqrt((100 + 100 + 900 + 0) / 4) = 16.58
    assert latest["bias_kw"] == pytest.approx(7.5)  # 30 / 4


def test_accuracy_skips_redispatched_and_unmeasured_quarter_hours() -> None:
    frames = ReportInputs(
        contracts=pl.DataFrame([contract("A")]),
        best_of_infeed=pl.DataFrame(infeed("A", [100, 200, 0, 300], sources=["final", "live", "final", "forecast"],
                                           redispatched=[False, False, True, False])),
        asset_forecast=pl.DataFrame(forecast("A", [100, 200, 300, 400], tradeable_kw=[150, 150, 900, 999])),
    )
    t = build_daily_report(DAY, frames).row("accuracy", "A", forecast="tradeable")
    # only QH 0 (final) and QH 1 (live) count: errors +50 and -50
    assert (t["n_qh"], t["mae_kw"], t["bias_kw"], t["rmse_kw"]) == (2, pytest.approx(50.0), pytest.approx(0.0),
                                                                     pytest.approx(50.0))


def test_portfolio_accuracy_sums_the_assets_errors_per_quarter_hour() -> None:
    frames = ReportInputs(
        contracts=pl.DataFrame([contract("A", capacity_mw=1.0), contract("B", capacity_mw=2.0)]),
        best_of_infeed=pl.DataFrame(infeed("A", [100, 200, 300, 400]) + infeed("B", [1000] * 4)),
        asset_forecast=pl.DataFrame(forecast("A", [0] * 4, [150, 150, 300, 500])
                                    + forecast("B", [0] * 4, [900, 1100, 1000, 1000])),
    )
    p = build_daily_report(DAY, frames).row("accuracy", PORTFOLIO, forecast="tradeable")
    # A: +50, -50, 0, +100; B: -100, +100, 0, 0 -> portfolio: -50, +50, 0, +100
    assert p["mae_kw"] == pytest.approx(50.0)  # 200 / 4
    assert p["bias_kw"] == pytest.approx(25.0)  # 100 / 4
    assert p["nmae_pct"] == pytest.approx(50 / 3000 * 100)  # capacity 1 + 2 MW = 3,000 kW -> 1.667 %


def test_worst_forecast_hour_is_named_in_utc_and_berlin_time() -> None:
    starts = [T0, T0 + timedelta(minutes=15), T0 + timedelta(hours=1), T0 + timedelta(minutes=75)]
    frames = ReportInputs(
        contracts=pl.DataFrame([contract("A")]),
        best_of_infeed=pl.DataFrame(infeed("A", [100, 100, 100, 100], starts=starts)),
        asset_forecast=pl.DataFrame(forecast("A", [0] * 4, [150, 50, 500, 500], starts=starts)),
    )
    report = build_daily_report(DAY, frames)
    worst = report.row("worst_hours", "A")
    # hour 22 UTC: +50 - 50 = 0 kW; hour 23 UTC: +400 + 400 kW = 800 / 4000 = 0.2 MWh
    assert worst["hour"] == T0 + timedelta(hours=1) and worst["error_mwh"] == pytest.approx(0.2)
    assert ("Worst forecast hour: 2025-06-07 23:00-00:00 UTC (01:00-02:00 CEST), tradeable forecast off by "
            "+0.200 MWh.") in report.summaries["A"].stood_out


# ---------------------------------------------------------------------------------------------
# trading


def test_vwaps_and_spread_over_two_quarter_hours() -> None:
    frames = ReportInputs(
        trading_pnl=pnl([78.0, 88.0], revenue_eur=[160.0, 0.0], sold_mwh=[2.0, 1.0], bought_mwh=[0.0, 1.0],
                        vwap_private=[80.0, 90.0], public_mwh=[100.0, 300.0]),
        trading_daily=pl.DataFrame([dict(delivery_day=DAY, n_trades=5)]),
    )
    t = build_daily_report(DAY, frames).row("trading", PORTFOLIO)
    assert (t["n_trades"], t["revenue_eur"], t["sold_mwh"], t["bought_mwh"], t["net_mwh"]) == (5, 160.0, 3.0, 1.0, 2.0)
    assert t["vwap_private"] == pytest.approx(85.0)  # (80 x 2 + 90 x 2) / 4 MWh
    assert t["vwap_public"] == pytest.approx(85.5)  # (78 x 100 + 88 x 300) / 400 MWh
    assert t["spread_eur_per_mwh"] == pytest.approx(-0.5)  # 85 - 85.5
    assert t["spread_eur"] == pytest.approx(-2.0)  # -0.5 x (3 sold + 1 bought)


# ---------------------------------------------------------------------------------------------
# imbalance, redispatch, money


def test_imbalance_volume_cost_per_mwh_and_netting() -> None:
    frames = ReportInputs(
        contracts=pl.DataFrame([contract("A")]),
        asset_imbalance=pl.DataFrame(imbalance("A", [0.1, -0.2, 0.0, 0.1], [-5.0, 20.0, 0.0, None],
                                               ["final", "estimate", "final", "missing"])),
        portfolio_imbalance=pl.DataFrame([
            dict(delivery_day=DAY, delivery_start=QH4[0], imbalance_mwh=-0.1, price_source="final",
                 imbalance_cost_eur=2.0, standalone_cost_eur=3.0),
            dict(delivery_day=DAY, delivery_start=QH4[1], imbalance_mwh=0.05, price_source="estimate",
                 imbalance_cost_eur=1.0, standalone_cost_eur=1.5),
        ]),
    )
    report = build_daily_report(DAY, frames)
    a = report.row("imbalance", "A")
    assert a["imbalance_mwh"] == pytest.approx(0.0)  # 0.1 - 0.2 + 0 + 0.1
    assert (a["long_mwh"], a["short_mwh"], a["volume_mwh"]) == (pytest.approx(0.2), pytest.approx(0.2),
                                                                pytest.approx(0.4))
    assert a["cost_eur"] == pytest.approx(15.0)  # -5 + 20 + 0 (the unpriced QH has no cost, not 0)
    assert a["cost_eur_per_mwh"] == pytest.approx(50.0)  # 15 / (0.1 + 0.2 + 0) priced MWh
    assert (a["n_qh_final_price"], a["n_qh_estimated_price"], a["n_qh_without_price"]) == (2, 1, 1)
    p = report.row("imbalance", PORTFOLIO)
    assert p["cost_eur"] == pytest.approx(3.0)  # net settlement 2 + 1
    assert p["standalone_cost_eur"] == pytest.approx(4.5)  # 3 + 1.5
    assert p["netting_benefit_eur"] == pytest.approx(1.5)  # 4.5 - 3


def test_curtailed_energy_and_compensation() -> None:
    frames = ReportInputs(
        contracts=pl.DataFrame([contract("A")]),
        best_of_infeed=pl.DataFrame(infeed("A", [100, 0, 0, 100], sources=["final"] * 4,
                                           redispatched=[False, True, True, False])),
        asset_forecast=pl.DataFrame(forecast("A", [100, 800, 400, 100], [100, 800, 400, 100])),
        redispatch_compensation=pl.DataFrame(dict(delivery_day=[DAY] * 4, delivery_start=QH4,
                                                  price_eur_per_mwh=[10.0, 50.0, 60.0, 10.0])),
    )
    report = build_daily_report(DAY, frames)
    r = report.row("redispatch", "A")
    assert r["n_qh"] == 2
    assert r["curtailed_mwh"] == pytest.approx(0.3)  # latest forecast 800 + 400 kW = 0.2 + 0.1 MWh
    assert r["compensation_eur"] == pytest.approx(16.0)  # 0.2 x 50 + 0.1 x 60
    assert report.row("money", "A")["redispatch_payout_eur"] == pytest.approx(16.0)
    assert ("Curtailment: 2 redispatched QHs on A, 0.300 MWh curtailed, compensation 16.00 EUR."
            in report.summaries[PORTFOLIO].stood_out)


def _money_frames(**contract_terms) -> ReportInputs:
    return ReportInputs(
        contracts=pl.DataFrame([contract("A", **contract_terms)]),
        best_of_infeed=pl.DataFrame(infeed("A", [400, 400, 400, 400])),  # 0.1 MWh per QH, 0.4 MWh
        trading_pnl=pnl([80.0, 80.0, 100.0, 100.0]),
        asset_imbalance=pl.DataFrame(imbalance("A", [0.0] * 4, [1.0, -0.5, 0.25, 0.25])),  # cost 1.00 EUR
    )


@pytest.mark.parametrize(("terms", "payout", "fee", "margin"), [
    # market value = 0.1 x (80 + 80 + 100 + 100) = 36.00 EUR in every case
    # fixed 70 EUR/MWh, 2 EUR/MWh: payout 0.4 x 70 = 28, fee 0.4 x 2 = 0.8; margin 36 - 28 + 0.8 - 1 = 7.8
    (dict(), 28.0, 0.8, 7.8),
    # market price, 3 % of market: payout 36, fee 0.03 x 36 = 1.08; margin 36 - 36 + 1.08 - 1 = 0.08
    (dict(price_model="market", price=None, fee_model="percent_of_market", fee=None, fee_percent=3.0),
     36.0, 1.08, 0.08),
    # fixed 70, capacity fee 300 EUR/MW per month for 2 MW, one day of June's 30: 2 x 300 / 30 = 20
    # margin 36 - 28 + 20 - 1 = 27
    (dict(capacity_mw=2.0, fee_model="fixed_for_capacity", fee=300.0), 28.0, 20.0, 27.0),
])
def test_money_from_contract_terms(terms: dict, payout: float, fee: float, margin: float) -> None:
    m = build_daily_report(DAY, _money_frames(**terms)).row("money", "A")
    assert m["market_value_eur"] == pytest.approx(36.0)
    assert (m["payout_eur"], m["fee_eur"], m["imbalance_cost_eur"]) == (pytest.approx(payout), pytest.approx(fee),
                                                                        pytest.approx(1.0))
    assert m["margin_eur"] == pytest.approx(margin)
    assert m["money_source"] == "contract terms"


def test_inapplicable_terms_give_no_margin_and_a_reason() -> None:
    report = build_daily_report(DAY, _money_frames(price=None, fee=None, fee_percent=4.0))
    m = report.row("money", "A")
    assert m["payout_eur"] is None and m["fee_eur"] is None and m["margin_eur"] is None
    assert m["reason"] == ("CON-A: price model 'fixed' without a price; "
                           "CON-A: fee model 'fixed_as_produced' without its parameter")
    assert any("Contract terms cannot be applied" in line for line in report.summaries["A"].provisional)


def test_monthly_money_comes_from_the_current_invoice_lines() -> None:
    frames = _money_frames()
    invoices = pl.DataFrame([
        dict(invoice_id="INV-CON-A-2025-06", version=v, contract_id="CON-A", asset_id="A", month="2025-06",
             status="final", reason=None, net_eur=Decimal("0"), is_current=v == 2) for v in (1, 2)
    ])
    lines = pl.DataFrame([
        dict(invoice_id="INV-CON-A-2025-06", version=v, line_type=t, net_eur=Decimal(amount))
        for v, t, amount in [(1, "infeed_payout", "99.00"), (1, "fee", "9.00"), (1, "redispatch_payout", "0.00"),
                             (2, "infeed_payout", "30.00"), (2, "fee", "1.00"), (2, "redispatch_payout", "2.50")]
    ]).with_columns(pl.col("net_eur").cast(pl.Decimal(18, 2)))
    frames = ReportInputs(**{**{f: getattr(frames, f) for f in ("contracts", "best_of_infeed", "trading_pnl",
                                                              "asset_imbalance")},
                             "invoices": invoices, "invoice_lines": lines})
    report = build_monthly_report("2025-06", frames)
    m = report.row("money", "A")
    # version 2 is current: payout 30, fee 1, redispatch 2.50; margin 36 - 30 + 1 - 1 = 6
    assert (m["payout_eur"], m["fee_eur"], m["redispatch_payout_eur"]) == (30.0, 1.0, 2.5)
    assert m["margin_eur"] == pytest.approx(6.0)
    assert m["money_source"] == "invoice INV-CON-A-2025-06 v2 (final)"
    # only 2025-06-08 is built
    assert ("No data yet for 29 of 30 days: 2025-06-01..2025-06-07, 2025-06-09..2025-06-30."
            in report.summaries[PORTFOLIO].provisional)


def test_portfolio_margin_uses_the_net_imbalance_settlement() -> None:
    frames = _money_frames()
    frames = ReportInputs(**{**{f: getattr(frames, f) for f in ("contracts", "best_of_infeed", "trading_pnl",
                                                              "asset_imbalance")},
                             "portfolio_imbalance": pl.DataFrame([dict(
                                 delivery_day=DAY, delivery_start=QH4[0], imbalance_mwh=0.0, price_source="final",
                                 imbalance_cost_eur=0.4, standalone_cost_eur=1.0)])})
    p = build_daily_report(DAY, frames).row("money", PORTFOLIO)
    # 36 - 28 + 0.8 - 0.4 (net settlement instead of the asset's stand-alone 1.00) = 8.4
    assert p["imbalance_cost_eur"] == pytest.approx(0.4) and p["margin_eur"] == pytest.approx(8.4)


# ---------------------------------------------------------------------------------------------
# completeness and the written summary


def test_completeness_counts_missing_quarter_hours_of_active_days() -> None:
    frames = ReportInputs(
        contracts=pl.DataFrame([contract("A")]),
        best_of_infeed=pl.DataFrame(infeed("A", [100, 100, 100, 100], sources=["final", "final", "live", "forecast"])),
    )
    report = build_daily_report(DAY, frames)
    counts = dict(report.completeness.filter(pl.col("scope") == "A").select("source", "n_qh").iter_rows())
    # 96 QHs expected on 2025-06-08, 4 delivered: 92 missing
    assert counts == {"final": 2, "live": 1, "forecast": 1, "forecast_redispatched": 0, "missing": 92}
    assert ("94 of 96 asset-QHs are not final DSO data (live 1, forecast 1, missing 92)."
            in report.summaries["A"].provisional)
    assert (quarter_hours_of_day(date(2025, 3, 30)), quarter_hours_of_day(date(2025, 10, 26))) == (92, 100)


def test_summary_names_the_asset_with_the_largest_imbalance_cost() -> None:
    frames = ReportInputs(
        contracts=pl.DataFrame([contract("A"), contract("B"), contract("C")]),
        asset_imbalance=pl.DataFrame(
            imbalance("A", [0.1] * 4, [1.25] * 4)  # 5.00 EUR
            + imbalance("B", [-0.1] * 4, [2.5, 5.0, 2.5, 2.5])  # 12.50 EUR on 0.4 MWh
            + imbalance("C", [0.1] * 4, [-0.75] * 4)  # -3.00 EUR (earned)
        ),
    )
    report = build_daily_report(DAY, frames)
    assert "Largest imbalance cost: B with 12.50 EUR on 0.400 MWh." in report.summaries[PORTFOLIO].stood_out
    # no production data for B: production n/a, margin = 0 - 0 + 0 - 12.50
    assert "| B | n/a | n/a | 12.50 EUR | -12.50 EUR |" in report_markdown_summary(report)


def test_nothing_provisional_when_everything_is_final() -> None:
    day_starts = [T0 + timedelta(minutes=15 * i) for i in range(96)]
    frames = ReportInputs(
        contracts=pl.DataFrame([contract("A", capacity_mw=0.001)]),  # 1 kW
        best_of_infeed=pl.DataFrame(infeed("A", [0.0] * 96, starts=day_starts)),
        asset_forecast=pl.DataFrame(forecast("A", [0.0] * 96, [0.0] * 96, starts=day_starts)),
    )
    report = build_daily_report(DAY, frames)
    assert report.summaries["A"].provisional == ("Nothing provisional: every figure rests on final data.",)


# ---------------------------------------------------------------------------------------------
# HTML and loading


def _example() -> ReportInputs:
    return ReportInputs(
        contracts=pl.DataFrame([contract("SOL-A1"), contract("WND-B2", capacity_mw=2.0)]),
        best_of_infeed=pl.DataFrame(infeed("SOL-A1", [100, 200, 300, 400]) + infeed("WND-B2", [1000] * 4)),
        asset_forecast=pl.DataFrame(forecast("SOL-A1", [110, 190, 330, 400], [150, 150, 300, 500])
                                    + forecast("WND-B2", [1000] * 4, [900, 1100, 1000, 1000])),
        trading_pnl=pnl([80.0] * 4, sold_mwh=[0.3] * 4, vwap_private=[81.0] * 4, revenue_eur=[24.3] * 4),
        asset_imbalance=pl.DataFrame(imbalance("SOL-A1", [0.01] * 4, [-0.8] * 4)
                                     + imbalance("WND-B2", [-0.02] * 4, [1.6] * 4)),
    )


def test_report_files_are_reproducible_and_asset_reports_hold_one_asset(tmp_path: Path) -> None:
    first = report_path(tmp_path, "daily", DAY, "SOL-A1")
    assert first == tmp_path / "reports" / "daily" / "2025-06-08" / "SOL-A1.html"
    assert report_path(tmp_path, "monthly", "2025-06", PORTFOLIO) == tmp_path / "reports/monthly/2025-06/portfolio.html"
    render_report_html(build_daily_report(DAY, _example()), first, "SOL-A1")
    second = render_report_html(build_daily_report(DAY, _example()), tmp_path / "again.html", "SOL-A1")
    assert first.read_bytes() == second.read_bytes()
    html = first.read_text()
    assert html.count('class="plotly-graph-div"') == 3 and 'id="chart-production"' in html
    # plotly.js is loaded from the folder, not embedded: one script element with a source
    assert re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html) == ["plotly.min.js"]
    assert plotly_bundle_path(first.parent).read_bytes() == get_plotlyjs().encode("utf-8")
    assert "asset SOL-A1 produced 0.250 MWh" in html  # (100 + 200 + 300 + 400) / 4000
    assert "WND-B2" not in html  # the other asset appears nowhere, not even in the chart data
    assert 'id="trading"' not in html and "<td>margin</td>" not in html and "imbalance cost" not in html
    portfolio = report_html(build_daily_report(DAY, _example()), PORTFOLIO)
    assert "<td>margin</td>" in portfolio and "WND-B2" in portfolio
    assert 'id="chart-trading"' in portfolio and 'id="chart-money"' in portfolio
    assert "Largest imbalance cost: WND-B2 with 6.40 EUR" in portfolio  # 4 x 1.60
    with pytest.raises(ValueError, match="not a scope"):
        render_report_html(build_daily_report(DAY, _example()), tmp_path / "x.html", "Z")


def test_load_report_inputs_reads_the_period_from_the_warehouse(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    other_day = pl.DataFrame(infeed("A", [999.0], starts=[T0 + timedelta(days=1)])).with_columns(
        delivery_day=pl.lit(date(2025, 6, 9)))
    with warehouse.writer() as conn:
        conn.execute("create schema raw")
        for name, frame in {"main.best_of_infeed": pl.concat([pl.DataFrame(infeed("A", [100.0, 200.0, 300.0, 400.0])),
                                                              other_day]),
                            "raw.raw_crm__contracts": pl.DataFrame([contract("A")])}.items():
            conn.register("f", frame.to_arrow())
            conn.execute(f"create table {name} as select * from f")
            conn.unregister("f")
    frames = load_report_inputs(warehouse, DAY, DAY)
    assert frames.best_of_infeed["power_kw"].to_list() == [100.0, 200.0, 300.0, 400.0]
    assert frames.contracts["asset_id"].to_list() == ["A"] and frames.trading_pnl.height == 0
    report = build_daily_report(DAY, frames)
    assert report.row("production", "A")["production_mwh"] == pytest.approx(0.25)


def _charts(html: str) -> dict[str, tuple[list[dict], dict]]:
    """The figures of a report page: div id -> (plotly.js traces, layout)."""
    found = re.findall(r'drawChart\("([^"]+)", (\[.*?\]), (\{.*?\})\);</script>', html)
    return {div: (json.loads(data), json.loads(layout)) for div, data, layout in found}


def test_render_reports_writes_every_scope_and_one_plotly_per_folder(tmp_path: Path) -> None:
    report = build_daily_report(DAY, _example())
    paths = render_reports(report, tmp_path)
    folder = tmp_path / "reports" / "daily" / "2025-06-08"
    assert paths == [folder / "portfolio.html", folder / "SOL-A1.html", folder / "WND-B2.html"]
    assert sorted(f.name for f in folder.iterdir()) == ["SOL-A1.html", "WND-B2.html", "plotly.min.js", "portfolio.html"]
    assert (folder / "plotly.min.js").read_bytes() == get_plotlyjs().encode("utf-8")
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    again = render_reports(build_daily_report(DAY, _example()), tmp_path)
    assert again == paths and {p.name: p.read_bytes() for p in folder.iterdir()} == first  # byte-identical
    # the same files as one scope at a time
    assert render_report_html(report, tmp_path / "one" / "SOL-A1.html", "SOL-A1").read_bytes() == first["SOL-A1.html"]

    # the charts are plotly.js figures with the report's numbers
    sol = _charts(first["SOL-A1.html"].decode())
    assert sorted(sol) == ["chart-forecast-error", "chart-imbalance", "chart-production"]
    traces, layout = sol["chart-production"]
    final = next(t for t in traces if t["name"] == "final")
    # 100, 200, 300, 400 kW over a QH: kW / 4000 MWh
    assert (final["type"], final["y"]) == ("bar", [0.025, 0.05, 0.075, 0.1])
    assert final["x"] == ["2025-06-07 22:00", "2025-06-07 22:15", "2025-06-07 22:30", "2025-06-07 22:45"]
    assert layout["barmode"] == "stack" and layout["yaxis"] == {"title": {"text": "MWh"}}
    errors = _charts(first["SOL-A1.html"].decode())["chart-forecast-error"][0]
    # one UTC hour: tradeable 150 + 150 + 300 + 500 - (100 + 200 + 300 + 400) = 100 kW-QHs = 0.025 MWh
    assert [t["y"] for t in errors] == [[0.0075], [0.025]]  # latest: 10 - 10 + 30 + 0 = 30 kW-QHs
    money = _charts(first["portfolio.html"].decode())["chart-money"][0][0]
    assert money["type"] == "waterfall" and money["measure"][-1] == "total"
    assert "WND-B2" not in first["SOL-A1.html"].decode()


def test_the_plotly_bundle_is_written_only_when_missing_or_different(tmp_path: Path) -> None:
    bundle = write_plotly_bundle(tmp_path)
    assert bundle == plotly_bundle_path(tmp_path) == tmp_path / "plotly.min.js"
    inode = bundle.stat().st_ino
    # an identical copy is left alone; a new copy would be a new file (written aside, then renamed)
    assert write_plotly_bundle(tmp_path).stat().st_ino == inode
    bundle.write_text("/* an older plotly.js */")
    assert write_plotly_bundle(tmp_path).read_bytes() == get_plotlyjs().encode("utf-8")
    assert bundle.stat().st_ino != inode
    assert sorted(f.name for f in tmp_path.iterdir()) == ["plotly.min.js"]  # no temporary file left


def test_chart_data_cannot_end_the_script_element() -> None:
    frames = ReportInputs(contracts=pl.DataFrame([contract("A</script><b>")]))
    portfolio = report_html(build_daily_report(DAY, frames), PORTFOLIO)
    traces = _charts(portfolio)["chart-completeness"][0]
    assert traces[0]["y"] == ["A</script><b>"]  # the asset id in the chart, as data
    assert "A</script>" not in portfolio and "A\\u003c/script\\u003e\\u003cb\\u003e" in portfolio

