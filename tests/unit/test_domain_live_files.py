"""Two live files for the same asset and day: the newest file wins per timestamp, every time."""

from datetime import datetime, timedelta, timezone

import polars as pl

from flexpower_assets.domain.infeed import live_quarter_hours, newest_live_points
from flexpower_assets.domain.time import UTC_DATETIME

UTC = timezone.utc
START = datetime(2025, 6, 7, 22, 0, tzinfo=UTC)  # the Berlin day 2025-06-08 starts here
FIRST, SECOND = 11, 22  # file ids


def points() -> pl.DataFrame:
    # the first file: 22:00 100 kW, 22:05 100 kW, 22:10 100 kW (a point every 5 minutes)
    # the second file, delivered later: 22:05 400 kW, 22:10 400 kW (the same timestamps, new values)
    rows = [(FIRST, 0, 100.0), (FIRST, 5, 100.0), (FIRST, 10, 100.0), (SECOND, 5, 400.0), (SECOND, 10, 400.0)]
    return pl.DataFrame(
        [{"asset_id": "A", "timestamp": START + timedelta(minutes=m), "power_kw": p, "quality": 1.0,
          "file_id": f} for f, m, p in rows],
        schema_overrides={"timestamp": UTC_DATETIME},
    )


def catalog(first_arrived: datetime, second_arrived: datetime) -> pl.DataFrame:
    return pl.DataFrame({"file_id": [FIRST, SECOND], "arrived_at": [first_arrived, second_arrived],
                         "path": ["vpp/live/WND01_20250608.json", "vpp/live/WND01b_20250608.json"]},
                        schema_overrides={"arrived_at": UTC_DATETIME})


def test_the_newest_file_wins_per_timestamp_and_the_others_are_kept():
    files = catalog(datetime(2025, 6, 8, 9, tzinfo=UTC), datetime(2025, 6, 8, 10, tzinfo=UTC))
    newest = newest_live_points(points(), files)
    assert newest.select("timestamp", "power_kw", "file_id").rows() == [
        (START, 100.0, FIRST), (START + timedelta(minutes=5), 400.0, SECOND),
        (START + timedelta(minutes=10), 400.0, SECOND)]
    # the QH 22:00-22:15: 100 kW for 5 min, 400 kW for 5 min, 400 kW for 5 min (held to 22:15)
    # = (100 * 300 + 400 * 300 + 400 * 300) / 900 = 300 kW
    qh = live_quarter_hours(newest, START, START + timedelta(minutes=15))
    assert qh["power_kw"].to_list() == [300.0]


def test_files_that_arrived_at_the_same_instant_are_ordered_by_path():
    same = datetime(2025, 6, 8, 9, tzinfo=UTC)
    newest = newest_live_points(points(), catalog(same, same))
    # 'WND01b_...' sorts after 'WND01_...' ('b' > '_'): the second file wins
    assert newest["power_kw"].to_list() == [100.0, 400.0, 400.0]
    # an older arrival of the second file: the first one wins at 22:05 and 22:10
    older = newest_live_points(points(), catalog(same, same - timedelta(hours=1)))
    assert older["power_kw"].to_list() == [100.0, 100.0, 100.0]


def test_the_day_s_live_energy_is_the_same_whatever_order_the_rows_come_in():
    files = catalog(datetime(2025, 6, 8, 9, tzinfo=UTC), datetime(2025, 6, 8, 10, tzinfo=UTC))
    seen = set()
    for seed in range(12):
        shuffled = points().sample(fraction=1.0, shuffle=True, seed=seed)
        qh = live_quarter_hours(newest_live_points(shuffled, files), START, START + timedelta(minutes=15))
        seen.add(tuple(qh["power_kw"].to_list()))
    assert seen == {(300.0,)}


def test_a_second_live_file_in_a_later_sync_wins_and_a_rebuild_in_one_sync_agrees(tmp_path):
    import json
    import time

    from flexpower_assets.ingestion.catalog import accepted_rows, registered_files, sync_landing
    from resources.warehouse import Warehouse

    landing = tmp_path / "landing"
    folder = landing / "vpp" / "live"
    folder.mkdir(parents=True)
    start_ms = int(START.timestamp() * 1000)

    def live_file(name: str, minutes: list[int], values: list[float]) -> None:
        (folder / name).write_text(json.dumps({
            "key": {"asset_id": "WND-X-001"}, "column_ids": ["timestamp", "value", "quality"],
            "units": ["ms", "kW", "factor"],
            "values": [[start_ms + m * 60_000 for m in minutes], values, [1.0] * len(values)]}))

    def live_power(warehouse: Warehouse) -> list[float]:
        points = accepted_rows(warehouse, "live")
        files = registered_files(warehouse, kinds=["live"], columns=["file_id", "arrived_at", "path"])
        return live_quarter_hours(newest_live_points(points, files), START, START + timedelta(minutes=15))[
            "power_kw"].to_list()

    incremental = Warehouse(tmp_path / "incremental.duckdb")
    live_file("WND01_20250608.json", [0, 5, 10], [100.0, 100.0, 100.0])
    sync_landing(landing, incremental, workers=1)
    assert live_power(incremental) == [100.0]
    time.sleep(0.01)  # the second delivery arrives later
    live_file("WND01-resent_20250608.json", [5, 10], [400.0, 400.0])
    sync_landing(landing, incremental, workers=1)
    # (100 x 300 s + 400 x 300 s + 400 x 300 s) / 900 s = 300 kW, on every run
    assert [live_power(incremental) for _ in range(3)] == [[300.0]] * 3

    rebuilt = Warehouse(tmp_path / "rebuilt.duckdb")  # both files in one sync, e.g. after a restore
    sync_landing(landing, rebuilt, workers=1)
    assert live_power(rebuilt) == [300.0]


def test_an_asset_with_one_file_keeps_every_point_beside_an_asset_with_two():
    files = catalog(datetime(2025, 6, 8, 9, tzinfo=UTC), datetime(2025, 6, 8, 10, tzinfo=UTC))
    other = pl.DataFrame(
        [{"asset_id": "B", "timestamp": START + timedelta(minutes=m), "power_kw": 50.0, "quality": 1.0,
          "file_id": 33} for m in (10, 0, 5)],  # a file the catalog does not know, rows out of order
        schema_overrides={"timestamp": UTC_DATETIME})
    newest = newest_live_points(pl.concat([other, points()]), files)
    # B: its three points as they came; A: 22:00 from the first file, 22:05 and 22:10 from the second
    assert newest.select("asset_id", "power_kw", "file_id").rows() == [
        ("B", 50.0, 33), ("B", 50.0, 33), ("B", 50.0, 33),
        ("A", 100.0, FIRST), ("A", 400.0, SECOND), ("A", 400.0, SECOND)]
    assert newest.filter(pl.col("asset_id") == "B")["timestamp"].to_list() == [
        START + timedelta(minutes=m) for m in (10, 0, 5)]
