"""The landing zone: the folders the source systems drop their files into."""

from __future__ import annotations

from pathlib import Path

import dagster as dg


class LandingZone(dg.ConfigurableResource):
    """Where inbound files arrive (FORMATS.md layout), how many processes parse them, and how
    long a file must stay unchanged before it is read (a file still being written is left)."""

    path: str
    parse_workers: int = 2
    min_file_age_s: float = 60.0

    @property
    def root(self) -> Path:
        return Path(self.path)
