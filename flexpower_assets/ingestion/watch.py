"""What the landing sensors look at: cheap listings, the landing catalog, and their cursor.

A landing sensor never parses a file. Each tick it

1. lists its source's folders with ``stat`` only (``list_files``) and keeps the files that
   arrived since its cursor and differ from what the catalog (``landing.files``) already holds
   (``files_to_ingest``): a path whose size and modification time match its registration is
   known; one whose size matches but whose time does not is hashed (a bounded number of bytes
   per tick) and, with the same bytes, is a re-drop that starts nothing. What is left is handed
   to one ingestion run, which hashes, parses and registers it;
2. reads the registrations made since its cursor from the catalog (``new_registrations``): the
   delivery days each kind's accepted files feed (stored with the registration) and the
   rejected files (to alert on);
3. requests the days that the landing zone covers (``Coverage``) and keeps the others pending.

Files whose names date their delivery day (trade exports, live files) need not wait for step 2:
``named_days`` gives their covered days in the tick that lists them, and the cursor remembers
them so that their registration does not request them again.

So a sensor switched on for the first time starts from what is registered, never from zero: the
files already in the catalog are known and start nothing.

The file cursor is a high-water mark of arrival time (max of a file's mtime and ctime, in ns)
plus the paths seen at exactly that mark: it stays small however many files arrive, a restart
neither repeats nor misses a file, and a file copied in with an old modification time still
counts (its ctime is new). No Dagster here: the sensors in ``schedules/sensors.py`` wire it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from flexpower_assets.domain.time import BERLIN, UTC, day_window
from flexpower_assets.ingestion.catalog import CATALOG, LandingFile, settled_files
from flexpower_assets.ingestion.hashing import file_sha256
from flexpower_assets.ingestion.scan import stat_folders
from flexpower_assets.parsers.registry import FILE_KINDS, named_delivery_day
from resources.warehouse import Warehouse, WarehouseBusy, file_lock

SNAPSHOT_KINDS = ("contracts", "technical_data")
SNAPSHOT_HORIZON_DAYS = 7  # a snapshot re-runs at most a week of days (the CRM's weekly cadence)
NAME_TIMESTAMP = re.compile(r"(\d{8})_(\d{6})|(\d{4}-\d{2}-\d{2})T(\d{6})Z")
MAX_FILES_PER_TICK = 20_000  # new files looked at per tick; the cursor carries the rest
MAX_HASH_BYTES_PER_TICK = 256 * 2**20  # re-dropped files hashed per tick (same bytes start nothing)
MAX_PENDING_DAYS = 62  # days kept waiting for coverage in the cursor (the newest ones)
DAYS_ARE_FED_BY = "private_trades"  # the days the business ran: a trade of ours falls in them


def source_folders(source: str) -> list[str]:
    """The landing folders of one source system (FORMATS.md layout)."""
    return sorted({kind.folder for kind in FILE_KINDS if kind.source == source})


def source_kinds(source: str) -> list[str]:
    return sorted(kind.name for kind in FILE_KINDS if kind.source == source)


@dataclass
class Cursor:
    """A sensor's memory: the arrival mark of files, the catalog mark, days waiting for coverage."""

    mark_ns: int = 0
    paths_at_mark: list[str] = field(default_factory=list)
    registered_mark: str | None = None  # ISO time of the newest registration handled ("" = none yet)
    pending: dict[str, list[str]] = field(default_factory=dict)  # day -> kinds not yet requested
    # path -> days requested from the file's name before it was registered (``named_days``): its
    # registration does not request them again
    named: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: str | None) -> Cursor:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(mark_ns=int(data["mark_ns"]), paths_at_mark=list(data["paths_at_mark"]),
                   registered_mark=data.get("registered_mark"), pending=dict(data.get("pending", {})),
                   named=dict(data.get("named", {})))

    def dump(self) -> str:
        return json.dumps({"mark_ns": self.mark_ns, "paths_at_mark": sorted(self.paths_at_mark),
                           "registered_mark": self.registered_mark,
                           "pending": {day: sorted(kinds) for day, kinds in sorted(self.pending.items())},
                           "named": self.named})

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
        return Cursor(mark_ns=mark, paths_at_mark=at_mark, registered_mark=self.registered_mark,
                      pending=dict(self.pending), named=dict(self.named))


