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
import hashlib
import json
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


RESTORE_HINT = ("restore it by moving it aside and rebuilding it from the landing zone "
                "(README, 'Restoring a damaged warehouse')")
# DuckDB's words for a file it cannot read back
_DAMAGE_WORDS = ("could not read enough bytes", "not a valid duckdb database", "corrupt", "checksum")


class WarehouseDamaged(RuntimeError):
    """The warehouse file is damaged (truncated, emptied, or changed outside the platform)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"The warehouse {path} is damaged: {problem}; {RESTORE_HINT}.")


def _acquire(path: Path, exclusive: bool, deadline: float, timeout_s: float, what: str) -> int:
    """An open descriptor holding a shared or exclusive ``flock`` on ``path`` (polled until ``deadline``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(f"could not get the {what} lock on {path} within {timeout_s:.0f} s") from None
                time.sleep(0.05)
    except BaseException:
        os.close(fd)
        raise


@contextmanager
def file_lock(lock_path: Path, exclusive: bool, timeout_s: float) -> Iterator[None]:
    """Hold a shared or exclusive ``flock`` on ``lock_path``; poll until ``timeout_s``."""
    fd = _acquire(lock_path, exclusive, time.monotonic() + timeout_s, timeout_s, "write" if exclusive else "read")
    try:
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


_HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two database headers


@dataclass(frozen=True)
class Warehouse:
    """Access to one DuckDB file under the project's locking discipline.

    Locks (``flock``, released when the process ends, however it ends):
    - ``<database>.lock``: shared for readers, exclusive for the writer.
    - ``<database>.turnstile``: writer priority. A writer takes it exclusively before it waits
      for the write lock and keeps it until its write is done; a reader takes it exclusively only
      for the instant in which it takes its shared lock, then lets go. So a reader already in
      finishes, but no new reader gets in while a writer waits: under many readers a writer
      waits for the reads in flight only, never for a stream of new ones.

    Damage (``check``): before every connection the file is compared with its seal,
    ``<database>.seal``, which the writer leaves after every write (the size and a hash of the
    header blocks the write ended with). A file that is empty, has no DuckDB header, or differs from
    its seal (cut short by a full disk or a bad copy, or changed by another program) raises
    ``WarehouseDamaged``, and so does a DuckDB read error that says the file cannot be read back.
    """

    path: Path
    timeout_s: float = 1800.0

    @property
    def lock_path(self) -> Path:
        return Path(f"{self.path}.lock")

    @property
    def turnstile_path(self) -> Path:
        return Path(f"{self.path}.turnstile")

    @property
    def seal_path(self) -> Path:
        return Path(f"{self.path}.seal")

    # -- damage --------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise ``WarehouseDamaged`` if the file is not the one the last write left; a warehouse
        that does not exist yet is fine. Cheap (a stat and 12 KiB): done before every connection."""
        if not self.path.exists():
            return
        size = self.path.stat().st_size
        if size == 0:
            raise WarehouseDamaged(self.path, "the file is empty (0 bytes)")
        with open(self.path, "rb") as f:
            header = f.read(_HEADER_BYTES)
        if len(header) < _HEADER_BYTES or header[8:12] != b"DUCK":
            raise WarehouseDamaged(self.path, f"it is not a DuckDB database file ({size:,} bytes, no DuckDB header)")
        seal = self._seal()
        if seal is None or seal.get("state") != "closed":
            return  # built before seals, or its last writer died mid-write (DuckDB replays its WAL)
        if size != seal.get("size"):
            raise WarehouseDamaged(self.path, f"it has {size:,} bytes where the last write left {seal['size']:,} "
                                              "(cut short, or changed outside the platform)")
        if hashlib.sha256(header).hexdigest() != seal.get("header_sha256"):
            raise WarehouseDamaged(self.path, "its header is not the one the last write left "
                                              "(changed outside the platform)")

    def _seal(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.seal_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, OSError):
            return {"state": "unreadable"}

    def _write_seal(self, state: str) -> None:
        seal: dict[str, Any] = {"state": state}
        if state == "closed" and self.path.exists():
            with open(self.path, "rb") as f:
                header = f.read(_HEADER_BYTES)
            seal.update(size=self.path.stat().st_size, header_sha256=hashlib.sha256(header).hexdigest())
        tmp = self.seal_path.with_name(f".{self.seal_path.name}.tmp")
        tmp.write_text(json.dumps(seal), encoding="utf-8")
        tmp.replace(self.seal_path)

    def _damage(self, exc: BaseException) -> WarehouseDamaged | None:
        """The damage a DuckDB error reveals, or None for an ordinary error (a wrong query...)."""
        if not isinstance(exc, duckdb.Error) or isinstance(exc, duckdb.CatalogException | duckdb.BinderException
                                                                | duckdb.ParserException):
            return None
        try:
            self.check()
        except WarehouseDamaged as damaged:
            return damaged
        message = str(exc)
        if any(word in message.lower() for word in _DAMAGE_WORDS):
            return WarehouseDamaged(self.path, f"DuckDB cannot read it back ({message.splitlines()[0][:300]})")
        return None

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        self.check()
        try:
            return duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            damaged = self._damage(exc)
            if damaged is not None:
                raise damaged from exc
            raise

    # -- locks ---------------------------------------------------------------------------------

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout_s
        turnstile = _acquire(self.turnstile_path, True, deadline, self.timeout_s, "write")
        try:
            lock = _acquire(self.lock_path, True, deadline, self.timeout_s, "write")
            try:
                yield
            finally:
                os.close(lock)
        finally:
            os.close(turnstile)

    @contextmanager
    def _read_lock(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout_s
        turnstile = _acquire(self.turnstile_path, True, deadline, self.timeout_s, "read")
        try:
            lock = _acquire(self.lock_path, False, deadline, self.timeout_s, "read")
        finally:
            os.close(turnstile)  # through the turnstile: the next reader or a writer may pass
        try:
            yield
        finally:
            os.close(lock)

    # -- connections ---------------------------------------------------------------------------

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """An exclusive read-write connection in one transaction (rolled back on error)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._write_lock():
            conn = self._connect(read_only=False)
            self._write_seal("writing")
            try:
                conn.begin()
                yield conn
                conn.commit()
            except BaseException as exc:
                with contextlib.suppress(duckdb.Error):  # a failed commit has already ended it
                    conn.rollback()
                damaged = self._damage(exc)
                if damaged is not None:
                    conn.close()
                    raise damaged from exc
                raise
            finally:
                conn.close()
                self._write_seal("closed")

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
        with self._read_lock():
            conn = self._connect(read_only=True)
            try:
                yield conn
            except duckdb.Error as exc:
                damaged = self._damage(exc)
                if damaged is not None:
                    raise damaged from exc
                raise
            finally:
                conn.close()

    @contextmanager
    def session(self) -> Iterator[WarehouseSession]:
        """Many reads on one read-only connection (one lock, one open): a step reading a month.

        The session holds the shared lock: this process must not write until it is closed."""
        with self.reader() as conn:
            yield WarehouseSession(self.path, conn)

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




@dataclass(frozen=True)
class WarehouseSession:
    """The reads of ``Warehouse`` (``read``, ``table_exists``, ``path``) over one open connection."""

    path: Path
    conn: duckdb.DuckDBPyConnection

    def read(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        return as_utc(self.conn.execute(sql, params or []).pl())

    def table_exists(self, schema: str, table: str) -> bool:
        return bool(self.conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table]).fetchone()[0])
