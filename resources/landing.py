"""The landing zone: the folders the source systems drop their files into."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg

from flexpower_assets.settings import platform_clock


class LandingZone(dg.ConfigurableResource):
    """Where inbound files arrive (FORMATS.md layout), how many processes parse them, and how
    long a file must stay unchanged before it is read (a file still being written is left)."""

    path: str
    parse_workers: int = 2
    min_file_age_s: float = 60.0
    now: str = ""  # FLEXPOWER_NOW: the instant the arrival windows are judged at ("" = the clock)

    def clock(self) -> datetime:
        return platform_clock(self.now)

    @property
    def root(self) -> Path:
        return Path(self.path)
