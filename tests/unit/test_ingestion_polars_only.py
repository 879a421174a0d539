"""A parse worker without pandas parses, rejects and stages every file kind as a process with it."""

from __future__ import annotations

import importlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from flexpower_assets.ingestion.polars_only import hide_pandas
from flexpower_assets.ingestion.scan import scan_landing
from flexpower_assets.ingestion.workers import parse_chunk
from flexpower_assets.simulator import simulate

REGISTERED_AT = datetime(2025, 6, 9, 6, 0, tzinfo=timezone.utc)


def staged_rows(folder) -> dict[str, pl.DataFrame]:
    """Every staged Parquet file under ``folder``, by its path below it."""
    return {str(path.relative_to(folder)): pl.read_parquet(path) for path in sorted(folder.rglob("*.parquet"))}


def test_a_worker_without_pandas_gives_every_kind_the_same_rows_and_errors(tmp_path):
    landing = tmp_path / "landing"
    summary = simulate(landing, 4, date(2025, 6, 8), 1, 7, progress=False, public_trades_per_day=50)
    groups: dict[str, list[str]] = {}
    for file in scan_landing(landing):
        groups.setdefault(file.kind.name if file.kind else "", []).append(file.relative)
    # the simulated day holds every file kind of a day, the planted bad files among them
    assert {"forecast", "live", "final_production", "private_trades", "public_trades"} <= set(groups)
    assert summary.bad_files

    context = multiprocessing.get_context("spawn")
    errors_seen = 0
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=hide_pandas) as pool:
        for kind, relatives in sorted(groups.items()):
            theirs = pool.submit(parse_chunk, kind, str(landing), relatives, tmp_path / "without",
                                 REGISTERED_AT, {}).result()
            ours = parse_chunk(kind, str(landing), relatives, tmp_path / "with", REGISTERED_AT, {})
            assert theirs.sha256 == ours.sha256
            assert {i: (str(e), e.line) for i, e in theirs.errors.items()} == \
                   {i: (str(e), e.line) for i, e in ours.errors.items()}, kind
            assert theirs.file_ids == ours.file_ids
            assert_frame_equal(theirs.per_file.sort("file_index"), ours.per_file.sort("file_index"))  # group_by order
            errors_seen += len(ours.errors)
        # after all that parsing the worker still has no pandas: nothing on its way needed it
        with pytest.raises(ModuleNotFoundError, match="No module named 'pandas'"):
            pool.submit(importlib.import_module, "pandas").result()
    assert errors_seen == len(summary.bad_files)
    without, with_pandas = staged_rows(tmp_path / "without"), staged_rows(tmp_path / "with")
    assert list(without) == list(with_pandas) and without
    for name, frame in without.items():
        assert_frame_equal(frame, with_pandas[name])
