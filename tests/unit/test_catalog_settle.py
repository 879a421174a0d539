"""A landing file is read only once it has settled, and a change in place is found by content."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from flexpower_assets.domain.time import UTC
from flexpower_assets.ingestion.catalog import accepted_rows, registered_files, sync_landing
from flexpower_assets.settings import Settings
from resources.warehouse import Warehouse

NAME = "exchange/Private_Trades-20250608-20250609T000516000Z.csv"
TITLE = "# Private Trades - 2025-06-08 - 2025-06-09T00:05:16.000Z;;;;;;;;"
HEADER = "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit"


def trade(i: int, volume: str = "1.0") -> str:
    return (f"{1000 + i};SELL;2025-06-08 10:00:00+00:00;2025-06-08 10:15:00+00:00;"
            f"2025-06-08 09:00:00+00:00;50;EUR;{volume};MWH")


def test_a_file_still_being_written_is_left_until_it_has_settled(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    landing = tmp_path / "landing"
    path = landing / NAME
    path.parent.mkdir(parents=True)
    # the SFTP upload has written the title, the header and 2 of 4 trades (cut at a line boundary)
    path.write_text("\n".join([TITLE, HEADER, trade(1), trade(2)]) + "\n")
    written = datetime.now(UTC)

    report = sync_landing(landing, warehouse, workers=1, min_age_s=60, now=written + timedelta(seconds=5))
    assert report.n_new == 0 and report.unsettled == [NAME]
    assert registered_files(warehouse).height == 0

    with path.open("a") as handle:  # the upload goes on
        handle.write("\n".join([trade(3), trade(4)]) + "\n")
    # 59 s after the last write: still not read
    report = sync_landing(landing, warehouse, workers=1, min_age_s=60, now=datetime.now(UTC) + timedelta(seconds=59))
    assert report.n_new == 0 and report.unsettled == [NAME]
    # 61 s after the last write it has settled: all 4 trades, not 2
    report = sync_landing(landing, warehouse, workers=1, min_age_s=60, now=datetime.now(UTC) + timedelta(seconds=61))
    assert dict(report.counts) == {("private_trades", "accepted"): 1} and report.unsettled == []
    assert sorted(accepted_rows(warehouse, "private_trades")["trade_id"].to_list()) == ["1001", "1002", "1003", "1004"]


def test_a_change_in_place_with_the_same_size_and_the_old_mtime_is_read_again(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    landing = tmp_path / "landing"
    path = landing / NAME
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([TITLE, HEADER, trade(1, "1.0")]) + "\n")
    sync_landing(landing, warehouse, workers=1)
    before = path.stat()
    # same length ("1.0" -> "2.5"), and the writer sets the old modification time back
    path.write_text("\n".join([TITLE, HEADER, trade(1, "2.5")]) + "\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    report = sync_landing(landing, warehouse, workers=1)
    assert dict(report.counts) == {("private_trades", "accepted"): 1}
    assert registered_files(warehouse).sort("registered_at")["status"].to_list() == ["replaced", "accepted"]
    assert accepted_rows(warehouse, "private_trades")["volume_mw"].to_list() == [2.5]
    # the same bytes seen again (only the ctime moved): hashed, found equal, a no-op
    os.utime(path, ns=(after.st_atime_ns, after.st_mtime_ns))
    assert sync_landing(landing, warehouse, workers=1).n_new == 0
    assert sync_landing(landing, warehouse, workers=1).n_new == 0


def test_a_catalog_written_before_ctimes_were_recorded_is_upgraded(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    landing = tmp_path / "landing"
    (landing / "exchange").mkdir(parents=True)
    (landing / NAME).write_text("\n".join([TITLE, HEADER, trade(1)]) + "\n")
    sync_landing(landing, warehouse, workers=1)
    with warehouse.writer() as conn:
        conn.execute("alter table landing.files drop column ctime_ns")
    # the file is hashed once more, found unchanged, and its ctime recorded
    assert sync_landing(landing, warehouse, workers=1).n_new == 0
    assert registered_files(warehouse)["ctime_ns"].to_list() == [(landing / NAME).stat().st_ctime_ns]


def test_production_waits_60_s_for_a_file_to_settle_and_the_setting_changes_it(monkeypatch):
    monkeypatch.delenv("FLEXPOWER_MIN_FILE_AGE_S", raising=False)
    assert Settings.from_env().min_file_age_s == 60.0
    monkeypatch.setenv("FLEXPOWER_MIN_FILE_AGE_S", "0")
    assert Settings.from_env().min_file_age_s == 0.0
