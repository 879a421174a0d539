"""Where the landing zone and the warehouse are: the only place environment variables are read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_path: Path
    data_dir: Path
    parse_workers: int = 2
    executor: str = "in_process"  # or "multiprocess": a process per step (measured slower here)
    # a landing file is read once nothing about it changed for this long (SFTP writes in place)
    min_file_age_s: float = 60.0

    @classmethod
    def from_env(cls) -> Settings:
        landing = Path(os.environ.get("FLEXPOWER_LANDING_DIR", DATA_DIR / "landing"))
        warehouse = Path(os.environ.get("FLEXPOWER_WAREHOUSE", DATA_DIR / "warehouse" / "flexpower.duckdb"))
        data_dir = Path(os.environ.get("FLEXPOWER_DATA_DIR", DATA_DIR))
        workers = int(os.environ.get("FLEXPOWER_PARSE_WORKERS", "2"))
        executor = os.environ.get("FLEXPOWER_EXECUTOR", "in_process")
        min_age = float(os.environ.get("FLEXPOWER_MIN_FILE_AGE_S", "60"))
        return cls(landing_dir=landing.resolve(), warehouse_path=warehouse.resolve(),
                   data_dir=data_dir.resolve(), parse_workers=workers, executor=executor,
                   min_file_age_s=min_age)
