"""Many tables in one step: ranges of days, merged checks, and blocking and failures as separate steps had them."""

from __future__ import annotations

from datetime import date

import dagster as dg
import polars as pl

from flexpower_assets.assets.metadata import partitioned_check_spec
from flexpower_assets.assets.steps import Built, Day, Table, check_events, merge_metadata, table_step
from flexpower_assets.partitions import daily_backfill_policy, daily_partitions, partition_delivery_days
from flexpower_assets.runner import day_ranges
from resources.io_manager import WarehouseIOManager
from resources.warehouse import Warehouse


def test_day_ranges_group_consecutive_days_up_to_the_run_size():
    days = [date(2025, 6, d) for d in (1, 2, 3, 4, 5, 9, 10, 20)]
    # 1..5 consecutive, split after 3 days; 9..10; 20 alone
    assert day_ranges(days, days_per_run=3) == [("2025-06-01", "2025-06-03"), ("2025-06-04", "2025-06-05"),
                                                ("2025-06-09", "2025-06-10"), ("2025-06-20", "2025-06-20")]
    assert day_ranges(list(reversed(days)) + days, days_per_run=31) == [
        ("2025-06-01", "2025-06-05"), ("2025-06-09", "2025-06-10"), ("2025-06-20", "2025-06-20")]


def _result(passed: bool, n: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name="coverage", asset_key=dg.AssetKey("t"), passed=passed,
                               severity=dg.AssetCheckSeverity.WARN,
                               metadata={"n_missing": n, "missing": dg.MetadataValue.md(f"table {n}")})


TABLE = Table(key=dg.AssetKey("t"), group="g", description="t", compute=lambda d: None,
              checks=[partitioned_check_spec("coverage", asset="t")])


def test_one_day_keeps_its_check_result_as_it_is():
    result = _result(False, 2)
    assert check_events(TABLE, [(date(2025, 6, 1), [result])]) == [result]


def test_a_check_over_several_days_is_one_evaluation_per_day_under_its_partition():
    events = check_events(TABLE, [(date(2025, 6, 1), [_result(True, 0)]), (date(2025, 6, 2), [_result(False, 3)])])
    assert [(e.partition, e.passed, e.metadata["n_missing"].value) for e in events] == [
        ("2025-06-01", True, 0), ("2025-06-02", False, 3)]
    assert all(isinstance(e, dg.AssetCheckEvaluation) and e.blocking is False for e in events)


def test_metadata_of_several_days_sums_numbers():
    merged = merge_metadata([(date(2025, 6, 1), {"rows": 96, "energy_mwh": 1.5, "note": "a"}),
                             (date(2025, 6, 2), {"rows": 92, "energy_mwh": 2.25, "note": "b"})])
    assert merged["rows"] == 188  # 96 + 92
    assert merged["energy_mwh"] == 3.75  # 1.5 + 2.25
    assert merged["note"].md_str == "**2025-06-01**\n\na\n\n**2025-06-02**\n\nb"


# --- a small step: a -> b (blocking check) -> c; a -> d; a -> e (raises) -> f

def _frame(d: Day, value: float) -> pl.DataFrame:
    return pl.DataFrame({"delivery_day": [d.day], "value": [value]})


def _build_step(b_passes: bool, e_raises: bool, warehouse: Warehouse | None = None) -> dg.AssetsDefinition:
    def a(d):
        return _frame(d, 1.0)

    def b(d, a):
        check = dg.AssetCheckResult(check_name="sane", asset_key=dg.AssetKey("b"), passed=b_passes,
                                    severity=dg.AssetCheckSeverity.ERROR)
        return Built(_frame(d, a["value"][0] * 2), {}, [check])

    def c(d, b):
        return _frame(d, b["value"][0] + 1)

    def e(d, a):
        if e_raises:
            raise dg.Failure(description=f"no data for {d.day}")
        return _frame(d, 5.0)

    def one_input(name, fn, upstream=None, checks=()):
        inputs = {upstream: dg.AssetKey(upstream)} if upstream else {}
        return Table(key=dg.AssetKey(name), group="g", description=name, compute=fn, inputs=inputs, checks=checks)

    tables = [
        one_input("a", a),
        one_input("b", b, "a", [dg.AssetCheckSpec("sane", asset="b", blocking=True)]),
        one_input("c", c, "b"),
        one_input("d", lambda d, a: _frame(d, 4.0), "a"),
        one_input("e", e, "a"),
        one_input("f", lambda d, e: _frame(d, 6.0), "e"),
    ]
    return table_step("small", tables, "test", prepare=lambda context, days: (warehouse, {}, {}),
                      partitions_def=daily_partitions, backfill_policy=daily_backfill_policy,
                      partition_days=partition_delivery_days, required_resource_keys=set())


