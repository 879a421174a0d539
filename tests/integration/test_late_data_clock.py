"""The late-data checks judge the arrival windows at the platform's clock (FLEXPOWER_NOW)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg

from flexpower_assets.definitions import build_defs
from resources.notifier import Notifier
from tests.alert_servers import WebhookServer
from tests.integration.conftest import make_settings


def test_a_replayed_day_is_judged_at_its_own_clock_not_the_wall_clock(tmp_path):
    landing = tmp_path / "landing"
    for source in ("crm", "vpp", "dso", "exchange", "imbalance"):
        (landing / source).mkdir(parents=True)
    # 2025-06-10 14:00 UTC: the technical data of 2025-06-10 was due 12:30-13:00 (+ grace) and
    # nothing arrived, so it is late *for that day*; the wall clock would name another day
    settings = replace(make_settings(landing, tmp_path), now=datetime(2025, 6, 10, 14, 0, tzinfo=UTC))
    defs = build_defs(settings)
    with dg.instance_for_test() as instance, WebhookServer() as hook:
        resources = {key: defs.resources[key] for key in ("landing", "warehouse")}
        resources["notifier"] = Notifier(webhook_url=hook.url)
        context = dg.build_sensor_context(instance=instance, definitions=defs, resources=resources)
        defs.resolve_sensor_def("late_data_sensor").evaluate_tick(context)
    texts = [message["text"] for message in hook.messages]
    technical = [text for text in texts if "technical data" in text]
    assert len(technical) == 1
    assert "the VPP technical data of 2025-06-10 (12:30-13:00 UTC)" in technical[0]
    assert "2025-06-10 13:" in technical[0]  # the deadline of that day, not of today's date
