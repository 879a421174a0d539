"""Many tables in one step: the daily tables of a day (or a range of days) built in one go.

A day is 25 small tables. As separate steps, each paid the same fixed cost (step events in the
run's event log, a warehouse connection per input and per output, its own landing scan) that
was larger than its work. ``table_step`` turns a list of ``Table``s into one ``@multi_asset``:
every table keeps its asset key, group, description, lineage and checks, can be selected on its
own (the asset is subsettable: a sensor's run builds only what a new file affects), and is
written by the IO manager as its own DuckDB table; frames pass from table to table in memory.
The step computes every table first and then writes them all, through the IO manager, in one
transaction (one lock, one connection, one commit and checkpoint, instead of one per table):
every table's rows are replaced, or none are, and a table's materialization is recorded only
after that commit.

What separate steps did, the step does itself:
- a table that is not selected but feeds a selected one is read from the warehouse (as the IO
  manager would have loaded it; all such tables on one connection, before the step computes);
- a failed blocking check (``matches_schema``, ``within_capacity``) stops every table
  downstream of it in the step, as Dagster stops downstream steps; independent tables go on;
- a table that raises stops only its downstream tables; the step fails at the end with the
  first error, after everything independent was written.

Over a partition range (a backfill run), every table is computed day by day with the same
function and the same inputs as in a one-day run, and written once for the whole range; every
check is evaluated per day and recorded under that day's partition, as in a one-day run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, runtime_checkable

import dagster as dg
import polars as pl

from flexpower_assets.domain.time import quarter_hours
from flexpower_assets.partitions import DeliveryDay
from resources.warehouse import Warehouse, as_utc


@dataclass
class Built:
    """What a table's function returns for one day: the frame, its metadata and check results."""

    frame: pl.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)
    checks: list[dg.AssetCheckResult] = field(default_factory=list)


@dataclass(frozen=True)
class Day(DeliveryDay):
    """A delivery day as a table function sees it, with the step's resources; the raw layer also
    reads the warehouse and what the step's landing sync registered (reported with the first day)."""

    warehouse: Warehouse | None = None
    resources: Any = None
    synced: Mapping[tuple[str, str], int] = field(default_factory=dict)
    is_first: bool = True
    prefetched: Mapping = field(default_factory=dict)  # rows read for the run before it writes

    def grid(self) -> pl.DataFrame:
        return quarter_hours(self.start, self.end)

    def with_day(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``delivery_day`` first, then the frame's own columns."""
        return frame.with_columns(delivery_day=pl.lit(self.day, dtype=pl.Date)).select(
            "delivery_day", pl.exclude("delivery_day"))


@dataclass(frozen=True)
class Table:
    """One daily table: its asset, where it is stored, its inputs and its per-day function.

    ``compute(day, **frames)`` gets one frame per entry of ``inputs`` (parameter name -> key),
    holding that day's rows only, and returns a ``Built`` (or a bare frame).
    """

    key: dg.AssetKey
    group: str
    description: str
    compute: Callable[..., Built | pl.DataFrame]
    inputs: Mapping[str, dg.AssetKey] = field(default_factory=dict)
    checks: Sequence[dg.AssetCheckSpec] = ()
    schema: str = "main"  # the DuckDB schema the IO manager writes it to

    @property
    def output_name(self) -> str:
        return "__".join(self.key.path)

    @property
    def table_name(self) -> str:
        return f'"{self.schema}"."{self.key.path[-1]}"'  # identifiers of this code base, not input


PARTITION_EXPR = "delivery_day"


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (dg.IntMetadataValue, dg.FloatMetadataValue)):
        return value.value
    return None


def merge_metadata(per_day: list[tuple[date, Mapping[str, Any]]]) -> dict:
    """One day's metadata as it is; over several days numbers are summed and the rest is listed
    per day."""
    if len(per_day) == 1:
        return dict(per_day[0][1])
    merged: dict[str, Any] = {"days": len(per_day)}
    keys = list(dict.fromkeys(key for _day, metadata in per_day for key in metadata))
    for key in keys:
        values = [(day, metadata[key]) for day, metadata in per_day if key in metadata]
        numbers = [_number(value) for _day, value in values]
        if all(number is not None for number in numbers):
            total = sum(numbers)
            merged[key] = round(total, 6) if isinstance(total, float) else total
            continue
        text = [f"**{day}**\n\n{getattr(value, 'md_str', None) or getattr(value, 'value', value)}"
                for day, value in values]
        merged[key] = dg.MetadataValue.md("\n\n".join(text))
    return merged