def list_files(landing_dir: Path, folders: Collection[str]) -> list[LandingFile]:
    """Every regular file directly in ``folders``, by arrival: names and ``stat`` only."""
    root = str(landing_dir)
    stats = stat_folders(landing_dir, sorted(folders))
    found = [LandingFile(root=root, relative=relative, kind=None, size_bytes=size, mtime_ns=mtime,
                         arrived_ns=max(mtime, ctime), ctime_ns=ctime)
             for relative, size, mtime, ctime in stats.iter_rows()]
    found.sort(key=lambda f: (f.arrived_ns, f.relative))
    return found


def latest_registrations(warehouse: Warehouse, paths: Collection[str]) -> dict[str, dict]:
    """The newest catalog row (size, mtime, sha256) of each of ``paths`` that is registered."""
    if not paths or not warehouse.table_exists("landing", "files"):
        return {}
    rows = warehouse.read(
        f"select path, size_bytes, mtime_ns, sha256 from {CATALOG} where list_contains(?, path) "
        f"qualify row_number() over (partition by path order by registered_at desc) = 1",
        [sorted(paths)])
    return {row["path"]: row for row in rows.iter_rows(named=True)}


@dataclass
class FileScan:
    """What the listing found: files for an ingestion run, re-drops, and the moved cursor."""

    to_ingest: list[LandingFile]
    same_bytes: list[str]
    cursor: Cursor
    n_listed: int
    n_looked_at: int


def files_to_ingest(landing_dir: Path, folders: Collection[str], warehouse: Warehouse, cursor: Cursor,
                    max_files: int = MAX_FILES_PER_TICK, max_hash_bytes: int = MAX_HASH_BYTES_PER_TICK,
                    min_age_s: float = 0.0, now: datetime | None = None) -> FileScan:
    """New or changed files of some folders that the catalog does not hold in this form.

    At most ``max_files`` files and ``max_hash_bytes`` of hashing per call; the cursor moves over
    the files looked at, so the next call goes on from there. Files still being written (changed
    less than ``min_age_s`` ago, see ``settled_files``) arrived after every settled one: the
    cursor stays below them and a later tick hands them over.
    """
    listed = list_files(landing_dir, folders)
    settled, _unsettled = settled_files(listed, min_age_s, now or datetime.now(UTC))
    new = [f for f in settled if cursor.is_new(f)][:max_files]
    known = latest_registrations(warehouse, [f.relative for f in new])
    to_ingest: list[LandingFile] = []
    same_bytes: list[str] = []
    looked_at: list[LandingFile] = []
    hashed = 0
    for file in new:
        previous = known.get(file.relative)
        if previous is not None and previous["size_bytes"] == file.size_bytes:
            if previous["mtime_ns"] != file.mtime_ns:
                if hashed + file.size_bytes > max_hash_bytes and looked_at:
                    break  # the rest next tick
                hashed += file.size_bytes
                try:
                    sha256 = file_sha256(file.path)
                except FileNotFoundError:  # moved away since it was listed (archived, or removed)
                    looked_at.append(file)
                    continue
                if sha256 != previous["sha256"]:
                    to_ingest.append(file)
                else:
                    same_bytes.append(file.relative)
        else:
            to_ingest.append(file)
        looked_at.append(file)
    return FileScan(to_ingest=to_ingest, same_bytes=same_bytes, cursor=cursor.advanced(looked_at),
                    n_listed=len(listed), n_looked_at=len(looked_at))


@contextmanager
def no_ingestion_running(warehouse: Warehouse, timeout_s: float):
    """Hold the ingestion lock of ``sync_landing`` (``<warehouse>.ingest.lock``) while reading.

    Files registered by one sync share its registration time and are recorded chunk by chunk:
    reading the catalog while a sync is half-way would take its first chunks for all of them.
    Raises ``WarehouseBusy`` when a sync holds the lock longer than ``timeout_s``.
    """
    with file_lock(Path(f"{warehouse.path}.ingest.lock"), exclusive=True, timeout_s=timeout_s):
        yield


@dataclass
class Registrations:
    """Catalog rows registered after a mark: the days each kind feeds, and the rejections."""

    days_by_kind: dict[str, set[date]] = field(default_factory=dict)
    snapshot_paths: dict[str, list[str]] = field(default_factory=dict)
    rejected: list[dict] = field(default_factory=list)
    n_rejected: int = 0
    mark: str | None = None
    accepted_kinds: set[str] = field(default_factory=set)  # kinds with a newly accepted file (days or not)
    named_registered: set[str] = field(default_factory=set)  # paths of ``named`` registered since the mark


def _source_filter(kinds: Collection[str], prefix: str) -> tuple[str, list]:
    return "(list_contains(?, kind) or (kind is null and starts_with(path, ?)))", [sorted(kinds), prefix]


