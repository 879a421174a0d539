"""Which clients have no accepted submission although the deadline (gate closure minus the
margin) has come, for the next delivery day in the market's time zone (no Dagster)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flexpower_assets.bidding.config import BiddingConfig
from flexpower_assets.bidding.store import BidStore


def next_delivery_day(config: BiddingConfig, now: datetime) -> date:
    """Tomorrow in the market's time zone: the day whose auction is being prepared today."""
    return now.astimezone(ZoneInfo(config.market.timezone)).date() + timedelta(days=1)


def missing_submissions(config: BiddingConfig, store: BidStore, day: date, now: datetime) -> list[str]:
    """Client ids without an accepted submission for ``day`` once its deadline has come
    (empty before the deadline)."""
    if now < config.submission_deadline_utc(day):
        return []
    return [c.id for c in config.clients if store.live_submission(c.id, day) is None]
