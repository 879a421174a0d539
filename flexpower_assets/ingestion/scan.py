"""Scanning the landing zone: which files are there, which have settled, which changed.

A scan only lists folders and reads each file's ``stat`` (size, modification and change time);
no content is read. Whether a file must be hashed and parsed again is decided by comparing
that with its latest registration (``changed_paths``).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from flexpower_assets.parsers.registry import FILE_KINDS, FileKind, classify

# what is compared with a file's latest registration to decide whether to hash it again
STAT_COLUMNS = ("size_bytes", "mtime_ns", "ctime_ns")


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


def changed_paths(files: list[LandingFile], catalog: pl.DataFrame) -> set[str]:
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
