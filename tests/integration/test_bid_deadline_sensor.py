"""The deadline sensor: an alert per client without an accepted submission at gate closure minus
the margin (Europe/Berlin), once per client and day."""

from datetime import date, datetime, timezone

import dagster as dg
import yaml

from flexpower_assets.bidding.store import BidStore
from resources.bidding import BiddingResource
from resources.warehouse import Warehouse
from resources.warehouse_resource import WarehouseResource
from schedules.bid_sensors import bid_deadline_sensor
from tests.integration.bidding_harness import FileNotifier, alerts

CONFIG = {"deadline_margin_min": 30, "clients": [
    {"id": "HYD-A", "name": "A", "approval": "auto", "assets": ["HYD-A-01"]},
    {"id": "HYD-B", "name": "B", "approval": "auto", "assets": ["HYD-B-01"]}]}


def _evaluate(tmp_path, now, cursor=None):
    config = tmp_path / "bidding.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    context = dg.build_sensor_context(cursor=cursor, resources={
        "bidding": BiddingResource(config_path=str(config), data_dir=str(tmp_path), now=now),
        "warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb")),
        "notifier": FileNotifier(path=str(tmp_path / "alerts.jsonl"))})
    result = bid_deadline_sensor(context)
    return context, result


def test_alerts_once_per_client_after_the_deadline_only(tmp_path):
    # delivery day 2025-10-15: gate closure 2025-10-14 12:00 Berlin = 10:00 UTC; deadline 09:30 UTC
    _evaluate(tmp_path, "2025-10-14T09:29:00Z")
    assert alerts(tmp_path / "alerts.jsonl") == []
    # HYD-A has an accepted submission; HYD-B has none
    BidStore(Warehouse(tmp_path / "wh.duckdb")).record_submission(
        client_id="HYD-A", day=date(2025, 10, 15), version=1, content_hash="h", idempotency_key="k",
        status="accepted", approved_by="system", submitted_at=datetime(2025, 10, 14, 9, 0, tzinfo=timezone.utc),
        exchange_order_id="EX-1", exchange_version=1, message=None)
    context, _ = _evaluate(tmp_path, "2025-10-14T09:31:00Z")
    sent = alerts(tmp_path / "alerts.jsonl")
    assert [a["subject"] for a in sent] == ["NO accepted bid of HYD-B for 2025-10-15"]
    assert sent[0]["severity"] == "error" and "2025-10-14T09:30:00+00:00" in sent[0]["body"]
    # the next tick does not repeat the alert
    _evaluate(tmp_path, "2025-10-14T09:40:00Z", cursor=context.cursor)
    assert len(alerts(tmp_path / "alerts.jsonl")) == 1
