"""Files read ahead by threads come back in order, byte for byte, with the hashes of a plain read."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from flexpower_assets.ingestion import reading
from flexpower_assets.ingestion.decisions import Registrations, SyncReport, decide
from flexpower_assets.ingestion.scan import LandingFile
from flexpower_assets.ingestion.staging import PER_FILE_COLUMNS
from flexpower_assets.ingestion.workers import ParsedChunk
from flexpower_assets.parsers.errors import InputFileError
from flexpower_assets.parsers.registry import KINDS_BY_NAME


def files(tmp_path: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        path = tmp_path / f"f{i}.json"
        path.write_bytes(b"x" * i + bytes([i]))  # every file different, one of them empty of x
        paths.append(path)
    return paths


def test_bytes_and_hashes_in_the_order_of_the_paths_across_many_tasks(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "FILES_PER_TASK", 2)  # 7 files: 4 tasks, the last of one file
    paths = files(tmp_path, 7)
    ahead = reading.ReadAhead(paths, threads=3)
    assert len(ahead) == 7
    assert [ahead[i] for i in range(7)] == [p.read_bytes() for p in paths]
    assert ahead[2:4] == [paths[2].read_bytes(), paths[3].read_bytes()]
    assert ahead.sha256() == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    with pytest.raises(IndexError):
        ahead[7]


def test_hashes_only_when_the_parser_reads_the_files_itself(tmp_path):
    paths = files(tmp_path, 3)
    ahead = reading.ReadAhead(paths, keep_bytes=False)
    assert ahead.sha256() == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    with pytest.raises(TypeError):
        ahead[0]


def test_a_file_that_cannot_be_read_raises_where_it_is_asked_for(tmp_path):
    paths = [*files(tmp_path, 2), tmp_path / "missing.json"]
    ahead = reading.ReadAhead(paths, threads=1)
    with pytest.raises(FileNotFoundError):
        ahead.sha256()


NOW = datetime(2025, 6, 8, 12, 0, tzinfo=timezone.utc)
FORECAST = KINDS_BY_NAME["forecast"]


def landing_file(relative: str) -> LandingFile:
    return LandingFile(root="/landing", relative=relative, kind=FORECAST, size_bytes=10, mtime_ns=1, arrived_ns=2,
                       ctime_ns=2)


def test_each_file_gets_its_status_in_the_order_of_the_files():
    chunk_files = [landing_file(p) for p in (
        "vpp/forecasts/A_20250608T1000Z.json",       # 0: new, good: accepted
        "vpp/forecasts/B_20250608T1000Z.json",       # 1: bad: rejected
        "other/A_20250608T1000Z.json",               # 2: same name and bytes as 0: duplicate
        "vpp/forecasts/C_20250608T1000Z.json",       # 3: the same bytes as registered: touched
        "vpp/forecasts/D_20250608T1000Z.json",       # 4: new bytes at a known path: accepted, replaces
    )]
    shas = ["a" * 64, "b" * 64, "a" * 64, "c" * 64, "d" * 64]
    error = InputFileError(Path("/landing/vpp/forecasts/B_20250608T1000Z.json"), "bad unit", line=3)
    per_file = pl.DataFrame({"file_index": [0, 4], "n_rows": [96, 92]}).with_columns(
        [pl.lit(None, dtype=dtype).alias(name) for name, dtype in PER_FILE_COLUMNS.items()
         if name not in ("file_index", "n_rows")]).select(
        [pl.col(n).cast(t) for n, t in PER_FILE_COLUMNS.items()])
    chunk = ParsedChunk(sha256=shas, errors={1: error}, per_file=per_file, file_ids={0: 100, 2: 102, 4: 104})
    current = {"vpp/forecasts/C_20250608T1000Z.json": {"sha256": "c" * 64},
               "vpp/forecasts/D_20250608T1000Z.json": {"sha256": "e" * 64}}
    accepted_sha: set[tuple[str, str]] = set()
    report, pending = SyncReport(), Registrations()
    decide(chunk_files, chunk, current, accepted_sha, report, NOW, pending)
    [frame] = pending.records
    assert frame["path"].to_list() == [f.relative for i, f in enumerate(chunk_files) if i != 3]
    assert frame["status"].to_list() == ["accepted", "rejected", "duplicate", "accepted"]
    assert frame["file_id"].to_list()[0] == 100 and frame["file_id"].to_list()[3] == 104
    assert frame["n_rows"].to_list() == [96, None, None, 92]
    assert frame["error_line"].to_list() == [None, 3, None, None]
    assert frame["error"].to_list()[1] == str(error)
    assert frame["error"].to_list()[2] == "same name and content as an already accepted file"
    assert [f.relative for f in pending.touched] == ["vpp/forecasts/C_20250608T1000Z.json"]
    assert pending.replaced == [("vpp/forecasts/D_20250608T1000Z.json", 104)]
    assert dict(report.counts) == {("forecast", "accepted"): 2, ("forecast", "rejected"): 1,
                                   ("forecast", "duplicate"): 1}
    assert report.rejected == [("vpp/forecasts/B_20250608T1000Z.json", str(error))]
    assert report.new_rows_by_kind["forecast"] == 96 + 92
    assert accepted_sha == {("A_20250608T1000Z.json", "a" * 64), ("D_20250608T1000Z.json", "d" * 64)}
