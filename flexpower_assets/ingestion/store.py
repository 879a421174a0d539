"""The catalog table ``landing.files``: its columns (DDL), writing decided registrations, and
the reads (registered files, staged rows of accepted files).

A staged row counts only while its ``file_id`` is an accepted registration here, so the catalog
stays the single truth; the warehouse lock is held only to write a batch of registrations.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import date
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from flexpower_assets.ingestion.staging import TIME_COLUMN, staged_files
from resources.warehouse import Warehouse

if TYPE_CHECKING:
    from flexpower_assets.ingestion.decisions import Registrations

CATALOG = "landing.files"
STAT_FIELDS = ("size_bytes", "mtime_ns", "ctime_ns")  # what a scan compares with a registration
CHANGE_COLUMNS = ("path", "size_bytes", "mtime_ns", "ctime_ns", "sha256", "status", "registered_at")
CATALOG_COLUMNS = {
    "path": pl.String,
    "kind": pl.String,
    "size_bytes": pl.Int64,
    "mtime_ns": pl.Int64,
    "ctime_ns": pl.Int64,
    "sha256": pl.String,
    "file_id": pl.Int64,
    "arrived_at": pl.Datetime("us", "UTC"),
    "registered_at": pl.Datetime("us", "UTC"),
    "status": pl.String,
    "error": pl.String,
    "error_line": pl.Int64,
    "n_rows": pl.Int64,
    "first_delivery_start": pl.Datetime("us", "UTC"),
    "last_delivery_start": pl.Datetime("us", "UTC"),
    "delivery_days": pl.List(pl.Date),
}


def latest_registrations_sql(fields: Collection[str], where: str = "true") -> str:
    """SQL of each path's latest registration (``where`` picks the registrations): ``path`` and
    ``latest``, a struct of ``fields``. One struct, so an empty field of the latest registration
    stays empty (``arg_max`` would skip a null argument, not a struct holding one)."""
    struct = ", ".join(f"'{name}': {name}" for name in fields)
    return (f"select path, arg_max({{{struct}}}, registered_at) as latest from {CATALOG} "
            f"where {where} group by path")


def changed_files(warehouse: Warehouse, kinds: Collection[str] | None, scanned: pl.DataFrame) -> pl.DataFrame | None:
    """The rows of a scan (``scan.SCAN_SCHEMA``) that are new, or whose size, mtime or ctime
    differ from their path's latest registration (of those kinds, or of no kind).

    Compared inside DuckDB on one read-only connection, so only the changed rows come back: a
    sync that finds nothing new reads no catalog rows. Registrations from before the ctime was
    recorded have it empty, so they count as changed (and are hashed once more). None if the
    catalog still lacks ``ctime_ns`` (``upgrade_catalog`` first).
    """
    with warehouse.reader() as conn:
        try:
            conn.execute(f"select ctime_ns from {CATALOG} limit 0")
        except duckdb.CatalogException:  # no catalog yet: every file is new
            return scanned
        except duckdb.BinderException:  # a catalog without ctime_ns
            return None
        conn.register("scanned", scanned.to_arrow())
        of_kinds, params = ("true", []) if kinds is None else ("(list_contains(?, kind) or kind is null)",
                                                               [sorted(kinds)])
        return conn.execute(
            # an empty ctime_ns of the latest registration must count as a difference
            f"select s.* from scanned s anti join ({latest_registrations_sql(STAT_FIELDS, of_kinds)}) c "
            f"on c.path = s.path and c.latest.size_bytes = s.size_bytes and c.latest.mtime_ns = s.mtime_ns "
            f"and c.latest.ctime_ns = s.ctime_ns order by s.path", params).pl()


def n_registrations(warehouse: Warehouse) -> int:
    """How many registrations the catalog holds (0 before the first sync): at least as many as
    the paths it knows, so a scan that finds that many more files than this has new ones."""
    with warehouse.reader() as conn:
        try:
            return conn.execute(f"select count(*) from {CATALOG}").fetchone()[0]
        except duckdb.CatalogException:
            return 0


def registered_files(warehouse: Warehouse, kinds: Collection[str] | None = None,
                     columns: Collection[str] | None = None, names: Collection[str] | None = None) -> pl.DataFrame:
    """The catalog, optionally only some kinds, columns and file names (empty before the first sync)."""
    columns = list(columns or CATALOG_COLUMNS)
    if not warehouse.table_exists("landing", "files"):
        return pl.DataFrame(schema={name: CATALOG_COLUMNS[name] for name in columns})
    conditions, params = ["true"], []
    if kinds is not None:
        conditions.append("(list_contains(?, kind) or kind is null)")
        params.append(sorted(kinds))
    if names is not None:
        conditions.append("list_contains(?, regexp_extract(path, '[^/]*$'))")
        params.append(sorted(names))
    return warehouse.read(f"select {', '.join(columns)} from {CATALOG} where {' and '.join(conditions)} "
                          f"order by registered_at, path", params)


def record(warehouse: Warehouse, pending: Registrations) -> None:
    """Write decided registrations in one transaction (their rows are already staged)."""
    if not (pending.records or pending.touched):
        return
    with warehouse.writer() as conn:
        _ensure_catalog(conn)
        if pending.records:
            catalog_rows = pl.concat(pending.records).to_arrow()  # noqa: F841 (read by DuckDB)
            conn.execute(f"insert into {CATALOG} by name select * from catalog_rows")
        for path, file_id in pending.replaced:
            # every earlier accepted content of the path, also one before a rejected re-delivery
            conn.execute(f"update {CATALOG} set status = 'replaced' where path = ? and status = 'accepted' "
                         f"and file_id <> ?", [path, file_id])
        if pending.touched:
            # the new stat of re-dropped (or copied, restored) files onto their latest registration,
            # in one statement: one update per file took 2 ms each, a minute for a restored month
            touched = pl.DataFrame(  # noqa: F841 (read by DuckDB)
                {"path": [f.relative for f in pending.touched], "size_bytes": [f.size_bytes for f in pending.touched],
                 "mtime_ns": [f.mtime_ns for f in pending.touched], "ctime_ns": [f.ctime_ns for f in pending.touched]},
                schema={"path": pl.String, "size_bytes": pl.Int64, "mtime_ns": pl.Int64, "ctime_ns": pl.Int64},
            ).unique("path", keep="last").to_arrow()
            conn.execute(
                f"update {CATALOG} as c set size_bytes = t.size_bytes, mtime_ns = t.mtime_ns, ctime_ns = t.ctime_ns "
                f"from touched t, (select path, max(registered_at) as registered_at from {CATALOG} "
                f"where path in (select path from touched) group by path) latest "
                f"where c.path = t.path and latest.path = t.path and c.registered_at = latest.registered_at")


def upgrade_catalog(warehouse: Warehouse) -> None:
    """Add ``ctime_ns`` to a catalog written before it was recorded (its rows are hashed once more)."""
    present = warehouse.read("select column_name from information_schema.columns where table_schema = "
                             "'landing' and table_name = 'files'")["column_name"].to_list()
    if present and "ctime_ns" not in present:
        with warehouse.writer() as conn:
            conn.execute(f"alter table {CATALOG} add column if not exists ctime_ns bigint")


def _ensure_catalog(conn) -> None:
    conn.execute("create schema if not exists landing")
    empty = pl.DataFrame(schema=CATALOG_COLUMNS)  # noqa: F841 (read by DuckDB)
    conn.execute(f"create table if not exists {CATALOG} as select * from empty")


def accepted_rows(warehouse: Warehouse, kind: str, keep: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
                  days: Iterable[date] | None = None, accepted: pl.Series | None = None) -> pl.DataFrame:
    """Staged rows of accepted files of a kind (optionally staged under some delivery days), file
    by file in the order of the staged files' paths (day folder, then chunk name) and within a
    file in the order of its rows; ``keep`` picks rows from them (a filter over the accepted rows).

    The staged Parquet files are read by polars, which reads and filters them about twice as
    fast as a DuckDB query over them; the catalog is read first and the files listed after, so
    every file of an accepted registration is there (its rows are staged before it is recorded).
    ``accepted``: the ids of ``accepted_ids`` for these days or more (a run of many days reads
    the catalog once). Files of one kind may differ in their columns: a column a file lacks
    comes as null.
    """
    if accepted is None:
        accepted = accepted_ids(warehouse, kind, days)
    if accepted is None:
        return pl.DataFrame()
    files = staged_files(warehouse, kind, None if days is None else sorted(set(days)))
    if not files:
        return pl.DataFrame()
    rows = pl.concat([pl.scan_parquet(file) for file in files], how="diagonal_relaxed").filter(
        pl.col("file_id").is_in(accepted.implode()))
    return (keep(rows) if keep is not None else rows).collect()


def accepted_ids(warehouse: Warehouse, kind: str, days: Iterable[date] | None = None) -> pl.Series | None:
    """The ids of the accepted files of a kind (of kinds staged by day: those feeding one of
    ``days``); None while there is no catalog."""
    if not warehouse.table_exists("landing", "files"):
        return None
    days = None if days is None else sorted(set(days))
    # only the files that feed those days (of kinds staged by day): a year of files is not read
    # into memory to pick one day's
    of_days, params = ("", []) if days is None or TIME_COLUMN.get(kind) is None else (
        " and list_has_any(delivery_days, ?::date[])", [days])
    return warehouse.read(f"select file_id from {CATALOG} where status = 'accepted' and kind = ?{of_days}",
                          [kind, *params])["file_id"]
