"""Test-wide settings.

- Files written by a test are complete, so they need no settle time.
- Every test runs with the platform's locations in a temporary folder: a test that forgets to
  isolate a location (or starts a command that reads the environment) never writes into data/.
"""

from __future__ import annotations

import os

import pytest

LOCATIONS = ("FLEXPOWER_LANDING_DIR", "FLEXPOWER_WAREHOUSE", "FLEXPOWER_DATA_DIR", "FLEXPOWER_DOCUMENTS_DIR",
             "DAGSTER_HOME")


def pytest_configure(config) -> None:
    # commands started by tests (subprocesses) read the landing zone without waiting 60 s
    os.environ["FLEXPOWER_MIN_FILE_AGE_S"] = "0"


@pytest.fixture(scope="session", autouse=True)
def _locations_outside_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("default-locations")
    before = {name: os.environ.get(name) for name in LOCATIONS}
    os.environ.update({
        "FLEXPOWER_LANDING_DIR": str(root / "landing"),
        "FLEXPOWER_WAREHOUSE": str(root / "warehouse" / "flexpower.duckdb"),
        "FLEXPOWER_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
    })
    os.environ.pop("FLEXPOWER_DOCUMENTS_DIR", None)
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
