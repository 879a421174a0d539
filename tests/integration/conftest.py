"""Shared fixtures: a small simulated landing zone and Definitions pointing at a fresh warehouse."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from flexpower_assets.definitions import build_defs
from flexpower_assets.settings import Settings
from flexpower_assets.simulator import simulate

SAMPLE_START = date(2025, 6, 7)
SAMPLE_DAYS = 3
SAMPLE_ASSETS = 5


@pytest.fixture(scope="session")
def sample_landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("landing")
    simulate(landing, SAMPLE_ASSETS, SAMPLE_START, SAMPLE_DAYS, seed=3, public_trades_per_day=3000)
    return landing


def make_settings(landing: Path, root: Path) -> Settings:
    return Settings(landing_dir=landing, warehouse_path=root / "warehouse" / "test.duckdb",
                    data_dir=root, parse_workers=1, min_file_age_s=0)


@pytest.fixture
def settings(sample_landing, tmp_path) -> Settings:
    return make_settings(sample_landing, tmp_path)


@pytest.fixture
def defs(settings) -> dg.Definitions:
    return build_defs(settings)
