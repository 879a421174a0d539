"""Writing a bid case's landing files and running the bid job through Dagster (tests only).

A case (``bidding_cases/<name>.yaml``) names its plants, its scenario files, its configuration
and the outcome expected. The input files are written here from that description with fixed
formulas (no randomness), into the test's temporary folder.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from flexpower_assets.definitions import build_defs
from flexpower_assets.settings import Settings
from resources.notifier import Notifier

CASES = Path(__file__).with_name("bidding_cases")
UTC = timezone.utc


class FileNotifier(Notifier):
    """Appends every notification as a JSON line to a file of the test."""

    path: str

    def notify(self, subject: str, text: str, severity: str = "warning", context: dict | None = None) -> dict:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"subject": subject, "body": text, "severity": severity}) + "\n")
        return {"file": "sent"}


def alerts(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in override.items()}}
    return override


def load_case(name: str) -> dict[str, Any]:
    """A case file; ``base: <case>`` starts from another case and overrides its keys (lists and
    ``expected`` whole: a case states all of its own expectations)."""
    case = yaml.safe_load((CASES / f"{name}.yaml").read_text())
    if "base" in case:
        merged = _merge(load_case(case.pop("base")), case)
        merged["expected"] = case.get("expected", {})
        case = merged
    return case


def mtus(day: date) -> list[datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=2)  # October: UTC+2
    return [start + timedelta(minutes=15 * i) for i in range(96)]


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def scenario_price(scenario: int, t: int, shift: float = 0.0) -> float:
    """A day shape (cheap night, dear evening) moved per scenario: fixed numbers, no randomness."""
    return round(60 + 35 * math.sin(2 * math.pi * (t - 30) / 96 + 0.25 * scenario) + 4 * (scenario - 5) + shift, 2)


def write_scenarios(landing: Path, day: date, created: datetime, n: int, shift: float = 0.0) -> Path:
    market = landing / "market"
    market.mkdir(parents=True, exist_ok=True)
    path = market / f"price_scenarios_{day:%Y%m%d}_{created:%Y%m%dT%H%M%SZ}.csv"
    lines = ["scenario_id,delivery_start,price_eur_per_mwh"]
    for s in range(1, n + 1):
        lines += [f"{s},{_iso(ts)},{scenario_price(s, t, shift)}" for t, ts in enumerate(mtus(day))]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_day_ahead_prices(landing: Path, day: date) -> Path:
    path = landing / "market" / f"day_ahead_prices_{day:%Y%m%d}.csv"
    lines = ["delivery_start,price_eur_per_mwh"] + [f"{_iso(ts)},{scenario_price(5, t)}" for t, ts in enumerate(mtus(day))]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_plants(landing: Path, day: date, plants: list[dict[str, Any]], created: datetime) -> None:
    hydro = landing / "hydro"
    hydro.mkdir(parents=True, exist_ok=True)
    (hydro / f"technical_data_{created:%Y-%m-%dT%H%M%SZ}.json").write_text(json.dumps({"plants": [
        {k: v for k, v in p.items() if k not in ("level_mwh", "inflow_mwh_per_qh")} for p in plants]}, indent=2))
    measured = created - timedelta(hours=1)
    first = measured.replace(minute=0)
    for p in plants:
        (hydro / f"reservoir_level_{p['asset_id']}_{created:%Y%m%dT%H%MZ}.csv").write_text(
            f"measured_at,content_mwh\n{_iso(measured)},{p['level_mwh']}\n")
        steps = int((mtus(day)[-1] + timedelta(minutes=15) - first) / timedelta(minutes=15))
        rows = [f"{_iso(first + timedelta(minutes=15 * i))},{p['inflow_mwh_per_qh']}" for i in range(steps)]
        (hydro / f"inflow_forecast_{p['asset_id']}_{created:%Y%m%dT%H%MZ}.csv").write_text(
            "delivery_start,inflow_mwh\n" + "\n".join(rows) + "\n")


@dataclass
class Bench:
    """One case's temporary world: landing zone, warehouse, data dir, config, instance."""

    root: Path
    day: date
    now: str
    exchange_url: str = ""
    approval_url: str = ""

    def __post_init__(self) -> None:
        self.landing = self.root / "landing"
        self.data = self.root / "data"
        self.config_path = self.root / "bidding.yaml"
        self.alerts_path = self.root / "alerts.jsonl"
        self.instance = dg.DagsterInstance.ephemeral()

    def settings(self) -> Settings:
        from flexpower_assets.settings import parse_now
        return Settings(landing_dir=self.landing, warehouse_path=self.root / "wh.duckdb", data_dir=self.data,
                        min_file_age_s=0.0, bidding_config_path=self.config_path, now=parse_now(self.now),
                        exchange_url=self.exchange_url, external_approval_url=self.approval_url, solve_workers=2)

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def run(self, tags: dict[str, str] | None = None) -> dg.ExecuteInProcessResult:
        defs = build_defs(self.settings(), {"notifier": FileNotifier(path=str(self.alerts_path))})
        return defs.resolve_job_def("bidding_job").execute_in_process(
            partition_key=self.day.isoformat(), instance=self.instance, raise_on_error=False, tags=tags or {})

    def alerts(self) -> list[dict[str, str]]:
        return alerts(self.alerts_path)


def prepare(bench: Bench, case: dict[str, Any]) -> None:
    created = datetime.fromisoformat(case["inputs_created_at"].replace("Z", "+00:00"))
    write_plants(bench.landing, bench.day, case["plants"], created)
    first = case["scenario_files"][0]
    write_scenarios(bench.landing, bench.day, datetime.fromisoformat(first["created_at"].replace("Z", "+00:00")),
                    first["scenarios"], first.get("shift", 0.0))
    bench.write_config(case["config"])
