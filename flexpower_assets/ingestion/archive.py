"""Moving registered files out of the landing zone, so that each sync lists only recent ones.

Every sync lists and stats every file of the landing zone (a file rewritten in place must be
read again), so a landing zone that keeps every file forever makes each sync cost more by the day
(a year of 1,000 assets would be 36 M files). ``archive_registered`` moves the files that the
catalog holds exactly as they are (same size, mtime and ctime as their latest registration,
registered at least ``older_than`` ago, accepted or a duplicate, of a kind read only through its
staged rows) to the same relative path under ``<archive>/files/`` and appends one JSON line per
file to ``<archive>/manifest.jsonl``.

Nothing is deleted: the catalog rows and the staged rows stay, so every day keeps being built
from the same content (a file removed from the landing zone keeps its staged rows in use), and a
file dropped again under the same name is compared with its registration as before. Rejected
files stay where they are, in view of whoever must fix them; so do files changed since they were
registered (the next sync reads them), and the market files, which the bid tools and the
backtest read from the landing zone itself.

A file moves by a hard link into the archive (which fails rather than overwrite a file there),
then its manifest line (flushed to disk), then the unlink from the landing zone: a crash leaves
the file in both places, never in none. Just before it moves its stat is read again and must still
be its registration's. The archive must be on the landing zone's file system (a hard link).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flexpower_assets.ingestion.scan import scan_stats
from flexpower_assets.ingestion.store import STAT_FIELDS, latest_registrations_sql
from flexpower_assets.parsers.registry import FILE_KINDS
from resources.warehouse import Warehouse, file_lock

MANIFEST = "manifest.jsonl"
FILES = "files"
ARCHIVED_STATUSES = ("accepted", "duplicate")
REGISTRATION_FIELDS = (*STAT_FIELDS, "sha256", "status", "registered_at", "kind")
#: Kinds whose files are read only through their staged rows once registered (the daily
#: pipeline's inputs); the market and hydro files stay, some tools read them from the folder.
ARCHIVED_KINDS = tuple(kind.name for kind in FILE_KINDS if not kind.kept_in_landing)


@dataclass
class ArchiveReport:
    moved: list[str] = field(default_factory=list)  # relative paths, in the order they were moved
    kept_changed: int = 0  # registered, but changed since: left for the next sync
    skipped_existing: list[str] = field(default_factory=list)  # a file already archived under that path
    vanished: list[str] = field(default_factory=list)  # removed by someone else before it could move


def archive_registered(landing_dir: Path, archive_dir: Path, warehouse: Warehouse, older_than: timedelta,
                       now: datetime, dry_run: bool = False) -> ArchiveReport:
    """Move the files registered before ``now - older_than`` and unchanged since (see the module)."""
    if now.tzinfo is None:
        raise ValueError("now must carry its time zone")
    if older_than < timedelta(0):
        raise ValueError(f"older_than must not be negative (got {older_than})")
    landing, archive = Path(landing_dir).resolve(), Path(archive_dir).resolve()
    if archive == landing or landing in archive.parents:
        raise ValueError(f"the archive {archive} must not be inside the landing zone {landing}")
    report = ArchiveReport()
    # the ingestion lock: no sync lists or reads the landing zone while files leave it
    with file_lock(Path(f"{warehouse.path}.ingest.lock"), exclusive=True, timeout_s=warehouse.timeout_s):
        scanned = scan_stats(landing_dir)
        if scanned.is_empty() or not warehouse.table_exists("landing", "files"):
            return report
        with warehouse.reader() as conn:
            conn.register("scanned", scanned.to_arrow())
            rows = conn.execute(
                f"select s.path, c.latest.sha256, c.latest.status, c.latest.registered_at, c.latest.size_bytes, "
                f"c.latest.mtime_ns, c.latest.ctime_ns, (c.latest.size_bytes = s.size_bytes "
                f"and c.latest.mtime_ns = s.mtime_ns and c.latest.ctime_ns = s.ctime_ns) is true as unchanged "
                f"from scanned s join ({latest_registrations_sql(REGISTRATION_FIELDS)}) c using (path) "
                f"where c.latest.registered_at < ? and list_contains(?, c.latest.kind) order by s.path",
                [now - older_than, list(ARCHIVED_KINDS)]).fetchall()
        chosen = []
        for path, sha256, status, registered_at, size, mtime, ctime, unchanged in rows:
            if status not in ARCHIVED_STATUSES:
                continue
            if not unchanged:  # as scanned; its stat is read again just before it moves
                report.kept_changed += 1
            elif (archive / FILES / path).exists():  # never overwrite: a second content under one name stays put
                report.skipped_existing.append(path)
            else:
                chosen.append((path, sha256, status, registered_at, size, mtime, ctime))
        if dry_run or not chosen:
            report.moved = [path for path, *_ in chosen]
            return report
        archive.mkdir(parents=True, exist_ok=True)
        with (archive / MANIFEST).open("a", encoding="utf-8") as manifest:
            for path, sha256, status, registered_at, size, mtime, ctime in chosen:
                source, target = landing / path, archive / FILES / path
                target.parent.mkdir(parents=True, exist_ok=True)
                if not _unchanged(source, size, mtime, ctime):  # changed while the others moved
                    report.kept_changed += 1
                    continue
                try:
                    os.link(source, target)  # fails if the target exists: nothing is overwritten
                except FileExistsError:
                    report.skipped_existing.append(path)
                    continue
                except FileNotFoundError:
                    report.vanished.append(path)
                    continue
                manifest.write(json.dumps({"path": path, "sha256": sha256, "status": status,
                                           "registered_at": registered_at.isoformat(),
                                           "archived_at": now.isoformat()}) + "\n")
                manifest.flush()
                os.fsync(manifest.fileno())
                os.unlink(source)
                report.moved.append(path)
    return report


def _unchanged(path: Path, size: int, mtime_ns: int, ctime_ns: int | None) -> bool:
    """Whether the file is there with its registration's size, mtime and ctime."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns) == (size, mtime_ns, ctime_ns)
