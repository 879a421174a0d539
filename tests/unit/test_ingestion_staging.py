"""Staged rows are filed under the Berlin delivery day of their own time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from flexpower_assets.ingestion.staging import by_delivery_day

UTC = timezone.utc


def frame(times: list[datetime | None]) -> pl.DataFrame:
    return pl.DataFrame({"delivery_start": times, "n": list(range(len(times)))},
                        schema={"delivery_start": pl.Datetime("us", "UTC"), "n": pl.Int64})


def test_rows_go_to_the_berlin_day_of_their_time_across_midnight_and_the_autumn_change():
    times = [
        datetime(2025, 6, 7, 21, 45, tzinfo=UTC),     # 23:45 CEST on 06-07
        datetime(2025, 6, 7, 22, 0, tzinfo=UTC),      # 00:00 CEST on 06-08
        datetime(2025, 10, 25, 21, 59, 59, 999999, tzinfo=UTC),  # 23:59:59.999999 CEST on 10-25
        datetime(2025, 10, 25, 22, 0, tzinfo=UTC),    # 00:00 CEST on 10-26 (a 25-hour day)
        datetime(2025, 10, 26, 22, 59, tzinfo=UTC),   # 23:59 CET, still 10-26
        datetime(2025, 10, 26, 23, 0, tzinfo=UTC),    # 00:00 CET on 10-27
    ]
    groups = by_delivery_day(frame(times), "delivery_start")
    assert {day: part["n"].to_list() for day, part in groups.items()} == {
        "2025-06-07": [0], "2025-06-08": [1], "2025-10-25": [2], "2025-10-26": [3, 4], "2025-10-27": [5]}


def test_the_same_days_as_converting_every_row():
    start = datetime(2025, 3, 28, 0, 7, tzinfo=UTC)  # over the spring change (03-30, a 23-hour day)
    times = [start + timedelta(minutes=37 * k) for k in range(500)]
    rows = frame(times)
    expected = rows.with_columns(day=pl.col("delivery_start").dt.convert_time_zone("Europe/Berlin").dt.date())
    groups = by_delivery_day(rows, "delivery_start")
    assert sum(part.height for part in groups.values()) == 500
    for day, part in groups.items():
        assert part["n"].to_list() == expected.filter(pl.col("day").cast(pl.String) == day)["n"].to_list(), day


def test_rows_without_a_time_are_kept_under_none():
    groups = by_delivery_day(frame([datetime(2025, 6, 8, 10, 0, tzinfo=UTC), None]), "delivery_start")
    assert {day: part["n"].to_list() for day, part in groups.items()} == {"2025-06-08": [0], "None": [1]}
