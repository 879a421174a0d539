"""What becomes of each parsed file: accepted, rejected, duplicate, or an unchanged re-drop.

``decide`` turns a parsed chunk into catalog rows (built column-wise, one frame per chunk) and
the updates they imply (earlier contents ``replaced``, re-dropped files ``touched``), kept in
``Registrations`` until ``store.record`` writes them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl

from flexpower_assets.ingestion.hashing import file_id_of
from flexpower_assets.ingestion.scan import LandingFile
from flexpower_assets.ingestion.staging import days_of
from flexpower_assets.ingestion.store import CATALOG_COLUMNS
from flexpower_assets.ingestion.workers import ParsedChunk


@dataclass
class SyncReport:
    """What one sync did: counts per status and kind, rejected files, days touched per kind."""

    counts: Counter = field(default_factory=Counter)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    days_by_kind: dict[str, set[date]] = field(default_factory=dict)
    new_rows_by_kind: Counter = field(default_factory=Counter)
    unsettled: list[str] = field(default_factory=list)  # still changing: left for a later sync
    #: seconds per step: in this process (scan, catalog reads, decide, record) and, prefixed
    #: ``workers:``, summed over the worker processes (hash, parse + validate, stage, ...)
    seconds: Counter = field(default_factory=Counter)

    @property
    def n_new(self) -> int:
        return sum(self.counts.values())


@dataclass
class Registrations:
    """Catalog changes decided but not yet written."""

    records: list[pl.DataFrame] = field(default_factory=list)
    touched: list[LandingFile] = field(default_factory=list)
    replaced: list[tuple[str, int]] = field(default_factory=list)

    @property
    def n_records(self) -> int:
        return sum(frame.height for frame in self.records)


def decide(files: list[LandingFile], chunk: ParsedChunk, current: dict[str, dict],
            accepted_sha: set[tuple[str, str]], report: SyncReport, now: datetime, pending: Registrations) -> None:
    """Each file's status: touched (same bytes again), rejected, duplicate or accepted.

    A short loop decides (a few dictionary and set look-ups a file, in the order of the files:
    the first of two equal files in a chunk is accepted, the second is a duplicate); the catalog
    rows are built column-wise in one frame per chunk.
    """
    errors, file_ids = chunk.errors, chunk.file_ids
    kept: list[int] = []
    statuses: list[str] = []
    for index, (file, sha) in enumerate(zip(files, chunk.sha256)):
        previous = current.get(file.relative) if current else None
        if previous is not None and previous["sha256"] == sha:
            pending.touched.append(file)  # same bytes re-dropped: a no-op
            continue
        kept.append(index)
        if index in errors:
            statuses.append("rejected")
            continue
        key = (file.name, sha)
        if key in accepted_sha:
            statuses.append("duplicate")
            continue
        statuses.append("accepted")
        accepted_sha.add(key)
        if previous is not None:
            pending.replaced.append((file.relative, _file_id(file_ids, index, file, sha, now)))
    if not kept:
        return
    chosen = [files[i] for i in kept]
    shas = [chunk.sha256[i] for i in kept]
    messages: list[str | None] = [None] * len(kept)
    lines: list[int | None] = [None] * len(kept)
    for position, (index, status) in enumerate(zip(kept, statuses)):
        if status == "rejected":
            error = errors[index]
            messages[position], lines[position] = str(error), error.line
            report.rejected.append((files[index].relative, messages[position]))
        elif status == "duplicate":
            messages[position] = "same name and content as an already accepted file"
    kinds = [file.kind.name if file.kind else None for file in chosen]
    report.counts.update(zip([kind or "unrecognised" for kind in kinds], statuses))
    frame = pl.DataFrame({
        "file_index": kept,
        "path": [file.relative for file in chosen],
        "kind": kinds,
        "size_bytes": [file.size_bytes for file in chosen],
        "mtime_ns": [file.mtime_ns for file in chosen],
        "ctime_ns": [file.ctime_ns for file in chosen],
        "sha256": shas,
        "file_id": [_file_id(file_ids, index, file, sha, now) for index, file, sha in zip(kept, chosen, shas)],
        "arrived_ns": [file.arrived_ns for file in chosen],
        "status": statuses,
        "error": messages,
        "error_line": lines,
    }, schema=_DECIDED)
    accepted_stats = chunk.per_file.join(frame.filter(pl.col("status") == "accepted").select("file_index"),
                                         on="file_index", how="semi")
    if files[0].kind is not None and accepted_stats.height:
        kind = files[0].kind.name
        report.days_by_kind.setdefault(kind, set()).update(days_of(accepted_stats))
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


_DECIDED = {"file_index": pl.Int32, "path": pl.String, "kind": pl.String, "size_bytes": pl.Int64,
            "mtime_ns": pl.Int64, "ctime_ns": pl.Int64, "sha256": pl.String, "file_id": pl.Int64,
            "arrived_ns": pl.Int64, "status": pl.String, "error": pl.String, "error_line": pl.Int64}


def _file_id(file_ids: dict[int, int], index: int, file: LandingFile, sha: str, now: datetime) -> int:
    """The id the worker staged the file's rows under, else (rows not staged) a new one."""
    file_id = file_ids.get(index)
    return file_id if file_id is not None else file_id_of(file.relative, sha, now)
