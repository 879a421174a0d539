"""The DuckDB IO manager: dagster-duckdb with polars, made safe for concurrent runs.

It is dagster-duckdb's ``DuckDBIOManager`` with two changes:
- every connection goes through ``Warehouse`` (an exclusive lock for writing, a shared one for
  reading), so a week's backfill queues for the file instead of failing on DuckDB's lock;
- a partition is replaced atomically: the delete of the partition's rows and the insert of the
  new ones run in one transaction, so a failed write never leaves a day half-empty.
Frames are inserted by column name, an empty frame still creates its (typed) table, and
timestamps come back as ``UTC`` whatever zone label DuckDB gives them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import polars as pl
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb.io_manager import DuckDbClient, DuckDBIOManager, _get_cleanup_statement
from dagster_duckdb_polars import DuckDBPolarsTypeHandler

from flexpower_assets.markdown import markdown_table
from resources.warehouse import Warehouse, as_utc


def _table_exists(connection, table_slice: TableSlice) -> bool:
    return bool(connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [table_slice.schema, table_slice.table],
    ).fetchone()[0])


class LockedDuckDbClient(DuckDbClient):
    @staticmethod
    @contextmanager
    def connect(context, _table_slice) -> Iterator:
        warehouse = Warehouse(Path(context.resource_config["database"]))
        if isinstance(context, dg.OutputContext):
            with warehouse.writer() as conn:
                yield conn
        else:
            with warehouse.reader() as conn:
                yield conn

    @staticmethod
    def delete_table_slice(context, table_slice: TableSlice, connection) -> None:
        # checked first: a failing statement would abort the surrounding transaction
        if _table_exists(connection, table_slice):
            connection.execute(_get_cleanup_statement(table_slice))


def _add_new_columns(connection, table_slice: TableSlice, target: str, arrow) -> None:  # noqa: ARG001
    """Columns of the frame (``arrow``, read by DuckDB) that the table lacks are added (empty for the rows before),
    so a warehouse built by an earlier version takes a new column instead of failing the insert."""
    existing = {row[0] for row in connection.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [table_slice.schema, table_slice.table]).fetchall()}
    for name, dtype in connection.execute("select column_name, column_type from (describe select * from arrow)").fetchall():
        if name not in existing:
            connection.execute(f'alter table {target} add column "{name.replace(chr(34), chr(34) * 2)}" {dtype}')


class PolarsFrameHandler(DuckDBPolarsTypeHandler):
    def handle_output(self, context, table_slice: TableSlice, obj: pl.DataFrame, connection):
        arrow = obj.to_arrow()  # noqa: F841 (read by DuckDB)
        target = f"{table_slice.schema}.{table_slice.table}"
        connection.execute(f"create schema if not exists {table_slice.schema}")
        connection.execute(f"create table if not exists {target} as select * from arrow limit 0")
        _add_new_columns(connection, table_slice, target, arrow)
        if obj.height:
            connection.execute(f"insert into {target} by name select * from arrow")
        context.add_output_metadata({
            "row_count": obj.height,
            "table": target,
            "preview": dg.MetadataValue.md(markdown_table(obj)),
            "dataframe_columns": dg.MetadataValue.table_schema(dg.TableSchema(columns=[
                dg.TableColumn(name=name, type=str(dtype)) for name, dtype in obj.schema.items()
            ])),
        })

    def load_input(self, context, table_slice: TableSlice, connection) -> pl.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pl.DataFrame()
        if not _table_exists(connection, table_slice):
            return pl.DataFrame()
        return as_utc(connection.execute(DuckDbClient.get_select_statement(table_slice)).pl())


class WarehouseIOManager(DuckDBIOManager):
    """Stores polars frames as DuckDB tables; daily assets replace their ``delivery_day`` rows."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [PolarsFrameHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pl.DataFrame

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=LockedDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="WarehouseIOManager",
        )