def new_registrations(warehouse: Warehouse, kinds: Collection[str], prefix: str, mark: str | None,
                      max_rejected: int = 20, named: Mapping[str, Collection[str]] | None = None) -> Registrations:
    """What the catalog registered for some kinds (and unrecognised files under ``prefix``) since ``mark``.

    ``mark`` None means the sensor's first tick: what is registered already is taken as handled
    (the mark moves to the newest registration, or to ``""``, the beginning, on an empty catalog).
    ``named`` (path -> ISO days) are days already requested for a file from its name: its
    registration does not add them again, and the paths registered now are in ``named_registered``.
    """
    result = Registrations(mark=mark)
    if not warehouse.table_exists("landing", "files"):
        result.mark = mark if mark is not None else ""
        return result
    source, params = _source_filter(kinds, prefix)
    since = "registered_at > ?::timestamptz" if mark else "true"
    since_params = [mark] if mark else []
    top = warehouse.read(f"select max(registered_at) as mark from {CATALOG} where {source} and {since}",
                         [*params, *since_params])
    if top["mark"][0] is None:
        result.mark = mark if mark is not None else ""
        return result
    result.mark = top["mark"][0].isoformat()
    if mark is None:
        return result  # switched on: start from what is registered
    window = f"{source} and {since} and registered_at <= ?::timestamptz"
    window_params = [*params, *since_params, result.mark]
    days = warehouse.read(
        f"select distinct path, kind, day from (select path, kind, unnest(delivery_days) as day from {CATALOG} "
        f"where {window} and status in ('accepted', 'replaced') and delivery_days is not null)",
        window_params)
    if named:
        requested = pl.DataFrame({"path": [path for path, ds in named.items() for _ in ds],
                                  "day": [date.fromisoformat(d) for ds in named.values() for d in ds]},
                                 schema={"path": pl.String, "day": pl.Date})
        days = days.join(requested, on=["path", "day"], how="anti")
        result.named_registered = set(warehouse.read(
            f"select distinct path from {CATALOG} where {window} and list_contains(?, path)",
            [*window_params, sorted(named)])["path"].to_list())
    for kind, day in days.select("kind", "day").unique().iter_rows():
        result.days_by_kind.setdefault(kind, set()).add(day)
    accepted = warehouse.read(
        f"select distinct kind from {CATALOG} where {window} and status in ('accepted', 'replaced') "
        f"and kind is not null", window_params)
    result.accepted_kinds = set(accepted["kind"].to_list())
    snapshots = warehouse.read(
        f"select kind, path from {CATALOG} where {window} and status in ('accepted', 'replaced') "
        f"and list_contains(?, kind) order by path", [*window_params, list(SNAPSHOT_KINDS)])
    for kind, path in snapshots.iter_rows():
        result.snapshot_paths.setdefault(kind, []).append(path)
    rejected = warehouse.read(
        f"select path, error, count(*) over () as n from {CATALOG} where {window} and status = 'rejected' "
        f"order by path limit ?", [*window_params, max_rejected])
    result.rejected = rejected.select("path", "error").to_dicts()
    result.n_rejected = int(rejected["n"][0]) if rejected.height else 0
    return result


def name_created_at(path: Path | str) -> datetime | None:
    """The creation timestamp in a CRM or technical-data file name (UTC)."""
    match = NAME_TIMESTAMP.search(Path(path).name)
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


def accepted_paths(warehouse: Warehouse, kind: str) -> list[str]:
    if not warehouse.table_exists("landing", "files"):
        return []
    return warehouse.read(f"select path from {CATALOG} where kind = ? and status = 'accepted'", [kind])["path"].to_list()


def snapshot_kind_days(warehouse: Warehouse, kind: str, paths: Iterable[str], today: date) -> set[date]:
    """The days newly registered CRM or technical-data snapshots apply to (by their names' times)."""
    siblings = [t for t in (name_created_at(p) for p in accepted_paths(warehouse, kind)) if t is not None]
    days: set[date] = set()
    for path in paths:
        created = name_created_at(path)
        if created is not None:
            days |= snapshot_days(created, siblings, today)
    return days