def check_events(table: Table | Sequence[dg.AssetCheckSpec], per_day: list[tuple[date, list[dg.AssetCheckResult]]]
                 ) -> list[dg.AssetCheckResult | dg.AssetCheckEvaluation]:
    """A one-day run yields its check results as they are; a range yields every day's result as
    an evaluation of that day's partition (Dagster gives a range step no single partition).
    ``table``: the table whose checks these are, or the check specs themselves."""
    if len(per_day) == 1:
        return list(per_day[0][1])
    specs = {(spec.asset_key, spec.name): spec for spec in (table.checks if isinstance(table, Table) else table)}
    events = []
    for day, results in per_day:
        for result in results:
            spec = specs[(result.asset_key, result.check_name)]
            events.append(dg.AssetCheckEvaluation(
                asset_key=result.asset_key, check_name=result.check_name, passed=result.passed,
                metadata=result.metadata, severity=result.severity, description=result.description,
                blocking=spec.blocking, partition=day.isoformat() if spec.partitions_def is not None else None))
    return events


def _blocks(table: Table, results: list) -> list[str]:
    blocking = {spec.name for spec in table.checks if spec.blocking}
    return sorted({result.check_name for result in results
                   if not result.passed and result.check_name in blocking
                   and result.severity == dg.AssetCheckSeverity.ERROR})


