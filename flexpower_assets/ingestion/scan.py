"""Scanning the landing zone: which files are there, which have settled, which changed.

A scan only lists folders and reads each file's ``stat`` (size, modification and change time);
no content is read. Whether a file must be hashed and parsed again is decided by comparing
that with its latest registration (``store.changed_files``, inside the warehouse).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from flexpower_assets.parsers.registry import FILE_KINDS, FileKind, classify


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


#: The columns of a scan (``scan_stats``): a file's path relative to the landing zone and its stat.
SCAN_SCHEMA = {"path": pl.String, "size_bytes": pl.Int64, "mtime_ns": pl.Int64, "ctime_ns": pl.Int64}


def scan_stats(landing_dir: Path, kinds: Collection[str] | None = None) -> pl.DataFrame:
    """Path and stat of every regular file under the landing zone, or in some kinds' folders.

    Only the folders are listed and each entry's ``stat`` read, into columns (``SCAN_SCHEMA``):
    no object per file, no name matched, so a scan that finds nothing new stays cheap however
    many files the folders hold. Which kind a file is (``landing_files``) is worked out only for
    the files that need it.
    """
    if not landing_dir.exists():
        return pl.DataFrame(schema=SCAN_SCHEMA)
    root = str(landing_dir)
    if kinds is None:
        folders = sorted(os.path.relpath(dirpath, root) for dirpath, _dirs, _names in os.walk(root))
    else:
        folders = sorted({kind.folder for kind in FILE_KINDS if kind.name in kinds})
    return stat_folders(landing_dir, folders)


def stat_folders(landing_dir: Path, folders: Collection[str]) -> pl.DataFrame:
    """Path (relative to the landing zone) and stat of every regular file directly in
    ``folders`` (relative too; ``"."`` or ``""`` is the landing zone itself), as ``SCAN_SCHEMA``
    columns; a folder that is not there has no files."""
    root = str(landing_dir)
    paths: list[str] = []
    sizes: list[int] = []
    mtimes: list[int] = []
    ctimes: list[int] = []
    for folder in folders:
        folder = "" if folder == "." else folder
        directory = os.path.join(root, folder)
        if not os.path.isdir(directory):
            continue
        prefix = f"{folder}/" if folder else ""
        # listed through a descriptor of the folder: each stat then looks up one name, not the
        # whole path (about a sixth off a folder of 100,000 files)
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with os.scandir(descriptor) as entries:
                for entry in entries:
                    try:
                        if not entry.is_file():
                            continue
                        stat = entry.stat()
                    except FileNotFoundError:  # renamed or removed since it was listed: not there
                        continue
                    paths.append(prefix + entry.name)
                    sizes.append(stat.st_size)
                    mtimes.append(stat.st_mtime_ns)
                    ctimes.append(stat.st_ctime_ns)
        finally:
            os.close(descriptor)
    return pl.DataFrame({"path": paths, "size_bytes": sizes, "mtime_ns": mtimes, "ctime_ns": ctimes},
                        schema=SCAN_SCHEMA)


def landing_files(landing_dir: Path, stats: pl.DataFrame, kinds: Collection[str] | None = None) -> list[LandingFile]:
    """The files of a scan as ``LandingFile``, oldest arrival first.

    With ``kinds``, files of other kinds are left out, but unrecognised files in those folders
    are kept: they are recorded as rejected, so nothing that arrives goes unnoticed.
    """
    root = str(landing_dir)
    found: list[LandingFile] = []
    # sorted as columns (UTF-8 bytes sort as the code points of Python's str do)
    ordered = stats.select(*SCAN_SCHEMA, arrived_ns=pl.max_horizontal("mtime_ns", "ctime_ns")).sort(
        "arrived_ns", "path")
    for relative, size, mtime, ctime, arrived in ordered.iter_rows():
        kind = classify(relative)
        if kinds is not None and kind is not None and kind.name not in kinds:
            continue
        found.append(LandingFile(root=root, relative=relative, kind=kind, size_bytes=size, mtime_ns=mtime,
                                 arrived_ns=arrived, ctime_ns=ctime))
    return found


def scan_landing(landing_dir: Path, kinds: Collection[str] | None = None) -> list[LandingFile]:
    """Every regular file under the landing zone, or the files of some kinds' folders (see
    ``landing_files``), oldest arrival first."""
    return landing_files(landing_dir, scan_stats(landing_dir, kinds), kinds)


def settled_stats(stats: pl.DataFrame, min_age_s: float, now: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows of a scan unchanged for at least ``min_age_s`` seconds at ``now``, and the
    others (the same rule as ``settled_files``)."""
    if min_age_s <= 0:
        return stats, stats.clear()
    cutoff_ns = int(now.timestamp() * 1e9) - int(min_age_s * 1e9)
    young = pl.max_horizontal("mtime_ns", "ctime_ns") > cutoff_ns
    return stats.filter(~young), stats.filter(young)


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
