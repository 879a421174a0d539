"""CRM: weekly contract snapshots (``crm/asset_contracts_<YYYYMMDD>_<HHMMSS>.csv``).

A full snapshot every Sunday between 04:30 and 05:00 UTC, from the Sunday a week before the
period's first Sunday on, so every day has a snapshot and one predates the period. A contract
with a ``listed_from`` date appears only in snapshots from that date on.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from flexpower_assets.domain.time import UTC
from flexpower_assets.simulator.noise import rng_for
from flexpower_assets.simulator.portfolio import Contract, Portfolio
from flexpower_assets.simulator.summary import SimulationSummary
from flexpower_assets.simulator.timegrid import Period

HEADER = ["contract_id", "asset_id", "metering_point_id", "capacity", "technology", "contract_begin",
          "contract_end", "price_model", "price", "fee_model", "fee", "fee_percent", "email"]
SNAPSHOT_NAME = re.compile(r"^asset_contracts_(\d{8})_(\d{6})\.csv$")


def snapshot_sundays(period: Period) -> list[date]:
    first_sunday = period.first_day - timedelta(days=(period.first_day.weekday() + 1) % 7)
    sundays = [first_sunday - timedelta(days=7)]
    while sundays[-1] + timedelta(days=7) <= period.last_day:
        sundays.append(sundays[-1] + timedelta(days=7))
    return sundays


def write_crm_snapshots(out: Path, portfolio: Portfolio, period: Period, seed: int,
                        summary: SimulationSummary) -> None:
    rng = rng_for(seed, "crm")
    folder = out / "crm"
    folder.mkdir(parents=True, exist_ok=True)
    for sunday in snapshot_sundays(period):
        created = datetime.combine(sunday, time(4, 30), tzinfo=UTC)
        created += timedelta(seconds=int(rng.integers(0, 1800)))
        contracts = [c for c in portfolio.contracts if c.listed_from is None or c.listed_from <= sunday]
        path = folder / f"asset_contracts_{created:%Y%m%d_%H%M%S}.csv"
        path.write_text(_snapshot_csv(contracts), encoding="utf-8", newline="")
        summary.count("crm")


def _snapshot_csv(contracts: list[Contract]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for c in sorted(contracts, key=lambda c: c.contract_id):
        writer.writerow([
            c.contract_id, c.asset_id, c.metering_point_id, f"{c.capacity_mw:.3f}", c.technology,
            c.begin.isoformat(), c.end.isoformat() if c.end else "", c.price_model, _num(c.price),
            c.fee_model, _num(c.fee), _num(c.fee_percent), c.email,
        ])
    return buffer.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


@dataclass(frozen=True)
class CrmAsset:
    asset_id: str
    technology: str
    capacity_mw: float


def read_newest_crm_assets(landing: Path) -> list[CrmAsset]:
    """Asset id, technology and capacity of every asset in the newest snapshot (by name timestamp)."""
    folder = Path(landing) / "crm"
    snapshots = sorted(
        (m.group(1) + m.group(2), p) for p in folder.glob("asset_contracts_*.csv")
        if (m := SNAPSHOT_NAME.match(p.name))
    )
    if not snapshots:
        raise FileNotFoundError(f"{folder}: no CRM snapshot asset_contracts_<YYYYMMDD>_<HHMMSS>.csv")
    path = snapshots[-1][1]
    assets: dict[str, CrmAsset] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"asset_id", "capacity", "technology"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: header lacks {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            try:
                capacity = float(row["capacity"])
            except ValueError:
                problem = f"capacity {row['capacity']!r} is not a number"
                raise ValueError(f"{path}, line {line}: {problem}") from None
            technology = row["technology"].strip()
            if technology not in ("solar", "wind"):
                raise ValueError(f"{path}, line {line}: unknown technology {technology!r}")
            assets.setdefault(row["asset_id"], CrmAsset(row["asset_id"], technology, capacity))
    return sorted(assets.values(), key=lambda a: a.asset_id)