def _of_day(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    if PARTITION_EXPR not in frame.columns:
        return frame  # a table that does not exist yet: empty, as the IO manager loads it
    return frame.filter(pl.col(PARTITION_EXPR) == day)


def load_stored(warehouse: Warehouse, tables: Sequence[Table], days: Sequence[date]) -> dict[dg.AssetKey, pl.DataFrame]:
    """The stored rows of some tables for some days, read on one connection (a table that does
    not exist is an empty frame)."""
    if not tables:
        return {}
    frames = {}
    with warehouse.reader() as conn:
        for table in tables:
            exists = conn.execute(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                [table.schema, table.key.path[-1]]).fetchone()[0]
            frames[table.key] = pl.DataFrame() if not exists else as_utc(conn.execute(
                f"select * from {table.table_name} where {PARTITION_EXPR} between ? and ?",
                [min(days), max(days)]).pl())
    return frames


@runtime_checkable
class OutputStore(Protocol):
    """An IO manager that writes many outputs of a step at once (``WarehouseIOManager``)."""

    def store_outputs(self, context: dg.AssetExecutionContext,
                      frames: Mapping[str, pl.DataFrame]) -> Mapping[str, Mapping[str, Any]]: ...


@dataclass
class _Finished:
    """A table built for every day of the step, waiting to be written."""

    table: Table
    frame: pl.DataFrame
    metadata: dict[str, Any]
    checks: list


def run_tables(context: dg.AssetExecutionContext, tables: Sequence[Table], days: Sequence[Day],
               warehouse: Warehouse) -> Iterator[dg.Output | dg.MaterializeResult | dg.AssetCheckResult]:
    """Compute the selected tables in order for every day, then write them and yield their
    materializations and check results.

    All tables are computed before any is written: the step's reads (the raw rows, stored tables
    it does not build, the catalog) are done by then, so an ``OutputStore`` IO manager writes
    every table in one transaction, and each materialization is recorded after that commit.
    Another IO manager gets the frames one output at a time, as a step's outputs."""
    finished = list(_build_tables(context, tables, days, warehouse))
    errors = [item for item in finished if isinstance(item, BaseException)]
    built = [item for item in finished if isinstance(item, _Finished)]
    io_manager = context.resources.io_manager
    if isinstance(io_manager, OutputStore):
        stored = io_manager.store_outputs(context, {item.table.output_name: item.frame for item in built})
        for item in built:
            yield dg.MaterializeResult(asset_key=item.table.key,
                                       metadata={**item.metadata, **stored[item.table.output_name]})
            yield from item.checks
    else:
        for item in built:
            yield dg.Output(item.frame, output_name=item.table.output_name, metadata=item.metadata)
            yield from item.checks
    if errors:
        raise errors[0]


def _build_tables(context: dg.AssetExecutionContext, tables: Sequence[Table], days: Sequence[Day],
                  warehouse: Warehouse) -> Iterator[_Finished | BaseException]:
    """Every selected table built for every day, in order; a table that raises is yielded as its
    error (its downstream tables are then not built)."""
    by_key = {table.key: table for table in tables}
    selected = [table for table in tables if table.key in context.selected_asset_keys]
    remaining_uses: dict[dg.AssetKey, int] = {}
    for table in selected:
        for key in table.inputs.values():
            remaining_uses[key] = remaining_uses.get(key, 0) + 1
    day_list = [day.day for day in days]
    # the run's rows of every table still needed: the tables it does not build are read first
    selected_keys = {table.key for table in selected}
    stored = [by_key[key] for key in dict.fromkeys(key for table in selected for key in table.inputs.values())
              if key not in selected_keys]
    frames: dict[dg.AssetKey, pl.DataFrame] = load_stored(warehouse, stored, day_list)
    unavailable: dict[dg.AssetKey, str] = {}
    for table in selected:
        stopped = [key for key in table.inputs.values() if key in unavailable]
        if stopped:
            unavailable[table.key] = "upstream"
            context.log.warning(f"{table.key.to_user_string()} not built: "
                                + "; ".join(f"{key.to_user_string()} {unavailable[key]}" for key in stopped))
            continue
        built_days: list[tuple[date, Built]] = []
        began = time.perf_counter()
        try:
            for day in days:
                inputs = {name: _of_day(frames[key], day.day) for name, key in table.inputs.items()}
                built = table.compute(day, **inputs)
                built_days.append((day.day, built if isinstance(built, Built) else Built(built)))
        except Exception as error:  # noqa: BLE001 (re-raised once the independent tables are written)
            unavailable[table.key] = "failed"
            context.log.error(f"{table.key.to_user_string()} failed: {error}")
            yield error
            continue
        seconds = time.perf_counter() - began
        frame = (built_days[0][1].frame if len(built_days) == 1
                 else pl.concat([built.frame for _day, built in built_days], how="vertical_relaxed"))
        for key in table.inputs.values():
            remaining_uses[key] -= 1
            if remaining_uses[key] == 0:
                frames.pop(key, None)
        if remaining_uses.get(table.key):
            frames[table.key] = frame
        metadata = merge_metadata([(day, built.metadata) for day, built in built_days])
        # a table's own time: computing it, plus reading its rows when the step read them ahead
        metadata["compute_seconds"] = round(seconds + float(metadata.pop("read_seconds", 0.0)), 4)
        checks = check_events(table, [(day, built.checks) for day, built in built_days])
        yield _Finished(table, frame, metadata, checks)
        failed_blocking = _blocks(table, checks)
        if failed_blocking:
            unavailable[table.key] = f"failed its blocking check {', '.join(failed_blocking)}"


def table_step(name: str, tables: Sequence[Table], description: str,
               prepare: Callable[[dg.AssetExecutionContext, Sequence[DeliveryDay]], tuple[Warehouse, Mapping, Mapping]],
               partitions_def: dg.PartitionsDefinition, backfill_policy: dg.BackfillPolicy,
               partition_days: Callable[[dg.AssetExecutionContext], Sequence[DeliveryDay]],
               required_resource_keys: set[str]) -> dg.AssetsDefinition:
    """One subsettable multi-asset computing ``tables`` (given in dependency order); its tables
    are written by the ``io_manager`` resource, in one transaction when it is an ``OutputStore``."""
    keys = {table.key for table in tables}
    outs = {
        table.output_name: dg.AssetOut(
            key=table.key, group_name=table.group, description=table.description, is_required=False,
            metadata={"partition_expr": PARTITION_EXPR, "schema": table.schema}, kinds={"duckdb", "polars"},
        )
        for table in tables
    }
    internal = {table.output_name: {key for key in table.inputs.values() if key in keys} for table in tables}

    @dg.multi_asset(
        name=name, outs=outs, internal_asset_deps=internal, can_subset=True,
        check_specs=[spec for table in tables for spec in table.checks],
        partitions_def=partitions_def, backfill_policy=backfill_policy,
        required_resource_keys={*required_resource_keys, "io_manager"}, description=description,
    )
    def _step(context):
        delivery_days = partition_days(context)
        warehouse, synced, prefetched = prepare(context, delivery_days)
        days = [Day(day.day, day.start, day.end, warehouse, context.resources, synced, is_first=position == 0,
                    prefetched=prefetched) for position, day in enumerate(delivery_days)]
        yield from run_tables(context, tables, days, warehouse)

    return _step
