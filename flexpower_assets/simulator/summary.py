"""What a simulation wrote: file counts per kind, the deliberately bad files, the planted quirks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

KINDS = [
    "crm", "technical_data", "forecast", "live", "final_production", "redispatch_flag",
    "redispatch_compensation", "private_trades", "public_trades", "imbalance_estimate",
    "imbalance_final",
]


class BadFile(NamedTuple):
    """A file the platform must reject: its path relative to the landing zone and what is wrong."""

    path: str
    problem: str


@dataclass
class SimulationSummary:
    """Counts include the bad files (they sit in the folders of their kind)."""

    landing: Path
    asset_ids: list[str]
    days: list[date]
    files: dict[str, int] = field(default_factory=dict)
    bad_files: list[BadFile] = field(default_factory=list)
    quirks: dict[str, str] = field(default_factory=dict)

    def count(self, kind: str, n: int = 1) -> None:
        self.files[kind] = self.files.get(kind, 0) + n

    def bad(self, path: Path, problem: str) -> None:
        self.bad_files.append(BadFile(path.relative_to(self.landing).as_posix(), problem))

    @property
    def files_by_kind(self) -> dict[str, int]:
        """The same as ``files``."""
        return self.files

    @property
    def total_files(self) -> int:
        return sum(self.files.values())
