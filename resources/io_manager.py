"""The DuckDB IO manager: polars frames as DuckDB tables, safe for concurrent runs.

A ``ConfigurableIOManager`` on Dagster's public API. It stores an asset as the table named by its
key (the schema from the asset's ``schema`` metadata, else the key's prefix) the way
dagster-duckdb's ``DuckDBIOManager`` lays tables out, with what this platform needs besides:
- every connection goes through ``Warehouse`` (an exclusive lock for writing, a shared one for
  reading), so a week's backfill queues for the file instead of failing on DuckDB's lock;
- a partition (or a range of partitions: a backfill run) is replaced atomically: the delete of its
  rows (``partition_expr`` in the partition's time window) and the insert of the new ones run in
  one transaction, so a failed write never leaves a day half-empty;
- a step with many outputs may write them all in one transaction instead (``store_outputs``: one
  lock, one connection, one commit and checkpoint for the step; every table replaced, or none);
- frames are inserted by column name, a column the table lacks is added (a warehouse built by an
  earlier version takes it), an empty frame still creates its (typed) table;
- timestamps come back as ``UTC`` whatever zone label DuckDB gives them; a table that does not
  exist yet loads as an empty frame.
Values are bound as parameters; identifiers are the code base's own asset keys and metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from flexpower_assets.markdown import markdown_table
from resources.warehouse import Warehouse, as_utc


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class TablePart:
    """The table of an asset and, for a partitioned one, the rows of its partitions."""

    schema: str
    table: str
    partition_expr: str | None = None
    window: tuple[datetime, datetime] | None = None  # local wall-clock start and end of the partitions
    no_partitions: bool = False  # partitioned, but no partition is asked for

    @property
    def name(self) -> str:
        return f"{_quoted(self.schema)}.{_quoted(self.table)}"

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.table}"

    def where(self) -> tuple[str, list]:
        if self.window is None:
            return "", []
        return f" where {_quoted(self.partition_expr)} >= ? and {_quoted(self.partition_expr)} < ?", list(self.window)

    def query(self) -> str:
        """The select of these rows as the UI shows it."""
        if self.window is None:
            return f"SELECT * FROM {self.label}"
        start, end = (moment.strftime("%Y-%m-%d %H:%M:%S") for moment in self.window)
        return f"SELECT * FROM {self.label} WHERE {self.partition_expr} >= '{start}' AND {self.partition_expr} < '{end}'"


def table_part(context: dg.InputContext | dg.OutputContext, metadata: dict) -> TablePart:
    """Where an asset's rows live: ``metadata`` is the asset's definition metadata."""
    partitioned = context.has_asset_partitions
    return part_of(context.asset_key, metadata, context.asset_partitions_def if partitioned else None,
                   (lambda: context.asset_partitions_time_window) if partitioned and context.asset_partition_keys
                   else None)


def part_of(asset_key: dg.AssetKey, metadata: dict, partitions_def: dg.PartitionsDefinition | None,
            window: Callable[[], dg.TimeWindow] | None) -> TablePart:
    """The ``TablePart`` of an asset: ``partitions_def`` is None for an unpartitioned asset, and
    ``window`` gives the time window of the partitions asked for (None when none is asked for)."""
    path = asset_key.path
    schema = metadata.get("schema") or (path[-2] if len(path) > 1 else "public")
    if partitions_def is None:
        return TablePart(schema, path[-1])
    partition_expr = metadata.get("partition_expr")
    if partition_expr is None:
        raise ValueError(f"Asset '{asset_key.to_user_string()}' has partitions, but no 'partition_expr' "
                         "metadata value, so the column it is partitioned on is unknown.")
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        raise ValueError(f"Asset '{asset_key.to_user_string()}': only time-window partitions are stored "
                         "by this IO manager.")
    if window is None:
        return TablePart(schema, path[-1], partition_expr, no_partitions=True)
    time_window = window()
    # the partitions' local wall clock (a Berlin day starts at its local midnight), as dagster-duckdb compares it
    return TablePart(schema, path[-1], partition_expr,
                     (time_window.start.replace(tzinfo=None), time_window.end.replace(tzinfo=None)))


def _exists(connection, part: TablePart) -> bool:
    return bool(connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [part.schema, part.table]).fetchone()[0])


def _columns(connection, part: TablePart) -> set[str]:
    """The table's columns (none: the table does not exist)."""
    return {row[0] for row in connection.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [part.schema, part.table]).fetchall()}


def _add_new_columns(connection, part: TablePart, existing: set[str], arrow) -> None:  # noqa: ARG001 (read by DuckDB)
    """Columns of the frame that the table lacks are added (empty for the rows before), so a
    warehouse built by an earlier version takes a new column instead of failing the insert."""
    for name, dtype in connection.execute("select column_name, column_type from (describe select * from arrow)").fetchall():
        if name not in existing:
            connection.execute(f"alter table {part.name} add column {_quoted(name)} {dtype}")