def _materialized(result) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.all_events
            if event.event_type_value == "ASSET_MATERIALIZATION"}


def test_every_table_of_the_step_is_built_in_order():
    result = dg.materialize([_build_step(True, False)], partition_key="2025-06-08")
    assert result.success
    assert _materialized(result) == {"a", "b", "c", "d", "e", "f"}
    assert result.output_for_node("small", "c")["value"].to_list() == [3.0]  # (1 x 2) + 1


def test_a_failed_blocking_check_stops_only_the_tables_downstream_of_it():
    result = dg.materialize([_build_step(False, False)], partition_key="2025-06-08", raise_on_error=False)
    assert not result.success  # as a step with a failed blocking check fails
    assert _materialized(result) == {"a", "b", "d", "e", "f"}  # c (downstream of b) is not built
    errors = [event.event_specific_data.error.message for event in result.all_events if event.is_step_failure]
    assert any("blocking asset check" in message for message in errors)


def test_a_table_that_raises_stops_its_downstream_and_fails_the_step_with_its_message():
    result = dg.materialize([_build_step(True, True)], partition_key="2025-06-08", raise_on_error=False)
    assert not result.success
    assert _materialized(result) == {"a", "b", "c", "d"}  # e raised, f needs it
    errors = [event.event_specific_data.error.message for event in result.all_events if event.is_step_failure]
    assert any("no data for 2025-06-08" in message for message in errors)


