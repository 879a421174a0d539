"""The landing-zone catalog: every inbound file is recorded once, parsed once, and kept.

``sync_landing`` walks the landing folders, and for every file it has not seen in this exact
form (path, size, modification time) it hashes the content, parses it with the parser of its
kind and records the outcome in ``landing.files``:

- ``accepted``: the rows went into the staging table ``landing.<kind>`` tagged with ``file_id``;
- ``rejected``: the parser's message (file, line, problem) is kept; no row of the file is used,
  and whatever the same path held before stays in use, so the days it feeds are not corrupted;
- ``duplicate``: a file of the same name and the same bytes was already accepted in another
  folder (a no-op). Files with equal bytes but different names are different files: the name
  carries the creation time (two CRM snapshots of a quiet week are byte-identical);
- ``replaced``: an earlier content of a path whose new content was accepted.

The same file dropped twice is a no-op. Which of several accepted files wins for a key (the
newest CRM snapshot, a DSO correction, the newest estimate, a trade in two exports) is a domain
rule applied when a day is built, so the staging tables keep every accepted row. Parsing runs
outside the warehouse lock (in worker processes for the many small VPP files); only the insert
holds it.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from flexpower_assets.domain.time import UTC, delivery_day_of
from flexpower_assets.parsers.errors import InputFileError
from flexpower_assets.parsers.registry import FILE_KINDS, FileKind, classify
from resources.warehouse import Warehouse, file_lock

CATALOG = "landing.files"
CHUNK_FILES = 2000
PARALLEL_FROM_FILES = 4000

CHANGE_COLUMNS = ("path", "size_bytes", "mtime_ns", "sha256", "status", "registered_at")
CATALOG_COLUMNS = {
    "path": pl.String,
    "kind": pl.String,
    "size_bytes": pl.Int64,
    "mtime_ns": pl.Int64,
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

# the column holding each row's time, per kind (kinds without one feed days by their own rule)
TIME_COLUMN = {
    "forecast": "delivery_start",
    "live": "timestamp",
    "final_production": "delivery_start",
    "redispatch_flags": "delivery_start",
    "redispatch_compensation": "delivery_start",
    "private_trades": "delivery_start",
    "public_trades": "delivery_start",
    "imbalance_estimate": "delivery_start",
    "imbalance_final": "delivery_start",
}
# how far past its time a row still feeds a day: a live point holds for up to 15 minutes (into
# the next day's first QH); a product runs until its delivery end
REACH = {
    "live": pl.col("timestamp") + timedelta(minutes=15) - timedelta(microseconds=1),
    "private_trades": pl.col("delivery_end") - timedelta(microseconds=1),
    "public_trades": pl.col("delivery_end") - timedelta(microseconds=1),
}


@dataclass(frozen=True)
class LandingFile:
    """A file found in the landing zone, before its content is read."""

    path: Path
    relative: str
    kind: FileKind | None
    size_bytes: int
    mtime_ns: int
    arrived_ns: int  # max(mtime, ctime): a copied-in file with an old mtime still counts as new


@dataclass
class SyncReport:
    """What one sync did: counts per status and kind, rejected files, days touched per kind."""

    counts: Counter = field(default_factory=Counter)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    days_by_kind: dict[str, set[date]] = field(default_factory=dict)
    new_rows_by_kind: Counter = field(default_factory=Counter)

    @property
    def n_new(self) -> int:
        return sum(self.counts.values())


def scan_landing(landing_dir: Path, kinds: Collection[str] | None = None) -> list[LandingFile]:
    """Every regular file under the landing zone, or the files of some kinds' folders.

    With ``kinds``, files of other kinds are left out, but unrecognised files in those folders
    are kept: they are recorded as rejected, so nothing that arrives goes unnoticed.
    """
    if not landing_dir.exists():
        return []
    if kinds is None:
        paths = [Path(root) / name for root, _dirs, names in os.walk(landing_dir) for name in names]
    else:
        folders = {kind.folder for kind in FILE_KINDS if kind.name in kinds}
        paths = [Path(entry.path) for folder in sorted(folders) if (landing_dir / folder).is_dir()
                 for entry in os.scandir(landing_dir / folder) if entry.is_file()]
    found: list[LandingFile] = []
    for path in paths:
        relative = path.relative_to(landing_dir).as_posix()
        kind = classify(relative)
        if kinds is not None and kind is not None and kind.name not in kinds:
            continue
        stat = path.stat()
        found.append(LandingFile(
            path=path, relative=relative, kind=kind, size_bytes=stat.st_size,
            mtime_ns=stat.st_mtime_ns, arrived_ns=max(stat.st_mtime_ns, stat.st_ctime_ns),
        ))
    found.sort(key=lambda f: (f.arrived_ns, f.relative))
    return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_file(file: LandingFile) -> pl.DataFrame:
    """Parse one file with the parser of its kind (raises ``InputFileError``)."""
    if file.kind is None:
        raise InputFileError(file.path, "not a recognised inbound file: no file kind has this folder "
                                        "and name pattern")
    try:
        return file.kind.parse(file.path)
    except InputFileError:
        raise
    except Exception as error:  # a parser bug must not lose the other files: record it
        raise InputFileError(file.path, f"unexpected parser failure: {error!r}") from error


@dataclass
class ParsedChunk:
    """Up to ``CHUNK_FILES`` files of one kind, parsed together.

    ``rows`` holds the good files' rows with a ``file_index`` into ``files``; ``per_file`` one row
    per good file (``file_index, n_rows, first_delivery_start, last_delivery_start,
    delivery_days``), computed in the worker so the main process does no per-row work.
    """

    files: list[LandingFile]
    sha256: list[str]
    errors: dict[int, InputFileError]
    rows: pl.DataFrame
    per_file: dict[int, dict]


def _per_file_stats(kind: str | None, rows: pl.DataFrame) -> dict[int, dict]:
    if rows.is_empty():
        return {}
    column = TIME_COLUMN.get(kind)
    if column is None:
        stats = rows.group_by("file_index").agg(n_rows=pl.len())
        return {row["file_index"]: row | {"delivery_days": []} for row in stats.iter_rows(named=True)}
    reach = REACH.get(kind, pl.col(column))
    days = pl.concat([rows.select("file_index", t=pl.col(column)), rows.select("file_index", t=reach)])
    days = days.group_by("file_index").agg(delivery_days=delivery_day_of(pl.col("t")).unique().sort())
    stats = rows.group_by("file_index").agg(
        n_rows=pl.len(), first_delivery_start=pl.col(column).min(), last_delivery_start=pl.col(column).max(),
    ).join(days, on="file_index")
    return {row["file_index"]: row for row in stats.iter_rows(named=True)}


def parse_chunk(files: list[LandingFile]) -> ParsedChunk:
    """Hash and parse files of one kind (batch reader where the kind has one)."""
    kind = files[0].kind
    shas = [file_sha256(f.path) for f in files]
    errors: dict[int, InputFileError] = {}
    if kind is not None and kind.read_batch is not None:
        rows, batch_errors = kind.read_batch([f.path for f in files])
        index_of = {str(f.path): i for i, f in enumerate(files)}
        errors = {index_of[str(e.path)]: e for e in batch_errors}
        rows = rows.filter(~pl.col("file_index").is_in(list(errors)))
    else:
        frames = []
        for i, file in enumerate(files):
            try:
                frames.append(parse_file(file).with_columns(file_index=pl.lit(i, dtype=pl.Int32)))
            except InputFileError as error:
                errors[i] = error
        rows = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame(
            schema={"file_index": pl.Int32})
    return ParsedChunk(files=files, sha256=shas, errors=errors, rows=rows,
                       per_file=_per_file_stats(kind.name if kind else None, rows))


def parse_chunks(files: list[LandingFile], workers: int = 2) -> Iterator[ParsedChunk]:
    """Parse files in chunks of one kind, across ``workers`` processes when there are many."""
    groups: dict[str, list[LandingFile]] = {}
    for file in files:
        groups.setdefault(file.kind.name if file.kind else "", []).append(file)
    chunks = [group[i:i + CHUNK_FILES] for group in groups.values() for i in range(0, len(group), CHUNK_FILES)]
    if workers > 1 and len(files) >= PARALLEL_FROM_FILES and len(chunks) > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            yield from pool.map(parse_chunk, chunks)
    else:
        yield from map(parse_chunk, chunks)


def file_days(kind: str, frame: pl.DataFrame) -> list[date]:
    """Delivery days a file's rows feed (empty for kinds whose rows carry no delivery time)."""
    stats = _per_file_stats(kind, frame.with_columns(file_index=pl.lit(0, dtype=pl.Int32)))
    return list(stats[0]["delivery_days"]) if stats else []


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


