"""VPP files: technical data, forecast versions and live measured infeed.

- ``vpp/technical_data/technical_data_<YYYY-MM-DD>T<HHMMSS>Z.json``: daily, 12:30-13:00 UTC,
  indented JSON; ``capacity_kw`` an int in some files and a float in others.
- ``vpp/forecasts/<asset_id>_<YYYYMMDDTHHMMZ>.json``: one columnar document per asset and version
  (start, end, version in epoch ms; power in kW); a day of 1,000 assets is about 97,000 files.
- ``vpp/live/<short name>_<YYYYMMDD>.json``: one document per asset and Berlin day, about one
  point a minute with gaps, the asset under ``key.asset_id`` or ``key.entity_id``; solar slightly
  negative at night.

Both are written in one of two layouts (``LAYOUTS``):

- ``real`` (the default): as the real VPP files are, indented by two spaces, one value a line,
  epoch milliseconds as floats (``1749333600000.0``), keys in the order ``key``, ``column_ids``,
  ``units``, ``values``, and a final newline;
- ``compact``: the same documents without whitespace and with integer milliseconds, written from
  precomputed byte blocks (smaller files, and the quickest to write).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import orjson

from flexpower_assets.domain.time import UTC, day_window
from flexpower_assets.simulator.noise import rng_for, smooth_normal
from flexpower_assets.simulator.portfolio import Asset, Portfolio
from flexpower_assets.simulator.summary import SimulationSummary
from flexpower_assets.simulator.timegrid import HORIZON_QH, QH_MS, Grid, Period, to_ms
from flexpower_assets.simulator.weather import NIGHT_COS_ZENITH, AssetModel, cos_zenith

NUMPY_JSON = orjson.OPT_SERIALIZE_NUMPY
INDENTED_JSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2
REAL_LAYOUT, COMPACT_LAYOUT = "real", "compact"
LAYOUTS = (REAL_LAYOUT, COMPACT_LAYOUT)
MINUTE_MS = 60_000
TECHNICAL_DATA_LOOKBACK_DAYS = 2

# ---------------------------------------------------------------- technical data


def write_technical_data(out: Path, portfolio: Portfolio, period: Period, seed: int,
                         summary: SimulationSummary) -> None:
    rng = rng_for(seed, "technical-data")
    folder = out / "vpp" / "technical_data"
    folder.mkdir(parents=True, exist_ok=True)
    days = [period.first_day - timedelta(days=TECHNICAL_DATA_LOOKBACK_DAYS) + timedelta(days=i)
            for i in range(period.n_days + TECHNICAL_DATA_LOOKBACK_DAYS)]
    appears_at = max(1, len(days) // 2)
    newcomer = portfolio.roles["new_in_technical_data"]
    mismatch = portfolio.roles["capacity_mismatch"]
    for k, day in enumerate(days):
        floats = k == len(days) - 1 or (k > 0 and rng.random() < 0.5)
        created = datetime.combine(day, time(12, 30), tzinfo=UTC)
        created += timedelta(minutes=int(rng.integers(0, 30)))
        entries = []
        for asset in portfolio.assets:
            if asset.asset_id == newcomer and k < appears_at:
                continue
            capacity_kw = round(asset.capacity_kw * (1.1 if asset.asset_id == mismatch else 1.0))
            as_float = floats or asset.asset_id == newcomer
            entries.append(_technical_entry(asset, float(capacity_kw) if as_float else int(capacity_kw)))
        path = folder / f"technical_data_{created:%Y-%m-%dT%H%M%S}Z.json"
        path.write_bytes(orjson.dumps({"assets": entries}, option=orjson.OPT_INDENT_2) + b"\n")
        summary.count("technical_data")
    summary.quirks["new_in_technical_data"] = (
        f"{newcomer} first appears in the technical data of {days[appears_at]}")
    summary.quirks["capacity_mismatch"] = f"{mismatch}: VPP capacity_kw is 10 % above the CRM capacity"


def _technical_entry(asset: Asset, capacity_kw: int | float) -> dict:
    return {
        "asset_id": asset.asset_id,
        "name": asset.name,
        "type": asset.technology,
        "location": {"latitude": asset.latitude, "longitude": asset.longitude, "timezone": "Europe/Berlin"},
        "technical_attributes": {"capacity_kw": capacity_kw, **asset.attributes,
                                 "commissioning_date": asset.commissioning_date.isoformat()},
        "status": "operational",
        "owner": {"name": asset.owner},
    }


# ---------------------------------------------------------------- forecasts

FORECAST_TYPE_ID = "pv-forecast-real"  # what the VPP answers, wind assets included
FORECAST_COLUMNS = ["start", "end", "version", "power"]
FORECAST_UNITS = ["ms", "ms", "ms", "kW"]
FORECAST_HEAD = b'{"key":{"asset_id":"'
FORECAST_MID = (b'","type_id":"' + FORECAST_TYPE_ID.encode() + b'"},"column_ids":'
                + orjson.dumps(FORECAST_COLUMNS) + b',"units":' + orjson.dumps(FORECAST_UNITS) + b',"values":[')
FORECAST_TAIL = b"]}"


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    return layout


@dataclass
class ForecastVersions:
    """Every version of the period (grid indices), its name and its epoch-ms time columns
    (start, end, version; one row per version), and the layout of the files.

    In the compact layout the time columns are also kept as JSON bytes (``compact_columns``),
    so a file is written by joining byte blocks."""

    index: np.ndarray
    names: list[str]
    starts_ms: np.ndarray = field(repr=False)
    version_ms: np.ndarray = field(repr=False)
    layout: str = REAL_LAYOUT
    compact_columns: list[bytes] = field(default_factory=list, repr=False)

    @classmethod
    def for_period(cls, grid: Grid, period: Period, layout: str = REAL_LAYOUT) -> "ForecastVersions":
        first = grid.index(period.start) - 1  # 15 min before the first day
        last = grid.index(period.end) - 1  # the last day's end minus 15 min
        index = np.arange(first, last + 1)
        names = [f"{grid.time(int(v)):%Y%m%dT%H%MZ}" for v in index]
        starts = grid.ms[index[:, None] + np.arange(HORIZON_QH)[None, :]]
        versions = cls(index=index, names=names, starts_ms=starts, version_ms=grid.ms[index],
                       layout=check_layout(layout))
        if layout == COMPACT_LAYOUT:
            versions.compact_columns = [compact_time_columns(row, int(v)) for row, v in zip(starts, grid.ms[index])]
        return versions

    def document(self, i: int, asset_id: str, power_kw: np.ndarray) -> bytes:
        """Forecast file ``i`` of an asset, in the layout of these versions."""
        if self.layout == COMPACT_LAYOUT:
            return forecast_document(asset_id, self.compact_columns[i], power_kw)
        return real_forecast_document(asset_id, self.starts_ms[i], int(self.version_ms[i]), power_kw)


def compact_time_columns(starts_ms: np.ndarray, version_ms: int) -> bytes:
    """The start, end and version columns of a compact forecast document (integer ms), each
    followed by a comma."""
    return (orjson.dumps(starts_ms, option=NUMPY_JSON) + b","
            + orjson.dumps(starts_ms + QH_MS, option=NUMPY_JSON) + b","
            + orjson.dumps(np.full(len(starts_ms), version_ms), option=NUMPY_JSON) + b",")


def forecast_document(asset_id: str, time_columns: bytes, power_kw: np.ndarray) -> bytes:
    """A compact forecast document from its precomputed time columns."""
    return (FORECAST_HEAD + asset_id.encode() + FORECAST_MID + time_columns
            + orjson.dumps(power_kw, option=NUMPY_JSON) + FORECAST_TAIL)


def real_forecast_document(asset_id: str, starts_ms: np.ndarray, version_ms: int, power_kw: np.ndarray) -> bytes:
    """A forecast document in the real layout: indented, float epoch milliseconds."""
    starts = np.asarray(starts_ms, dtype=np.float64)
    document = {
        "key": {"asset_id": asset_id, "type_id": FORECAST_TYPE_ID},
        "column_ids": FORECAST_COLUMNS,
        "units": FORECAST_UNITS,
        "values": [starts, starts + QH_MS, np.full(len(starts), float(version_ms)),
                   np.asarray(power_kw, dtype=np.float64)],
    }
    return orjson.dumps(document, option=INDENTED_JSON) + b"\n"


def write_forecasts(out: Path, model: AssetModel, versions: ForecastVersions) -> int:
    folder = out / "vpp" / "forecasts"
    asset_id = model.spec.asset_id
    target = versions.index[:, None] + np.arange(HORIZON_QH)[None, :]
    power = np.ascontiguousarray(model.forecast(target, versions.index[:, None]))
    for i, name in enumerate(versions.names):
        (folder / f"{asset_id}_{name}.json").write_bytes(versions.document(i, asset_id, power[i]))
    return len(versions.names)


# ---------------------------------------------------------------- live


@dataclass(frozen=True)
class LivePlan:
    """How an asset's live files look: file name stem, days without a file, days keyed by entity_id."""

    stem: str
    missing_days: frozenset[date] = frozenset()
    entity_id_days: frozenset[date] = frozenset()


