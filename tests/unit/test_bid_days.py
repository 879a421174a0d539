"""Which delivery days a new market or hydro file asks bids for, by gate closure."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from flexpower_assets.ingestion.bid_days import bid_days, next_open_day

UTC = timezone.utc


def gate_closure(day: date) -> datetime:
    # 12:00 Europe/Berlin (CEST, UTC+2) on the day before: 10:00 UTC on D-1
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC) - timedelta(days=1)


def test_the_next_open_day_is_tomorrow_before_gate_closure_and_the_day_after_once_it_passed():
    # 09:00 UTC on 10-14 < 10:00 UTC on 10-14 (gate closure of 10-15): 10-15 is still open
    assert next_open_day(gate_closure, datetime(2025, 10, 14, 9, tzinfo=UTC)) == date(2025, 10, 15)
    # exactly at gate closure the day is closed (closure <= now); the next one is 10-16
    assert next_open_day(gate_closure, datetime(2025, 10, 14, 10, tzinfo=UTC)) == date(2025, 10, 16)
    assert next_open_day(gate_closure, datetime(2025, 10, 14, 23, tzinfo=UTC)) == date(2025, 10, 16)


def test_rows_days_are_split_by_gate_closure_and_snapshots_ask_for_the_next_open_day():
    now = datetime(2025, 10, 14, 10, 30, tzinfo=UTC)  # past 10-15's gate closure (10-14 10:00 UTC)
    days = bid_days({"price_scenarios": {date(2025, 10, 15), date(2025, 10, 16)},
                     "inflow_forecast": {date(2025, 10, 14), date(2025, 10, 16)},
                     "reservoir_level": {date(2025, 10, 14)},  # the measured day is not a bid day
                     "day_ahead_prices": {date(2025, 10, 17)}},  # auction results never re-bid
                    {"price_scenarios", "inflow_forecast", "reservoir_level", "hydro_technical_data",
                     "day_ahead_prices"}, gate_closure, now)
    assert days.open == {date(2025, 10, 16): {"price_scenarios", "inflow_forecast", "reservoir_level",
                                              "hydro_technical_data"}}
    assert days.closed == {date(2025, 10, 14): {"inflow_forecast"}, date(2025, 10, 15): {"price_scenarios"}}


def test_day_ahead_prices_alone_ask_for_no_bid():
    days = bid_days({"day_ahead_prices": {date(2025, 10, 15)}}, {"day_ahead_prices"}, gate_closure,
                    datetime(2025, 10, 14, 9, tzinfo=UTC))
    assert days.open == {} and days.closed == {}
