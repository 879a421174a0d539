"""The landing-zone catalog: every inbound file is recorded once, parsed once, and kept.

``sync_landing`` walks the landing folders, and for every file it has not seen in this exact
form (path, size, modification time, change time) it hashes the content, parses it with
the parser of its kind and records the outcome in ``landing.files``:

- ``accepted``: its rows are staged, tagged with the registration's ``file_id``;
- ``rejected``: the parser's message (file, line, problem) is kept; no row of the file is used,
  and whatever the same path held before stays in use, so the days it feeds are not corrupted;
- ``duplicate``: a file of the same name and the same bytes was already accepted in another
  folder (a no-op). Files with equal bytes but different names are different files: the name
  carries the creation time (two CRM snapshots of a quiet week are byte-identical);
- ``replaced``: an earlier content of a path whose new content was accepted.

The same file dropped twice is a no-op. A file is read only once it has settled: nothing about
it (content, size, times) changed for ``min_age_s`` seconds, so a file still being written by
SFTP is left for a later sync instead of being accepted half-written (``SyncReport.unsettled``).
A change in place is found even when the writer keeps the size and sets the old modification
time back: the change time (ctime), which no writer can set, then differs, so the file is hashed
again and its content (sha256) decides. Which of several accepted files wins for a key (the
newest CRM snapshot, a DSO correction, the newest estimate, a trade in two exports) is a domain
rule applied when a day is built, so staging keeps every accepted row.

Staged rows are Parquet files next to the warehouse (``<warehouse>.staging/<kind>/<day>/``), one
per parsed chunk and delivery day, written by the parser worker processes themselves: the
~18 million forecast rows of a 1,000-asset day never pass through one process or one DuckDB
insert, and building a day reads only that day's folders, however many days are stored. A
staged row counts only while its ``file_id`` is an accepted registration in ``landing.files``
(DuckDB), so the catalog stays the single truth; the warehouse lock is held only to record a
chunk's files.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from flexpower_assets.domain.time import UTC, delivery_day_of
from flexpower_assets.parsers.errors import InputFileError
from flexpower_assets.parsers.registry import FILE_KINDS, KINDS_BY_NAME, FileKind, classify
from resources.warehouse import Warehouse, file_lock

CATALOG = "landing.files"
CHUNK_FILES = 2000  # files per chunk of a kind with a batch reader (forecasts, live)
SINGLE_FILE_CHUNK = 100  # files per chunk of a kind parsed file by file
RECORD_BATCH = 25_000  # catalog rows written per transaction
PARALLEL_FROM_FILES = 4000

CHANGE_COLUMNS = ("path", "size_bytes", "mtime_ns", "ctime_ns", "sha256", "status", "registered_at")
# what is compared with a file's latest registration to decide whether to hash it again
STAT_COLUMNS = ("size_bytes", "mtime_ns", "ctime_ns")
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
    "price_scenarios": "delivery_start",
    "day_ahead_prices": "delivery_start",
    "inflow_forecast": "delivery_start",
    "reservoir_level": "measured_at",
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

    root: str
    relative: str
    kind: FileKind | None
    size_bytes: int
    mtime_ns: int
    arrived_ns: int  # max(mtime, ctime): a copied-in file with an old mtime still counts as new
    ctime_ns: int = 0  # moves with every change of content or times (and a rename), never set back

    @property
    def path(self) -> Path:
        return Path(self.root, self.relative)

    @property
    def name(self) -> str:
        return self.relative.rsplit("/", 1)[-1]


@dataclass
class SyncReport:
    """What one sync did: counts per status and kind, rejected files, days touched per kind."""

    counts: Counter = field(default_factory=Counter)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    days_by_kind: dict[str, set[date]] = field(default_factory=dict)
    new_rows_by_kind: Counter = field(default_factory=Counter)
    unsettled: list[str] = field(default_factory=list)  # still changing: left for a later sync

    @property
    def n_new(self) -> int:
        return sum(self.counts.values())


def scan_landing(landing_dir: Path, kinds: Collection[str] | None = None) -> list[LandingFile]:
    """Every regular file under the landing zone, or the files of some kinds' folders.

    With ``kinds``, files of other kinds are left out, but unrecognised files in those folders
    are kept: they are recorded as rejected, so nothing that arrives goes unnoticed.
    """
    root = str(landing_dir)
    if not landing_dir.exists():
        return []
    if kinds is None:
        folders = sorted(os.path.relpath(dirpath, root) for dirpath, _dirs, _names in os.walk(root))
    else:
        folders = sorted({kind.folder for kind in FILE_KINDS if kind.name in kinds})
    found: list[LandingFile] = []
    for folder in folders:
        folder = "" if folder == "." else folder
        directory = os.path.join(root, folder)
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            if not entry.is_file():
                continue
            relative = f"{folder}/{entry.name}" if folder else entry.name
            kind = classify(relative)
            if kinds is not None and kind is not None and kind.name not in kinds:
                continue
            stat = entry.stat()
            found.append(LandingFile(
                root=root, relative=relative, kind=kind, size_bytes=stat.st_size,
                mtime_ns=stat.st_mtime_ns, arrived_ns=max(stat.st_mtime_ns, stat.st_ctime_ns),
                ctime_ns=stat.st_ctime_ns,
            ))
    found.sort(key=lambda f: (f.arrived_ns, f.relative))
    return found


def settled_files(files: list[LandingFile], min_age_s: float, now: datetime) -> tuple[list[LandingFile], list[LandingFile]]:
    """The files unchanged for at least ``min_age_s`` seconds at ``now``, and the others.

    A file's last change is its arrival time (the later of mtime and ctime): an SFTP upload
    moves both while it writes, and one that sets the original mtime afterwards still moves the
    ctime. A file younger than that may be half-written; it is read once it has settled.
    """
    if min_age_s <= 0:
        return files, []
    cutoff_ns = int(now.timestamp() * 1e9) - int(min_age_s * 1e9)
    settled = [f for f in files if f.arrived_ns <= cutoff_ns]
    return settled, [f for f in files if f.arrived_ns > cutoff_ns]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_file(file: LandingFile) -> pl.DataFrame:
    """Parse one file with the parser of its kind (raises ``InputFileError``)."""
    return _parse_path(file.kind, file.path)


def _parse_path(kind: FileKind | None, path: Path) -> pl.DataFrame:
    if kind is None:
        raise InputFileError(path, "not a recognised inbound file: no file kind has this folder "
                                   "and name pattern")
    try:
        return kind.parse(path)
    except InputFileError:
        raise
    except Exception as error:  # a parser bug must not lose the other files: record it
        raise InputFileError(path, f"unexpected parser failure: {error!r}") from error


@dataclass
class ParsedChunk:
    """Up to ``CHUNK_FILES`` files of one kind, parsed (and their good rows staged) together.

    ``per_file`` has one row per staged file (``n_rows``, first and last delivery time and day),
    ``file_ids`` the id under which its rows were staged;
    both are computed in the worker so the main process does no per-row work.
    """

    sha256: list[str]
    errors: dict[int, InputFileError]
    per_file: pl.DataFrame
    file_ids: dict[int, int]


def _with_day(frame: pl.DataFrame, column: str, name: str = "day") -> pl.DataFrame:
    """Add the Berlin delivery day of a UTC time column (converted once per distinct time)."""
    lookup = frame.select(pl.col(column).unique()).with_columns(delivery_day_of(pl.col(column)).alias(name))
    return frame.join(lookup, on=column, how="left")


PER_FILE_COLUMNS = {"file_index": pl.Int32, "n_rows": pl.Int64, "first_delivery_start": pl.Datetime("us", "UTC"),
                    "last_delivery_start": pl.Datetime("us", "UTC"), "first_day": pl.Date, "last_day": pl.Date}


def _per_file_stats(kind: str | None, rows: pl.DataFrame) -> pl.DataFrame:
    """Rows, first and last delivery time and the days spanned, one row per file of a chunk.

    The days are the span from the first row's day to the day the last row reaches into: every
    inbound series is contiguous in time, and one time-zone conversion per file instead of per
    row keeps this cheap for ~100k forecast files.
    """
    if rows.is_empty():
        return pl.DataFrame(schema=PER_FILE_COLUMNS)
    column = TIME_COLUMN.get(kind)
    if column is None:
        stats = rows.group_by("file_index").agg(n_rows=pl.len())
    else:
        stats = rows.group_by("file_index").agg(
            n_rows=pl.len(), first_delivery_start=pl.col(column).min(),
            last_delivery_start=pl.col(column).max(), reach=REACH.get(kind, pl.col(column)).max(),
        ).with_columns(first_day=delivery_day_of(pl.col("first_delivery_start")),
                       last_day=delivery_day_of(pl.col("reach")))
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in PER_FILE_COLUMNS.items()
               if name not in stats.columns]
    return stats.with_columns(missing).select([pl.col(n).cast(t) for n, t in PER_FILE_COLUMNS.items()])


def _days(per_file: pl.DataFrame) -> list[date]:
    """Every day spanned by some file of ``per_file``."""
    spans = per_file.filter(pl.col("first_day").is_not_null())
    if spans.is_empty():
        return []
    return spans.select(pl.date_ranges("first_day", "last_day").explode().unique().sort()).to_series().to_list()


def file_id_of(relative: str, sha256: str, registered_at: datetime) -> int:
    """One id per registration: content accepted again later (A, B, A) is staged anew."""
    digest = hashlib.sha1(f"{relative}\n{sha256}\n{registered_at.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def staging_dir(warehouse: Warehouse) -> Path:
    return Path(f"{warehouse.path}.staging")


def _stage(rows: pl.DataFrame, kind: str, staging: Path, chunk_name: str) -> None:
    """Write a chunk's rows as Parquet, one file per delivery day of the rows' own time."""
    column = TIME_COLUMN.get(kind)
    if column is None:
        groups = {"all": rows}
    else:
        keyed = _with_day(rows, column, "_day")
        groups = {str(day): part.drop("_day") for (day,), part in keyed.partition_by("_day", as_dict=True).items()}
    for day, part in groups.items():
        folder = staging / kind / day
        folder.mkdir(parents=True, exist_ok=True)
        # written under a temporary name and renamed: a reader never sees half a file
        target = folder / f"{chunk_name}.parquet"
        partial_file = folder / f"{chunk_name}.parquet.partial"
        part.write_parquet(partial_file, compression="lz4", statistics=True)
        os.replace(partial_file, target)


def parse_chunk(kind_name: str, root: str, relatives: list[str], staging: Path, registered_at: datetime,
                skip: dict[str, str]) -> ParsedChunk:
    """Hash and parse files of one kind, and stage the rows of those that may be accepted.

    Runs in a worker process: it receives names and sends back per-file figures only (the rows
    go to Parquet directly). ``skip`` maps paths to content (sha256) that will not be accepted
    again (unchanged re-deliveries), so their rows are not written twice.
    """
    kind = KINDS_BY_NAME.get(kind_name)
    paths = [Path(root, relative) for relative in relatives]
    shas = [file_sha256(path) for path in paths]
    errors: dict[int, InputFileError] = {}
    if kind is not None and kind.read_batch is not None:
        rows, batch_errors = kind.read_batch(paths)
        index_of = {str(path): i for i, path in enumerate(paths)}
        errors = {index_of[str(e.path)]: e for e in batch_errors}
    else:
        frames = []
        for i, path in enumerate(paths):
            try:
                frames.append(_parse_path(kind, path).with_columns(file_index=pl.lit(i, dtype=pl.Int32)))
            except InputFileError as error:
                errors[i] = error
        rows = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame(
            schema={"file_index": pl.Int32})
    file_ids = {i: file_id_of(relative, sha, registered_at) for i, (relative, sha) in enumerate(zip(relatives, shas))
                if i not in errors and skip.get(relative) != sha}
    rows = rows.filter(pl.col("file_index").is_in(list(file_ids)))
    per_file = _per_file_stats(kind_name, rows)
    if rows.height:
        staged = rows.with_columns(
            file_id=pl.col("file_index").replace_strict(file_ids, return_dtype=pl.Int64)).drop("file_index")
        _stage(staged, kind_name, staging, f"{registered_at:%Y%m%dT%H%M%S%f}-{abs(next(iter(file_ids.values())))}")
    return ParsedChunk(sha256=shas, errors=errors, per_file=per_file, file_ids=file_ids)


def parse_chunks(files: list[LandingFile], staging: Path, registered_at: datetime, skip: dict[str, str],
                 workers: int = 2) -> Iterator[tuple[list[LandingFile], ParsedChunk]]:
    """Parse files in chunks of one kind, across ``workers`` processes when there are many.

    Kinds without a batch reader are parsed file by file (a few ms each), so their chunks are
    small and go first: they spread over both workers while the batch kinds follow. Chunks are
    handed back as they finish.
    """
    groups: dict[str, list[LandingFile]] = {}
    for file in files:
        groups.setdefault(file.kind.name if file.kind else "", []).append(file)
    chunks: list[list[LandingFile]] = []
    for name, group in sorted(groups.items(), key=lambda item: _is_batch_kind(item[0])):
        size = CHUNK_FILES if _is_batch_kind(name) else SINGLE_FILE_CHUNK
        chunks += [group[i:i + size] for i in range(0, len(group), size)]
    tasks = [(chunk[0].kind.name if chunk[0].kind else "", chunk[0].root, [f.relative for f in chunk],
              staging, registered_at, {f.relative: skip[f.relative] for f in chunk if f.relative in skip})
             for chunk in chunks]
    if workers > 1 and len(files) >= PARALLEL_FROM_FILES and len(chunks) > 1:
        context = multiprocessing.get_context("spawn")
        # one polars thread per worker: the workers already fill the cores
        with _environment(POLARS_MAX_THREADS="1"), ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(parse_chunk, *task): chunk for task, chunk in zip(tasks, chunks)}
            for future in as_completed(futures):
                yield futures[future], future.result()
    else:
        yield from zip(chunks, (parse_chunk(*task) for task in tasks))


def _is_batch_kind(name: str) -> bool:
    kind = KINDS_BY_NAME.get(name)
    return kind is not None and kind.read_batch is not None


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables for the processes started inside the block."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def file_days(kind: str, frame: pl.DataFrame) -> list[date]:
    """Delivery days a file's rows feed (empty for kinds whose rows carry no delivery time)."""
    return _days(_per_file_stats(kind, frame.with_columns(file_index=pl.lit(0, dtype=pl.Int32))))


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
    """Paths whose size, mtime or ctime differ from their latest registration (or new ones).

    Those are hashed again; the content then decides (the same bytes are a no-op). Registrations
    from before the ctime was recorded have it empty, so they are hashed once more.
    """
    if not files:
        return set()
    scanned = pl.DataFrame({"path": [f.relative for f in files], "size_bytes": [f.size_bytes for f in files],
                            "mtime_ns": [f.mtime_ns for f in files], "ctime_ns": [f.ctime_ns for f in files]},
                           schema={"path": pl.String, **{c: pl.Int64 for c in STAT_COLUMNS}})
    latest = catalog.sort("registered_at").group_by("path").last().select("path", *STAT_COLUMNS)
    return set(scanned.join(latest, on=["path", *STAT_COLUMNS], how="anti")["path"].to_list())


