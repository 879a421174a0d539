"""Sample data for day-ahead bidding (BIDDING.md): hydro plants, inflows, levels, price scenarios,
auction results, the bidding configuration, and a few bad files of the new kinds.

For every delivery day D of the period:

- ``market/price_scenarios_<D>_<D-1 06:00Z>.csv``: ``n_scenarios`` scenarios from a calibrated
  vendor: scenarios and the realised price are independent draws of the same model (a daily shape
  with morning and evening peaks and a midday dip, a day-level shift and correlated noise), so the
  realised price behaves like one more scenario;
- ``market/day_ahead_prices_<D>.csv``: that realised price (the auction result);
- ``hydro/inflow_forecast_<plant>_<D-1 06:00Z>.csv``: inflow per QH from D-1 06:00 UTC to the end of
  D (so the level measured before gate closure can be moved forward to the day start);
- ``hydro/reservoir_level_<plant>_<D-1 09:45Z>.csv``: hourly measured contents of D-1 up to 09:00 UTC.

Once: ``hydro/technical_data_<first day - 1>T050000Z.json`` (every second plant has a pump) and the
YAML configuration (clients cycling through the approval modes ``maker_checker``, ``auto``,
``external``, plus the renewable portfolio client). Deterministic for a seed; never reads the clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import yaml

from flexpower_assets.domain.time import day_window
from flexpower_assets.simulator.market import berlin_hours
from flexpower_assets.simulator.noise import rng_for, smooth_normal
from flexpower_assets.simulator.summary import SimulationSummary

UTC = timezone.utc
MTU = timedelta(minutes=15)
CLIENT_NAMES = ["ALPEN", "DONAU", "INN", "ISAR", "LECH", "ILLER", "SALZACH", "ENNS", "MUR", "DRAU"]
APPROVALS = ["maker_checker", "auto", "external"]
RENEWABLE_CLIENT = "OWN-PORTFOLIO"
ISO = "%Y-%m-%dT%H:%M:%SZ"


def simulate_bidding(out: Path, config_path: Path, start: date, days: int, seed: int, summary: SimulationSummary,
                     n_clients: int = 3, plants_per_client: int = 2, n_scenarios: int = 50,
                     renewable_assets: list[str] | None = None, bad_files: bool = True) -> None:
    """Write the bidding folders into the landing zone ``out`` and the configuration to ``config_path``."""
    if n_clients < 1 or plants_per_client < 1 or n_scenarios < 1:
        raise ValueError("at least one client, one plant per client and one scenario are needed")
    out = Path(out)
    (out / "market").mkdir(parents=True, exist_ok=True)
    (out / "hydro").mkdir(parents=True, exist_ok=True)
    days_list = [start + timedelta(days=i) for i in range(days)]
    plants = _plants(n_clients, plants_per_client, seed)
    technical_created = datetime.combine(start - timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=5)
    path = out / "hydro" / f"technical_data_{technical_created:%Y-%m-%dT%H%M%SZ}.json"
    path.write_bytes(orjson.dumps({"plants": plants}, option=orjson.OPT_INDENT_2))
    summary.count("hydro_technical_data")

    for day in days_list:
        _write_prices(out, day, n_scenarios, seed, summary)
        for plant in plants:
            _write_hydro_series(out, plant, day, seed, summary)
    _write_config(config_path, plants, n_clients, plants_per_client, n_scenarios, renewable_assets or [])
    if bad_files:
        _write_bad_files(out, days_list[0], plants[0], n_scenarios, seed, summary)


def _plants(n_clients: int, per_client: int, seed: int) -> list[dict]:
    rng = rng_for(seed, "bidding-plants")
    plants = []
    for c in range(n_clients):
        client = _client_id(c)
        for p in range(per_client):
            turbine = float(np.round(rng.uniform(20, 120), 1))
            hours = float(rng.uniform(6, 40))  # reservoir size in full-load hours
            reservoir_max = float(np.round(turbine * hours, 1))
            has_pump = (c * per_client + p) % 2 == 0
            plants.append({
                "asset_id": f"{client}-{p + 1:02d}", "client_id": client,
                "reservoir_max_mwh": reservoir_max,
                "reservoir_min_mwh": float(np.round(reservoir_max * rng.uniform(0.05, 0.15), 1)),
                "turbine_max_mw": turbine,
                "pump_max_mw": float(np.round(turbine * rng.uniform(0.4, 0.9), 1)) if has_pump else 0.0,
                "pump_efficiency": float(np.round(rng.uniform(0.75, 0.85), 3)) if has_pump else 0.0,
                "ramp_mw_per_qh": float(np.round(turbine * rng.uniform(0.2, 0.6), 1)),
                "water_value_eur_per_mwh": float(np.round(rng.uniform(45, 85), 2)),
            })
    return plants


def _client_id(index: int) -> str:
    name = CLIENT_NAMES[index % len(CLIENT_NAMES)]
    return f"HYD-{name}" if index < len(CLIENT_NAMES) else f"HYD-{name}{index // len(CLIENT_NAMES) + 1}"


def _mtus(day: date) -> list[datetime]:
    begin, end = day_window(day)
    return [begin + i * MTU for i in range(int((end - begin) / MTU))]


def price_draws(day: date, n: int, seed: int) -> np.ndarray:
    """``n`` independent draws (rows) of the day's price model, one column per MTU; the vendor's
    scenarios are draws 0..n-2 of ``price_draws(day, n_scenarios + 1, seed)``, the realised price the last."""
    mtus = _mtus(day)
    ms = np.array([int(t.timestamp() * 1000) for t in mtus], dtype=np.int64) + 450_000
    hours, _ = berlin_hours(ms)
    rng = rng_for(seed, "bidding-prices", day.toordinal())
    level = rng.uniform(60, 110)
    shape = (0.85 + 0.1 * ((hours >= 7) & (hours < 21)) + 0.3 * np.exp(-(((hours - 8) / 1.6) ** 2))
             + 0.5 * np.exp(-(((hours - 19.5) / 1.8) ** 2)))
    dip = rng.uniform(10, 60) * np.exp(-(((hours - 13) / 2.5) ** 2))
    base = level * shape - dip
    draws = np.empty((n, len(mtus)))
    for i in range(n):
        shift = rng.normal(0, 12)
        draws[i] = base + shift + 10 * smooth_normal(rng, len(mtus), 12) + 4 * rng.standard_normal(len(mtus))
    return np.round(np.clip(draws, -500, 4000), 2)


def _write_prices(out: Path, day: date, n_scenarios: int, seed: int, summary: SimulationSummary) -> None:
    mtus = _mtus(day)
    draws = price_draws(day, n_scenarios + 1, seed)
    created = datetime.combine(day - timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=6)
    starts = [t.strftime(ISO) for t in mtus]
    frame = pl.DataFrame({
        "scenario_id": np.repeat(np.arange(1, n_scenarios + 1), len(mtus)),
        "delivery_start": starts * n_scenarios,
        "price_eur_per_mwh": draws[:n_scenarios].ravel(),
    })
    frame.write_csv(out / "market" / f"price_scenarios_{day:%Y%m%d}_{created:%Y%m%dT%H%M%SZ}.csv")
    pl.DataFrame({"delivery_start": starts, "price_eur_per_mwh": draws[-1]}).write_csv(
        out / "market" / f"day_ahead_prices_{day:%Y%m%d}.csv")
    summary.count("price_scenarios")
    summary.count("day_ahead_prices")


def _write_hydro_series(out: Path, plant: dict, day: date, seed: int, summary: SimulationSummary) -> None:
    rng = rng_for(seed, "bidding-hydro", plant["asset_id"], day.toordinal())
    before = datetime.combine(day - timedelta(days=1), datetime.min.time(), UTC)
    created = before + timedelta(hours=6)
    _, end = day_window(day)
    n = int((end - created) / MTU)
    # inflow: about 3 full-load hours of the turbine a day, smooth, never negative
    mean_qh = plant["turbine_max_mw"] * 3 / 96
    inflow = np.round(np.clip(mean_qh * (1 + 0.3 * smooth_normal(rng, n, 16)), 0, None), 3)
    pl.DataFrame({"delivery_start": [(created + i * MTU).strftime(ISO) for i in range(n)],
                  "inflow_mwh": inflow}).write_csv(
        out / "hydro" / f"inflow_forecast_{plant['asset_id']}_{created:%Y%m%dT%H%MZ}.csv")
    measured = before + timedelta(hours=9, minutes=45)
    span = plant["reservoir_max_mwh"] - plant["reservoir_min_mwh"]
    level = plant["reservoir_min_mwh"] + span * rng.uniform(0.3, 0.8)
    contents = np.round(level + np.cumsum(rng.normal(0, span * 0.002, 10)), 3)
    pl.DataFrame({"measured_at": [(before + timedelta(hours=h)).strftime(ISO) for h in range(10)],
                  "content_mwh": contents}).write_csv(
        out / "hydro" / f"reservoir_level_{plant['asset_id']}_{measured:%Y%m%dT%H%MZ}.csv")
    summary.count("inflow_forecast")
    summary.count("reservoir_level")


def _write_config(path: Path, plants: list[dict], n_clients: int, per_client: int, n_scenarios: int,
                  renewable_assets: list[str]) -> None:
    clients = []
    for c in range(n_clients):
        client = _client_id(c)
        clients.append({"id": client, "name": f"{CLIENT_NAMES[c % len(CLIENT_NAMES)].title()} Wasserkraft",
                        "approval": APPROVALS[c % len(APPROVALS)], "scenarios": n_scenarios,
                        "chunk_size": max(1, min(25, n_scenarios)), "fallback": "previous_day",
                        "assets": [p["asset_id"] for p in plants if p["client_id"] == client]})
    if renewable_assets:
        clients.append({"id": RENEWABLE_CLIENT, "name": "RouteToMarket portfolio", "approval": "auto",
                        "asset_type": "renewable", "renewable_quantile": 0.5, "fallback": "zero",
                        "assets": list(renewable_assets)})
    document = {
        "market": {"timezone": "Europe/Berlin", "gate_closure": "12:00", "price_min_eur_per_mwh": -500.0,
                   "price_max_eur_per_mwh": 4000.0, "price_tick_eur_per_mwh": 0.1, "volume_step_mw": 0.1,
                   "max_points": 256},
        "stage_time_limits_s": {"dispatch": 30, "solve_per_scenario": 10, "solve_stage": 600, "aggregate": 60,
                                "submit": 30},
        "deadline_margin_min": 30,
        "policy": {"max_volume_share_of_capacity": 1.0, "min_scenario_coverage": 0.7,
                   "curtailment_price_eur_per_mwh": 0.0},
        "clients": clients,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Day-ahead bidding configuration (BIDDING.md), written by `flexpower simulate --bidding`\n"
                    + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def _write_bad_files(out: Path, day: date, plant: dict, n_scenarios: int, seed: int,
                     summary: SimulationSummary) -> None:
    """A later scenario file with a gap, technical data with a number as text, a negative inflow."""
    mtus = _mtus(day)
    created = datetime.combine(day - timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=7)
    draws = price_draws(day, 2, seed + 1)
    lines = ["scenario_id,delivery_start,price_eur_per_mwh"] + [
        f"1,{t.strftime(ISO)},{p}" for t, p in zip(mtus[:-1], draws[0][:-1])]
    path = out / "market" / f"price_scenarios_{day:%Y%m%d}_{created:%Y%m%dT%H%M%SZ}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary.count("price_scenarios")
    summary.bad(path, f"scenario 1 has prices for {len(mtus) - 1} of the day's {len(mtus)} MTUs; the earlier "
                      "file of the day applies")

    technical_created = datetime.combine(day - timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=8)
    path = out / "hydro" / f"technical_data_{technical_created:%Y-%m-%dT%H%M%SZ}.json"
    path.write_bytes(orjson.dumps({"plants": [{**plant, "turbine_max_mw": str(plant["turbine_max_mw"])}]}))
    summary.count("hydro_technical_data")
    summary.bad(path, "plants[0].turbine_max_mw is text, not a number; the earlier technical data applies")

    inflow_created = created + timedelta(minutes=30)
    start = day_window(day)[0]
    path = out / "hydro" / f"inflow_forecast_{plant['asset_id']}_{inflow_created:%Y%m%dT%H%MZ}.csv"
    path.write_text(f"delivery_start,inflow_mwh\n{start.strftime(ISO)},1.5\n{(start + MTU).strftime(ISO)},-0.4\n",
                    encoding="utf-8")
    summary.count("inflow_forecast")
    summary.bad(path, "line 3: inflow -0.4 MWh is negative; the earlier forecast applies")
