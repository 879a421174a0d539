"""Sensor helpers: the arrival cursor and the days a snapshot file applies to."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from flexpower_assets.ingestion.catalog import LandingFile
from flexpower_assets.ingestion.watch import Cursor, name_created_at, snapshot_days

UTC = timezone.utc


def landing_file(name: str, arrived_ns: int) -> LandingFile:
    return LandingFile(root="/landing", relative=name, kind=None, size_bytes=1, mtime_ns=arrived_ns,
                       arrived_ns=arrived_ns)


def test_cursor_sees_each_file_once_even_with_equal_arrival_times():
    a, b = landing_file("a", 100), landing_file("b", 100)
    cursor = Cursor().advanced([a])
    assert cursor.mark_ns == 100 and cursor.paths_at_mark == ["a"]
    assert not cursor.is_new(a)
    assert cursor.is_new(b)  # same arrival time, different file: still new
    cursor = cursor.advanced([b])
    assert cursor.paths_at_mark == ["a", "b"]
    assert not cursor.is_new(landing_file("old", 99))
    assert cursor.is_new(landing_file("a", 101))  # re-written in place: seen again
    assert Cursor.load(cursor.dump()) == cursor  # survives a restart


def test_snapshot_applies_until_the_next_one():
    created = datetime(2025, 6, 1, 4, 34, tzinfo=UTC)   # Sunday 06:34 in Berlin
    later = [datetime(2025, 6, 8, 4, 38, tzinfo=UTC)]   # the next Sunday's snapshot
    days = snapshot_days(created, later, today=date(2025, 12, 31))
    # 1 June up to and including 7 June: from 8 June the next snapshot applies
    assert sorted(days) == [date(2025, 6, d) for d in range(1, 8)]


def test_last_snapshot_runs_a_week_at_most_and_not_past_today():
    created = datetime(2025, 6, 8, 4, 38, tzinfo=UTC)
    assert len(snapshot_days(created, [], today=date(2025, 12, 31))) == 7
    assert sorted(snapshot_days(created, [], today=date(2025, 6, 9))) == [date(2025, 6, 8), date(2025, 6, 9)]


def test_snapshot_created_late_in_the_evening_utc_belongs_to_the_next_berlin_day():
    created = datetime(2025, 6, 7, 22, 30, tzinfo=UTC)  # 00:30 on 8 June in Berlin
    assert min(snapshot_days(created, [], today=date(2025, 12, 31))) == date(2025, 6, 8)


def test_creation_time_from_file_names():
    assert name_created_at(Path("asset_contracts_20250608_043831.csv")) == datetime(2025, 6, 8, 4, 38, 31, tzinfo=UTC)
    assert name_created_at(Path("technical_data_2025-06-02T125000Z.json")) == datetime(2025, 6, 2, 12, 50, tzinfo=UTC)


def test_days_a_file_feeds_include_where_its_rows_reach():
    import polars as pl

    from flexpower_assets.ingestion.catalog import file_days

    # a live point at 21:50 UTC (23:50 Berlin) holds until 22:05 UTC: it feeds the next day's first QH
    live = pl.DataFrame({"timestamp": [datetime(2025, 6, 8, 21, 50, tzinfo=UTC)]})
    assert file_days("live", live) == [date(2025, 6, 8), date(2025, 6, 9)]
    # a one-hour block 21:30-22:30 UTC straddles Berlin midnight; 21:00-22:00 ends exactly at it
    straddling = pl.DataFrame({"delivery_start": [datetime(2025, 6, 8, 21, 30, tzinfo=UTC)],
                               "delivery_end": [datetime(2025, 6, 8, 22, 30, tzinfo=UTC)]})
    assert file_days("private_trades", straddling) == [date(2025, 6, 8), date(2025, 6, 9)]
    ending = straddling.with_columns(pl.col("delivery_start", "delivery_end").dt.offset_by("-30m"))
    assert file_days("private_trades", ending) == [date(2025, 6, 8)]


def test_trade_exports_and_live_files_name_their_delivery_day():
    from flexpower_assets.parsers.registry import named_delivery_day

    kind, day = named_delivery_day("exchange/Private_Trades-20250609-20250609T093000000Z.csv")
    assert (kind.name, day) == ("private_trades", date(2025, 6, 9))
    kind, day = named_delivery_day("exchange/Public_Trades-20250608-20250609T000516000Z.csv")
    assert (kind.name, day) == ("public_trades", date(2025, 6, 8))
    kind, day = named_delivery_day("vpp/live/SOL02_20250608.json")
    assert (kind.name, day) == ("live", date(2025, 6, 8))
    # a forecast's name holds its version, not the days it forecasts; a snapshot's its creation
    assert named_delivery_day("vpp/forecasts/SOL-DE-001_20250608T0600Z.json") is None
    assert named_delivery_day("crm/asset_contracts_20250608_043831.csv") is None
    # a name that matches the pattern but holds no date
    assert named_delivery_day("exchange/Private_Trades-20251399-20250609T093000000Z.csv") is None


def test_named_days_request_only_covered_days_in_range_and_remember_the_paths():
    from flexpower_assets.ingestion.watch import Coverage, named_days

    coverage = Coverage(traded_days=frozenset({date(2025, 6, 8), date(2025, 6, 9)}),
                        first_snapshot_at=datetime(2025, 6, 1, 4, 34, tzinfo=UTC))
    files = [landing_file("exchange/Private_Trades-20250609-20250609T093000000Z.csv", 1),
             landing_file("exchange/Public_Trades-20250609-20250609T093000000Z.csv", 2),
             landing_file("exchange/Private_Trades-20250610-20250610T093000000Z.csv", 3),  # not traded yet
             landing_file("vpp/live/WND01_20250608.json", 4),
             landing_file("vpp/forecasts/WND-DE-001_20250608T0600Z.json", 5)]
    cursor = Cursor()
    days = named_days(files, coverage, date(2025, 1, 1), date(2025, 12, 31), cursor)
    assert days == {date(2025, 6, 9): {"private_trades", "public_trades"}, date(2025, 6, 8): {"live"}}
    assert cursor.named == {"exchange/Private_Trades-20250609-20250609T093000000Z.csv": ["2025-06-09"],
                            "exchange/Public_Trades-20250609-20250609T093000000Z.csv": ["2025-06-09"],
                            "vpp/live/WND01_20250608.json": ["2025-06-08"]}
    assert Cursor.load(cursor.dump()) == cursor
    # outside the partitions: nothing, and nothing remembered
    cursor = Cursor()
    assert named_days(files, coverage, date(2025, 6, 10), date(2025, 12, 31), cursor) == {}
    assert cursor.named == {}


def test_position_days_are_today_and_tomorrow_with_a_portfolio_and_not_run_already():
    from flexpower_assets.ingestion.watch import Coverage, position_days

    coverage = Coverage(traded_days=frozenset({date(2025, 6, 8)}),
                        first_snapshot_at=datetime(2025, 6, 1, 4, 34, tzinfo=UTC))
    today = date(2025, 6, 8)
    days_by_kind = {"forecast": {date(2025, 6, 7), date(2025, 6, 8), date(2025, 6, 9), date(2025, 6, 10)},
                    "live": {date(2025, 6, 9)}}
    # 06-07 is past, 06-10 the day after tomorrow; 06-08 is run by daily_job already
    assert position_days(days_by_kind, coverage, today, already={date(2025, 6, 8)}) == [date(2025, 6, 9)]
    assert position_days(days_by_kind, coverage, today) == [date(2025, 6, 8), date(2025, 6, 9)]
    # live files do not move the open position; the auction's results do
    assert position_days({"live": {date(2025, 6, 9)}}, coverage, today) == []
    assert position_days({"day_ahead_prices": {date(2025, 6, 9)}}, coverage, today) == [date(2025, 6, 9)]
    # before the first CRM snapshot there is no portfolio to hold a position
    no_crm = Coverage(traded_days=frozenset(), first_snapshot_at=datetime(2025, 6, 9, 23, 0, tzinfo=UTC))
    assert position_days(days_by_kind, no_crm, today) == []