def _changed_paths(files: list[LandingFile], catalog: pl.DataFrame) -> set[str]:
    """Paths whose size or modification time differ from their latest registration (or new ones)."""
    if not files:
        return set()
    scanned = pl.DataFrame({"path": [f.relative for f in files], "size_bytes": [f.size_bytes for f in files],
                            "mtime_ns": [f.mtime_ns for f in files]},
                           schema={"path": pl.String, "size_bytes": pl.Int64, "mtime_ns": pl.Int64})
    latest = catalog.sort("registered_at").group_by("path").last().select("path", "size_bytes", "mtime_ns")
    return set(scanned.join(latest, on=["path", "size_bytes", "mtime_ns"], how="anti")["path"].to_list())


def sync_landing(landing_dir: Path, warehouse: Warehouse, kinds: Collection[str] | None = None,
                 workers: int = 2, progress: Callable[[int], None] | None = None,
                 now: datetime | None = None) -> SyncReport:
    """Record and stage every new or changed file of the landing zone (optionally some kinds)."""
    # one sync at a time: a second run waits, then finds the files already registered
    ingest_lock = Path(f"{warehouse.path}.ingest.lock")
    with file_lock(ingest_lock, exclusive=True, timeout_s=warehouse.timeout_s):
        return _sync(landing_dir, warehouse, kinds, workers, progress, now or datetime.now(UTC))


