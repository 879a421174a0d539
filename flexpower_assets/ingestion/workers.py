"""Hashing, parsing and staging in worker processes, one chunk of files of one kind at a time.

The main process sends a chunk's file names; the worker reads and hashes the files with a few
threads ahead of its parser (``reading.ReadAhead``), parses the chunk with its kind's batch
reader (or file by file), writes the rows that may be accepted as Parquet (``staging.stage``)
and sends back per-file figures only, with the seconds it spent per step (waiting for reads,
hash, parse, stats, stage) for the benchmark's profile.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from flexpower_assets.ingestion.hashing import file_id_of
from flexpower_assets.ingestion.polars_only import hide_pandas
from flexpower_assets.ingestion.reading import ReadAhead
from flexpower_assets.ingestion.scan import LandingFile
from flexpower_assets.ingestion.staging import per_file_stats, stage
from flexpower_assets.parsers.errors import InputFileError
from flexpower_assets.parsers.registry import KINDS_BY_NAME, FileKind
from flexpower_assets.pools import spawned_pool

CHUNK_FILES = 2000  # files per chunk of a kind with a batch reader (forecasts, live)
SINGLE_FILE_CHUNK = 100  # files per chunk of a kind parsed file by file
PARALLEL_FROM_FILES = 4000


def parse_file(file: LandingFile) -> pl.DataFrame:
    """Parse one file with the parser of its kind (raises ``InputFileError``)."""
    return parse_path(file.kind, file.path)


def parse_path(kind: FileKind | None, path: Path) -> pl.DataFrame:
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
    seconds: dict[str, float] = field(default_factory=dict)  # per step in the worker: hash, parse, ...


def parse_chunk(kind_name: str, root: str, relatives: list[str], staging: Path, registered_at: datetime,
                skip: dict[str, str]) -> ParsedChunk:
    """Hash and parse files of one kind, and stage the rows of those that may be accepted.

    Runs in a worker process: it receives names and sends back per-file figures only (the rows
    go to Parquet directly). ``skip`` maps paths to content (sha256) that will not be accepted
    again (unchanged re-deliveries), so their rows are not written twice.
    """
    clock = _Clock()
    kind = KINDS_BY_NAME.get(kind_name)
    base = Path(root)
    paths = [base / relative for relative in relatives]  # half the cost of Path(root, relative)
    # read (and hashed) ahead by threads; kinds whose parser takes the bytes parse those very
    # bytes, the others read their file again from the page cache
    takes_contents = kind is not None and kind.batch_takes_contents
    contents = ReadAhead(paths, keep_bytes=takes_contents)
    if not takes_contents:
        shas = contents.sha256()
        clock.lap("read files")
    errors: dict[int, InputFileError] = {}
    if kind is not None and kind.read_batch is not None:
        rows, batch_errors = kind.read_batch(paths, contents=contents) if takes_contents \
            else kind.read_batch(paths)
        index_of = {str(path): i for i, path in enumerate(paths)}
        errors = {index_of[str(e.path)]: e for e in batch_errors}
    else:
        frames = []
        for i, path in enumerate(paths):
            try:
                frames.append(parse_path(kind, path).with_columns(file_index=pl.lit(i, dtype=pl.Int32)))
            except InputFileError as error:
                errors[i] = error
        rows = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame(
            schema={"file_index": pl.Int32})
    clock.lap("parse + validate")
    if takes_contents:
        shas = contents.sha256()
        clock.lap("hash (sha256)")
        # the parser's waits for bytes not yet read count as reading, not parsing
        clock.move("parse + validate", "read files", contents.waited_s)
    else:
        clock.seconds["hash (sha256)"] = 0.0  # in the reading threads, with the reads
    del contents
    file_ids = {i: file_id_of(relative, sha, registered_at) for i, (relative, sha) in enumerate(zip(relatives, shas))
                if i not in errors and skip.get(relative) != sha}
    if len(file_ids) < len(paths):  # the usual chunk stages every file: no filter pass over its rows
        rows = rows.filter(pl.col("file_index").is_in(list(file_ids)))
    per_file = per_file_stats(kind_name, rows)
    clock.lap("per-file figures")
    if rows.height:
        staged = rows.with_columns(file_id=_file_ids_of(rows["file_index"], file_ids)).drop("file_index")
        stage(staged, kind_name, staging, f"{registered_at:%Y%m%dT%H%M%S%f}-{abs(next(iter(file_ids.values())))}")
    clock.lap("stage (Parquet)")
    return ParsedChunk(sha256=shas, errors=errors, per_file=per_file, file_ids=file_ids, seconds=clock.seconds)


def _file_ids_of(file_index: pl.Series, file_ids: dict[int, int]) -> pl.Series:
    """The file id of each row, looked up by its file index (every index is one of ``file_ids``)."""
    lookup = np.zeros(max(file_ids) + 1, dtype=np.int64)
    lookup[list(file_ids)] = list(file_ids.values())
    return pl.Series("file_id", lookup[file_index.to_numpy()], dtype=pl.Int64)


class _Clock:
    """Seconds per named step, measured one after another."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - self._last
        self._last = now

    def move(self, source: str, target: str, seconds: float) -> None:
        """Count ``seconds`` of step ``source`` as step ``target``."""
        seconds = min(seconds, self.seconds.get(source, 0.0))
        self.seconds[source] = self.seconds.get(source, 0.0) - seconds
        self.seconds[target] = self.seconds.get(target, 0.0) + seconds


