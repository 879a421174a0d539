"""The warehouse IO manager: a day's rows replaced atomically, new columns taken, UTC back."""

from __future__ import annotations

from datetime import date, datetime, timezone

import dagster as dg
import polars as pl

from flexpower_assets.partitions import daily_partitions
from resources.io_manager import WarehouseIOManager
from resources.warehouse import Warehouse

FRAMES: dict[str, pl.DataFrame] = {}  # what the test asset returns, by partition key
META = {"partition_expr": "delivery_day", "schema": "main"}


@dg.asset(partitions_def=daily_partitions, metadata=META)
def table_t(context) -> pl.DataFrame:
    return pl.concat([FRAMES[key] for key in context.partition_keys], how="diagonal_relaxed")


@dg.asset(partitions_def=daily_partitions, ins={"rows": dg.AssetIn("table_t")}, metadata=META)
def reads_t(rows: pl.DataFrame) -> pl.DataFrame:
    FRAMES["read"] = rows
    return pl.DataFrame({"delivery_day": [date(2025, 6, 1)]})


def _rows(day: str, values: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"delivery_day": [date.fromisoformat(day)] * len(values), "x": values},
                        schema={"delivery_day": pl.Date, "x": pl.Int64})


def _run(database, key: str, only=table_t, tags=None) -> bool:
    resources = {"io_manager": WarehouseIOManager(database=str(database))}
    run = {"tags": tags} if tags else {"partition_key": key}
    return dg.materialize([table_t, reads_t], selection=[only], resources=resources, raise_on_error=False,
                          **run).success


def test_a_day_is_replaced_and_the_other_days_kept(tmp_path):
    database = tmp_path / "w.duckdb"
    FRAMES.update({"2025-06-01": _rows("2025-06-01", [1, 2]), "2025-06-02": _rows("2025-06-02", [3])})
    assert _run(database, "2025-06-01") and _run(database, "2025-06-02")
    FRAMES["2025-06-01"] = _rows("2025-06-01", [7])
    assert _run(database, "2025-06-01")
    stored = Warehouse(database).read("select delivery_day, x from main.table_t order by x")
    # 06-01's rows 1, 2 replaced by 7; 06-02's 3 untouched
    assert stored.rows() == [(date(2025, 6, 2), 3), (date(2025, 6, 1), 7)]


def test_a_failed_write_leaves_the_day_as_it_was(tmp_path):
    database = tmp_path / "w.duckdb"
    FRAMES["2025-06-01"] = _rows("2025-06-01", [1, 2])
    assert _run(database, "2025-06-01")
    # x is BIGINT in the table: text that is no number fails the insert after the delete ran
    FRAMES["2025-06-01"] = pl.DataFrame({"delivery_day": [date(2025, 6, 1)], "x": ["not a number"]})
    assert not _run(database, "2025-06-01")
    assert Warehouse(database).read("select x from main.table_t order by x")["x"].to_list() == [1, 2]


def test_a_new_column_is_added_and_empty_for_the_rows_before(tmp_path):
    database = tmp_path / "w.duckdb"
    FRAMES.update({"2025-06-01": _rows("2025-06-01", [1]),
                   "2025-06-02": _rows("2025-06-02", [2]).with_columns(note=pl.lit("new"))})
    assert _run(database, "2025-06-01") and _run(database, "2025-06-02")
    stored = Warehouse(database).read("select x, note from main.table_t order by x")
    assert stored.rows() == [(1, None), (2, "new")]


def test_a_range_run_replaces_exactly_its_days(tmp_path):
    database = tmp_path / "w.duckdb"
    for day, x in (("2025-06-01", 1), ("2025-06-02", 2), ("2025-06-03", 3)):
        FRAMES[day] = _rows(day, [x])
        assert _run(database, day)
    FRAMES.update({"2025-06-01": _rows("2025-06-01", [10]), "2025-06-02": _rows("2025-06-02", [20, 21])})
    assert _run(database, "", tags={"dagster/asset_partition_range_start": "2025-06-01",
                                    "dagster/asset_partition_range_end": "2025-06-02"})
    # 06-01 and 06-02 replaced in one write, 06-03 kept
    assert Warehouse(database).read("select x from main.table_t order by x")["x"].to_list() == [3, 10, 20, 21]


def test_inputs_read_their_day_with_utc_timestamps_and_an_absent_table_is_empty(tmp_path):
    database = tmp_path / "w.duckdb"
    assert _run(database, "2025-06-01", reads_t)  # table_t was never written: an empty frame
    assert FRAMES["read"].shape == (0, 0)
    with Warehouse(database).writer() as conn:
        conn.execute("create or replace table main.table_t (delivery_day date, x bigint, seen_at timestamptz)")
        conn.execute("insert into main.table_t values ('2025-06-01', 1, '2025-06-01 10:00:00+00'), "
                     "('2025-06-02', 2, '2025-06-02 10:00:00+00')")
    assert _run(database, "2025-06-02", reads_t)
    read = FRAMES["read"]
    assert read["x"].to_list() == [2]  # only the partition's day
    assert read.schema["seen_at"] == pl.Datetime("us", "UTC")
    assert read["seen_at"].to_list() == [datetime(2025, 6, 2, 10, tzinfo=timezone.utc)]
