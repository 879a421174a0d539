"""The benchmark's baseline: the same rules in plain pandas, in one process.

Every file of the landing zone is read with the standard ``json`` and ``csv`` modules and
pandas, one after the other; a file that breaks a format rule of FORMATS.md is skipped whole,
as the platform rejects it. Then, per delivery day: the portfolio, latest and tradeable
forecasts, live quarter-hours from the step signal, best-of-infeed with its priorities and
redispatch, trading PnL and the daily summary, imbalance with final and estimated prices, and
the portfolio sums. It shares no code with the pipeline, so that its totals are an independent
check of the pipeline's numbers; only the names of the totals are those of ``run``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

BERLIN = ZoneInfo("Europe/Berlin")
QH_MS = 15 * 60 * 1000
HALF_QH_MS = QH_MS // 2
KW_TO_MWH = 0.25 / 1000  # one quarter-hour at 1 kW


class BadFile(ValueError):
    """A file the baseline skips, as the platform rejects it."""


# ------------------------------------------------------------------------------ reading files

def _ms(ts: datetime) -> int:
    return int(round(ts.timestamp() * 1000))


def _name_time(text: str, fmt: str) -> int:
    return _ms(datetime.strptime(text, fmt).replace(tzinfo=ZoneInfo("UTC")))


def _utc_ms(values: pd.Series, fmt: str) -> np.ndarray:
    """Epoch ms of UTC times written in ``fmt``; a value that does not parse rejects the file."""
    parsed = pd.to_datetime(values, format=fmt, utc=True)  # raises on a bad value
    return parsed.to_numpy(dtype="datetime64[ms]").astype(np.int64)


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="raise").to_numpy(dtype=float)


def _csv_frame(path: Path, header: list[str] | None, separator: str = ",", skip_title: bool = False) -> pd.DataFrame:
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise BadFile("empty file")
    if skip_title:
        first, _, text = text.partition("\n")
        if not first.startswith("#"):
            raise BadFile("no title line")
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=separator) if row]
    if header is not None and rows[0] != header:
        raise BadFile(f"wrong header {rows[0]}")
    width = len(rows[0])
    if any(len(row) != width for row in rows[1:]):
        raise BadFile("a row with the wrong number of fields")
    return pd.DataFrame(rows[1:], columns=rows[0])


def _columnar(doc: dict, units: dict[str, str], optional: tuple[str, ...] = ()) -> dict[str, list]:
    """The named columns of a VPP document, each checked for its unit."""
    names = doc["column_ids"]
    if len(names) != len(doc["units"]) or len(names) != len(doc["values"]):
        raise BadFile("column_ids, units and values differ in length")
    columns = {}
    for name, unit in units.items():
        if name not in names:
            if name in optional:
                continue
            raise BadFile(f"no column {name}")
        i = names.index(name)
        if doc["units"][i] != unit:
            raise BadFile(f"unit {doc['units'][i]} for {name}")
        columns[name] = doc["values"][i]
    if len({len(column) for column in columns.values()}) > 1:
        raise BadFile("columns of different lengths")
    return columns


def _asset(doc: dict) -> str:
    key = doc["key"]
    asset, entity = key.get("asset_id"), key.get("entity_id")
    if asset is not None and entity is not None and asset != entity:
        raise BadFile("asset_id and entity_id disagree")
    found = asset if asset is not None else entity
    if not isinstance(found, str) or not found:
        raise BadFile("no asset in the key")
    return found


FORECAST_NAME = re.compile(r"(.+)_(\d{8}T\d{4}Z)\.json")
LIVE_NAME = re.compile(r"(.+)_(\d{8})\.json")


def read_forecasts(folder: Path) -> pd.DataFrame:
    """Every forecast file: asset, QH start (ms), version (ms), power (kW)."""
    codes: dict[str, int] = {}  # asset -> category code
    assets: list[int] = []
    starts: list[np.ndarray] = []
    versions: list[int] = []
    powers: list[np.ndarray] = []
    counts: list[int] = []
    seen: set[tuple[str, int]] = set()
    for path in sorted(folder.glob("*")):
        try:
            name = FORECAST_NAME.fullmatch(path.name)
            if name is None:
                raise BadFile("file name")
            version_time = datetime.strptime(name[2], "%Y%m%dT%H%MZ")
            if version_time.minute % 15:
                raise BadFile("version not on a quarter-hour")
            version = _name_time(name[2], "%Y%m%dT%H%MZ")
            doc = json.loads(path.read_bytes())
            asset = _asset(doc)
            if asset != name[1] or (asset, version) in seen:
                raise BadFile("asset differs from the name, or a second file of a version")
            columns = _columnar(doc, {"start": "ms", "end": "ms", "version": "ms", "power": "kW"})
            start = np.asarray(columns["start"], dtype=float)
            end = np.asarray(columns["end"], dtype=float)
            power = np.asarray(columns["power"], dtype=float)
            if (np.asarray(columns["version"], dtype=float) != version).any():
                raise BadFile("a row of another version")
            if (start % QH_MS != 0).any() or (end - start != QH_MS).any() or len(set(start)) != len(start):
                raise BadFile("a start off the quarter-hour grid, a wrong end or a repeated start")
            if np.isnan(power).any():
                raise BadFile("a missing power")
        except (BadFile, ValueError, KeyError, TypeError, AttributeError, IndexError):
            continue
        seen.add((asset, version))
        assets.append(codes.setdefault(asset, len(codes)))
        starts.append(start.astype(np.int64))
        versions.append(version)
        powers.append(power)
        counts.append(len(start))
    counts_array = np.asarray(counts, dtype=np.int64)
    return pd.DataFrame({
        "asset_id": pd.Categorical.from_codes(np.repeat(np.asarray(assets, dtype=np.int32), counts_array),
                                              categories=list(codes)),
        "start_ms": np.concatenate(starts) if starts else np.empty(0, np.int64),
        "version_ms": np.repeat(np.asarray(versions, dtype=np.int64), counts_array),
        "power_kw": np.concatenate(powers) if powers else np.empty(0),
    })


def read_live(folder: Path) -> pd.DataFrame:
    """Every live file: asset (from key.asset_id or key.entity_id), time (ms), power (kW); of two
    files with the same asset and time, the one that arrived last (then the later name) wins."""
    frames = []

    def arrival(path: Path) -> tuple[int, str]:
        stat = path.stat()
        return max(stat.st_mtime_ns, stat.st_ctime_ns), str(path)

    for path in sorted(folder.glob("*"), key=arrival):
        try:
            if LIVE_NAME.fullmatch(path.name) is None:
                raise BadFile("file name")
            doc = json.loads(path.read_bytes())
            asset = _asset(doc)
            columns = _columnar(doc, {"timestamp": "ms", "value": "kW", "quality": "factor"}, ("quality",))
            stamp = np.asarray(columns["timestamp"], dtype=float)
            value = np.asarray(columns["value"], dtype=float)
            if np.isnan(stamp).any() or np.isnan(value).any():
                raise BadFile("a missing number")
            stamp_ms = np.round(stamp).astype(np.int64)
        except (BadFile, ValueError, KeyError, TypeError, AttributeError, IndexError):
            continue
        frames.append(pd.DataFrame({"asset_id": asset, "ts_ms": stamp_ms, "power_kw": value}))
    if not frames:
        return pd.DataFrame({"asset_id": [], "ts_ms": np.empty(0, np.int64), "power_kw": np.empty(0)})
    return pd.concat(frames, ignore_index=True).drop_duplicates(["asset_id", "ts_ms"], keep="last")


CONTRACT_HEADER = ["contract_id", "asset_id", "metering_point_id", "capacity", "technology", "contract_begin",
                   "contract_end", "price_model", "price", "fee_model", "fee", "fee_percent", "email"]
DSO_TIME = "%Y-%m-%d %H:%M:%S.%f UTC"


def read_contracts(folder: Path) -> pd.DataFrame:
    frames = []
    for path in sorted(folder.glob("asset_contracts_*.csv")):
        match = re.fullmatch(r"asset_contracts_(\d{8}_\d{6})\.csv", path.name)
        try:
            if match is None:
                raise BadFile("file name")
            raw = _csv_frame(path, CONTRACT_HEADER)
            frame = pd.DataFrame({
                "asset_id": raw["asset_id"], "metering_point_id": raw["metering_point_id"],
                "technology": raw["technology"], "capacity_mw": _numbers(raw["capacity"]),
                "begin": pd.to_datetime(raw["contract_begin"], format="%Y-%m-%d").dt.date,
                "end": pd.to_datetime(raw["contract_end"].replace("", None), format="%Y-%m-%d").dt.date,
                "created_ms": _name_time(match[1], "%Y%m%d_%H%M%S"),
            })
        except (BadFile, ValueError, KeyError):
            continue
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def read_technical_data(folder: Path) -> int:
    """Technical data only feeds a capacity check, not a total: read, and count the assets."""
    assets = 0
    for path in sorted(folder.glob("technical_data_*.json")):
        try:
            assets += len(json.loads(path.read_bytes())["assets"])
        except (ValueError, KeyError, TypeError):
            continue
    return assets


def read_final_production(folder: Path) -> pd.DataFrame:
    frames = []
    for path in sorted(folder.glob("final_production_*.csv")):
        match = re.fullmatch(r"final_production_(.+)_(\d{8})\.csv", path.name)
        try:
            if match is None:
                raise BadFile("file name")
            raw = _csv_frame(path, ["delivery_start__utc_", f"{match[1]}__kw_"])
            start = _utc_ms(raw["delivery_start__utc_"], DSO_TIME)
            if (start % QH_MS != 0).any() or len(set(start)) != len(start):
                raise BadFile("a start off the grid or repeated")
            frames.append(pd.DataFrame({
                "metering_point_id": match[1], "start_ms": start,
                "power_kw": _numbers(raw[f"{match[1]}__kw_"]),
                "file_date": datetime.strptime(match[2], "%Y%m%d").date(),
            }))
        except (BadFile, ValueError, KeyError):
            continue
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["metering_point_id", "start_ms", "power_kw", "file_date"])


def read_redispatch_flags(folder: Path) -> pd.DataFrame:
    frames = []
    for path in sorted(folder.glob("redispatch_flag_*.csv")):
        match = re.fullmatch(r"redispatch_flag_(.+)_(\d{8}_\d{4})\.csv", path.name)
        try:
            if match is None:
                raise BadFile("file name")
            raw = _csv_frame(path, ["delivery_start", "delivery_end", "is_redispatched"])
            if not raw["is_redispatched"].isin(["0", "1"]).all():
                raise BadFile("a flag other than 0/1")
            start = _utc_ms(raw["delivery_start"], "%Y-%m-%dT%H:%M:%SZ")
            end = _utc_ms(raw["delivery_end"], "%Y-%m-%dT%H:%M:%SZ")
            if (start % QH_MS != 0).any() or (end - start != QH_MS).any():
                raise BadFile("not a quarter-hour")
            frames.append(pd.DataFrame({
                "metering_point_id": match[1], "start_ms": start,
                "is_redispatched": (raw["is_redispatched"] == "1").to_numpy(),
                "issued_ms": _name_time(match[2], "%Y%m%d_%H%M"),
            }))
        except (BadFile, ValueError, KeyError):
            continue
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["metering_point_id", "start_ms", "is_redispatched", "issued_ms"])


def read_compensation(folder: Path) -> int:
    """Compensation prices feed invoices only: read, and count the quarter-hours."""
    rows = 0
    for path in sorted(folder.glob("redispatch_compensation_*.csv")):
        try:
            raw = _csv_frame(path, ["delivery_start__utc_", "delivery_end__utc_", "price__euro_per_mwh_"])
            _utc_ms(raw["delivery_start__utc_"], DSO_TIME)
            rows += len(_numbers(raw["price__euro_per_mwh_"]))
        except (BadFile, ValueError, KeyError):
            continue
    return rows


TRADE_HEADER = ["TradeId", "Side", "DeliveryStart", "DeliveryEnd", "ExecutionTime", "Price", "Currency",
                "Volume", "VolumeUnit"]


def read_trades(folder: Path, prefix: str) -> pd.DataFrame:
    frames = []
    for path in sorted(folder.glob(f"{prefix}_Trades-*.csv")):
        match = re.fullmatch(rf"{prefix}_Trades-\d{{8}}-(\d{{8}}T\d{{9}}Z)\.csv", path.name)
        try:
            if match is None:
                raise BadFile("file name")
            raw = _csv_frame(path, TRADE_HEADER, separator=";", skip_title=True)
            if not raw["Side"].isin(["BUY", "SELL"]).all() or not (raw["Currency"] == "EUR").all():
                raise BadFile("side or currency")
            if not (raw["VolumeUnit"] == "MWH").all():
                raise BadFile("unknown volume unit")
            start = _utc_ms(raw["DeliveryStart"], "ISO8601")
            end = _utc_ms(raw["DeliveryEnd"], "ISO8601")
            if not np.isin(end - start, [QH_MS, 4 * QH_MS]).all():
                raise BadFile("a product neither 15 nor 60 minutes long")
            _utc_ms(raw["ExecutionTime"], "ISO8601")
            volume = _numbers(raw["Volume"])
            if (volume <= 0).any():
                raise BadFile("a volume that is not positive")
            exported = datetime.strptime(match[1][:15], "%Y%m%dT%H%M%S").replace(tzinfo=ZoneInfo("UTC"))
            frames.append(pd.DataFrame({
                "trade_id": raw["TradeId"].to_numpy(), "side": raw["Side"].to_numpy(),
                "start_ms": start, "end_ms": end, "price": _numbers(raw["Price"]), "volume_mw": volume,
                "exported_ms": _ms(exported) + int(match[1][15:18]),
            }))
        except (BadFile, ValueError, KeyError):
            continue
    if not frames:
        return pd.DataFrame(columns=["trade_id", "side", "start_ms", "end_ms", "price", "volume_mw", "exported_ms"])
    return pd.concat(frames, ignore_index=True)


IMBALANCE_COMMON = ["Datum", "Zeitzone", "von", "bis", "Datenkategorie", "Datentyp", "Einheit"]


def _imbalance_rows(path: Path, header: list[str], price_columns: list[str]) -> pd.DataFrame:
    raw = _csv_frame(path, IMBALANCE_COMMON + header, separator=";")
    if not (raw["Zeitzone"] == "UTC").all() or not (raw["Einheit"] == "EUR/MWh").all():
        raise BadFile("a zone other than UTC or a unit other than EUR/MWh")
    start = _utc_ms(raw["Datum"] + " " + raw["von"], "%d.%m.%Y %H:%M")
    end = _utc_ms(raw["Datum"] + " " + raw["bis"], "%d.%m.%Y %H:%M")
    end = np.where(end <= start, end + 96 * QH_MS, end)
    if (start % QH_MS != 0).any() or (end - start != QH_MS).any():
        raise BadFile("not a quarter-hour")
    frame = pd.DataFrame({"start_ms": start})
    for column in price_columns:
        text = raw[column]
        if not text.str.fullmatch(r"-?(\d+|\d{1,3}(\.\d{3})+)(,\d+)?").all():
            raise BadFile(f"{column} is not a German number")
        frame[column] = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False).astype(float)
    return frame


def read_imbalance(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    estimates, finals = [], []
    for path in sorted(folder.glob("imbalance_price_estimation_*.csv")):
        match = re.fullmatch(r"imbalance_price_estimation_(\d{4}-\d{2}-\d{2}T\d{6}Z)\.csv", path.name)
        try:
            if match is None:
                raise BadFile("file name")
            rows = _imbalance_rows(path, ["AEP-Schätzer", "Status"], ["AEP-Schätzer"])
            estimates.append(rows.rename(columns={"AEP-Schätzer": "price"}).assign(
                created_ms=_name_time(match[1], "%Y-%m-%dT%H%M%SZ")))
        except (BadFile, ValueError, KeyError):
            continue
    for path in sorted(folder.glob("imbalance_price_final_*.csv")):
        match = re.fullmatch(r"imbalance_price_final_(\d{8}_\d{6})\.csv", path.name)
        try:
            if match is None:
                raise BadFile("file name")
            rows = _imbalance_rows(path, ["reBAP unterdeckt", "reBAP ueberdeckt"],
                                   ["reBAP unterdeckt", "reBAP ueberdeckt"])
            finals.append(rows.rename(columns={"reBAP unterdeckt": "short", "reBAP ueberdeckt": "long"}).assign(
                created_ms=_name_time(match[1], "%Y%m%d_%H%M%S")))
        except (BadFile, ValueError, KeyError):
            continue
    estimate = pd.concat(estimates, ignore_index=True) if estimates else pd.DataFrame(
        columns=["start_ms", "price", "created_ms"])
    final = pd.concat(finals, ignore_index=True) if finals else pd.DataFrame(
        columns=["start_ms", "short", "long", "created_ms"])
    return estimate, final


def read_landing(landing: Path) -> dict[str, Any]:
    """Every file of the landing zone, one kind after the other."""
    estimate, final = read_imbalance(landing / "imbalance")
    return {
        "contracts": read_contracts(landing / "crm"),
        "technical_assets": read_technical_data(landing / "vpp" / "technical_data"),
        "forecasts": read_forecasts(landing / "vpp" / "forecasts"),
        "live": read_live(landing / "vpp" / "live"),
        "final_production": read_final_production(landing / "dso"),
        "redispatch_flags": read_redispatch_flags(landing / "dso"),
        "compensation_qh": read_compensation(landing / "dso"),
        "private_trades": read_trades(landing / "exchange", "Private"),
        "public_trades": read_trades(landing / "exchange", "Public"),
        "imbalance_estimate": estimate,
        "imbalance_final": final,
    }


# ------------------------------------------------------------------------------ one day

def day_window_ms(day: date) -> tuple[int, int]:
    start = datetime(day.year, day.month, day.day, tzinfo=BERLIN)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=BERLIN)
    return _ms(start), _ms(end)


def portfolio_of(contracts: pd.DataFrame, day: date, end_ms: int) -> pd.DataFrame:
    """Active contracts of the newest snapshot created before the day's end, one per asset."""
    eligible = contracts[contracts["created_ms"] < end_ms]
    if eligible.empty:
        return eligible
    snapshot = eligible[eligible["created_ms"] == eligible["created_ms"].max()]
    active = snapshot[(snapshot["begin"] <= day) & (snapshot["end"].isna() | (snapshot["end"] > day))]
    return active.sort_values("begin", kind="stable").drop_duplicates("asset_id", keep="last")


