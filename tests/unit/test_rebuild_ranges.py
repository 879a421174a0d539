"""The rebuild sensor reads the days of a daily_job run: one partition, or a backfill's range."""

from __future__ import annotations

import dagster as dg

from schedules.sensors import RANGE_END, RANGE_START, months_of, run_days


def test_a_one_day_run_and_a_range_run_name_their_days():
    single = dg.DagsterRun(job_name="daily_job", run_id="a", tags={"dagster/partition": "2025-06-07"})
    ranged = dg.DagsterRun(job_name="daily_job", run_id="b",
                           tags={RANGE_START: "2025-06-01", RANGE_END: "2025-06-30"})
    other = dg.DagsterRun(job_name="monthly_job", run_id="c", tags={"dagster/partition": "2025-06-01"})
    assert run_days(single) == ("2025-06-07", "2025-06-07")
    assert run_days(ranged) == ("2025-06-01", "2025-06-30")
    assert run_days(other) is None
    assert run_days(dg.DagsterRun(job_name="daily_job", run_id="d")) is None


def test_the_months_of_a_range_include_both_ends_across_a_new_year():
    assert months_of("2025-06-01", "2025-06-30") == {"2025-06-01"}
    # November to February: four months, the year changes after December
    assert months_of("2025-11-20", "2026-02-03") == {"2025-11-01", "2025-12-01", "2026-01-01", "2026-02-01"}