def test_a_subset_reads_the_tables_it_needs_but_does_not_build_from_the_warehouse(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.writer() as conn:  # a as stored by an earlier run: 2025-06-08 holds 10.0
        conn.execute("create table main.a as select * from (values (date '2025-06-07', 7.0), "
                     "(date '2025-06-08', 10.0)) v(delivery_day, value)")
    result = dg.materialize([_build_step(True, False, warehouse)], partition_key="2025-06-08",
                            selection=["b", "c"])
    assert result.success
    assert _materialized(result) == {"b", "c"}
    assert result.output_for_node("small", "b")["value"].to_list() == [20.0]  # stored 10.0 x 2
    assert result.output_for_node("small", "c")["value"].to_list() == [21.0]  # 20.0 + 1


# --- the step's tables written by the warehouse IO manager: one transaction for the step

def _warehouse_step(a_value: float, warehouse: Warehouse, b_value: object = 3.0,
                    b_note: str | None = None) -> dg.AssetsDefinition:
    """a -> b in one step, b written after a (text for ``b_value`` does not fit a stored DOUBLE
    column); with ``b_note`` b has a column ``note`` besides."""

    def b(d, a):
        frame = pl.DataFrame({"delivery_day": [d.day, d.day], "value": [2.0, b_value]}, strict=False)
        return frame.with_columns(note=pl.lit(b_note)) if b_note else frame

    tables = [
        Table(key=dg.AssetKey("a"), group="g", description="a",
              compute=lambda d: pl.DataFrame({"delivery_day": [d.day], "value": [a_value]})),
        Table(key=dg.AssetKey("b"), group="g", description="b", inputs={"a": dg.AssetKey("a")}, compute=b),
    ]
    return table_step("pair", tables, "test", prepare=lambda context, days: (warehouse, {}, {}),
                      partitions_def=daily_partitions, backfill_policy=daily_backfill_policy,
                      partition_days=partition_delivery_days, required_resource_keys=set())


def _stored(warehouse: Warehouse) -> list[tuple]:
    return warehouse.read("select 'a' as t, cast(delivery_day as varchar) as day, value from main.a union all "
                          "select 'b', cast(delivery_day as varchar), value from main.b order by 1, 2, 3").rows()


def test_the_step_writes_all_its_tables_in_one_transaction(tmp_path, monkeypatch):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    resources = {"io_manager": WarehouseIOManager(database=str(warehouse.path))}
    writers = []
    opened = Warehouse.writer
    monkeypatch.setattr(Warehouse, "writer", lambda self: writers.append(self.path) or opened(self))
    for day, value in (("2025-06-07", 1.0), ("2025-06-08", 5.0)):
        assert dg.materialize([_warehouse_step(value, warehouse)], partition_key=day, resources=resources).success
    assert len(writers) == 2  # one writer per step (run), not one per table
    assert _stored(warehouse) == [("a", "2025-06-07", 1.0), ("a", "2025-06-08", 5.0),
                                  ("b", "2025-06-07", 2.0), ("b", "2025-06-07", 3.0),
                                  ("b", "2025-06-08", 2.0), ("b", "2025-06-08", 3.0)]
    result = dg.materialize([_warehouse_step(7.0, warehouse)], partition_key="2025-06-08", resources=resources)
    materializations = [event.event_specific_data.materialization for event in result.all_events
                        if event.event_type_value == "ASSET_MATERIALIZATION"]
    # what the IO manager records for a table, besides the table's own metadata
    assert {(m.asset_key.to_user_string(), m.metadata["row_count"].value, m.metadata["table"].value)
            for m in materializations} == {("a", 1, "main.a"), ("b", 2, "main.b")}
    assert all("compute_seconds" in m.metadata for m in materializations)
    assert _stored(warehouse)[1] == ("a", "2025-06-08", 7.0)  # 06-08 replaced, 06-07 kept


def test_a_failed_write_of_one_table_leaves_every_table_of_the_step_as_it_was(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    resources = {"io_manager": WarehouseIOManager(database=str(warehouse.path))}
    assert dg.materialize([_warehouse_step(1.0, warehouse)], partition_key="2025-06-08", resources=resources).success
    before = _stored(warehouse)
    # a (9.0) is written first; b's text does not fit its DOUBLE column, so b's insert fails
    result = dg.materialize([_warehouse_step(9.0, warehouse, b_value="not a number")], partition_key="2025-06-08",
                            resources=resources, raise_on_error=False)
    assert not result.success
    assert _materialized(result) == set()  # nothing recorded as materialized
    assert _stored(warehouse) == before == [("a", "2025-06-08", 1.0), ("b", "2025-06-08", 2.0),
                                            ("b", "2025-06-08", 3.0)]


def test_a_column_new_to_one_table_of_the_step_is_added_and_empty_for_the_rows_before(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    resources = {"io_manager": WarehouseIOManager(database=str(warehouse.path))}
    assert dg.materialize([_warehouse_step(1.0, warehouse)], partition_key="2025-06-07", resources=resources).success
    assert dg.materialize([_warehouse_step(5.0, warehouse, b_note="new")], partition_key="2025-06-08",
                          resources=resources).success
    stored = warehouse.read("select cast(delivery_day as varchar) as day, value, note from main.b order by 1, 2")
    assert stored.rows() == [("2025-06-07", 2.0, None), ("2025-06-07", 3.0, None),
                             ("2025-06-08", 2.0, "new"), ("2025-06-08", 3.0, "new")]
    assert _stored(warehouse)[:2] == [("a", "2025-06-07", 1.0), ("a", "2025-06-08", 5.0)]


def test_the_tables_a_subset_needs_but_does_not_build_are_read_on_one_connection(tmp_path, monkeypatch):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.writer() as conn:  # b and e as stored by an earlier run
        conn.execute("create table main.b as select date '2025-06-08' as delivery_day, 10.0 as value")
        conn.execute("create table main.e as select date '2025-06-08' as delivery_day, 50.0 as value")
    readers = []
    opened = Warehouse.reader
    monkeypatch.setattr(Warehouse, "reader", lambda self: readers.append(self.path) or opened(self))
    result = dg.materialize([_build_step(True, False, warehouse)], partition_key="2025-06-08",
                            selection=["c", "f"])
    assert result.success
    assert _materialized(result) == {"c", "f"}
    assert result.output_for_node("small", "c")["value"].to_list() == [11.0]  # stored b 10.0 + 1
    assert len(readers) == 1  # b and e on one connection
