"""A damaged warehouse (cut to half its size, or to 0 bytes) is detected, never read from.

Each test damages a warehouse of its own in tmp_path: the library raises ``WarehouseDamaged``
naming the file, the portal answers 503 with a plain message (no traceback), and the commands
stop with a readable error that names the file and says how to restore it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flexpower_assets.portal import create_app
from flexpower_assets.portal.tokens import TokenStore
from resources.warehouse import Warehouse, WarehouseDamaged

DAMAGE = {"half": lambda size: size // 2, "empty": lambda size: 0}


def build(path: Path) -> None:
    """A warehouse of several DuckDB blocks (256 KiB each), like a built day."""
    with Warehouse(path).writer() as conn:
        conn.execute("create table main.best_of_infeed as select range as i, range * 0.25 as energy_mwh, "
                     "date '2025-06-08' as delivery_day from range(400000)")
    with Warehouse(path).writer() as conn:  # a second write: the seal follows every write
        conn.execute("create table main.trading_daily as select date '2025-06-08' as delivery_day, 42.0 as revenue_eur")


def damage(path: Path, how: str) -> None:
    os.truncate(path, DAMAGE[how](path.stat().st_size))


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse" / "w.duckdb"
    build(path)
    assert Warehouse(path).read("select count(*) as n from main.best_of_infeed")["n"][0] == 400_000
    return path


@pytest.mark.parametrize("how", DAMAGE)
def test_reads_and_writes_of_a_damaged_warehouse_raise_naming_the_file(warehouse: Path, how: str) -> None:
    damage(warehouse, how)
    for attempt in (lambda w: w.read("select revenue_eur from main.trading_daily"),
                    lambda w: w.read("select count(*) from main.best_of_infeed"),
                    lambda w: w.writer().__enter__()):
        with pytest.raises(WarehouseDamaged) as raised:
            attempt(Warehouse(warehouse))
        assert str(warehouse) in str(raised.value) and "landing zone" in str(raised.value)
    with pytest.raises(WarehouseDamaged, match="0 bytes" if how == "empty" else "bytes where the last write left"):
        Warehouse(warehouse).check()


def test_a_warehouse_that_does_not_exist_yet_is_not_damaged(tmp_path: Path) -> None:
    Warehouse(tmp_path / "new.duckdb").check()
    assert Warehouse(tmp_path / "new.duckdb").read("select 1 as one")["one"][0] == 1


@pytest.mark.parametrize("how", DAMAGE)
def test_the_portal_answers_503_with_a_message(warehouse: Path, tmp_path: Path, how: str) -> None:
    state = tmp_path / "portal"
    token = TokenStore(state).create("ada", "admin")
    client = TestClient(create_app(warehouse, tmp_path / "documents", state), raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/datasets/trading_daily", headers=headers).status_code == 200
    damage(warehouse, how)
    for url in ("/api/datasets/trading_daily", "/api/datasets/best_of_infeed", "/", "/api/reports"):
        r = client.get(url, headers=headers)
        assert r.status_code == 503, (url, r.status_code, r.text)
        assert "warehouse is damaged" in r.json()["detail"] and "Traceback" not in r.text
        assert str(warehouse) not in r.text  # the path is for the operators (audit log), not the caller


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("command", [["ingest"], ["materialize", "--day", "2025-06-08"], ["portal", "--port", "1"]])
def test_commands_stop_with_a_readable_error(warehouse: Path, tmp_path: Path, how: str, command: list[str]) -> None:
    damage(warehouse, how)
    size = warehouse.stat().st_size
    landing = tmp_path / "landing"
    (landing / "crm").mkdir(parents=True)
    env = {**os.environ, "FLEXPOWER_WAREHOUSE": str(warehouse), "FLEXPOWER_LANDING_DIR": str(landing),
           "FLEXPOWER_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "flexpower_assets.cli", *command], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"The warehouse {warehouse} is damaged" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert warehouse.stat().st_size == size  # nothing was written into it