def _must_be_frame(asset_key: dg.AssetKey, obj: object) -> None:
    if not isinstance(obj, pl.DataFrame):
        raise TypeError(f"WarehouseIOManager stores polars DataFrames; "
                        f"{asset_key.to_user_string()} returned {type(obj).__name__}")


def _columns_of_tables(connection, parts: list[TablePart]) -> dict[tuple[str, str], set[str]]:
    """Every table's columns in one catalog query (a table that does not exist has none)."""
    found: dict[tuple[str, str], set[str]] = {(part.schema, part.table): set() for part in parts}
    rows = connection.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where list_contains(?, table_schema || '.' || table_name)",
        [[f"{part.schema}.{part.table}" for part in parts]]).fetchall()
    for schema, table, column in rows:
        if (schema, table) in found:  # a name with a dot in it could match another pair
            found[(schema, table)].add(column)
    return found


def write_part(connection, part: TablePart, obj: pl.DataFrame, existing: set[str] | None = None) -> None:
    """Replace ``part``'s rows with ``obj`` on a writer connection (inside its transaction): delete
    the partitions' rows and insert the frame's, adding columns the table lacks; an empty frame
    still creates its (typed) table. ``existing``: the table's columns, when already known."""
    # Arrow's string views, as polars holds its strings: DuckDB reads them without the copy into
    # large strings that the oldest compat level makes (about a fifth off a big table's insert)
    arrow = obj.to_arrow(compat_level=pl.CompatLevel.newest())  # noqa: F841 (read by DuckDB)
    if existing is None:
        existing = _columns(connection, part)  # one catalog query: does it exist, with which columns
    if existing:
        where, params = part.where()
        connection.execute(f"delete from {part.name}{where}", params)
        if set(obj.columns) - existing:
            _add_new_columns(connection, part, existing, arrow)
    else:
        connection.execute(f"create schema if not exists {_quoted(part.schema)}")
        connection.execute(f"create table {part.name} as select * from arrow limit 0")
    if obj.height:
        connection.execute(f"insert into {part.name} by name select * from arrow")


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as DuckDB tables; daily assets replace their ``delivery_day`` rows."""

    database: str

    def _warehouse(self) -> Warehouse:
        return Warehouse(Path(self.database))

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        _must_be_frame(context.asset_key, obj)
        part = table_part(context, dict(context.definition_metadata or {}))
        with self._warehouse().writer() as connection:  # one transaction: delete and insert, or neither
            write_part(connection, part, obj)
        context.add_output_metadata(self._metadata(part, obj))

    def store_outputs(self, context: dg.AssetExecutionContext,
                      frames: Mapping[str, pl.DataFrame]) -> dict[str, dict[str, Any]]:
        """Write several outputs of one step (output name -> frame) in one transaction, as
        ``handle_output`` writes one: every table's partitions are replaced, or none is. Returns
        each output's materialization metadata (what ``handle_output`` adds)."""
        parts = {}
        for name, frame in frames.items():
            key = context.asset_key_for_output(name)
            _must_be_frame(key, frame)
            partitions_def = context.assets_def.partitions_def
            parts[name] = part_of(key, dict(context.assets_def.metadata_by_key.get(key) or {}), partitions_def,
                                  (lambda name=name: context.asset_partitions_time_window_for_output(name))
                                  if partitions_def is not None and context.asset_partition_keys_for_output(name)
                                  else None)
        if frames:
            with self._warehouse().writer() as connection:  # one lock, one connection, one commit
                columns = _columns_of_tables(connection, list(parts.values()))
                for name, frame in frames.items():
                    part = parts[name]
                    # a table's columns as found, unless an earlier output of the step wrote it
                    write_part(connection, part, frame, columns.pop((part.schema, part.table), None))
        return {name: self._metadata(parts[name], frame) for name, frame in frames.items()}

    def _metadata(self, part: TablePart, obj: pl.DataFrame) -> dict[str, Any]:
        return {
            "row_count": obj.height,
            "table": part.label,
            "preview": dg.MetadataValue.md(markdown_table(obj)),
            "dataframe_columns": dg.MetadataValue.table_schema(dg.TableSchema(columns=[
                dg.TableColumn(name=name, type=str(dtype)) for name, dtype in obj.schema.items()
            ])),
            "Query": part.query(),
            # Dagster's documented key for the table an asset is stored in (database.schema.table)
            "dagster/table_name": f"{self.database}.{part.label}",
        }

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        upstream = context.upstream_output
        part = table_part(context, dict((upstream.definition_metadata if upstream else None) or {}))
        if part.no_partitions:
            return pl.DataFrame()
        columns = (context.definition_metadata or {}).get("columns")
        selected = ", ".join(_quoted(column) for column in columns) if columns else "*"
        with self._warehouse().reader() as connection:
            if not _exists(connection, part):
                return pl.DataFrame()
            where, params = part.where()
            return as_utc(connection.execute(f"select {selected} from {part.name}{where}", params).pl())