def _sync(landing_dir: Path, warehouse: Warehouse, kinds: Collection[str] | None, workers: int,
          progress: Callable[[int], None] | None, now: datetime) -> SyncReport:
    report = SyncReport()
    files = scan_landing(landing_dir, kinds)
    changed_paths = _changed_paths(files, registered_files(warehouse, kinds, CHANGE_COLUMNS))
    changed = [f for f in files if f.relative in changed_paths]
    if not changed:
        return report
    # earlier registrations that matter now: the latest of each changed path, and accepted files
    # of the same names (a re-delivery under another folder is a duplicate)
    names = sorted({f.path.name for f in changed})
    earlier = registered_files(warehouse, kinds, CHANGE_COLUMNS, names=names)
    current = {row["path"]: row for row in earlier.sort("registered_at").iter_rows(named=True)
               if row["path"] in changed_paths}
    accepted = earlier.filter(pl.col("status") == "accepted")
    accepted_sha = {(Path(path).name, sha) for path, sha in zip(accepted["path"], accepted["sha256"])}

    # chunks are committed one by one: memory stays bounded, the writer lock is held briefly,
    # and a crash half-way leaves whole files registered (the rest is picked up next time)
    for chunk in parse_chunks(changed, workers=workers):
        _register_chunk(chunk, warehouse, current, accepted_sha, report, now)
        if progress:
            progress(len(chunk.files))
    return report


