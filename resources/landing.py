"""The landing zone: the folders the source systems drop their files into."""

from __future__ import annotations

from pathlib import Path

import dagster as dg


class LandingZone(dg.ConfigurableResource):
    """Where inbound files arrive (FORMATS.md layout) and how many processes parse them."""

    path: str
    parse_workers: int = 2

    @property
    def root(self) -> Path:
        return Path(self.path)
