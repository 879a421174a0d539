"""The local Dagster instance (``dagster.yaml``'s ``instance_class``): Dagster's own instance and
SQLite storage under ``DAGSTER_HOME``, with the event log's connections kept open.

Dagster's SQLite event log creates an engine and opens a connection for every event it stores
(twice for an asset event: the run's shard and the cross-run index shard), commits with an fsync
and closes the connection again, and closing the last connection of a WAL database checkpoints it
(more fsyncs). A month of ``make demo`` stores about 2,500 events that way, about a third of its
time. Here each shard keeps its engine and one open connection (the shards used last, a few at a
time), and commits are ``synchronous=NORMAL``, SQLite's setting for WAL databases: a crashed
process loses nothing, a power cut may lose the last commits, the file is never corrupted. The
files, their schema and everything the UI reads are Dagster's own: a stock instance reads them.

The UI follows a running run's events: Dagster's SQLite event log watches the shard's file for
changes, which with a kept-open connection only a checkpoint makes (new events are in the
``-wal`` file until then), so the watch here polls the shard as Dagster's PostgreSQL event log
does (``SqlPollingEventWatcher``: every 0.25 s while events come, backing off when idle).
"""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as db
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.polling_event_watcher import SqlPollingEventWatcher
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine

#: how many shards keep an open engine (the run being written, the index, a few the UI reads)
OPEN_SHARDS = 8


def _wal_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one kept-open engine per recently used shard."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._poller: SqlPollingEventWatcher | None = None
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        if self._engines_pid != os.getpid():  # a forked process never uses its parent's connections
            self._engines, self._engines_pid = OrderedDict(), os.getpid()
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = db.create_engine(self.conn_string_for_shard(shard), pool_size=1, max_overflow=4,
                                      connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            db.event.listen(engine, "connect", _wal_pragmas)
        self._engines[shard] = engine
        while len(self._engines) > OPEN_SHARDS:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        # asked on every asset event; a table of the index, once there, stays (wipe empties, never drops)
        if table_name not in self._tables:
            if not super().has_table(table_name):
                return False
            self._tables.add(table_name)
        return True

    def _close_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_engines()  # the run shards' files are deleted: no connection may stay on them
        super().wipe()

    def dispose(self) -> None:
        if self._poller is not None:
            self._poller.close()
            self._poller = None
        self._close_engines()
        super().dispose()

    def watch(self, run_id: str, cursor: str | None, callback) -> None:
        if self._poller is None:
            self._poller = SqlPollingEventWatcher(self)
        self._poller.watch_run(run_id, cursor, callback)

    def end_watch(self, run_id: str, handler) -> None:
        if self._poller is not None:
            self._poller.unwatch_run(run_id, handler)


#: What ``KeptOpenSqliteEventLogStorage`` relies on of Dagster's SQLite event log, which is not
#: public API: the methods it overrides or calls and the attributes its constructor sets.
RELIED_ON_METHODS = ("_connect", "_initdb", "conn_string_for_shard", "has_table", "watch", "end_watch",
                     "wipe", "dispose")
RELIED_ON_ATTRIBUTES = ("_db_lock", "_initialized_dbs")


def kept_open_fits(event_log: object) -> bool:
    """Whether the installed Dagster's SQLite event log still has what the kept-open one relies on.

    ``pyproject.toml`` pins Dagster 1.13; after an upgrade that changed these, the instance keeps
    Dagster's own event log (slower, never broken) instead of failing in every process."""
    return (all(callable(getattr(SqliteEventLogStorage, name, None)) for name in RELIED_ON_METHODS)
            and all(hasattr(event_log, name) for name in RELIED_ON_ATTRIBUTES))


class LocalSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage under ``base_dir`` (runs, schedules as they are), with the event
    log of ``KeptOpenSqliteEventLogStorage`` where the installed Dagster fits it."""

    def __init__(self, base_dir: str, inst_data=None):
        super().__init__(base_dir, inst_data)
        stock = getattr(self, "_event_log_storage", None)
        if stock is None or not kept_open_fits(stock):
            warnings.warn("this Dagster's SQLite event log differs from the one the kept-open event log was "
                          "written for: Dagster's own event log is used", stacklevel=2)
            return
        stock.dispose()
        self._event_log_storage = KeptOpenSqliteEventLogStorage(os.path.join(base_dir, "history", "runs", ""))

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls.from_local(inst_data=inst_data, **config_value)


class LocalInstance(dg.DagsterInstance):
    """Dagster's instance, whose default storage (no ``storage:`` in ``dagster.yaml``) is
    ``LocalSqliteStorage`` in the instance's folder, where Dagster's default SQLite storage is."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @staticmethod
    def config_defaults(base_dir: str):
        defaults = dict(InstanceRef.config_defaults(base_dir))
        defaults["storage"] = ConfigurableClassData(__name__, LocalSqliteStorage.__name__,
                                                    yaml.dump({"base_dir": base_dir}, default_flow_style=False))
        return defaults