def sync_landing(landing_dir: Path, warehouse: Warehouse, kinds: Collection[str] | None = None,
                 workers: int = 2, progress: Callable[[int], None] | None = None,
                 now: datetime | None = None, min_age_s: float = 0.0) -> SyncReport:
    """Record and stage every new or changed file of the landing zone (optionally some kinds).

    Files changed less than ``min_age_s`` seconds before ``now`` are not read yet (see
    ``settled_files``); they are listed in ``SyncReport.unsettled``.
    """
    # one sync at a time: a second run waits, then finds the files already registered
    ingest_lock = Path(f"{warehouse.path}.ingest.lock")
    with file_lock(ingest_lock, exclusive=True, timeout_s=warehouse.timeout_s):
        return _sync(landing_dir, warehouse, kinds, workers, progress, now or datetime.now(UTC), min_age_s)


def _sync(landing_dir: Path, warehouse: Warehouse, kinds: Collection[str] | None, workers: int,
          progress: Callable[[int], None] | None, now: datetime, min_age_s: float = 0.0) -> SyncReport:
    report = SyncReport()
    files, unsettled = settled_files(scan_landing(landing_dir, kinds), min_age_s, now)
    report.unsettled = [f.relative for f in unsettled]
    _upgrade_catalog(warehouse)
    changed_paths = _changed_paths(files, registered_files(warehouse, kinds, CHANGE_COLUMNS))
    changed = [f for f in files if f.relative in changed_paths]
    if not changed:
        return report
    # earlier registrations that matter now: the latest of each changed path, and accepted files
    # of the same names (a re-delivery under another folder is a duplicate)
    names = sorted({f.name for f in changed})
    earlier = registered_files(warehouse, kinds, CHANGE_COLUMNS, names=names)
    current = {row["path"]: row for row in earlier.sort("registered_at").iter_rows(named=True)
               if row["path"] in changed_paths}
    accepted = earlier.filter(pl.col("status") == "accepted")
    accepted_sha = {(Path(path).name, sha) for path, sha in zip(accepted["path"], accepted["sha256"])}

    # chunks are recorded one by one: memory stays bounded, the writer lock is held briefly,
    # and a crash half-way leaves whole files registered (the rest is picked up next time)
    skip = {path: row["sha256"] for path, row in current.items()}
    pending = Registrations()
    for files, chunk in parse_chunks(changed, staging_dir(warehouse), now, skip, workers=workers):
        _decide(files, chunk, current, accepted_sha, report, now, pending)
        if pending.n_records >= RECORD_BATCH:
            _record(warehouse, pending)
            pending = Registrations()
        if progress:
            progress(len(files))
    _record(warehouse, pending)
    return report


