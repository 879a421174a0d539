"""The run benchmark's arithmetic: percentiles, runs per hour, which run bids which (day, client)."""

from datetime import date

import pytest

from flexpower_assets.bench.runs import percentiles, run_plan, runs_per_hour


def test_percentiles_are_nearest_rank():
    # ten waits 1..10 s: p50 is the 5th value (ceil(0.5 * 10) = 5), p90 the 9th (ceil(0.9 * 10) = 9)
    assert percentiles([7.0, 1.0, 10.0, 3.0, 2.0, 9.0, 4.0, 6.0, 5.0, 8.0]) == {"p50": 5.0, "p90": 9.0, "max": 10.0}
    # three values: p50 = 2nd (ceil(1.5) = 2), p90 = 3rd (ceil(2.7) = 3); rounded to 0.1 s
    assert percentiles([12.34, 0.05, 3.96]) == {"p50": 4.0, "p90": 12.3, "max": 12.3}
    assert percentiles([]) == {"p50": 0.0, "p90": 0.0, "max": 0.0}


def test_runs_per_hour():
    # 30 runs in 900 s: 30 * 3600 / 900 = 120 an hour
    assert runs_per_hour(30, 900.0) == pytest.approx(120.0)
    # 6 runs in 216 s: 6 * 3600 / 216 = 100
    assert runs_per_hour(6, 216.0) == pytest.approx(100.0)


def test_run_plan_goes_day_by_day_and_never_repeats_a_pair():
    # 5 runs over 2 clients: ceil(5 / 2) = 3 days; run i bids day i % 3 for client i // 3
    plan = run_plan(5, ["A", "B"])
    d0, d1, d2 = date(2025, 10, 15), date(2025, 10, 16), date(2025, 10, 17)
    assert plan == [(d0, "A"), (d1, "A"), (d2, "A"), (d0, "B"), (d1, "B")]
    assert len(set(plan)) == 5


def test_without_postgresql_and_without_apt_the_benchmark_fails_with_the_reason(monkeypatch):
    from flexpower_assets.bench import postgres

    monkeypatch.setattr(postgres, "server_bin_dir", lambda: None)
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    with pytest.raises(postgres.PostgresUnavailable, match="no apt-get to install Debian's 'postgresql'"):
        postgres.ensure_installed(echo=lambda _line: None)


def test_a_failing_apt_get_is_reported_with_its_output(monkeypatch):
    import subprocess

    from flexpower_assets.bench import postgres

    monkeypatch.setattr(postgres, "server_bin_dir", lambda: None)
    monkeypatch.setattr(postgres.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(postgres.subprocess, "run", lambda command, **kw: subprocess.CompletedProcess(
        command, 100, "", "E: Unable to locate package postgresql"))
    with pytest.raises(postgres.PostgresUnavailable, match="exit 100.*Unable to locate package postgresql"):
        postgres.ensure_installed(echo=lambda _line: None)
