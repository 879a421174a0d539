"""The DuckDB warehouse: one file, one writer at a time, many readers between writes.

No Dagster here: parser worker processes and the portal use this module without loading it.

DuckDB lets one process open a database file for writing, or several processes open it
read-only, never both. Every connection of this project therefore goes through
``Warehouse``: writers take an exclusive ``flock`` on ``<database>.lock`` and readers a shared
one, so concurrent runs (a backfill of a week, the sensor's runs, the portal) queue for the file
instead of failing on DuckDB's own lock. Connections are short: open, do the work, close.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl


def as_utc(frame: pl.DataFrame) -> pl.DataFrame:
    """Label every timezone-aware column ``UTC`` (DuckDB hands them back as ``Etc/UTC``)."""
    aware = [name for name, dtype in frame.schema.items()
             if isinstance(dtype, pl.Datetime) and dtype.time_zone not in (None, "UTC")]
    if not aware:
        return frame
    return frame.with_columns(pl.col(name).dt.convert_time_zone("UTC") for name in aware)


class WarehouseBusy(TimeoutError):
    """The warehouse lock was not obtained within the timeout."""


@contextmanager
def file_lock(lock_path: Path, exclusive: bool, timeout_s: float) -> Iterator[None]:
    """Hold a shared or exclusive ``flock`` on ``lock_path``; poll until ``timeout_s``."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    kind = "write" if exclusive else "read"
                    raise WarehouseBusy(
                        f"could not get the {kind} lock on {lock_path} within {timeout_s:.0f} s"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@dataclass(frozen=True)
class Warehouse:
    """Access to one DuckDB file under the project's locking discipline."""

    path: Path
    timeout_s: float = 1800.0

    @property
    def lock_path(self) -> Path:
        return Path(f"{self.path}.lock")

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """An exclusive read-write connection in one transaction (rolled back on error)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.lock_path, exclusive=True, timeout_s=self.timeout_s):
            conn = duckdb.connect(str(self.path), read_only=False)
            try:
                conn.begin()
                yield conn
                conn.commit()
            except BaseException:
                with contextlib.suppress(duckdb.Error):  # a failed commit has already ended it
                    conn.rollback()
                raise
            finally:
                conn.close()

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, shared with other readers, never overlapping a writer."""
        if not self.path.exists():
            # an empty in-memory database answers "no such table" like an empty warehouse would
            conn = duckdb.connect(":memory:")
            try:
                yield conn
            finally:
                conn.close()
            return
        with file_lock(self.lock_path, exclusive=False, timeout_s=self.timeout_s):
            conn = duckdb.connect(str(self.path), read_only=True)
            try:
                yield conn
            finally:
                conn.close()

    def read(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run a parametrised query on a read-only connection and return a polars frame."""
        with self.reader() as conn:
            return as_utc(conn.execute(sql, params or []).pl())

    def table_exists(self, schema: str, table: str) -> bool:
        found = self.read(
            "select count(*) as n from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        )
        return bool(found["n"][0])