def live_stem(asset: Asset, alias: bool) -> str:
    """``WND01``-style short name; the alias asset is named after its park instead."""
    if alias:
        return asset.name.replace(" ", "")
    return f"{asset.asset_id[:3]}{asset.number:02d}"


def write_live(out: Path, model: AssetModel, plan: LivePlan, period: Period, seed: int,
               layout: str = REAL_LAYOUT) -> int:
    """An asset's live files: in the real layout indented with float ms, in the compact one
    without whitespace and with integer ms."""
    check_layout(layout)
    folder = out / "vpp" / "live"
    written = 0
    for day in period.days:
        if day in plan.missing_days:
            continue
        rng = rng_for(seed, "live", model.spec.asset_id, day.toordinal())
        timestamps, values = live_points(model, day, rng)
        key_name = "entity_id" if day in plan.entity_id_days else "asset_id"
        compact = layout == COMPACT_LAYOUT
        document = {
            "key": {key_name: model.spec.asset_id, "type_id": "power-measurement-live"},
            "column_ids": ["timestamp", "value", "quality"],
            "units": ["ms", "kW", "factor"],
            "values": [timestamps.astype(np.int64) if compact else timestamps, values, np.ones(len(values))],
        }
        path = folder / f"{plan.stem}_{day:%Y%m%d}.json"
        path.write_bytes(orjson.dumps(document, option=NUMPY_JSON) if compact
                         else orjson.dumps(document, option=INDENTED_JSON) + b"\n")
        written += 1
    return written


