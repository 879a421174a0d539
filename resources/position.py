"""The open position's configuration as a resource: the platform clock and the warning limits.

Defaults are those of ``domain.position.PositionLimits`` (documented in the README, "Open
position"); ``now`` is the platform clock (``FLEXPOWER_NOW``, set in ``build_defs``; empty =
the wall clock). A deployment overrides the limits in the Definitions' resources.
"""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from flexpower_assets.domain.position import PositionLimits

DEFAULTS = PositionLimits()


class PositionResource(dg.ConfigurableResource):
    now: str = ""
    max_open_share_of_capacity: float = DEFAULTS.max_open_share_of_capacity
    warn_within_minutes: float = DEFAULTS.warn_within_minutes

    def clock(self) -> datetime:
        if not self.now:
            return datetime.now(timezone.utc)
        moment = datetime.fromisoformat(self.now.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

    def limits(self) -> PositionLimits:
        return PositionLimits(max_open_share_of_capacity=self.max_open_share_of_capacity,
                              warn_within_minutes=self.warn_within_minutes)
