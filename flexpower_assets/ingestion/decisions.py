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