@dataclass
class Registrations:
    """Catalog changes decided but not yet written."""

    records: list[pl.DataFrame] = field(default_factory=list)
    touched: list[LandingFile] = field(default_factory=list)
    replaced: list[tuple[str, int]] = field(default_factory=list)

    @property
    def n_records(self) -> int:
        return sum(frame.height for frame in self.records)


def _decide(files: list[LandingFile], chunk: ParsedChunk, current: dict[str, dict],
            accepted_sha: set[tuple[str, str]], report: SyncReport, now: datetime, pending: Registrations) -> None:
    """Each file's status: touched (same bytes again), rejected, duplicate or accepted.

    The loop decides; the catalog rows are built column-wise in one frame per chunk.
    """
    columns: dict[str, list] = {name: [] for name in ("file_index", "path", "kind", "size_bytes", "mtime_ns",
                                                     "ctime_ns", "sha256", "file_id", "arrived_ns", "status", "error",
                                                     "error_line")}
    for index, (file, sha) in enumerate(zip(files, chunk.sha256)):
        previous = current.get(file.relative)
        if previous is not None and previous["sha256"] == sha:
            pending.touched.append(file)  # same bytes re-dropped: a no-op
            continue
        file_id = chunk.file_ids.get(index)
        if file_id is None:
            file_id = file_id_of(file.relative, sha, now)
        error = chunk.errors.get(index)
        kind = file.kind.name if file.kind else None
        message = line = None
        if error is not None:
            status, message, line = "rejected", str(error), error.line
            report.rejected.append((file.relative, message))
        elif (file.name, sha) in accepted_sha:
            status, message = "duplicate", "same name and content as an already accepted file"
        else:
            status = "accepted"
            accepted_sha.add((file.name, sha))
            if previous is not None:
                pending.replaced.append((file.relative, file_id))
        report.counts[(kind or "unrecognised", status)] += 1
        for name, value in (("file_index", index), ("path", file.relative), ("kind", kind),
                            ("size_bytes", file.size_bytes), ("mtime_ns", file.mtime_ns),
                            ("ctime_ns", file.ctime_ns), ("sha256", sha),
                            ("file_id", file_id), ("arrived_ns", file.arrived_ns), ("status", status),
                            ("error", message), ("error_line", line)):
            columns[name].append(value)
    if not columns["path"]:
        return
    frame = pl.DataFrame(columns, schema_overrides={"file_index": pl.Int32, "error": pl.String,
                                                    "error_line": pl.Int64, "kind": pl.String})
    accepted_stats = chunk.per_file.join(frame.filter(pl.col("status") == "accepted").select("file_index"),
                                         on="file_index", how="semi")
    if files[0].kind is not None and accepted_stats.height:
        kind = files[0].kind.name
        report.days_by_kind.setdefault(kind, set()).update(_days(accepted_stats))
        report.new_rows_by_kind[kind] += int(accepted_stats["n_rows"].sum())
    frame = frame.join(chunk.per_file, on="file_index", how="left").with_columns(
        n_rows=pl.when(pl.col("status") == "accepted").then(pl.col("n_rows").fill_null(0)),
        arrived_at=pl.from_epoch("arrived_ns", time_unit="ns").dt.cast_time_unit("us").dt.replace_time_zone("UTC"),
        registered_at=pl.lit(now, dtype=pl.Datetime("us", "UTC")),
        delivery_days=pl.when(pl.col("status") == "accepted").then(pl.date_ranges("first_day", "last_day")),
    )
    not_accepted = pl.col("status") != "accepted"
    frame = frame.with_columns(
        [pl.when(not_accepted).then(None).otherwise(pl.col(c)).alias(c)
         for c in ("first_delivery_start", "last_delivery_start")])
    pending.records.append(frame.select([pl.col(n).cast(t) for n, t in CATALOG_COLUMNS.items()]))


