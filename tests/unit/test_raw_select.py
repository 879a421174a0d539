"""The raw layer's pick of a day's rows from the staged Parquet: accepted files only, the union of
their columns, and the rule of each source (the snapshot that applies, rows in the window)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import polars as pl

from flexpower_assets.assets.raw import RAW_ASSET_KEYS, RAW_SOURCES, prefetch_raw, raw_columns, select_raw
from flexpower_assets.ingestion.staging import staging_dir
from flexpower_assets.partitions import DeliveryDay
from resources.warehouse import Warehouse

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
CONTRACTS = next(source for source in RAW_SOURCES if source.kind == "contracts")
LIVE = next(source for source in RAW_SOURCES if source.kind == "live")


def catalog(warehouse: Warehouse, statuses: dict[int, tuple[str, str]],
            days: dict[int, list[date]] | None = None) -> None:
    """A catalog of file id -> (kind, status) and the days each file feeds, the columns the
    reads look at."""
    frame = pl.DataFrame({"file_id": list(statuses), "kind": [kind for kind, _ in statuses.values()],  # noqa: F841
                          "status": [status for _, status in statuses.values()],
                          "delivery_days": [(days or {}).get(file_id) for file_id in statuses]},
                         schema_overrides={"delivery_days": pl.List(pl.Date)})
    with warehouse.writer() as conn:
        conn.execute("create schema if not exists landing")
        conn.execute("create table landing.files as select * from frame")


def stage(warehouse: Warehouse, kind: str, folder: str, name: str, rows: pl.DataFrame) -> None:
    target = staging_dir(warehouse) / kind / folder
    target.mkdir(parents=True, exist_ok=True)
    rows.write_parquet(target / f"{name}.parquet")


def snapshot(file_id: int, created: datetime, contract_ids: list[str], with_email: bool = True,
             **values) -> pl.DataFrame:
    """A staged contracts chunk: every column of the raw table (empty unless given); without
    ``email`` when ``with_email`` is false (a file staged before that column was read)."""
    n = len(contract_ids)
    columns = {name: dtype for name, dtype in raw_columns(CONTRACTS).items()
               if name != "delivery_day" and (with_email or name != "email")}
    given = {"contract_id": contract_ids, "snapshot_created_at": [created] * n, "file_id": [file_id] * n, **values}
    return pl.DataFrame({name: given.get(name, [None] * n) for name in columns}, schema=columns)


def test_the_newest_accepted_snapshot_before_the_day_s_end_is_the_day_s(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    # 1: 06-07 10:00, accepted, staged without the email column; 2: 06-08 09:00, accepted;
    # 3: 06-08 20:00, newer but replaced (not accepted); 4: 06-09 08:00, after the day's end
    catalog(warehouse, {1: ("contracts", "accepted"), 2: ("contracts", "accepted"),
                        3: ("contracts", "replaced"), 4: ("contracts", "accepted")})
    stage(warehouse, "contracts", "all", "a", snapshot(1, datetime(2025, 6, 7, 10, tzinfo=UTC), ["C1"],
                                                       with_email=False))
    stage(warehouse, "contracts", "all", "b", snapshot(2, datetime(2025, 6, 8, 9, tzinfo=UTC), ["C1", "C2"],
                                                       email=["a@example.org", "b@example.org"]))
    stage(warehouse, "contracts", "all", "c", snapshot(3, datetime(2025, 6, 8, 20, tzinfo=UTC), ["C9"]))
    stage(warehouse, "contracts", "all", "d", snapshot(4, datetime(2025, 6, 9, 8, tzinfo=UTC), ["C7"]))
    # the Berlin day 2025-06-08 is 06-07 22:00 .. 06-08 22:00 UTC, given here in Berlin time
    window = (datetime(2025, 6, 8, tzinfo=BERLIN), datetime(2025, 6, 9, tzinfo=BERLIN))
    rows = select_raw(warehouse, CONTRACTS, window, date(2025, 6, 8))
    assert rows.select("contract_id", "file_id", "email").rows() == [
        ("C1", 2, "a@example.org"), ("C2", 2, "b@example.org")]
    # a day before every snapshot: the oldest accepted one (file 1, which has no email: null)
    early = (datetime(2025, 6, 5, tzinfo=BERLIN), datetime(2025, 6, 6, tzinfo=BERLIN))
    assert select_raw(warehouse, CONTRACTS, early, date(2025, 6, 5)).select(
        "contract_id", "file_id", "email").rows() == [("C1", 1, None)]


def test_live_points_of_the_day_and_its_last_quarter_hour_before(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    # file 7 is accepted for 2025-06-09 only: the day asks the catalog for the files that feed it,
    # so rows of 7 found under the day's folder (they cannot be, but if) do not count for it
    catalog(warehouse, {5: ("live", "accepted"), 6: ("live", "rejected"), 7: ("live", "accepted")},
            {5: [date(2025, 6, 7), date(2025, 6, 8)], 7: [date(2025, 6, 9)]})
    start = datetime(2025, 6, 7, 22, tzinfo=UTC)  # the Berlin day 2025-06-08 starts here
    minutes = [-20, -15, -1, 0, 1439, 1440]  # relative to the day's start
    points = pl.DataFrame({"asset_id": ["A"] * 6, "timestamp": [start + timedelta(minutes=m) for m in minutes],
                           "power_kw": [float(m) for m in minutes], "quality": [1.0] * 6, "file_id": [5] * 6},
                          schema_overrides={"timestamp": pl.Datetime("us", "UTC")})
    stage(warehouse, "live", "2025-06-07", "p", points.head(3))
    stage(warehouse, "live", "2025-06-08", "q", points.tail(3))
    stage(warehouse, "live", "2025-06-08", "r", points.with_columns(file_id=pl.lit(6, pl.Int64)))
    stage(warehouse, "live", "2025-06-08", "s", points.with_columns(file_id=pl.lit(7, pl.Int64)))
    rows = select_raw(warehouse, LIVE, (start, start + timedelta(days=1)), date(2025, 6, 8))
    # from 15 minutes before the start (inclusive) to the end (exclusive); file 6 is rejected, 7 not the day's
    assert rows["power_kw"].to_list() == [-15.0, -1.0, 0.0, 1439.0]
    assert rows["file_id"].unique().to_list() == [5]


def test_a_run_of_days_reads_the_catalog_once_and_gets_each_day_s_rows_as_one_day_runs_do(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    # file 5 feeds 06-07 and 06-08, file 8 feeds 06-08 and 06-09, file 6 is rejected
    catalog(warehouse, {5: ("live", "accepted"), 6: ("live", "rejected"), 8: ("live", "accepted")},
            {5: [date(2025, 6, 7), date(2025, 6, 8)], 8: [date(2025, 6, 8), date(2025, 6, 9)]})
    start = datetime(2025, 6, 7, 22, tzinfo=UTC)  # the Berlin day 2025-06-08 starts here
    times = [start + timedelta(minutes=m) for m in (-10, 30, 1430, 1450, 2000)]

    def points(file_id: int, k: int) -> pl.DataFrame:
        return pl.DataFrame({"asset_id": ["A"] * k, "timestamp": times[:k], "power_kw": [float(file_id)] * k,
                             "quality": [1.0] * k, "file_id": [file_id] * k},
                            schema_overrides={"timestamp": pl.Datetime("us", "UTC")})

    stage(warehouse, "live", "2025-06-07", "a", points(5, 1))
    stage(warehouse, "live", "2025-06-08", "b", points(5, 3).tail(2))
    stage(warehouse, "live", "2025-06-08", "c", points(6, 3).tail(2))
    stage(warehouse, "live", "2025-06-09", "d", points(8, 5).tail(2))
    days = [DeliveryDay(d, *(datetime(d.year, d.month, d.day, tzinfo=BERLIN) + timedelta(days=k) for k in (0, 1)))
            for d in (date(2025, 6, 8), date(2025, 6, 9))]
    context = SimpleNamespace(selected_asset_keys={RAW_ASSET_KEYS["live"]})
    with warehouse.session() as session:
        prefetched = prefetch_raw(context, session, days)
    for day in days:
        alone = select_raw(warehouse, LIVE, (day.start, day.end), day.day)
        frame, _seconds = prefetched[("live", day.day)]
        assert frame.equals(alone), day.day
    # 06-08: file 5's points at -10 min (within 15 min before the start), +30 min and 1430 min
    # (23:50 Berlin, still the day's). 06-09 starts at 1440 min: file 5's 1430 min is within 15
    # min before it, then file 8's 1450 min (00:10) and 2000 min (09:20); file 6 never counts
    assert prefetched[("live", date(2025, 6, 8))][0]["power_kw"].to_list() == [5.0, 5.0, 5.0]
    assert prefetched[("live", date(2025, 6, 9))][0]["power_kw"].to_list() == [5.0, 8.0, 8.0]
