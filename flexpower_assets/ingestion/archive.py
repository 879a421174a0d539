"""Moving registered files out of the landing zone, so that each sync lists only recent ones.

Every sync lists and stats every file of the landing zone (a file rewritten in place must be
read again), so a landing zone that keeps every file forever makes each sync cost more by the day
(a year of 1,000 assets would be 36 M files). ``archive_registered`` moves the files that the
catalog holds exactly as they are (same size, mtime and ctime as their latest registration,
registered at least ``older_than`` ago, accepted or a duplicate) to the same relative path under
an archive folder, and appends one JSON line per file to the archive's ``manifest.jsonl``.

Nothing is deleted: the catalog rows and the staged rows stay, so every day keeps being built
from the same content (a file removed from the landing zone keeps its staged rows in use), and a
file dropped again under the same name is compared with its registration as before. Rejected
files stay where they are, in view of whoever must fix them; so do files changed since they were
registered (the next sync reads them).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flexpower_assets.ingestion.scan import scan_stats
from flexpower_assets.ingestion.store import CATALOG
from resources.warehouse import Warehouse, file_lock

MANIFEST = "manifest.jsonl"
ARCHIVED_STATUSES = ("accepted", "duplicate")


@dataclass
class ArchiveReport:
    moved: list[str] = field(default_factory=list)  # relative paths, in the order they were moved
    kept_changed: int = 0  # registered, but changed since: left for the next sync
    skipped_existing: list[str] = field(default_factory=list)  # a file already archived under that path


def archive_registered(landing_dir: Path, archive_dir: Path, warehouse: Warehouse, older_than: timedelta,
                       now: datetime, dry_run: bool = False) -> ArchiveReport:
    """Move the files registered before ``now - older_than`` and unchanged since (see the module)."""
    report = ArchiveReport()
    # the ingestion lock: no sync lists or reads the landing zone while files leave it
    with file_lock(Path(f"{warehouse.path}.ingest.lock"), exclusive=True, timeout_s=warehouse.timeout_s):
        scanned = scan_stats(landing_dir)
        if scanned.is_empty() or not warehouse.table_exists("landing", "files"):
            return report
        with warehouse.reader() as conn:
            conn.register("scanned", scanned.to_arrow())
            rows = conn.execute(
                f"select s.path, latest.sha256, latest.status, latest.registered_at, "
                f"(latest.size_bytes = s.size_bytes and latest.mtime_ns = s.mtime_ns "
                f" and latest.ctime_ns = s.ctime_ns) as unchanged "
                f"from scanned s join (select path, arg_max({{'size_bytes': size_bytes, 'mtime_ns': mtime_ns, "
                f"'ctime_ns': ctime_ns, 'sha256': sha256, 'status': status, 'registered_at': registered_at}}, "
                f"registered_at) as latest from {CATALOG} group by path) c using (path) "
                f"where c.latest.registered_at < ? order by s.path", [now - older_than]).fetchall()
        chosen = []
        for path, sha256, status, registered_at, unchanged in rows:
            if status not in ARCHIVED_STATUSES:
                continue
            if not unchanged:
                report.kept_changed += 1
            elif (archive_dir / path).exists():  # never overwrite: a second content under one name stays put
                report.skipped_existing.append(path)
            else:
                chosen.append((path, sha256, status, registered_at))
        report.moved = [path for path, *_ in chosen]
        if dry_run or not chosen:
            return report
        archive_dir.mkdir(parents=True, exist_ok=True)
        with (archive_dir / MANIFEST).open("a", encoding="utf-8") as manifest:
            for path, sha256, status, registered_at in chosen:
                target = archive_dir / path
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(os.path.join(landing_dir, path), target)
                manifest.write(json.dumps({"path": path, "sha256": sha256, "status": status,
                                           "registered_at": registered_at.isoformat(),
                                           "archived_at": now.isoformat()}) + "\n")
    return report
