"""A landing sensor's tick goes on when a file it listed is moved away before it is hashed."""

from __future__ import annotations

import os

from flexpower_assets.ingestion import watch
from flexpower_assets.ingestion.catalog import sync_landing
from flexpower_assets.ingestion.watch import Cursor, files_to_ingest, source_folders
from resources.warehouse import Warehouse


def test_a_file_moved_away_between_listing_and_hashing_is_passed_over(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    path = landing / "dso" / "final_production_MP-A_20250609.csv"
    path.parent.mkdir(parents=True)
    path.write_text("delivery_start__utc_,MP-A__kw_\n2025-06-08 00:00:00.000000 UTC,1.0\n")
    warehouse = Warehouse(tmp_path / "w.duckdb")
    sync_landing(landing, warehouse, workers=1)
    stat = path.stat()  # the same size, a new mtime: the tick must hash it to know
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))

    def gone(_path):
        raise FileNotFoundError(_path)

    monkeypatch.setattr(watch, "file_sha256", gone)  # archived the moment after it was listed
    scan = files_to_ingest(landing, source_folders("dso"), warehouse, Cursor())
    assert scan.to_ingest == [] and scan.same_bytes == [] and scan.n_looked_at == 1
