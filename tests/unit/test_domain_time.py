"""Delivery-day windows and quarter-hour grids, including both DST days of 2025."""

from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from flexpower_assets.domain.time import UTC_DATETIME, day_window, quarter_hours

UTC = timezone.utc


@pytest.mark.parametrize(
    ("day", "start", "end", "n_qh"),
    [
        # summer (CEST = UTC+2): 2025-06-08 00:00 Berlin = 2025-06-07 22:00 UTC; 24 h * 4 = 96 QHs
        (date(2025, 6, 8), datetime(2025, 6, 7, 22, tzinfo=UTC), datetime(2025, 6, 8, 22, tzinfo=UTC), 96),
        # winter (CET = UTC+1): 2025-01-15 00:00 Berlin = 2025-01-14 23:00 UTC; 24 h * 4 = 96 QHs
        (date(2025, 1, 15), datetime(2025, 1, 14, 23, tzinfo=UTC), datetime(2025, 1, 15, 23, tzinfo=UTC), 96),
        # spring DST: starts in CET (UTC+1) at 2025-03-29 23:00 UTC, ends in CEST (UTC+2) at
        # 2025-03-30 22:00 UTC: 23 h * 4 = 92 QHs
        (date(2025, 3, 30), datetime(2025, 3, 29, 23, tzinfo=UTC), datetime(2025, 3, 30, 22, tzinfo=UTC), 92),
        # autumn DST: starts in CEST (UTC+2) at 2025-10-25 22:00 UTC, ends in CET (UTC+1) at
        # 2025-10-26 23:00 UTC: 25 h * 4 = 100 QHs
        (date(2025, 10, 26), datetime(2025, 10, 25, 22, tzinfo=UTC), datetime(2025, 10, 26, 23, tzinfo=UTC), 100),
    ],
)
def test_day_window_and_quarter_hours(day, start, end, n_qh):
    assert day_window(day) == (start, end)

    grid = quarter_hours(*day_window(day))

    assert grid.height == n_qh
    assert grid.schema["delivery_start"] == UTC_DATETIME
    assert grid["delivery_start"][0] == start
    # the last QH starts 15 minutes before the day's end
    assert grid["delivery_start"][-1] == end - timedelta(minutes=15)
    assert grid["delivery_day"].unique().to_list() == [day]
    # QHs are consecutive: every step is exactly 15 minutes
    steps = grid["delivery_start"].diff().drop_nulls().dt.total_minutes().unique().to_list()
    assert steps == [15]


def test_autumn_day_holds_the_repeated_hour_twice():
    grid = quarter_hours(*day_window(date(2025, 10, 26)))
    local_hours = grid.select(pl.col("delivery_start").dt.convert_time_zone("Europe/Berlin").dt.hour())
    # 02:00-03:00 Berlin happens twice (once CEST, once CET): 2 * 4 = 8 QHs with local hour 2
    assert (local_hours["delivery_start"] == 2).sum() == 8


def test_spring_day_has_no_local_hour_two():
    grid = quarter_hours(*day_window(date(2025, 3, 30)))
    local_hours = grid.select(pl.col("delivery_start").dt.convert_time_zone("Europe/Berlin").dt.hour())
    # clocks jump from 02:00 to 03:00 Berlin: no QH has local hour 2
    assert (local_hours["delivery_start"] == 2).sum() == 0
