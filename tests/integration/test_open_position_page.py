"""The traders' open-position page: today and tomorrow by the platform clock, numbers as stored."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from flexpower_assets.portal.app import create_app
from resources.warehouse import Warehouse

from .test_portal import World, as_, build_world

DAY = date(2025, 6, 10)
Q0 = datetime(2025, 6, 9, 22, 0, tzinfo=timezone.utc)  # 00:00 Berlin on 2025-06-10
CLOCK = datetime(2025, 6, 9, 21, 45, tzinfo=timezone.utc)  # 23:45 Berlin on 2025-06-09


def _rows() -> pl.DataFrame:
    return pl.DataFrame([dict(
        delivery_day=DAY, delivery_start=Q0, as_of=CLOCK, minutes_to_delivery=15.0, forecast_mwh=2.0,
        forecast_p10_mwh=1.25, forecast_p90_mwh=2.25, newest_forecast_version=CLOCK, n_assets=2,
        n_missing_forecast=0, n_without_quantile=1, day_ahead_mwh=2.0, day_ahead_status="cleared",
        intraday_sold_mwh=1.0, intraday_bought_mwh=0.5, intraday_net_mwh=0.5, position_mwh=2.5, open_mwh=-0.5,
        open_p10_mwh=-1.25, open_p90_mwh=-0.25, capacity_mw=20.0, open_share_of_capacity=0.1)])


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = build_world(tmp_path)
    with Warehouse(world.warehouse).writer() as conn:
        conn.register("rows", _rows().to_arrow())
        conn.execute("create or replace table main.open_position as select * from rows")
    return world


@pytest.fixture
def client(world: World) -> TestClient:
    return TestClient(create_app(world.warehouse, world.data_dir, world.state_dir, clock=lambda: CLOCK))


def _cells(html: str, day: str) -> list[list[str]]:
    section = re.search(rf'<section class="position-day" id="position-{day}">.*?</section>', html, re.S).group(0)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", section, re.S) if "<td" in row]


def test_the_page_shows_today_and_tomorrow_of_the_platform_clock(client: TestClient, world: World) -> None:
    response = client.get("/position", headers=as_(world, "trader"))
    assert response.status_code == 200
    html = response.text
    # the clock is 23:45 in Berlin on 2025-06-09: today is 06-09 (nothing built), tomorrow 06-10
    assert "No open position built for 2025-06-09 yet." in html
    assert _cells(html, "2025-06-10") == [[
        "00:00", "22:00 UTC", "15 min", "2.000", "1.250 .. 2.250", "2.000", "0.500", "2.500", "-0.500",
        "-1.250 .. -0.250", "10.0 %", "short: buy", "1 asset(s) without quantiles"]]
    assert "As of 2025-06-09 21:45 UTC; day-ahead: cleared; portfolio capacity 20.0 MW." in html


def test_one_day_by_its_date_and_only_for_roles_granted_the_dataset(client: TestClient, world: World) -> None:
    one = client.get("/position?day=2025-06-10", headers=as_(world, "trader")).text
    assert "Delivery day 2025-06-10" in one and "Delivery day 2025-06-09" not in one
    for role in ("operations", "finance", "alice"):
        assert client.get("/position?day=2025-06-10", headers=as_(world, role)).status_code == 403, role
    assert client.get("/position?day=10.06.2025", headers=as_(world, "trader")).status_code == 400
    index = client.get("/", headers=as_(world, "trader")).text
    assert 'href="/position"' in index
    assert 'href="/position"' not in client.get("/", headers=as_(world, "operations")).text
