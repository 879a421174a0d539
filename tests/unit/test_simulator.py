"""The sample-data simulator writes every inbound kind of FORMATS.md, with its quirks, reproducibly."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from flexpower_assets.simulator import add_forecasts_and_public_trades, simulate
from flexpower_assets.simulator import jobs as simulator_jobs
from flexpower_assets.simulator.exchange import lots_for
from flexpower_assets.simulator.formats import compact_ms_z, dso_timestamp, german_number
from flexpower_assets.simulator.noise import rng_for
from flexpower_assets.simulator.weather import cos_zenith

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
START = date(2025, 6, 7)  # Saturday; Berlin days 2025-06-07, -08, -09 (summer time, 96 QHs each)
DAYS = 3
N_ASSETS = 6
SEED = 11
PUBLIC_PER_DAY = 300

# file names of FORMATS.md, one pattern per kind
NAME_PATTERNS = {
    "crm": ("crm", r"asset_contracts_\d{8}_\d{6}\.csv"),
    "technical_data": ("vpp/technical_data", r"technical_data_\d{4}-\d{2}-\d{2}T\d{6}Z\.json"),
    "forecast": ("vpp/forecasts", r"(?:SOL|WND)-DE-\d{3}_\d{8}T\d{4}Z\.json"),
    "live": ("vpp/live", r".+_\d{8}\.json"),
    "final_production": ("dso", r"final_production_MP-(?:SOL|WND)-\d{3}_\d{8}\.csv"),
    "redispatch_flag": ("dso", r"redispatch_flag_MP-WND-\d{3}_\d{8}_\d{4}\.csv"),
    "redispatch_compensation": ("dso", r"redispatch_compensation_\d{4}-\d{2}-\d{2}\.csv"),
    "private_trades": ("exchange", r"Private_Trades-\d{8}-\d{8}T\d{9}Z\.csv"),
    "public_trades": ("exchange", r"Public_Trades-\d{8}-\d{8}T\d{9}Z\.csv"),
    "imbalance_estimate": ("imbalance", r"imbalance_price_estimation_\d{4}-\d{2}-\d{2}T\d{6}Z\.csv"),
    "imbalance_final": ("imbalance", r"imbalance_price_final_\d{8}_\d{6}\.csv"),
}
DSO_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.000000 UTC$")
EXCHANGE_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00$")
TRADE_HEADER = "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit"


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    out = tmp_path_factory.mktemp("landing") / "zone"
    summary = simulate(out, N_ASSETS, START, DAYS, SEED, public_trades_per_day=PUBLIC_PER_DAY)
    return out, summary


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def kind_files(out: Path, kind: str) -> list[Path]:
    folder, pattern = NAME_PATTERNS[kind]
    return sorted(p for p in (out / folder).iterdir() if re.fullmatch(pattern, p.name))


def bad_paths(summary) -> set[str]:
    return {b.path for b in summary.bad_files}


def good_files(out: Path, summary, kind: str) -> list[Path]:
    return [p for p in kind_files(out, kind) if p.relative_to(out).as_posix() not in bad_paths(summary)]


def read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def ms_to_utc(ms: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


# ---------------------------------------------------------------- determinism


def test_same_seed_writes_identical_bytes(landing, tmp_path):
    out, _ = landing
    simulate(tmp_path / "again", N_ASSETS, START, DAYS, SEED, public_trades_per_day=PUBLIC_PER_DAY)
    first, second = files_of(out), files_of(tmp_path / "again")
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_different_seed_writes_different_content(landing, tmp_path):
    out, _ = landing
    simulate(tmp_path / "other", N_ASSETS, START, DAYS, SEED + 1, public_trades_per_day=PUBLIC_PER_DAY)
    name = "vpp/forecasts/WND-DE-001_20250608T1000Z.json"  # a version both runs have
    assert (out / name).read_bytes() != (tmp_path / "other" / name).read_bytes()
    crm_a = [p.read_bytes() for p in kind_files(out, "crm")]
    crm_b = [p.read_bytes() for p in kind_files(tmp_path / "other", "crm")]
    assert crm_a != crm_b


def test_process_pool_writes_the_same_bytes_as_one_process(tmp_path, monkeypatch):
    simulate(tmp_path / "serial", 4, START, 1, SEED, public_trades_per_day=50)
    monkeypatch.setattr(simulator_jobs, "PARALLEL_FROM_ASSETS", 1)
    simulate(tmp_path / "pooled", 4, START, 1, SEED, public_trades_per_day=50)
    assert files_of(tmp_path / "serial") == files_of(tmp_path / "pooled")


def test_refuses_a_non_empty_folder_and_too_few_assets(tmp_path):
    (tmp_path / "zone").mkdir()
    (tmp_path / "zone" / "old.csv").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        simulate(tmp_path / "zone", 5, START, 1, SEED)
    with pytest.raises(ValueError, match="at least 3 assets"):
        simulate(tmp_path / "fresh", 2, START, 1, SEED)


# ---------------------------------------------------------------- layout and counts


def test_every_file_is_in_its_folder_with_a_formats_name_and_counted(landing):
    out, summary = landing
    all_files = {p for p in out.rglob("*") if p.is_file()}
    matched = set()
    for kind in NAME_PATTERNS:
        found = kind_files(out, kind)
        assert len(found) == summary.files[kind] > 0, kind
        matched.update(found)
    assert all_files == matched  # nothing outside the FORMATS.md layout
    assert summary.total_files == len(all_files)


def test_counts_per_kind(landing):
    _, summary = landing
    # forecast versions: 3 days x 96 QHs + the version 15 min before the first day = 289 per asset,
    # 6 assets -> 1734, plus the one off-quarter-hour version
    assert summary.files["forecast"] == 6 * (3 * 96 + 1) + 1 == 1735
    # live: 6 assets x 3 days, minus the one asset-day without live data
    assert summary.files["live"] == 6 * 3 - 1 == 17
    # final production: UTC days 06-06 .. 06-09 (the Berlin days start at 22:00 UTC the day before)
    # = 4 per metering point -> 24, minus 1 missing, plus 1 correction and 1 broken re-delivery
    assert summary.files["final_production"] == 6 * 4 - 1 + 1 + 1 == 25
    # CRM: Sundays 2025-06-01 (on or before the first day) and 2025-06-08, plus 2025-05-25 before
    assert summary.files["crm"] == 3
    # technical data: one a day from two days before the period: 06-05 .. 06-09
    assert summary.files["technical_data"] == 5
    # one private export a day plus the two bad re-exports; one public export a day plus the empty one
    assert summary.files["private_trades"] == 3 + 2
    assert summary.files["public_trades"] == 3 + 1
    assert summary.asset_ids == ["SOL-DE-001", "SOL-DE-002", "WND-DE-001", "WND-DE-002", "WND-DE-003",
                                 "WND-DE-004"]
    assert summary.days == [date(2025, 6, 7), date(2025, 6, 8), date(2025, 6, 9)]


def kind_of(out: Path, relative: str) -> str:
    return next(kind for kind in NAME_PATTERNS if out / relative in kind_files(out, kind))


def test_bad_files_are_recorded_and_bad(landing):
    out, summary = landing
    kinds = sorted(kind_of(out, path) for path, _ in summary.bad_files)
    assert kinds == ["final_production", "forecast", "imbalance_estimate", "private_trades", "private_trades",
                     "public_trades"]
    by_kind = {kind_of(out, path): out / path for path, _ in summary.bad_files if "Private" not in path}
    unit, extra = sorted(out / path for path, _ in summary.bad_files if "Private" in path)
    assert {line.rsplit(";", 1)[1] for line in unit.read_text().splitlines()[2:]} == {"GWH"}
    assert extra.read_text().splitlines()[3].startswith('"') and extra.read_text().splitlines()[3].count(";") == 9
    version = re.search(r"T(\d{2})(\d{2})Z\.json$", by_kind["forecast"].name)
    assert int(version.group(2)) % 15 != 0
    document = json.loads(by_kind["forecast"].read_bytes())
    assert ms_to_utc(document["values"][2][0]).minute % 15 == 7
    assert "1O4.25" in by_kind["final_production"].read_text()
    assert read_csv(by_kind["imbalance_estimate"], ";")[1][1] == "CET"
    assert by_kind["public_trades"].stat().st_size == 0
    assert all(problem for _, problem in summary.bad_files)


# ---------------------------------------------------------------- CRM


def test_crm_snapshots_are_sunday_mornings_with_the_planted_contracts(landing):
    out, summary = landing
    snapshots = kind_files(out, "crm")
    stamps = [datetime.strptime(p.name[16:31], "%Y%m%d_%H%M%S") for p in snapshots]
    assert [s.date() for s in stamps] == [date(2025, 5, 25), date(2025, 6, 1), date(2025, 6, 8)]
    assert all(s.weekday() == 6 and (4, 30) <= (s.hour, s.minute) < (5, 0) for s in stamps)
    rows = [read_csv(p) for p in snapshots]
    assert rows[0][0] == ["contract_id", "asset_id", "metering_point_id", "capacity", "technology",
                          "contract_begin", "contract_end", "price_model", "price", "fee_model", "fee",
                          "fee_percent", "email"]
    newest = {r[0]: r for r in rows[-1][1:]}
    assert all(re.fullmatch(r"\d+\.\d{3}", r[3]) for r in newest.values())
    # the inconsistent one: fixed without price, fixed_as_produced without fee but with fee_percent
    assert newest["CON1_WND-DE-003"][7:12] == ["fixed", "", "fixed_as_produced", "", "7.0"]
    assert {r[7] for r in newest.values()} == {"fixed", "market"}
    fee_models = {r[9] for r in newest.values()}
    assert fee_models == {"fixed_as_produced", "fixed_for_capacity", "percent_of_market"}
    starting = re.match(r"(CON1_\S+) begins (\S+)", summary.quirks["contract_starts"])
    assert starting.group(1) not in {r[0] for r in rows[0][1:]}  # not yet in the earliest snapshot
    assert newest[starting.group(1)][5] == "2025-06-08"  # begins on the middle day of the period
    ending = re.match(r"(CON1_\S+) ends (\S+)", summary.quirks["contract_ends"])
    assert newest[ending.group(1)][6] == "2025-06-08"  # active 06-07 only


# ---------------------------------------------------------------- VPP


def test_technical_data_capacities_int_and_float_and_one_mismatch(landing):
    out, summary = landing
    files = kind_files(out, "technical_data")
    documents = [json.loads(p.read_bytes()) for p in files]
    capacities = [a["technical_attributes"]["capacity_kw"] for d in documents for a in d["assets"]]
    assert {type(c) for c in capacities} == {int, float}
    crm = {r[1]: float(r[3]) for r in read_csv(kind_files(out, "crm")[-1])[1:]}
    newest = {a["asset_id"]: a["technical_attributes"]["capacity_kw"] for a in documents[-1]["assets"]}
    disagree = sorted(a for a in newest if round(crm[a] * 1000) != newest[a])
    assert disagree == [summary.quirks["capacity_mismatch"].split(":")[0]]
    asset = disagree[0]
    assert newest[asset] == round(crm[asset] * 1000 * 1.1)  # 10 % above the CRM capacity
    newcomer = summary.quirks["new_in_technical_data"].split()[0]
    present = [newcomer in {a["asset_id"] for a in d["assets"]} for d in documents]
    # five files, the newcomer appears in the third (index 5 // 2 = 2)
    assert present == [False, False, True, True, True]
    created = [datetime.strptime(p.name[15:32], "%Y-%m-%dT%H%M%S") for p in files]
    assert all((12, 30) <= (c.hour, c.minute) < (13, 0) for c in created)


def test_forecast_versions_every_quarter_hour_covering_48_hours(landing):
    out, summary = landing
    crm = {r[1]: float(r[3]) * 1000 for r in read_csv(kind_files(out, "crm")[-1])[1:]}
    files = good_files(out, summary, "forecast")
    versions = sorted({p.stem.split("_")[1] for p in files})
    # first: 15 min before 2025-06-07 00:00 Berlin (22:00 UTC the day before) = 21:45 UTC on 06-06;
    # last: the end of 2025-06-09 (22:00 UTC) minus 15 min = 21:45 UTC on 06-09
    assert versions[0] == "20250606T2145Z" and versions[-1] == "20250609T2145Z"
    assert len(versions) == 289
    assert all(int(v[11:13]) % 15 == 0 for v in versions)
    sample = [p for p in files if p.stem.endswith(("T0000Z", "T1130Z"))]
    for path in sample:
        document = json.loads(path.read_bytes())
        assert document["key"] == {"asset_id": path.stem.split("_")[0], "type_id": "pv-forecast-real"}
        assert document["column_ids"] == ["start", "end", "version", "power"]
        assert document["units"] == ["ms", "ms", "ms", "kW"]
        start, end, version, power = document["values"]
        assert len(start) == 192  # 48 h of quarter-hours
        version_time = datetime.strptime(path.stem.split("_")[1], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert ms_to_utc(start[0]) == version_time and set(version) == {start[0]}
        assert {e - s for s, e in zip(start, end)} == {900_000}
        assert all(0 <= p <= crm[document["key"]["asset_id"]] for p in power)


def test_solar_forecasts_are_zero_at_night(landing):
    out, _ = landing
    document = json.loads((out / "vpp/forecasts/SOL-DE-001_20250607T1200Z.json").read_bytes())
    start, _, _, power = document["values"]
    night = [p for s, p in zip(start, power) if ms_to_utc(s).hour in (22, 23, 0, 1)]  # 00:00-04:00 Berlin
    assert night and set(night) == {0.0}
    day = [p for s, p in zip(start, power) if ms_to_utc(s).hour in (9, 10, 11)]
    assert max(day) > 0


def test_forecast_error_grows_with_lead_time(landing):
    out, _ = landing
    # 2025-06-08 10:00-12:00 UTC seen 1 h ahead (version 09:00-11:00) and 30 h ahead
    finals = {}
    for path in (out / "dso").glob("final_production_MP-WND-*_20250609.csv"):
        mp = path.name.split("_")[2]
        for row in read_csv(path)[1:]:
            finals[(mp.replace("MP-", "").replace("-", "-DE-"), row[0][:16])] = float(row[1])
    errors = {"short": [], "long": []}
    for (asset, slot), actual in finals.items():
        if not "10:00" <= slot[11:] < "12:00":
            continue
        target = datetime.strptime(slot, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        for lead, hours in (("short", 1), ("long", 30)):
            version = target - timedelta(hours=hours)
            document = json.loads((out / f"vpp/forecasts/{asset}_{version:%Y%m%dT%H%MZ}.json").read_bytes())
            errors[lead].append(abs(document["values"][3][4 * hours] - actual))
    assert np.mean(errors["short"]) < np.mean(errors["long"])


def test_live_files_quirks(landing):
    out, summary = landing
    files = kind_files(out, "live")
    keys, negative_night, gaps = Counter(), 0, 0
    for path in files:
        text = path.read_text()
        document = json.loads(text)
        keys.update(k for k in document["key"] if k != "type_id")
        assert document["column_ids"] == ["timestamp", "value", "quality"]
        assert document["units"] == ["ms", "kW", "factor"]
        timestamps, values, _ = document["values"]
        assert all(isinstance(t, float) for t in timestamps) and '000.0,' in text  # epoch ms as floats
        steps = np.diff(timestamps) / 60_000
        assert steps.min() == 1
        gaps += int((steps > 1).sum())
        if path.name.startswith("SOL"):
            negative_night += sum(1 for t, v in zip(timestamps, values) if v < 0 and ms_to_utc(t).hour == 0)
    assert keys["entity_id"] >= 1 and keys["asset_id"] >= 1
    assert gaps > 0
    assert negative_night > 0
    missing = re.match(r"(\S+) has no live file for (\S+)", summary.quirks["live_missing"])
    keys_of = [json.loads(p.read_bytes())["key"] for p in files]
    keyed = {(key.get("asset_id") or key["entity_id"], p.stem[-8:]) for key, p in zip(keys_of, files)}
    assert (missing.group(1), missing.group(2).replace("-", "")) not in keyed
    # first point at Berlin midnight (22:00 UTC), one file per Berlin day
    first = json.loads(files[0].read_bytes())["values"][0][0]
    assert ms_to_utc(first).strftime("%H:%M") == "22:00"


def live_document(out: Path, asset_id: str, day: str) -> dict:
    """The live file of an asset and day, found by its key (file names are not reliable)."""
    for path in (out / "vpp/live").glob(f"*_{day}.json"):
        document = json.loads(path.read_bytes())
        if asset_id in document["key"].values():
            return document
    raise LookupError(asset_id)


def test_live_agrees_with_final_production(landing):
    out, _ = landing
    document = live_document(out, "WND-DE-001", "20250608")
    live = {}
    for t, v in zip(document["values"][0], document["values"][1]):
        slot = ms_to_utc(t).replace(minute=ms_to_utc(t).minute // 15 * 15)
        live.setdefault(slot, []).append(v)
    rows = read_csv(out / "dso/final_production_MP-WND-001_20250609.csv")[1:]
    final = {datetime.strptime(r[0], "%Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=UTC): float(r[1])
             for r in rows}
    capacity = {r[1]: float(r[3]) * 1000 for r in read_csv(kind_files(out, "crm")[-1])[1:]}["WND-DE-001"]
    differences = [abs(np.mean(v) - final[s]) for s, v in live.items() if s in final]
    assert len(differences) > 80
    assert np.mean(differences) < 0.08 * capacity


# ---------------------------------------------------------------- DSO


def test_final_production_format_missing_file_and_correction(landing):
    out, summary = landing
    files = kind_files(out, "final_production")
    path = out / "dso/final_production_MP-SOL-001_20250608.csv"
    rows = read_csv(path)
    assert rows[0] == ["delivery_start__utc_", "MP-SOL-001__kw_"]
    assert len(rows) == 1 + 96 and rows[1][0] == "2025-06-07 00:00:00.000000 UTC"
    assert all(DSO_TS.match(r[0]) for r in rows[1:])
    assert float(rows[1][1]) == 0.0  # 02:00 Berlin: solar at night
    missing = re.match(r"(\S+) has no final production for UTC day (\S+)", summary.quirks["final_missing"])
    delivered = date.fromisoformat(missing.group(2)) + timedelta(days=1)
    assert not (out / f"dso/final_production_{missing.group(1)}_{delivered:%Y%m%d}.csv").exists()
    assert len([p for p in files if missing.group(1) in p.name]) == 3  # 4 UTC days minus the missing one
    correction = out / "dso" / summary.quirks["final_correction"].split()[0]
    mp = correction.name.split("_")[2]
    day = date.fromisoformat(summary.quirks["final_correction"].split(" of ")[1][:10])
    original = read_csv(out / f"dso/final_production_{mp}_{day + timedelta(days=1):%Y%m%d}.csv")[1:]
    corrected = read_csv(correction)[1:]
    # the correction covers 09:00-13:00 UTC: 4 h x 4 = 16 QHs, a part of the day
    assert len(corrected) == 16 and corrected[0][0] == f"{day} 09:00:00.000000 UTC"
    before = {r[0]: float(r[1]) for r in original}
    changed = [r for r in corrected if float(r[1]) != before[r[0]]]
    # the original read 30 % low from 10:00 to 12:00: original = round(0.7 x corrected, 3)
    assert {r[0][11:16] for r in changed} <= {f"{h:02d}:{m:02d}" for h in (10, 11) for m in (0, 15, 30, 45)}
    assert changed and all(abs(before[r[0]] - round(0.7 * float(r[1]), 3)) < 0.002 for r in changed)


def test_redispatch_flags_and_compensation(landing):
    out, _ = landing
    flags = kind_files(out, "redispatch_flag")
    assert flags
    for path in flags:
        rows = read_csv(path)
        assert rows[0] == ["delivery_start", "delivery_end", "is_redispatched"]
        for start, end, flag in rows[1:]:
            begin = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ")
            assert datetime.strptime(end, "%Y-%m-%dT%H:%M:%SZ") - begin == timedelta(minutes=15)
            assert flag == "1"
    [compensation] = kind_files(out, "redispatch_compensation")
    rows = read_csv(compensation)
    assert rows[0] == ["delivery_start__utc_", "delivery_end__utc_", "price__euro_per_mwh_"]
    # 2025-06-06 00:00 (the UTC day the first Berlin day starts in) to 2025-06-10 00:00 inclusive:
    # 4 days x 96 + 1 = 385 rows
    assert len(rows) - 1 == 385
    assert rows[1][0] == "2025-06-06 00:00:00.000000 UTC"
    assert rows[-1][0] == "2025-06-10 00:00:00.000000 UTC"
    assert all(DSO_TS.match(r[0]) and DSO_TS.match(r[1]) for r in rows[1:])


# ---------------------------------------------------------------- exchange


def test_trade_exports_layout_products_and_duplicate(landing):
    out, summary = landing
    ids_per_export = {}
    for kind in ("private_trades", "public_trades"):
        for path in good_files(out, summary, kind):
            lines = path.read_text().splitlines()
            title = "Private Trades" if kind == "private_trades" else "Public Trades"
            stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
            assert re.fullmatch(rf"# {title} - \d{{4}}-\d\d-\d\d - {stamp};{{8}}", lines[0])
            assert lines[1] == TRADE_HEADER
            rows = [line.split(";") for line in lines[2:]]
            assert all(len(r) == 9 and r[6] == "EUR" and r[8] == "MWH" for r in rows)
            assert all(EXCHANGE_TS.match(r[i]) for r in rows for i in (2, 3, 4))
            durations = {(datetime.fromisoformat(r[3]) - datetime.fromisoformat(r[2])) for r in rows}
            assert durations == {timedelta(hours=1), timedelta(minutes=15)}
            assert all(datetime.fromisoformat(r[4]) < datetime.fromisoformat(r[2]) for r in rows)
            ids_per_export[path.name] = {r[0] for r in rows}
    private = [n for n in ids_per_export if n.startswith("Private")]
    shared = set.intersection(*(ids_per_export[n] for n in (private[0], private[-1])))
    assert len(shared) == 1
    assert summary.quirks["duplicate_trade"].startswith(f"TradeId {shared.pop()} ")


def test_private_trades_sell_the_forecast_in_small_lots(landing):
    out, summary = landing
    rows = [line.split(";") for p in good_files(out, summary, "private_trades")
            for line in p.read_text().splitlines()[2:]]
    sides = Counter(r[1] for r in rows)
    assert sides["SELL"] > sides["BUY"] > 0
    volumes = {float(r[7]) for r in rows}
    assert min(volumes) >= 0.05 and max(volumes) <= 0.8
    assert any(re.search(r":\d{2}\.\d{6}\+", r[4]) for r in rows)  # milliseconds, as in the real export


def test_public_trade_count_does_not_depend_on_the_portfolio(landing, tmp_path):
    out, summary = landing
    small = simulate(tmp_path / "small", 3, START, DAYS, SEED, public_trades_per_day=PUBLIC_PER_DAY)

    def rows_per_day(root, s):
        exports = good_files(root, s, "public_trades")
        return {p.name[14:22]: len(p.read_text().splitlines()) - 2 for p in exports}

    assert rows_per_day(out, summary) == {"20250607": 300, "20250608": 300, "20250609": 300}
    assert rows_per_day(tmp_path / "small", small) == rows_per_day(out, summary)


# ---------------------------------------------------------------- imbalance


def test_imbalance_files_german_format_gaps_and_last_day(landing):
    out, summary = landing
    estimates = good_files(out, summary, "imbalance_estimate")
    for path in estimates:
        rows = read_csv(path, ";")
        assert rows[0] == ["Datum", "Zeitzone", "von", "bis", "Datenkategorie", "Datentyp", "Einheit",
                           "AEP-Schätzer", "Status"]
        assert {r[1] for r in rows[1:]} == {"UTC"}
        assert all(re.fullmatch(r"-?\d+,\d{2}", r[7]) for r in rows[1:])
        assert {r[8] for r in rows[1:]} <= {"0,00", "1,00", "2,00"}
        assert all(re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", r[0]) for r in rows[1:])
        assert all(r[3] == "00:00" for r in rows[1:] if r[2] == "23:45")
        named = datetime.strptime(path.name[27:44], "%Y-%m-%dT%H%M%S").date()
        first = datetime.strptime(rows[1][0], "%d.%m.%Y").date()
        assert first < named - timedelta(days=2)  # the content starts days before the name says
    statuses = Counter(r[8] for p in estimates for r in read_csv(p, ";")[1:])
    assert statuses["0,00"] > statuses["1,00"] + statuses["2,00"] > 0

    finals = kind_files(out, "imbalance_final")
    slots = set()
    for path in finals:
        rows = read_csv(path, ";")
        assert rows[0][7:] == ["reBAP unterdeckt", "reBAP ueberdeckt"]
        assert {r[4] for r in rows[1:]} == {"reBAP"} and {r[5] for r in rows[1:]} == {"Qualitätsgesichert"}
        slots.update(datetime.strptime(f"{r[0]} {r[2]}", "%d.%m.%Y %H:%M") for r in rows[1:])
    # a full UTC day has 96 QHs: the 06-07 file misses some
    day_0607 = [s for s in slots if s.date() == date(2025, 6, 7)]
    assert 80 < len(day_0607) < 96
    # the last Berlin day (2025-06-09 = 06-08 22:00 .. 06-09 22:00 UTC) has no final price at all
    assert max(slots) < datetime(2025, 6, 8, 22, 0)


# ---------------------------------------------------------------- daylight saving


@pytest.mark.parametrize(("day", "expected_qhs"), [(date(2025, 3, 30), 92), (date(2025, 10, 26), 100)])
def test_dst_days_have_92_and_100_quarter_hours(tmp_path, day, expected_qhs):
    summary = simulate(tmp_path / "dst", 3, day, 1, SEED, public_trades_per_day=40)
    out = tmp_path / "dst"
    missing_mp = summary.quirks["final_missing"].split()[0]
    mp = next(m for m in ("MP-SOL-001", "MP-WND-001", "MP-WND-002") if m != missing_mp)
    # the Berlin day spans two UTC days, delivered the next day each: files named D and D+1
    starts = []
    for delivered in (day, day + timedelta(days=1)):
        rows = read_csv(tmp_path / f"dst/dso/final_production_{mp}_{delivered:%Y%m%d}.csv")[1:]
        starts += [datetime.strptime(r[0], "%Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=UTC) for r in rows]
    berlin_start = datetime(day.year, day.month, day.day, tzinfo=BERLIN).astimezone(UTC)
    # Berlin midnight is 23:00 UTC in winter time (before 03-30) and 22:00 UTC in summer time (before 10-26)
    assert berlin_start.hour == (23 if day.month == 3 else 22)
    in_day = [s for s in starts if s.astimezone(BERLIN).date() == day]
    assert len(in_day) == expected_qhs
    assert min(in_day) == berlin_start
    # versions: one per QH of the day plus the one 15 min before, 3 assets, plus the bad one
    assert summary.files["forecast"] == 3 * (expected_qhs + 1) + 1
    # live: points from the day's first minute to its last (23 h = 1380 or 25 h = 1500 minutes)
    live = json.loads(sorted((out / "vpp/live").iterdir())[0].read_bytes())["values"][0]
    assert ms_to_utc(live[0]) == berlin_start
    assert (live[-1] - live[0]) / 60_000 == expected_qhs * 15 - 1


# ---------------------------------------------------------------- completing real files


def test_add_forecasts_and_public_trades_for_the_newest_crm_snapshot(tmp_path):
    crm = tmp_path / "crm"
    crm.mkdir()
    header = ("contract_id,asset_id,metering_point_id,capacity,technology,contract_begin,contract_end,"
              "price_model,price,fee_model,fee,fee_percent,email\n")
    (crm / "asset_contracts_20250601_043417.csv").write_text(
        header + "CON1_WND-DE-009,WND-DE-009,MP-WND-009,9.0,wind,2024-09-01,,market,,"
        "percent_of_market,,7.0,a@b.de\n")
    (crm / "asset_contracts_20250608_043831.csv").write_text(
        header
        + "CON1_SOL-DE-001,SOL-DE-001,MP-SOL-001,1.088,solar,2024-03-01,,fixed,85.0,fixed_as_produced,2.5,,"
        "a@b.de\n"
        + "CON1_WND-DE-002,WND-DE-002,MP-WND-002,6.6,wind,2024-09-01,,market,,percent_of_market,,7.0,"
        "c@d.de\n")
    summary = add_forecasts_and_public_trades(tmp_path, date(2025, 6, 8), 1, SEED, public_trades_per_day=200)
    assert summary.asset_ids == ["SOL-DE-001", "WND-DE-002"]  # the newest snapshot only
    # 96 QHs of 2025-06-08 + the version 15 min before = 97 versions per asset
    assert summary.files["forecast"] == 2 * 97
    forecasts = sorted((tmp_path / "vpp/forecasts").iterdir())
    assert len(forecasts) == 194 and forecasts[0].name == "SOL-DE-001_20250607T2145Z.json"
    capacity = {"SOL-DE-001": 1088.0, "WND-DE-002": 6600.0}
    peaks = {}
    for path in forecasts:
        asset = path.name.split("_")[0]
        start, _, _, power = json.loads(path.read_bytes())["values"]
        assert 0 <= min(power) and max(power) <= capacity[asset]
        peaks[asset] = max(peaks.get(asset, 0), max(power))
        if asset == "SOL-DE-001":
            assert {p for s, p in zip(start, power) if ms_to_utc(s).hour in (22, 23, 0)} == {0.0}
    assert peaks["SOL-DE-001"] > 0.2 * 1088 and peaks["WND-DE-002"] > 0
    [public] = list((tmp_path / "exchange").iterdir())
    assert public.name.startswith("Public_Trades-20250608-")
    assert len(public.read_text().splitlines()) == 2 + 200
    assert summary.files["public_trades"] == 1 and summary.bad_files == []


# ---------------------------------------------------------------- small helpers


def test_text_forms():
    assert german_number(-14.349) == "-14,35"
    assert german_number(87.1) == "87,10"
    ts = datetime(2025, 6, 9, 0, 5, 16, 7000, tzinfo=UTC)
    assert compact_ms_z(ts) == "20250609T000516007Z"
    assert dso_timestamp(datetime(2025, 6, 8, 23, 45, tzinfo=UTC)) == "2025-06-08 23:45:00.000000 UTC"


def test_lots_add_up_to_the_volume_to_the_lot_below():
    lots = lots_for(3.37, rng_for(1, "test"))
    # 3.37 MW: lots of 0.05-0.8 MW summing to at most 3.37 and more than 3.37 - 0.05 = 3.32
    assert 3.32 < lots.sum() <= 3.37 + 1e-9
    assert lots.min() >= 0.05 and lots.max() <= 0.8
    assert len(lots_for(0.04, rng_for(1, "test"))) == 0  # below the smallest lot: nothing to trade


def test_sun_position_at_equinox_noon():
    # 2025-03-20 12:00 UTC at 52 N, 0 E: declination ~0, equation of time ~ -7.5 min (hour angle
    # ~ -1.9 deg): cos(zenith) = cos(52 deg) * cos(1.9 deg) = 0.6157 * 0.9995 = 0.615
    ms = np.array([datetime(2025, 3, 20, 12, tzinfo=UTC).timestamp() * 1000])
    assert cos_zenith(ms, 52.0, 0.0)[0] == pytest.approx(0.615, abs=0.01)
    # midnight: the sun is below the horizon
    midnight = np.array([datetime(2025, 3, 20, 0, tzinfo=UTC).timestamp() * 1000])
    assert cos_zenith(midnight, 52.0, 0.0)[0] < 0



def test_vpp_files_are_written_in_the_real_layout_by_default(landing):
    out, _summary = landing
    for path in (out / "vpp/forecasts/SOL-DE-001_20250607T1200Z.json", sorted((out / "vpp/live").iterdir())[0]):
        text = path.read_text()
        lines = text.splitlines()
        # as the real VPP files: two-space indent, one value a line, a final newline, keys in this order
        assert lines[0] == "{" and lines[1] == '  "key": {' and text.endswith("}\n")
        assert list(json.loads(text)) == ["key", "column_ids", "units", "values"]
        first_ms = next(line.strip() for line in lines if line.startswith("      1"))
        # epoch milliseconds as floats: 13 digits, then ".0,"
        assert re.fullmatch(r"1\d{12}\.0,", first_ms), first_ms


def test_the_compact_layout_holds_the_same_values_as_the_real_one(tmp_path):
    real, compact = tmp_path / "real", tmp_path / "compact"
    simulate(real, 3, date(2025, 6, 8), 1, SEED, public_trades_per_day=50)
    simulate(compact, 3, date(2025, 6, 8), 1, SEED, public_trades_per_day=50, layout="compact")
    for folder in ("vpp/forecasts", "vpp/live"):
        names = sorted(p.name for p in (real / folder).iterdir())
        assert names == sorted(p.name for p in (compact / folder).iterdir())
        for name in names:
            indented, plain = (root / folder / name for root in (real, compact))
            text = plain.read_text()
            assert "\n" not in text and ".0," not in text.split('"values":')[1].split("],")[0]
            # the same document: float ms 1749333600000.0 == integer ms 1749333600000
            assert json.loads(indented.read_bytes()) == json.loads(text), name
    with pytest.raises(ValueError, match="unknown layout 'pretty'"):
        simulate(tmp_path / "other", 3, date(2025, 6, 8), 1, SEED, layout="pretty")


def test_the_planted_trade_reexports_are_rejected_naming_line_and_problem(landing, tmp_path):
    from flexpower_assets.ingestion.catalog import sync_landing
    from resources.warehouse import Warehouse

    out, summary = landing
    report = sync_landing(out, Warehouse(tmp_path / "w.duckdb"), kinds=["private_trades"], workers=1)
    planted = sorted(path for path, _ in summary.bad_files if "Private" in path)
    rejected = dict(report.rejected)
    assert sorted(rejected) == planted
    unit, extra = (rejected[path] for path in planted)
    assert "line 3: column 'VolumeUnit': unknown unit 'GWH' (the exchange documents MWH)" in unit
    assert "line 4: 10 fields where the header has 9" in extra
    # the good exports are accepted: one a day
    assert report.counts[("private_trades", "accepted")] == DAYS
