"""Which delivery days new landing files affect, and the cursor that remembers what was seen.

Used by the landing sensors. The cursor is a high-water mark of arrival time (max of a file's
mtime and ctime, in ns) plus the paths seen at exactly that mark, so it stays small however
many files arrive, a restart neither repeats nor misses a file, and a file copied in with an
old modification time still counts (its ctime is new). A file re-written in place gets a new
mark and is seen again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from flexpower_assets.domain.time import BERLIN, UTC
from flexpower_assets.ingestion.catalog import LandingFile, file_days, parse_file, scan_landing, settled_files
from flexpower_assets.parsers.errors import InputFileError

SNAPSHOT_KINDS = {"contracts": "snapshot_created_at", "technical_data": "file_created_at"}
SNAPSHOT_HORIZON_DAYS = 7  # a snapshot re-runs at most a week of days (the CRM's weekly cadence)
NAME_TIMESTAMP = re.compile(r"(\d{8})_(\d{6})|(\d{4}-\d{2}-\d{2})T(\d{6})Z")


@dataclass
class Cursor:
    mark_ns: int = 0
    paths_at_mark: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, raw: str | None) -> Cursor:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(mark_ns=int(data["mark_ns"]), paths_at_mark=list(data["paths_at_mark"]))

    def dump(self) -> str:
        return json.dumps({"mark_ns": self.mark_ns, "paths_at_mark": sorted(self.paths_at_mark)})

    def is_new(self, file: LandingFile) -> bool:
        return file.arrived_ns > self.mark_ns or (
            file.arrived_ns == self.mark_ns and file.relative not in self.paths_at_mark)

    def advanced(self, files: Iterable[LandingFile]) -> Cursor:
        files = list(files)
        if not files:
            return self
        mark = max(f.arrived_ns for f in files)
        at_mark = [f.relative for f in files if f.arrived_ns == mark]
        if mark == self.mark_ns:
            at_mark = sorted(set(self.paths_at_mark) | set(at_mark))
        return Cursor(mark_ns=mark, paths_at_mark=at_mark)


@dataclass
class WatchResult:
    days_by_kind: dict[str, set[date]] = field(default_factory=dict)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    cursor: Cursor = field(default_factory=Cursor)
    n_files: int = 0


def name_created_at(path: Path) -> datetime | None:
    """The creation timestamp in a CRM or technical-data file name (UTC)."""
    match = NAME_TIMESTAMP.search(path.name)
    if not match:
        return None
    if match.group(1):
        return datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return datetime.strptime(match.group(3) + match.group(4), "%Y-%m-%d%H%M%S").replace(tzinfo=UTC)


def snapshot_days(created_at: datetime, later: Iterable[datetime], today: date) -> set[date]:
    """Days a snapshot applies to: from the day it was created until the next snapshot's day.

    A snapshot applies to a day when it is the newest created before the day's end, so one
    created on day X governs X up to (not including) the day of the next snapshot, capped at
    ``SNAPSHOT_HORIZON_DAYS`` and at today.
    """
    first = created_at.astimezone(BERLIN).date()
    following = [t.astimezone(BERLIN).date() for t in later if t > created_at]
    stop = min(following) if following else first + timedelta(days=SNAPSHOT_HORIZON_DAYS)
    stop = min(stop, first + timedelta(days=SNAPSHOT_HORIZON_DAYS), today + timedelta(days=1))
    return {first + timedelta(days=i) for i in range((stop - first).days)} or {first}


def watch(landing_dir: Path, kinds: set[str], cursor: Cursor, today: date,
          max_files: int = 5000, min_age_s: float = 0.0) -> WatchResult:
    """New files of some kinds since the cursor, and the delivery days each kind must re-run.

    Files still changing (younger than ``min_age_s``) are not looked at yet: they arrived after
    every settled file, so the cursor stays below them and a later tick sees them.
    """
    files, _unsettled = settled_files(scan_landing(landing_dir, kinds), min_age_s, datetime.now(UTC))
    new = [f for f in files if cursor.is_new(f)][:max_files]
    result = WatchResult(cursor=cursor.advanced(new), n_files=len(new))
    for file in new:
        try:
            frame = parse_file(file)
        except InputFileError as error:
            result.unreadable.append((file.relative, str(error)))
            continue
        kind = file.kind.name
        if kind in SNAPSHOT_KINDS:
            created = frame[SNAPSHOT_KINDS[kind]].max() if frame.height else name_created_at(file.path)
            siblings = [name_created_at(f.path) for f in files if f.kind is not None and f.kind.name == kind
                        and f is not file]
            days = snapshot_days(created, [t for t in siblings if t is not None], today)
        else:
            days = set(file_days(kind, frame))
        result.days_by_kind.setdefault(kind, set()).update(days)
    return result