def _record(warehouse: Warehouse, pending: Registrations) -> None:
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
        for file in pending.touched:
            conn.execute(f"update {CATALOG} set size_bytes = ?, mtime_ns = ?, ctime_ns = ? "
                         f"where path = ? and registered_at = "
                         f"(select max(registered_at) from {CATALOG} where path = ?)",
                         [file.size_bytes, file.mtime_ns, file.ctime_ns, file.relative, file.relative])


def _upgrade_catalog(warehouse: Warehouse) -> None:
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


def staged_files(warehouse: Warehouse, kind: str, days: Iterable[date] | None = None) -> list[str]:
    """The Parquet files staged for a kind: all of them, or those of some delivery days."""
    root = staging_dir(warehouse) / kind
    if TIME_COLUMN.get(kind) is None:
        folders = [root / "all"]
    elif days is None:
        folders = [folder for folder in root.iterdir() if folder.is_dir()] if root.exists() else []
    else:
        folders = [root / str(day) for day in days]
    return sorted(str(path) for folder in folders if folder.is_dir() for path in folder.glob("*.parquet"))


def accepted_rows(warehouse: Warehouse, kind: str, where: str = "true", params: Iterable = (),
                  days: Iterable[date] | None = None) -> pl.DataFrame:
    """Staged rows of accepted files of a kind (optionally staged under some delivery days).

    The rows are available as ``s`` to ``where``, a fixed SQL fragment written in this code base
    (never built from input; it may use sub-queries on ``s``); the values go in ``params``.
    """
    files = staged_files(warehouse, kind, days)
    if not files or not warehouse.table_exists("landing", "files"):
        return pl.DataFrame()
    return warehouse.read(
        f"with s as (select * from read_parquet(?, union_by_name = true) "
        f"where file_id in (select file_id from {CATALOG} where status = 'accepted')) "
        f"select * from s where {where}",
        [files, *params],
    )
