"""Archiving registered files: only unchanged, accepted (or duplicate) files old enough move; the
catalog and the staged rows stay, so the day's rows are the same after the move."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flexpower_assets.ingestion.archive import ARCHIVED_KINDS, archive_registered
from flexpower_assets.ingestion.catalog import accepted_rows, registered_files, sync_landing
from flexpower_assets.parsers.registry import FILE_KINDS
from resources.warehouse import Warehouse


def final_production(value: float, metering_point: str = "MP-A") -> str:
    return f"delivery_start__utc_,{metering_point}__kw_\n2025-06-08 00:00:00.000000 UTC,{value}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_only_unchanged_accepted_files_move_and_the_rows_stay(tmp_path):
    landing, archive = tmp_path / "landing", tmp_path / "archive"
    warehouse = Warehouse(tmp_path / "w.duckdb")
    kept = write(landing / "dso" / "final_production_MP-A_20250609.csv", final_production(1.0))
    changed = write(landing / "dso" / "final_production_MP-B_20250609.csv", final_production(2.0, "MP-B"))
    bad = write(landing / "dso" / "final_production_MP-C_20250609.csv", "not a csv\n")
    # a market file: the bid tools and the backtest read it from the landing zone, so it stays
    first = datetime(2025, 6, 7, 22, tzinfo=UTC)  # the 96 MTUs of the Berlin day 2025-06-08
    market = write(landing / "market" / "day_ahead_prices_20250608.csv", "delivery_start,price_eur_per_mwh\n" + "".join(
        f"{first + timedelta(minutes=15 * i):%Y-%m-%dT%H:%M:%SZ},50.0\n" for i in range(96)))
    sync_landing(landing, warehouse, workers=1)
    statuses = dict(zip(*registered_files(warehouse).select("path", "status").to_dict(as_series=False).values()))
    assert statuses["market/day_ahead_prices_20250608.csv"] == "accepted"
    assert sorted(statuses.values()) == ["accepted", "accepted", "accepted", "rejected"]
    rows_before = accepted_rows(warehouse, "final_production")["power_kw"].to_list()
    # B rewritten in place after its registration (not read yet): it stays for the next sync
    stat = changed.stat()
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    now = datetime.now(UTC)

    # registered just now: nothing is old enough at 7 days
    assert archive_registered(landing, archive, warehouse, timedelta(days=7), now).moved == []

    later = now + timedelta(days=8)
    report = archive_registered(landing, archive, warehouse, timedelta(days=7), later, dry_run=True)
    assert report.moved == ["dso/final_production_MP-A_20250609.csv"]
    assert kept.exists() and not archive.exists()  # a dry run moves nothing

    report = archive_registered(landing, archive, warehouse, timedelta(days=7), later)
    assert report.moved == ["dso/final_production_MP-A_20250609.csv"]
    assert report.kept_changed == 1
    assert not kept.exists() and changed.exists() and bad.exists() and market.exists()
    assert (archive / "files" / "dso" / "final_production_MP-A_20250609.csv").read_text() == final_production(1.0)
    manifest = [json.loads(line) for line in (archive / "manifest.jsonl").read_text().splitlines()]
    assert [(entry["path"], entry["status"]) for entry in manifest] == [
        ("dso/final_production_MP-A_20250609.csv", "accepted")]
    # the catalog and the staged rows are untouched; the next sync reads only the changed B
    assert accepted_rows(warehouse, "final_production")["power_kw"].to_list() == rows_before
    again = sync_landing(landing, warehouse, workers=1)
    assert again.n_new == 0 and registered_files(warehouse).height == 4  # B hashed again: the same bytes
    assert accepted_rows(warehouse, "final_production")["power_kw"].to_list() == rows_before

    # the same name dropped again with the same bytes is a no-op; archiving it again would
    # overwrite the archived file, so it stays in the landing zone
    write(kept, final_production(1.0))
    assert sync_landing(landing, warehouse, workers=1).n_new == 0
    report = archive_registered(landing, archive, warehouse, timedelta(days=7), later + timedelta(days=30))
    assert report.skipped_existing == ["dso/final_production_MP-A_20250609.csv"] and kept.exists()


def test_an_archive_inside_the_landing_zone_or_a_negative_age_is_refused(tmp_path):
    import pytest

    landing = tmp_path / "landing"
    landing.mkdir()
    warehouse = Warehouse(tmp_path / "w.duckdb")
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="must not be inside the landing zone"):
        archive_registered(landing, landing / "archive", warehouse, timedelta(days=7), now)
    with pytest.raises(ValueError, match="must not be negative"):
        archive_registered(landing, tmp_path / "archive", warehouse, timedelta(days=-1), now)


def test_the_daily_pipelines_kinds_are_archived_and_the_market_and_hydro_files_stay():
    # the registry's flag decides: the 11 kinds the daily pipeline reads through staged rows
    # move, the 2 market and 3 hydro kinds (read from their folders by the bid tools) stay
    assert set(ARCHIVED_KINDS) == {"contracts", "technical_data", "forecast", "live", "final_production",
                                   "redispatch_flags", "redispatch_compensation", "private_trades",
                                   "public_trades", "imbalance_estimate", "imbalance_final"}
    assert {kind.name for kind in FILE_KINDS if kind.kept_in_landing} == {
        "price_scenarios", "day_ahead_prices", "hydro_technical_data", "inflow_forecast", "reservoir_level"}
