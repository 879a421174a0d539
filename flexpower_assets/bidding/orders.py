"""The order of a bid matrix as it travels to the exchange: rows, content hash, idempotency key.

No Dagster and no HTTP here: the submission client, the mock exchange, approval and the
compliance log all identify a matrix by the same content hash, computed by ``content_hash``.

A row is one point of one MTU's curve: ``delivery_start`` (UTC, ISO 8601 with ``Z``), ``point``
(1-based, ascending in price), ``price_eur_per_mwh``, ``volume_mw`` (sell positive, buy negative).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

ROW_COLUMNS = ("delivery_start", "point", "price_eur_per_mwh", "volume_mw")
# prices are on a 0.1 EUR/MWh tick and volumes on a 0.1 MW step; four decimals in the hash keep
# any finer configured tick distinct while making float noise (0.30000000000000004) irrelevant
HASH_DECIMALS = 4


def _iso_utc(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"delivery_start {value!r} has no time zone (UTC expected)")
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(value)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return _iso_utc(parsed)


def order_rows(matrix: pl.DataFrame | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The matrix as JSON-ready rows, sorted by MTU and point (the form that is hashed and sent)."""
    if isinstance(matrix, pl.DataFrame) and isinstance(matrix.schema.get("delivery_start"), pl.Datetime) \
            and matrix.schema["delivery_start"].time_zone is not None:
        return _frame_rows(matrix)
    records = matrix.select(ROW_COLUMNS).to_dicts() if isinstance(matrix, pl.DataFrame) else list(matrix)
    rows = []
    for record in records:
        missing = [c for c in ROW_COLUMNS if c not in record or record[c] is None]
        if missing:
            raise ValueError(f"matrix row {record!r} lacks {missing}")
        rows.append({
            "delivery_start": _iso_utc(record["delivery_start"]),
            "point": int(record["point"]),
            "price_eur_per_mwh": round(float(record["price_eur_per_mwh"]), HASH_DECIMALS),
            "volume_mw": round(float(record["volume_mw"]), HASH_DECIMALS),
        })
    rows.sort(key=lambda r: (r["delivery_start"], r["point"]))
    return rows


def _frame_rows(matrix: pl.DataFrame) -> list[dict[str, Any]]:
    """``order_rows`` of a frame with a time-zone-aware ``delivery_start``: the same rows, with the
    timestamps written by polars (a matrix has up to 96 x 256 points) and the numbers rounded by
    Python exactly as for any other input."""
    frame = matrix.select(ROW_COLUMNS)
    nulls = [c for c in ROW_COLUMNS if frame[c].null_count()]
    if nulls:
        record = frame.filter(pl.any_horizontal(pl.col(c).is_null() for c in nulls)).row(0, named=True)
        raise ValueError(f"matrix row {record!r} lacks {[c for c in ROW_COLUMNS if record[c] is None]}")
    starts = frame["delivery_start"].dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_list()
    rows = [{"delivery_start": start, "point": int(point), "price_eur_per_mwh": round(float(price), HASH_DECIMALS),
             "volume_mw": round(float(volume), HASH_DECIMALS)}
            for start, point, price, volume in zip(starts, frame["point"].to_list(),
                                                   frame["price_eur_per_mwh"].to_list(), frame["volume_mw"].to_list())]
    rows.sort(key=lambda r: (r["delivery_start"], r["point"]))
    return rows


def content_hash(matrix: pl.DataFrame | Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 over the sorted rows, each written as ``start|point|price|volume`` with fixed decimals."""
    digest = hashlib.sha256()
    for row in order_rows(matrix):
        digest.update((f"{row['delivery_start']}|{row['point']}|{row['price_eur_per_mwh']:.{HASH_DECIMALS}f}|"
                       f"{row['volume_mw']:.{HASH_DECIMALS}f}\n").encode("ascii"))
    return digest.hexdigest()


def idempotency_key(client_id: str, delivery_day: date, matrix_hash: str) -> str:
    """Client, delivery day and content hash: the same matrix sent twice is the same order."""
    return f"{client_id}:{delivery_day.isoformat()}:{matrix_hash}"


def gate_closure(delivery_day: date, timezone_name: str = "Europe/Berlin", local_time: str = "12:00") -> datetime:
    """The auction's gate closure for a delivery day: ``local_time`` on the day before, in UTC."""
    hours, minutes = (int(part) for part in local_time.split(":"))
    day_before = delivery_day - timedelta(days=1)
    local = datetime.combine(day_before, time(hours, minutes), tzinfo=ZoneInfo(timezone_name))
    return local.astimezone(timezone.utc)


def order_problems(rows: list[dict[str, Any]]) -> list[str]:
    """What the exchange refuses in an order whatever its policy: per MTU at least two points,
    points numbered 1..n, prices strictly rising and volumes never falling as the price rises."""
    problems: list[str] = []
    by_mtu: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_mtu.setdefault(row["delivery_start"], []).append(row)
    if not by_mtu:
        return ["the order has no rows"]
    for start, points in by_mtu.items():
        points.sort(key=lambda r: r["point"])
        if len(points) < 2:
            problems.append(f"MTU {start}: {len(points)} point(s), at least 2 are needed")
        if [p["point"] for p in points] != list(range(1, len(points) + 1)):
            problems.append(f"MTU {start}: points are not numbered 1..{len(points)}")
        for before, after in zip(points, points[1:]):
            if after["price_eur_per_mwh"] <= before["price_eur_per_mwh"]:
                problems.append(f"MTU {start} point {after['point']}: price does not rise")
            if after["volume_mw"] < before["volume_mw"]:
                problems.append(f"MTU {start} point {after['point']}: volume falls as the price rises")
    return problems
