"""The DuckDB IO manager: polars frames as DuckDB tables, safe for concurrent runs.

A ``ConfigurableIOManager`` on Dagster's public API. It stores an asset as the table named by its
key (the schema from the asset's ``schema`` metadata, else the key's prefix) the way
dagster-duckdb's ``DuckDBIOManager`` lays tables out, with what this platform needs besides:
- every connection goes through ``Warehouse`` (an exclusive lock for writing, a shared one for
  reading), so a week's backfill queues for the file instead of failing on DuckDB's lock;
- a partition (or a range of partitions: a backfill run) is replaced atomically: the delete of its
  rows (``partition_expr`` in the partition's time window) and the insert of the new ones run in
  one transaction, so a failed write never leaves a day half-empty;
- frames are inserted by column name, a column the table lacks is added (a warehouse built by an
  earlier version takes it), an empty frame still creates its (typed) table;
- timestamps come back as ``UTC`` whatever zone label DuckDB gives them; a table that does not
  exist yet loads as an empty frame.
Values are bound as parameters; identifiers are the code base's own asset keys and metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
    path = context.asset_key.path
    schema = metadata.get("schema") or (path[-2] if len(path) > 1 else "public")
    if not context.has_asset_partitions:
        return TablePart(schema, path[-1])
    partition_expr = metadata.get("partition_expr")
    if partition_expr is None:
        raise ValueError(f"Asset '{context.asset_key.to_user_string()}' has partitions, but no 'partition_expr' "
                         "metadata value, so the column it is partitioned on is unknown.")
    if not isinstance(context.asset_partitions_def, dg.TimeWindowPartitionsDefinition):
        raise ValueError(f"Asset '{context.asset_key.to_user_string()}': only time-window partitions are stored "
                         "by this IO manager.")
    if not context.asset_partition_keys:
        return TablePart(schema, path[-1], partition_expr, no_partitions=True)
    window = context.asset_partitions_time_window
    # the partitions' local wall clock (a Berlin day starts at its local midnight), as dagster-duckdb compares it
    return TablePart(schema, path[-1], partition_expr,
                     (window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)))


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


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as DuckDB tables; daily assets replace their ``delivery_day`` rows."""

    database: str

    def _warehouse(self) -> Warehouse:
        return Warehouse(Path(self.database))

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(f"WarehouseIOManager stores polars DataFrames; "
                            f"{context.asset_key.to_user_string()} returned {type(obj).__name__}")
        part = table_part(context, dict(context.definition_metadata or {}))
        arrow = obj.to_arrow()  # noqa: F841 (read by DuckDB)
        with self._warehouse().writer() as connection:  # one transaction: delete and insert, or neither
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
        context.add_output_metadata({
            "row_count": obj.height,
            "table": part.label,
            "preview": dg.MetadataValue.md(markdown_table(obj)),
            "dataframe_columns": dg.MetadataValue.table_schema(dg.TableSchema(columns=[
                dg.TableColumn(name=name, type=str(dtype)) for name, dtype in obj.schema.items()
            ])),
            "Query": part.query(),
            # Dagster's documented key for the table an asset is stored in (database.schema.table)
            "dagster/table_name": f"{self.database}.{part.label}",
        })

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
