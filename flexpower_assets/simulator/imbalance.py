"""Imbalance price files in the official German format.

- ``imbalance/imbalance_price_estimation_<YYYY-MM-DDTHHMMSSZ>.csv``: AEP estimator, one file a day,
  each covering about three days back and two and a half days ahead of its creation time (the
  name says nothing about the content); newer files are closer to the final price.
- ``imbalance/imbalance_price_final_<YYYYMMDD>_<HHMMSS>.csv``: reBAP per UTC day, with gaps;
  published for every QH before the period's last delivery day, which has estimates only.

Semicolons, decimal comma, ``DD.MM.YYYY``, ``HH:MM`` in the zone named in ``Zeitzone`` (UTC; the
one deliberately bad file says CET and uses local time).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from flexpower_assets.domain.time import QH, UTC, day_window
from flexpower_assets.simulator.formats import german_number
from flexpower_assets.simulator.market import Market
from flexpower_assets.simulator.noise import rng_for
from flexpower_assets.simulator.summary import SimulationSummary
from flexpower_assets.simulator.timegrid import Grid, Period, utc_midnight

ESTIMATE_HEADER = "Datum;Zeitzone;von;bis;Datenkategorie;Datentyp;Einheit;AEP-Schätzer;Status"
FINAL_HEADER = "Datum;Zeitzone;von;bis;Datenkategorie;Datentyp;Einheit;reBAP unterdeckt;reBAP ueberdeckt"
ESTIMATE_LOOKBACK_DAYS = 2
STATUS = np.array(["0,00", "1,00", "2,00"])


def _slot(ts: datetime, zone: str) -> tuple[str, str, str]:
    """Datum, von, bis of the QH starting at ``ts`` in the named zone."""
    tz = UTC if zone == "UTC" else ZoneInfo("Europe/Berlin")
    start, end = ts.astimezone(tz), (ts + QH).astimezone(tz)
    return f"{start:%d.%m.%Y}", f"{start:%H:%M}", f"{end:%H:%M}"


def estimate_csv(grid: Grid, indices: range, prices: np.ndarray, status: np.ndarray,
                 zone: str = "UTC") -> str:
    lines = [ESTIMATE_HEADER]
    for i, price, flag in zip(indices, prices, status):
        datum, von, bis = _slot(grid.time(i), zone)
        lines.append(f"{datum};{zone};{von};{bis};AEP-Schätzer;Betrieblich;EUR/MWh;"
                     f"{german_number(price)};{flag}")
    return "\n".join(lines) + "\n"


def final_csv(grid: Grid, indices: list[int], short: np.ndarray, long: np.ndarray) -> str:
    lines = [FINAL_HEADER]
    for i in indices:
        datum, von, bis = _slot(grid.time(i), "UTC")
        lines.append(f"{datum};UTC;{von};{bis};reBAP;Qualitätsgesichert;EUR/MWh;"
                     f"{german_number(short[i])};{german_number(long[i])}")
    return "\n".join(lines) + "\n"


def _estimate(grid: Grid, market: Market, issued: datetime,
              rng: np.random.Generator) -> tuple[range, np.ndarray, np.ndarray]:
    """QHs from about 3 days before to 2.5 days after ``issued``, prices and status flags."""
    back = timedelta(days=float(rng.uniform(3.0, 3.5)))
    ahead = timedelta(days=float(rng.uniform(2.4, 2.6)))
    first = grid.index(grid.start + ((issued - back) - grid.start) // QH * QH)
    last = grid.index(grid.start + ((issued + ahead) - grid.start) // QH * QH)
    indices = range(first, last + 1)
    issued_index = (issued - grid.start) // QH
    future = np.array(indices) >= issued_index
    noise = rng.normal(0, 1, len(indices)) * np.where(future, 45.0, 15.0)
    prices = np.round(market.rebap_short[first:last + 1] + noise, 2)
    status = STATUS[rng.choice(3, len(indices), p=[0.97, 0.02, 0.01])]
    return indices, prices, status


def write_imbalance(out: Path, market: Market, grid: Grid, period: Period, seed: int,
                    summary: SimulationSummary) -> None:
    rng = rng_for(seed, "imbalance")
    folder = out / "imbalance"
    folder.mkdir(parents=True, exist_ok=True)
    issue_days = [period.first_day - timedelta(days=ESTIMATE_LOOKBACK_DAYS - i)
                  for i in range(period.n_days + ESTIMATE_LOOKBACK_DAYS)]
    for day in issue_days:
        issued = datetime.combine(day, time(4), tzinfo=UTC) + timedelta(minutes=int(rng.integers(0, 60)))
        indices, prices, status = _estimate(grid, market, issued, rng)
        path = folder / f"imbalance_price_estimation_{issued:%Y-%m-%dT%H%M%S}Z.csv"
        path.write_text(estimate_csv(grid, indices, prices, status), encoding="utf-8", newline="")
        summary.count("imbalance_estimate")

    # the deliberately bad file: local times, which cannot tell the repeated autumn hour apart
    issued = datetime.combine(period.first_day, time(10, 30), tzinfo=UTC)
    indices, prices, status = _estimate(grid, market, issued, rng)
    path = folder / f"imbalance_price_estimation_{issued:%Y-%m-%dT%H%M%S}Z.csv"
    path.write_text(estimate_csv(grid, indices, prices, status, zone="CET"), encoding="utf-8", newline="")
    summary.count("imbalance_estimate")
    summary.bad(path, "Zeitzone is CET (local time), only UTC is accepted")

    first = grid.index(utc_midnight(period.utc_days[0]))
    cutoff = grid.index(day_window(period.last_day)[0])
    gaps = []
    for day in period.utc_days:
        sl = grid.utc_day_slice(day)
        indices = list(range(max(sl.start, first), min(sl.stop, cutoff)))
        if not indices:
            continue
        missing: set[int] = set()
        for _ in range(int(rng.integers(1, 3))):
            start = int(rng.integers(0, len(indices)))
            missing.update(indices[start:start + int(rng.integers(2, 8))])
        kept = [i for i in indices if i not in missing]
        created = datetime.combine(day, time(15), tzinfo=UTC)
        created += timedelta(seconds=int(rng.integers(0, 3 * 3600)))
        path = folder / f"imbalance_price_final_{created:%Y%m%d_%H%M%S}.csv"
        text = final_csv(grid, kept, market.rebap_short, market.rebap_long)
        path.write_text(text, encoding="utf-8", newline="")
        summary.count("imbalance_final")
        gaps.append(f"{path.name}: {len(missing)} QHs missing")
    summary.quirks["imbalance_final_gaps"] = "; ".join(gaps)
    summary.quirks["imbalance_last_day"] = f"{period.last_day} has estimates only, no final reBAP"
