"""Report charts read in Berlin local time: ticks in Europe/Berlin wall-clock time, UTC in the hover."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone

import polars as pl

from flexpower_assets.domain.reporting import PORTFOLIO, ReportInputs, build_daily_report
from flexpower_assets.reports import report_html

QH4 = [datetime(2025, 6, 7, 22, 0, tzinfo=timezone.utc) + timedelta(minutes=15 * i) for i in range(4)]


def contract(asset: str, day: date) -> dict:
    return dict(delivery_day=day, contract_id=f"CON-{asset}", asset_id=asset, capacity_mw=1.0,
                contract_begin=date(2025, 1, 1), contract_end=None, price_model="fixed", price_eur_per_mwh=70.0,
                fee_model="fixed_as_produced", fee=2.0, fee_percent=None)


def infeed(asset: str, power_kw: list[float], starts: list[datetime] = QH4) -> list[dict]:
    return [dict(delivery_day=date(2025, 6, 8), asset_id=asset, delivery_start=t, power_kw=p, energy_mwh=p / 4000,
                 source="final", is_redispatched=False) for t, p in zip(starts, power_kw, strict=True)]


def forecast(asset: str, latest_kw: list[float], tradeable_kw: list[float], starts: list[datetime]) -> list[dict]:
    return [dict(delivery_day=date(2025, 6, 8), asset_id=asset, delivery_start=t, latest_power_kw=lt,
                 tradeable_power_kw=tr) for t, lt, tr in zip(starts, latest_kw, tradeable_kw, strict=True)]


def _charts(html: str) -> dict[str, tuple[list[dict], dict]]:
    """The figures of a report page: div id -> (plotly.js traces, layout)."""
    found = re.findall(r'drawChart\("([^"]+)", (\[.*?\]), (\{.*?\})\);</script>', html)
    return {div: (json.loads(data), json.loads(layout)) for div, data, layout in found}


def _report(day: date, first_qh: datetime, n_qh: int):
    starts = [first_qh + timedelta(minutes=15 * i) for i in range(n_qh)]
    inputs = ReportInputs(
        contracts=pl.DataFrame([contract("SOL-A1", day=day)]),
        best_of_infeed=pl.DataFrame(infeed("SOL-A1", [100.0] * n_qh, starts=starts)).with_columns(
            delivery_day=pl.lit(day)),
        asset_forecast=pl.DataFrame(forecast("SOL-A1", [110.0] * n_qh, [120.0] * n_qh, starts=starts)).with_columns(
            delivery_day=pl.lit(day)),
    )
    return build_daily_report(day, inputs)


def test_a_summer_day_is_labelled_in_cest_with_utc_in_the_hover() -> None:
    # 2025-06-08 00:00 CEST = 2025-06-07 22:00 UTC; 96 QHs
    html = report_html(_report(date(2025, 6, 8), datetime(2025, 6, 7, 22, 0, tzinfo=timezone.utc), 96), "SOL-A1")
    data, layout = _charts(html)["chart-production"]
    xaxis = layout["xaxis"]
    # a tick every 3 local hours, at the UTC position of that local time: 00:00 CEST is 22:00 UTC
    assert xaxis["ticktext"] == ["00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00"]
    assert xaxis["tickvals"][:3] == ["2025-06-07 22:00", "2025-06-08 01:00", "2025-06-08 04:00"]
    assert "Europe/Berlin" in xaxis["title"]["text"]
    first = data[0]
    assert first["x"][0] == "2025-06-07 22:00" and first["customdata"][0] == "2025-06-08 00:00"
    assert first["customdata"][-1] == "2025-06-08 23:45"  # 22:00 UTC + 95 x 15 min = 21:45 UTC
    assert first["hovertemplate"].startswith("%{customdata} Berlin (%{x} UTC)")
    assert "Times in charts are Europe/Berlin local time; the hover also shows UTC." in html


def test_the_autumn_day_shows_its_repeated_hour_twice() -> None:
    # 2025-10-26: 25 hours, 100 QHs; 00:00 CEST = 2025-10-25 22:00 UTC; at 01:00 UTC the clocks go
    # from 03:00 CEST back to 02:00 CET, so local 02:00 comes twice (00:00 UTC and 01:00 UTC)
    report = _report(date(2025, 10, 26), datetime(2025, 10, 25, 22, 0, tzinfo=timezone.utc), 100)
    data, layout = _charts(report_html(report, PORTFOLIO))["chart-production"]
    local = data[0]["customdata"]
    assert len(local) == len(set(data[0]["x"])) == 100  # every QH at its own (UTC) position
    assert local.count("2025-10-26 02:00") == 2 and local[-1] == "2025-10-26 23:45"
    # ticks every 3 local hours: 00:00 (22 UTC), 03:00 CET (02 UTC), 06:00 (05 UTC), ... 21:00 (20 UTC)
    assert layout["xaxis"]["ticktext"] == ["00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00"]
    assert layout["xaxis"]["tickvals"][:2] == ["2025-10-25 22:00", "2025-10-26 02:00"]


def test_monthly_charts_keep_one_tick_per_delivery_day() -> None:
    from flexpower_assets.domain.reporting import build_monthly_report

    day = date(2025, 6, 8)
    report = build_monthly_report("2025-06", ReportInputs(
        contracts=pl.DataFrame([contract("SOL-A1", day=day)]),
        best_of_infeed=pl.DataFrame(infeed("SOL-A1", [100.0] * 4)),
    ))
    _, layout = _charts(report_html(report, PORTFOLIO))["chart-production"]
    assert layout["xaxis"]["tickformat"] == "%d %b" and "tickvals" not in layout["xaxis"]