def live_points(model: AssetModel, day: date, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Minute points of a Berlin day with gaps: float epoch ms and kW."""
    grid, spec = model.grid, model.spec
    start, end = day_window(day)
    minutes = np.arange(to_ms(start), to_ms(end), MINUTE_MS, dtype=np.int64)
    i0, i1 = grid.index(start), grid.index(end)
    mids = grid.ms[i0 - 1:i1 + 1] + QH_MS // 2
    base = np.interp(minutes, mids, model.truth_kw[i0 - 1:i1 + 1])
    cap = spec.capacity_kw
    n = len(minutes)
    if spec.technology == "solar":
        values = base * (1 + 0.05 * smooth_normal(rng, n, 6)) + 0.004 * cap * rng.standard_normal(n)
        values = np.clip(values, 0.0, cap)
        night = cos_zenith(minutes, spec.latitude, spec.longitude) <= NIGHT_COS_ZENITH
        auxiliary = -rng.uniform(0.1, 0.35, n) * max(cap / 1500, 0.3)
        values = np.round(np.where(night, auxiliary, values), 7)
    else:
        values = base + cap * (0.03 * smooth_normal(rng, n, 5) + 0.01 * rng.standard_normal(n))
        values = np.round(np.clip(values, 0.0, cap) * 2) / 2
    keep = np.ones(n, dtype=bool)
    for _ in range(int(rng.poisson(2.0))):
        gap_start = int(rng.integers(1, n - 10))
        keep[gap_start:gap_start + int(rng.integers(2, 9))] = False
    if rng.random() < 0.15:
        gap_start = int(rng.integers(1, n - 45))
        keep[gap_start:gap_start + int(rng.integers(20, 41))] = False
    return minutes[keep].astype(float), values[keep]