def _register_chunk(chunk: ParsedChunk, warehouse: Warehouse, current: dict[str, dict],
                    accepted_sha: set[tuple[str, str]], report: SyncReport, now: datetime) -> None:
    """Decide each file's status, then stage the accepted rows and record every file at once."""
    records: list[dict] = []
    touched: list[tuple[str, int]] = []
    replaced: list[tuple[str, int]] = []
    file_ids: dict[int, int] = {}
    for index, (file, sha) in enumerate(zip(chunk.files, chunk.sha256)):
        previous = current.get(file.relative)
        if previous is not None and previous["sha256"] == sha:
            touched.append((file.relative, file.mtime_ns))  # same bytes re-dropped: a no-op
            continue
        record = _catalog_row(file, sha, now)
        error = chunk.errors.get(index)
        if error is not None:
            record |= {"status": "rejected", "error": str(error), "error_line": error.line}
            report.rejected.append((file.relative, str(error)))
        elif (file.path.name, sha) in accepted_sha:
            record |= {"status": "duplicate", "error": "same name and content as an already accepted file"}
        else:
            stats = chunk.per_file.get(index, {"n_rows": 0, "delivery_days": []})
            record |= {"status": "accepted", **{k: v for k, v in stats.items() if k != "file_index"}}
            file_ids[index] = record["file_id"]
            accepted_sha.add((file.path.name, sha))
            report.days_by_kind.setdefault(file.kind.name, set()).update(stats["delivery_days"])
            report.new_rows_by_kind[file.kind.name] += stats["n_rows"]
            if previous is not None:
                replaced.append((file.relative, record["file_id"]))
        report.counts[(record["kind"] or "unrecognised", record["status"])] += 1
        records.append(record)
    staged = None
    if file_ids and chunk.rows.height:
        staged = (chunk.rows.filter(pl.col("file_index").is_in(list(file_ids)))
                  .with_columns(file_id=pl.col("file_index").replace_strict(file_ids, return_dtype=pl.Int64))
                  .drop("file_index").rechunk())
    with warehouse.writer() as conn:
        _ensure_catalog(conn)
        if staged is not None:
            _append(conn, f"landing.{chunk.files[0].kind.name}", staged)
        if records:
            _append(conn, CATALOG, pl.DataFrame(records, schema=CATALOG_COLUMNS))
        for path, file_id in replaced:
            # every earlier accepted content of the path, also one before a rejected re-delivery
            conn.execute(f"update {CATALOG} set status = 'replaced' where path = ? and status = 'accepted' "
                         f"and file_id <> ?", [path, file_id])
        for path, mtime_ns in touched:
            conn.execute(f"update {CATALOG} set mtime_ns = ? where path = ? and registered_at = "
                         f"(select max(registered_at) from {CATALOG} where path = ?)", [mtime_ns, path, path])


def _catalog_row(file: LandingFile, sha256: str, now: datetime) -> dict:
    # one id per registration: content accepted again later (A, B, A) is staged anew under a
    # new id while its first registration stays replaced
    digest = hashlib.sha1(f"{file.relative}\n{sha256}\n{now.isoformat()}".encode()).digest()
    return {
        "path": file.relative,
        "kind": file.kind.name if file.kind else None,
        "size_bytes": file.size_bytes,
        "mtime_ns": file.mtime_ns,
        "sha256": sha256,
        "file_id": int.from_bytes(digest[:8], "big", signed=True),
        "arrived_at": datetime.fromtimestamp(file.arrived_ns / 1e9, UTC),
        "registered_at": now,
        "status": None, "error": None, "error_line": None, "n_rows": None,
        "first_delivery_start": None, "last_delivery_start": None, "delivery_days": None,
    }


def _ensure_catalog(conn) -> None:
    conn.execute("create schema if not exists landing")
    empty = pl.DataFrame(schema=CATALOG_COLUMNS)  # noqa: F841 (read by DuckDB)
    conn.execute(f"create table if not exists {CATALOG} as select * from empty")


def _append(conn, table: str, frame: pl.DataFrame) -> None:
    """Append by column name, creating the table from the frame's schema the first time."""
    arrow = frame.to_arrow()  # noqa: F841 (read by DuckDB)
    conn.execute(f"create table if not exists {table} as select * from arrow limit 0")
    conn.execute(f"insert into {table} by name select * from arrow")


def accepted_rows(warehouse: Warehouse, kind: str, where: str = "true",
                  params: Iterable = ()) -> pl.DataFrame:
    """Staged rows of accepted files of a kind, with a filter on the staging table's columns.

    ``where`` is a fixed SQL fragment written in this code base (never built from input); the
    values go in ``params``.
    """
    table = f"landing.{kind}"
    schema, name = table.split(".")
    if not warehouse.table_exists(schema, name):
        return pl.DataFrame()
    return warehouse.read(
        f"select s.* from {table} s join {CATALOG} f on f.file_id = s.file_id and f.status = 'accepted' "
        f"where {where}",
        list(params),
    )
