"""The day-by-day benchmark's arithmetic: when a file arrives, the slope and the noise."""

from __future__ import annotations

from datetime import date

import pytest

from flexpower_assets.bench.days import arrival_day, arrivals_by_day, slope_per_day, summarise

FIRST, LAST = date(2025, 6, 8), date(2025, 6, 12)


@pytest.mark.parametrize("name, day", [
    ("WND-DE-001_20250609T0815Z.json", date(2025, 6, 9)),          # a forecast version's day
    ("SOL01_20250610.json", date(2025, 6, 10)),                     # a live day
    ("technical_data_2025-06-11T124500Z.json", date(2025, 6, 11)),  # ISO date in the name
    ("final_production_MP-SOL-001_20250613.csv", LAST),             # after the last day: with it
    ("asset_contracts_20250601_043000.csv", FIRST),                 # before the first day: with it
    ("imbalance_price_final_20251399_170800.csv", FIRST),           # no valid date: the first day
])
def test_a_file_arrives_on_the_day_its_name_dates_it(name, day):
    assert arrival_day(name, FIRST, LAST) == day


def test_arrivals_are_grouped_by_day(tmp_path):
    for relative in ("vpp/live/SOL01_20250609.json", "vpp/live/SOL01_20250608.json", "crm/asset_contracts_20250601.csv"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x")
    assert arrivals_by_day(tmp_path, FIRST, LAST) == {
        FIRST: ["crm/asset_contracts_20250601.csv", "vpp/live/SOL01_20250608.json"],
        date(2025, 6, 9): ["vpp/live/SOL01_20250609.json"],
    }


def test_slope_of_a_straight_line_and_of_a_flat_one():
    # 10, 12, 14, 16: 2 s more each day
    assert slope_per_day([10.0, 12.0, 14.0, 16.0]) == pytest.approx(2.0)
    assert slope_per_day([5.0, 5.0, 5.0]) == 0.0


def test_summary_compares_the_ends_with_the_noise_around_the_line():
    costs = [10.0, 10.4, 9.6, 10.0, 10.4, 9.6]
    summary = summarise([{"seconds": c} for c in costs], edge=2)
    # first two days 10.0 and 10.4: mean 10.2; last two 10.4 and 9.6: mean 10.0
    assert summary["first_mean_s"] == pytest.approx(10.2)
    assert summary["last_mean_s"] == pytest.approx(10.0)
    assert summary["last_minus_first_s"] == pytest.approx(-0.2)
    # x = 0..5 (mean 2.5), y mean 10.0; sum (x - 2.5)(y - 10) = -2.5*0 - 1.5*0.4 - 0.5*-0.4 + 0.5*0
    # + 1.5*0.4 + 2.5*-0.4 = -0.6 + 0.2 + 0.6 - 1.0 = -0.8; sum (x - 2.5)^2 = 17.5; slope = -0.8 / 17.5
    assert summary["slope_s_per_stored_day"] == pytest.approx(-0.8 / 17.5)
    assert summary["within_noise"] is True
    growing = summarise([{"seconds": 10.0 + day} for day in range(6)], edge=2)
    # 1 s more per day with no scatter: the ends differ by 4 s, far beyond a noise of 0
    assert growing["last_minus_first_s"] == pytest.approx(4.0)
    assert growing["noise_sd_s"] == pytest.approx(0.0, abs=1e-9)
    assert growing["within_noise"] is False


def test_summary_of_cpu_seconds_reads_that_measure():
    days = [{"seconds": 50.0 + 10 * k, "cpu_seconds": 8.0} for k in range(4)]
    # wall time grows 10 s a day (a busier machine); the CPU seconds stay at 8.0
    assert summarise(days, edge=2)["slope_s_per_stored_day"] == pytest.approx(10.0)
    cpu = summarise(days, edge=2, measure="cpu_seconds")
    assert cpu["slope_s_per_stored_day"] == pytest.approx(0.0)
    assert cpu["first_mean_s"] == cpu["last_mean_s"] == 8.0