@dataclass(frozen=True)
class Coverage:
    """Which delivery days the landing zone covers, so that a run of them can produce the day.

    A day is covered when a CRM snapshot applies to it (one was created before the day's end, so
    the day has a portfolio) and one of our trades falls in it (an accepted private-trades export
    names the day: the business ran that day, the same rule as ``flexpower demo``). Other days
    (before the first snapshot, after the last data, forecasts for days not traded yet) are not
    requested; they wait in the cursor until they are covered.
    """

    traded_days: frozenset[date]
    first_snapshot_at: datetime | None

    def has_portfolio(self, day: date) -> bool:
        """A CRM snapshot applies to the day (one was created before the day's end)."""
        return self.first_snapshot_at is not None and day_window(day)[1] > self.first_snapshot_at

    def covers(self, day: date) -> bool:
        return day in self.traded_days and self.has_portfolio(day)

    @classmethod
    def of(cls, warehouse: Warehouse) -> Coverage:
        if not warehouse.table_exists("landing", "files"):
            return cls(frozenset(), None)
        traded = warehouse.read(
            f"select distinct unnest(delivery_days) as day from {CATALOG} where kind = ? and status = 'accepted'",
            [DAYS_ARE_FED_BY])["day"].to_list()
        created = [t for t in (name_created_at(p) for p in accepted_paths(warehouse, "contracts")) if t is not None]
        return cls(frozenset(traded), min(created) if created else None)


POSITION_KINDS = frozenset({"forecast", "private_trades", "day_ahead_prices"})  # what the open position reads


def position_days(days_by_kind: Mapping[str, Iterable[date]], coverage: Coverage, today: date,
                  already: Collection[date] = ()) -> list[date]:
    """Today and tomorrow, where new forecasts, trade exports or auction results change the open
    position and the day has a portfolio, except the days in ``already`` (their runs include it).

    Tomorrow is traded before it is covered (its first trade export comes during the day), so its
    open position cannot wait for coverage like the day's other tables.
    """
    near = {today, today + timedelta(days=1)}
    days = {day for kind, of_kind in days_by_kind.items() if kind in POSITION_KINDS for day in of_kind}
    return sorted(day for day in days & near if coverage.has_portfolio(day) and day not in already)


MAX_NAMED_PATHS = MAX_FILES_PER_TICK  # files remembered in ``Cursor.named`` (the newest)


def named_days(files: Iterable[LandingFile], coverage: Coverage, first: date, last: date,
               cursor: Cursor) -> dict[date, set[str]]:
    """Covered days that new files date in their names (trade exports, live files), by kind.

    They can be requested in the tick that finds the files, before their registration: the raw
    step of the run registers the files of its kinds itself. Each path and its days go into
    ``cursor.named``, so the registration does not request them again; days the rows feed beyond
    the named one (an export with trades of the next day) come with the registration, as do the
    days not covered yet (a day's first trade export makes it covered once it is accepted).
    """
    days: dict[date, set[str]] = {}
    for file in files:
        named = named_delivery_day(file.relative)
        if named is None:
            continue
        kind, day = named
        if first <= day <= last and coverage.covers(day):
            days.setdefault(day, set()).add(kind.name)
            cursor.named[file.relative] = sorted({*cursor.named.pop(file.relative, []), day.isoformat()})
    while len(cursor.named) > MAX_NAMED_PATHS:
        cursor.named.pop(next(iter(cursor.named)))  # the oldest: its registration may request its day again
    return days


def plan_days(days_by_kind: dict[str, set[date]], pending: dict[str, list[str]], coverage: Coverage,
              first: date, last: date, max_days: int) -> tuple[dict[date, set[str]], dict[str, list[str]]]:
    """Split the affected days (new and pending) into those to request now and those to keep waiting.

    Days outside ``first``..``last`` (the partitions) are dropped; covered ones are requested,
    oldest first and at most ``max_days``; the rest wait, at most ``MAX_PENDING_DAYS`` (the newest).
    """
    wanted: dict[date, set[str]] = {date.fromisoformat(day): set(kinds) for day, kinds in pending.items()}
    for kind, days in days_by_kind.items():
        for day in days:
            wanted.setdefault(day, set()).add(kind)
    now: dict[date, set[str]] = {}
    waiting: dict[date, set[str]] = {}
    for day in sorted(wanted):
        if not first <= day <= last:
            continue
        if coverage.covers(day) and len(now) < max_days:
            now[day] = wanted[day]
        else:
            waiting[day] = wanted[day]
    kept = sorted(waiting)[-MAX_PENDING_DAYS:]
    return now, {day.isoformat(): sorted(waiting[day]) for day in kept}


__all__ = ["Coverage", "Cursor", "FileScan", "Registrations", "WarehouseBusy", "files_to_ingest",
           "list_files", "name_created_at", "named_days", "new_registrations", "no_ingestion_running", "plan_days",
           "position_days",
           "snapshot_days", "snapshot_kind_days", "source_folders", "source_kinds"]
