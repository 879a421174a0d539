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

import time
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path

import polars as pl

from flexpower_assets.domain.time import UTC
from flexpower_assets.ingestion import workers as parse_workers
from flexpower_assets.ingestion.decisions import Registrations, SyncReport, decide
from flexpower_assets.ingestion.scan import (
    LandingFile,
    landing_files,
    scan_landing,
    scan_stats,
    settled_files,
    settled_stats,
)
from flexpower_assets.ingestion.staging import file_days, staged_files, staging_dir
from flexpower_assets.ingestion.store import (
    CATALOG,
    CATALOG_COLUMNS,
    CHANGE_COLUMNS,
    accepted_ids,
    accepted_rows,
    changed_files,
    n_registrations,
    record,
    registered_files,
    upgrade_catalog,
)
from flexpower_assets.ingestion.workers import WorkerPool, parse_chunks, parse_file
from resources.warehouse import Warehouse, file_lock

RECORD_BATCH = 50_000  # catalog rows written per transaction (each one opens, commits and checkpoints)

__all__ = [  # the catalog's interface; the modules behind it each do one job
    "CATALOG", "CATALOG_COLUMNS", "LandingFile", "SyncReport", "accepted_ids", "accepted_rows", "file_days", "parse_file",
    "registered_files", "scan_landing", "settled_files", "staged_files", "staging_dir", "sync_landing",
]


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
        with WorkerPool(workers) as pool:
            return _sync(landing_dir, warehouse, kinds, pool, progress, now or datetime.now(UTC), min_age_s)


def _sync(landing_dir: Path, warehouse: Warehouse, kinds: Collection[str] | None, pool: WorkerPool,
          progress: Callable[[int], None] | None, now: datetime, min_age_s: float = 0.0) -> SyncReport:
    report = SyncReport()
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        report.seconds[step] += time.perf_counter() - clock
        clock = time.perf_counter()

    settled, unsettled = settled_stats(scan_stats(landing_dir, kinds), min_age_s, now)
    report.unsettled = [f.relative for f in landing_files(landing_dir, unsettled, kinds)]
    lap("scan folders")
    many = parse_workers.PARALLEL_FROM_FILES
    if pool.workers > 1 and settled.height >= many and settled.height - n_registrations(warehouse) >= many:
        pool.start()  # surely many new files: the workers start up while the catalog is compared
        lap("start workers")
    changed_rows = changed_files(warehouse, kinds, settled)
    if changed_rows is None:  # a catalog from before ctime_ns was recorded
        upgrade_catalog(warehouse)
        changed_rows = changed_files(warehouse, kinds, settled)
    changed = landing_files(landing_dir, changed_rows, kinds)
    changed_set = {f.relative for f in changed}
    lap("compare with the catalog")
    if not changed:
        return report
    # earlier registrations that matter now: the latest of each changed path, and accepted files
    # of the same names (a re-delivery under another folder is a duplicate)
    names = sorted({f.name for f in changed})
    earlier = registered_files(warehouse, kinds, CHANGE_COLUMNS, names=names)
    current = {row["path"]: row for row in earlier.sort("registered_at").iter_rows(named=True)
               if row["path"] in changed_set}
    accepted = earlier.filter(pl.col("status") == "accepted")
    accepted_sha = {(Path(path).name, sha) for path, sha in zip(accepted["path"], accepted["sha256"])}
    lap("read earlier registrations")

    # chunks are recorded one by one: memory stays bounded, the writer lock is held briefly,
    # and a crash half-way leaves whole files registered (the rest is picked up next time)
    skip = {path: row["sha256"] for path, row in current.items()}
    pending = Registrations()
    for files, chunk in parse_chunks(changed, staging_dir(warehouse), now, skip, workers=pool.workers,
                                     pool=pool):
        lap("wait for workers")
        for step, seconds in chunk.seconds.items():
            report.seconds[f"workers: {step}"] += seconds
        decide(files, chunk, current, accepted_sha, report, now, pending)
        lap("decide")
        if pending.n_records >= RECORD_BATCH:
            record(warehouse, pending)
            pending = Registrations()
            lap("record (catalog insert)")
        if progress:
            progress(len(files))
    record(warehouse, pending)
    lap("record (catalog insert)")
    return report
