"""The bid deadline sensor: an alert when a client has no accepted submission at gate closure
minus the margin (Europe/Berlin, from the configuration), once per client and delivery day."""

from __future__ import annotations

import json

import dagster as dg

from flexpower_assets.bidding.deadline import missing_submissions, next_delivery_day
from flexpower_assets.bidding.store import BidStore
from resources.bidding import BiddingResource
from resources.notifier import Notifier
from resources.warehouse_resource import WarehouseResource


@dg.sensor(name="bid_deadline_sensor", minimum_interval_seconds=120, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Alerts when a client has no accepted bid submission at gate closure minus the margin.")
def bid_deadline_sensor(context: dg.SensorEvaluationContext, bidding: BiddingResource,
                        warehouse: WarehouseResource, notifier: Notifier):
    config, _ = bidding.load()
    now = bidding.clock()
    day = next_delivery_day(config, now)
    missing = missing_submissions(config, BidStore(warehouse.get()), day, now)
    alerted = set(json.loads(context.cursor)) if context.cursor else set()
    new = [c for c in missing if f"{day}:{c}" not in alerted]
    for client_id in new:
        notifier.notify(f"NO accepted bid of {client_id} for {day}",
                        f"deadline {config.submission_deadline_utc(day).isoformat()} (gate closure "
                        f"{config.market.gate_closure_utc(day).isoformat()} minus {config.deadline_margin_min:g} min) "
                        f"has passed without an accepted submission", "error",
                        {"client_id": client_id, "delivery_day": str(day)})
    # keep only this and the previous day's keys so the cursor stays small
    keep = {k for k in alerted if k.startswith((str(day), str(day.fromordinal(day.toordinal() - 1))))}
    context.update_cursor(json.dumps(sorted(keep | {f"{day}:{c}" for c in new})))
    if not new:
        return dg.SkipReason(f"{day}: {'no client missing' if not missing else 'already alerted'}")
    return dg.SkipReason(f"{day}: alerted for {', '.join(new)}")
