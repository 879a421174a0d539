"""The portal keeps answering while a real materialization writes the warehouse."""

from __future__ import annotations

import threading

import dagster as dg
from fastapi.testclient import TestClient

from flexpower_assets.definitions import build_defs
from flexpower_assets.portal import create_app
from flexpower_assets.portal.tokens import TokenStore
from flexpower_assets.runner import run_partition

DAY = "2025-06-08"


def test_portal_answers_during_a_materialization_and_sees_its_result(settings):
    defs = build_defs(settings)
    with dg.instance_for_test() as instance:  # a first day, so the portal has tables to read
        assert run_partition(defs, "daily_job", "2025-06-07", instance).success
    state = settings.data_dir / "portal"
    token = TokenStore(state).create("ops", "admin")
    client = TestClient(create_app(settings.warehouse_path, settings.documents_root, state))
    headers = {"Authorization": f"Bearer {token}"}

    result: dict = {}

    def materialize() -> None:
        with dg.instance_for_test() as instance:
            result["summary"] = run_partition(defs, "daily_job", DAY, instance)

    writer = threading.Thread(target=materialize)
    writer.start()
    statuses = []
    while writer.is_alive():
        statuses.append(client.get("/api/datasets/trading_daily", headers=headers).status_code)
    writer.join()
    assert result["summary"].success, result["summary"].error
    assert len(statuses) >= 3 and set(statuses) == {200}  # answered all along, never failed
    days = {row["delivery_day"] for row in client.get("/api/datasets/trading_daily", headers=headers).json()["data"]}
    assert days == {"2025-06-07", DAY}