def asset_forecast(forecasts: pd.DataFrame, grid: pd.DataFrame, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Latest (version <= start) and tradeable (version <= start - 15 min) forecast per asset x QH."""
    rows = forecasts[(forecasts["start_ms"] >= start_ms) & (forecasts["start_ms"] < end_ms)
                     & (forecasts["version_ms"] <= forecasts["start_ms"])]
    rows = rows.assign(asset_id=rows["asset_id"].astype(str)).sort_values("version_ms", kind="stable")
    latest = rows.groupby(["asset_id", "start_ms"], sort=False).last()[["power_kw"]]
    tradeable_rows = rows[rows["version_ms"] <= rows["start_ms"] - QH_MS]
    tradeable = tradeable_rows.groupby(["asset_id", "start_ms"], sort=False).last()[["power_kw"]]
    frame = grid.join(latest.rename(columns={"power_kw": "latest_kw"}), on=["asset_id", "start_ms"])
    frame = frame.join(tradeable.rename(columns={"power_kw": "tradeable_kw"}), on=["asset_id", "start_ms"])
    frame["latest_mwh"] = frame["latest_kw"] * KW_TO_MWH
    frame["tradeable_mwh"] = frame["tradeable_kw"] * KW_TO_MWH
    return frame


def live_quarter_hours(live: pd.DataFrame, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Time-weighted mean of the step signal per asset x QH where it covers at least half the QH.

    Each point holds until the next point of its asset, for at most 15 minutes; a hold crosses at
    most one QH boundary, so it is cut into at most two pieces.
    """
    points = live[(live["ts_ms"] >= start_ms - QH_MS) & (live["ts_ms"] < end_ms)]
    points = points.sort_values(["asset_id", "ts_ms"], kind="stable")
    following = points.groupby("asset_id", sort=False)["ts_ms"].shift(-1)
    t0 = points["ts_ms"].to_numpy()
    t1 = np.minimum(following.fillna(np.inf).to_numpy(), t0 + QH_MS).astype(np.int64)
    boundary = t0 - t0 % QH_MS + QH_MS
    first = pd.DataFrame({"asset_id": points["asset_id"].to_numpy(), "start_ms": boundary - QH_MS,
                          "covered": np.minimum(t1, boundary) - t0, "power_kw": points["power_kw"].to_numpy()})
    second = pd.DataFrame({"asset_id": points["asset_id"].to_numpy(), "start_ms": boundary,
                           "covered": np.maximum(t1 - boundary, 0), "power_kw": points["power_kw"].to_numpy()})
    pieces = pd.concat([first, second], ignore_index=True)
    pieces = pieces[(pieces["covered"] > 0) & (pieces["start_ms"] >= start_ms) & (pieces["start_ms"] < end_ms)]
    pieces = pieces.assign(weighted=pieces["power_kw"] * pieces["covered"])
    sums = pieces.groupby(["asset_id", "start_ms"], as_index=False)[["covered", "weighted"]].sum()
    sums = sums[sums["covered"] >= HALF_QH_MS]
    return pd.DataFrame({"asset_id": sums["asset_id"], "start_ms": sums["start_ms"],
                         "live_kw": sums["weighted"] / sums["covered"]})


def final_by_asset(final: pd.DataFrame, portfolio: pd.DataFrame, start_ms: int, end_ms: int) -> pd.DataFrame:
    """DSO values of the day per asset: per QH the file with the latest date wins (corrections)."""
    rows = final[(final["start_ms"] >= start_ms) & (final["start_ms"] < end_ms)]
    rows = rows.sort_values("file_date", kind="stable").drop_duplicates(["metering_point_id", "start_ms"], keep="last")
    mapped = rows.merge(portfolio[["asset_id", "metering_point_id"]], on="metering_point_id")
    return mapped[["asset_id", "start_ms"]].assign(final_kw=mapped["power_kw"].to_numpy())


def redispatched(flags: pd.DataFrame, portfolio: pd.DataFrame, start_ms: int, end_ms: int) -> pd.DataFrame:
    """QHs whose latest flag (by issue time) says redispatched, per asset."""
    rows = flags[(flags["start_ms"] >= start_ms) & (flags["start_ms"] < end_ms)]
    rows = rows.sort_values("issued_ms", kind="stable").drop_duplicates(["metering_point_id", "start_ms"], keep="last")
    rows = rows[rows["is_redispatched"].astype(bool)]
    mapped = rows.merge(portfolio[["asset_id", "metering_point_id"]], on="metering_point_id")
    return mapped[["asset_id", "start_ms"]].assign(is_redispatched=True)


def best_of_infeed(forecast: pd.DataFrame, final: pd.DataFrame, live: pd.DataFrame,
                   flags: pd.DataFrame) -> pd.DataFrame:
    """final > live > latest forecast > missing, per asset x QH; a redispatched QH without a
    measured value is 0 kW (``forecast_redispatched``), whether or not a forecast exists."""
    frame = forecast.merge(final, on=["asset_id", "start_ms"], how="left")
    frame = frame.merge(live, on=["asset_id", "start_ms"], how="left")
    frame = frame.merge(flags, on=["asset_id", "start_ms"], how="left")
    frame["is_redispatched"] = frame["is_redispatched"].notna()
    has_final, has_live = frame["final_kw"].notna(), frame["live_kw"].notna()
    flagged = frame["is_redispatched"]
    frame["source"] = np.select(
        [has_final, has_live, flagged, frame["latest_kw"].notna()],
        ["final", "live", "forecast_redispatched", "forecast"], "missing")
    frame["power_kw"] = np.select(
        [has_final, has_live, flagged], [frame["final_kw"], frame["live_kw"], 0.0], frame["latest_kw"])
    frame["energy_mwh"] = frame["power_kw"] * KW_TO_MWH
    return frame


def trade_slices(trades: pd.DataFrame, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Quarter-hour slices of the day of the trades (a trade in two exports counts once)."""
    trades = trades[(trades["start_ms"] < end_ms) & (trades["end_ms"] > start_ms)]
    trades = trades.sort_values("exported_ms", kind="stable").drop_duplicates("trade_id", keep="last")
    n = ((trades["end_ms"] - trades["start_ms"]) // QH_MS).to_numpy()
    slices = trades.loc[trades.index.repeat(n)].reset_index(drop=True)
    offset = slices.groupby("trade_id", sort=False).cumcount().to_numpy()
    slices["slice_ms"] = slices["start_ms"].to_numpy() + offset * QH_MS
    slices = slices[(slices["slice_ms"] >= start_ms) & (slices["slice_ms"] < end_ms)].copy()
    slices["energy_mwh"] = slices["volume_mw"] * 0.25
    slices["turnover"] = slices["price"] * slices["energy_mwh"]
    slices["revenue"] = np.where(slices["side"] == "SELL", slices["turnover"], -slices["turnover"])
    return slices


def trading(private: pd.DataFrame, public: pd.DataFrame, qh: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """Per QH: revenue, sold, bought, net, VWAPs; and the day's summary."""
    ours = private.assign(sold=np.where(private["side"] == "SELL", private["energy_mwh"], 0.0),
                          bought=np.where(private["side"] == "BUY", private["energy_mwh"], 0.0))
    per_qh = ours.groupby("slice_ms")[["revenue", "sold", "bought", "energy_mwh", "turnover"]].sum()
    market = public.groupby("slice_ms")[["energy_mwh", "turnover"]].sum()
    frame = pd.DataFrame(index=pd.Index(qh, name="slice_ms"))
    frame = frame.join(per_qh).join(market, rsuffix="_public").fillna(0.0)
    frame["net"] = frame["sold"] - frame["bought"]
    frame["vwap_private"] = (frame["turnover"] / frame["energy_mwh"]).where(frame["energy_mwh"] > 0)
    frame["vwap_public"] = (frame["turnover_public"] / frame["energy_mwh_public"]).where(frame["energy_mwh_public"] > 0)
    daily = {
        "n_trades": int(private["trade_id"].nunique()),
        "revenue": float(private["revenue"].sum()),
        "sold": float(frame["sold"].sum()),
        "bought": float(frame["bought"].sum()),
        "net": float(frame["net"].sum()),
    }
    return frame, daily


def imbalance_prices(final: pd.DataFrame, estimate: pd.DataFrame, qh: np.ndarray) -> pd.DataFrame:
    """Per QH: final reBAP (short/long) where published, else the newest estimate covering it."""
    newest_final = final.sort_values("created_ms", kind="stable").drop_duplicates("start_ms", keep="last")
    newest_estimate = estimate.sort_values("created_ms", kind="stable").drop_duplicates("start_ms", keep="last")
    frame = pd.DataFrame({"start_ms": qh})
    frame = frame.merge(newest_final[["start_ms", "short", "long"]], on="start_ms", how="left")
    frame = frame.merge(newest_estimate[["start_ms", "price"]], on="start_ms", how="left")
    has_final = frame["short"].notna()
    frame["price_source"] = np.where(has_final, "final", np.where(frame["price"].notna(), "estimate", "missing"))
    frame["short"] = frame["short"].where(has_final, frame["price"])
    frame["long"] = frame["long"].where(has_final, frame["price"])
    return frame[["start_ms", "short", "long", "price_source"]]


def _priced(imbalance: pd.Series, prices: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Price by direction (short when < 0, long when > 0, none at 0) and cost = -imbalance x
    price; an imbalance of exactly 0 costs 0, a missing one nothing."""
    price = pd.Series(np.select([imbalance < 0, imbalance > 0], [prices["short"], prices["long"]], np.nan),
                      index=imbalance.index)
    cost = (-imbalance * price).mask(imbalance == 0, 0.0)
    return price, cost


def asset_imbalance(infeed: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    """Production minus the tradeable forecast (0 when redispatched), priced per QH."""
    frame = infeed.merge(prices, on="start_ms", how="left")
    imbalance = (frame["energy_mwh"] - frame["tradeable_mwh"]).mask(frame["is_redispatched"], 0.0)
    frame["imbalance_mwh"] = imbalance
    frame["price"], frame["cost"] = _priced(imbalance, frame)
    return frame


def _sum_if_all(values: pd.Series) -> float:
    return values.sum() if values.notna().all() else np.nan


def portfolio_imbalance(assets: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    """The balancing group on its net imbalance (priced by the net's direction), and the sum of the
    stand-alone costs over the same assets (none when one of them has no cost)."""
    valued = assets[assets["imbalance_mwh"].notna()]
    sums = valued.groupby("start_ms").agg(imbalance_mwh=("imbalance_mwh", "sum"), standalone=("cost", _sum_if_all))
    frame = prices.set_index("start_ms").join(sums)
    frame["price"], frame["cost"] = _priced(frame["imbalance_mwh"], frame)
    return frame


# ------------------------------------------------------------------------------ the benchmark

def _stage(stages: dict[str, float], name: str, began: float) -> float:
    now = time.perf_counter()
    stages[name] = stages.get(name, 0.0) + now - began
    return now


def run_baseline(landing: Path, days: list[date]) -> dict[str, Any]:
    """Read the landing zone and compute every day; seconds per stage and totals like ``run``'s."""
    stages: dict[str, float] = {}
    began = first = time.perf_counter()
    sources = read_landing(Path(landing))
    began = _stage(stages, "read files", began)

    totals: Counter = Counter()
    by_source: Counter = Counter()
    portfolio_assets: set[str] = set()
    for day in days:
        start_ms, end_ms = day_window_ms(day)
        qh = np.arange(start_ms, end_ms, QH_MS, dtype=np.int64)
        portfolio = portfolio_of(sources["contracts"], day, end_ms)
        grid = pd.DataFrame({"asset_id": np.repeat(portfolio["asset_id"].to_numpy(), len(qh)),
                             "start_ms": np.tile(qh, len(portfolio))})
        forecast = asset_forecast(sources["forecasts"], grid, start_ms, end_ms)
        began = _stage(stages, "forecasts", began)

        live = live_quarter_hours(sources["live"], start_ms, end_ms)
        final = final_by_asset(sources["final_production"], portfolio, start_ms, end_ms)
        flags = redispatched(sources["redispatch_flags"], portfolio, start_ms, end_ms)
        infeed = best_of_infeed(forecast, final, live, flags)
        portfolio_infeed = infeed.groupby("start_ms")["energy_mwh"].sum(min_count=1)
        began = _stage(stages, "best of infeed", began)

        private = trade_slices(sources["private_trades"], start_ms, end_ms)
        public = trade_slices(sources["public_trades"], start_ms, end_ms)
        pnl, daily = trading(private, public, qh)
        began = _stage(stages, "trading", began)

        prices = imbalance_prices(sources["imbalance_final"], sources["imbalance_estimate"], qh)
        assets = asset_imbalance(infeed, prices)
        net = portfolio_imbalance(assets, prices)
        began = _stage(stages, "imbalance", began)

        portfolio_assets.update(portfolio["asset_id"])
        totals["portfolio_asset_days"] += len(portfolio)
        totals["best_of_infeed_rows"] += len(infeed)
        totals["best_of_infeed_energy_mwh"] += float(infeed["energy_mwh"].sum())
        totals["latest_forecast_energy_mwh"] += float(forecast["latest_mwh"].sum())
        totals["tradeable_forecast_energy_mwh"] += float(forecast["tradeable_mwh"].sum())
        totals["portfolio_latest_forecast_energy_mwh"] += float(forecast.groupby("start_ms")["latest_mwh"].sum().sum())
        totals["portfolio_tradeable_forecast_energy_mwh"] += float(
            forecast.groupby("start_ms")["tradeable_mwh"].sum().sum())
        totals["portfolio_best_of_infeed_energy_mwh"] += float(portfolio_infeed.sum())
        totals["n_trades"] += daily["n_trades"]
        totals["trading_revenue_eur"] += daily["revenue"]
        totals["trading_sold_mwh"] += daily["sold"]
        totals["trading_bought_mwh"] += daily["bought"]
        totals["trading_net_mwh"] += daily["net"]
        totals["trading_pnl_revenue_eur"] += float(pnl["revenue"].sum())
        totals["public_turnover_eur"] += float((pnl["vwap_public"] * pnl["energy_mwh_public"]).sum())
        totals["asset_imbalance_mwh"] += float(assets["imbalance_mwh"].sum())
        totals["asset_imbalance_cost_eur"] += float(assets["cost"].sum())
        totals["asset_imbalance_priced_qh"] += int(assets["cost"].notna().sum())
        totals["portfolio_imbalance_mwh"] += float(net["imbalance_mwh"].sum())
        totals["portfolio_imbalance_cost_eur"] += float(net["cost"].sum())
        totals["portfolio_standalone_cost_eur"] += float(net["standalone"].sum())
        by_source.update(infeed["source"].value_counts().to_dict())
        began = time.perf_counter()

    result = dict(totals)
    result["best_of_infeed_assets"] = len(portfolio_assets)
    result["best_of_infeed_qh_by_source"] = dict(sorted((k, int(v)) for k, v in by_source.items()))
    return {"seconds": time.perf_counter() - first, "stages": stages, "totals": result,
            "rows_read": {"forecast": len(sources["forecasts"]), "live": len(sources["live"]),
                          "public_trades": len(sources["public_trades"])}}