class WorkerPool:
    """The parse worker processes of one sync, started as soon as it is clear they are needed.

    A spawned worker spends a second or more importing its parsers before it can parse; started
    while the main process still scans the folders and compares them with the catalog, that
    time is no longer waited for. Without ``start`` (few files) nothing is spawned.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    @property
    def started(self) -> bool:
        return self._pool is not None

    def start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # pandas hidden first: the parsers' imports then cost half as much
            self._pool = spawned_pool(self.workers, _ready, initializer=hide_pandas)
        return self._pool

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _ready() -> int:
    """A task that only brings a worker up (its imports come with this module)."""
    return os.getpid()


def parse_chunks(files: list[LandingFile], staging: Path, registered_at: datetime, skip: dict[str, str],
                 workers: int = 2, pool: WorkerPool | None = None) -> Iterator[tuple[list[LandingFile], ParsedChunk]]:
    """Parse files in chunks of one kind, across ``workers`` processes when there are many (or
    when ``pool`` was started already).

    Kinds without a batch reader are parsed file by file (a few ms each), so their chunks are
    small and go first: they spread over both workers while the batch kinds follow, the kind
    with the most bytes a chunk first (a day's live files, then the forecasts), so that the
    chunks still running when the other worker runs out of work are small ones. Chunks are
    handed back as they finish.
    """
    groups: dict[str, list[LandingFile]] = {}
    for file in files:
        groups.setdefault(file.kind.name if file.kind else "", []).append(file)
    chunks: list[list[LandingFile]] = []
    for name, group in sorted(groups.items(), key=_chunk_order):
        size = CHUNK_FILES if _is_batch_kind(name) else SINGLE_FILE_CHUNK
        chunks += [group[i:i + size] for i in range(0, len(group), size)]
    tasks = [(chunk[0].kind.name if chunk[0].kind else "", chunk[0].root, [f.relative for f in chunk],
              staging, registered_at, {f.relative: skip[f.relative] for f in chunk if f.relative in skip})
             for chunk in chunks]
    parallel = pool is not None and pool.started and len(chunks) > 1
    if parallel or (workers > 1 and len(files) >= PARALLEL_FROM_FILES and len(chunks) > 1):
        with (nullcontext(pool) if parallel else WorkerPool(workers)) as owned:
            executor = owned.start()
            futures = {executor.submit(parse_chunk, *task): chunk for task, chunk in zip(tasks, chunks)}
            for future in as_completed(futures):
                yield futures[future], future.result()
    else:
        yield from zip(chunks, (parse_chunk(*task) for task in tasks))


def _chunk_order(group: tuple[str, list[LandingFile]]) -> tuple[bool, int]:
    """Kinds parsed file by file first (in their order), then batch kinds by bytes a chunk, most first."""
    name, files = group
    if not _is_batch_kind(name):
        return False, 0
    return True, -sum(file.size_bytes for file in files[:CHUNK_FILES])


def _is_batch_kind(name: str) -> bool:
    kind = KINDS_BY_NAME.get(name)
    return kind is not None and kind.read_batch is not None
