"""The project's Dagster instance (dagster.yaml): its event log keeps connections open, and what it
writes is Dagster's own SQLite storage, which a stock instance reads and a UI watching a run follows."""

from __future__ import annotations

import shutil
import threading
import time

import dagster as dg
import pytest
import yaml

from flexpower_assets.instance_storage import KeptOpenSqliteEventLogStorage, LocalInstance
from flexpower_assets.settings import PROJECT_ROOT

days = dg.DailyPartitionsDefinition(start_date="2025-06-01", end_date="2025-06-04")


@dg.asset(partitions_def=days, io_manager_key="mem")
def tiny(context) -> int:
    return len(context.partition_key)


def _home(tmp_path, with_project_instance: bool = True):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    if with_project_instance:
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def _materialize(instance, key: str) -> str:
    result = dg.materialize([tiny], instance=instance, partition_key=key,
                            resources={"mem": dg.InMemoryIOManager()})
    assert result.success
    return result.run_id


def test_project_instance_uses_the_kept_open_event_log_in_its_own_folder(tmp_path):
    home = _home(tmp_path)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance, LocalInstance)
        storage = instance.event_log_storage
        assert isinstance(storage, KeptOpenSqliteEventLogStorage)
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"  # runs and schedules: Dagster's
        # where Dagster's default SQLite storage is: <home>/history/runs/<run id>.db and index.db
        run_id = _materialize(instance, "2025-06-02")
        assert (home / "history" / "runs" / f"{run_id}.db").exists()
        assert (home / "history" / "runs" / "index.db").exists()
        with storage.run_connection(run_id) as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_a_stock_instance_reads_what_the_project_instance_wrote(tmp_path):
    home = _home(tmp_path)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run_ids = [_materialize(instance, key) for key in ("2025-06-01", "2025-06-02", "2025-06-03")]
        written = {run_id: len(instance.all_logs(run_id)) for run_id in run_ids}
    _home(tmp_path, with_project_instance=False)  # the same folder, read by Dagster's default instance
    with dg.DagsterInstance.from_config(str(home)) as stock:
        assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert {run.run_id for run in stock.get_runs()} == set(run_ids)
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in stock.get_runs())
        assert {run_id: len(stock.all_logs(run_id)) for run_id in run_ids} == written
        records = stock.fetch_materializations(dg.AssetKey("tiny"), limit=10).records
        assert sorted(r.partition_key for r in records) == ["2025-06-01", "2025-06-02", "2025-06-03"]
        assert stock.get_materialized_partitions(dg.AssetKey("tiny")) == {"2025-06-01", "2025-06-02", "2025-06-03"}
        assert yaml.safe_load((home / "dagster.yaml").read_text()) == {"telemetry": {"enabled": False}}


def test_a_watch_of_a_run_sees_events_written_through_a_kept_open_connection(tmp_path):
    home = _home(tmp_path)
    with dg.DagsterInstance.from_config(str(home)) as writer, dg.DagsterInstance.from_config(str(home)) as ui:
        run_id = _materialize(writer, "2025-06-02")
        run = writer.get_run_by_id(run_id)
        seen: list[str] = []
        arrived = threading.Event()

        def callback(entry, _cursor):
            seen.append(entry.dagster_event.message if entry.dagster_event else entry.user_message)
            if seen[-1] == "written later":
                arrived.set()

        ui.watch_event_logs(run_id, None, callback)
        try:
            time.sleep(0.5)  # the watch is scheduled before the event is written
            writer.report_engine_event("written later", run)
            # the writer's connection stays open: the run's .db file is not touched, only its -wal
            assert arrived.wait(30), f"the watch did not see the new event (saw {len(seen)} events)"
        finally:
            ui.end_watch_event_logs(run_id, callback)
        assert seen.count("written later") == 1


def test_the_installed_dagster_fits_the_kept_open_event_log_and_another_falls_back(tmp_path, monkeypatch):
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    from flexpower_assets import instance_storage

    stock = SqliteEventLogStorage(str(tmp_path / "stock"))
    assert instance_storage.kept_open_fits(stock)  # Dagster as pinned in pyproject.toml
    assert not instance_storage.kept_open_fits(object())  # a storage without the attributes relied on
    monkeypatch.setattr(instance_storage, "kept_open_fits", lambda _event_log: False)
    with pytest.warns(UserWarning, match="Dagster's own event log is used"):
        storage = instance_storage.LocalSqliteStorage(str(tmp_path / "home"))
    assert type(storage.event_log_storage) is SqliteEventLogStorage
