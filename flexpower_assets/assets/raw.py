"""Raw layer: for each source, the accepted rows that concern one delivery day.

The daily step first brings the landing catalog up to date for the selected raw tables' file
kinds, once (a no-op when nothing new arrived); each raw table then selects from the staged
rows (Parquet) the rows whose delivery time falls in the day's window, from accepted files
only, with the ``file_id`` they came from.
Supersede rules (which snapshot, which correction, which estimate) are applied by the core and
published assets through the domain functions, so the raw layer keeps every candidate row.
"""


import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import dagster as dg
import pandera.polars as pa
import polars as pl

from flexpower_assets.assets.steps import Built, Day, Table
from flexpower_assets.domain.time import QH, to_utc
from flexpower_assets.ingestion.catalog import accepted_ids, accepted_rows, sync_landing
from flexpower_assets.parsers.registry import classify
from flexpower_assets.schemas import columns_of
from flexpower_assets.schemas import inbound as model
from resources.landing import LandingZone
from resources.warehouse import Warehouse, WarehouseSession

Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class RawSource:
    """One raw asset: the file kind it reads, its row model and how it picks the day's rows."""

    name: str
    kind: str
    model: type[pa.DataFrameModel]
    description: str
    keep: Callable[[pl.LazyFrame, Window], pl.LazyFrame]  # the day's rows of the accepted ones


def _in_window(column: str, before: timedelta = timedelta(0)) -> Callable[[pl.LazyFrame, Window], pl.LazyFrame]:
    """Rows whose ``column`` is in the day's window (starting ``before`` ahead of it)."""
    return lambda rows, window: rows.filter(pl.col(column) >= window[0] - before, pl.col(column) < window[1])


def _overlapping(rows: pl.LazyFrame, window: Window) -> pl.LazyFrame:
    """Products with at least one quarter-hour in the day's window."""
    return rows.filter(pl.col("delivery_start") < window[1], pl.col("delivery_end") > window[0])


def _latest_before_end(column: str) -> Callable[[pl.LazyFrame, Window], pl.LazyFrame]:
    """Rows of the newest file created before the day's end (else the oldest file there is)."""
    created = pl.col(column)
    return lambda rows, window: rows.filter(
        created == pl.coalesce(created.filter(created < window[1]).max(), created.min()))


RAW_SOURCES = (
    RawSource("raw_crm__contracts", "contracts", model.Contract,
              "Contracts of the CRM snapshot that applies to the day (the newest created before its end).",
              _latest_before_end("snapshot_created_at")),
    RawSource("raw_vpp__technical_data", "technical_data", model.TechnicalAsset,
              "Assets of the newest VPP technical-data file created before the day's end.",
              _latest_before_end("file_created_at")),
    RawSource("raw_vpp__forecasts", "forecast", model.ForecastRow,
              "Every forecast version's value for the day's quarter-hours.",
              _in_window("delivery_start")),
    RawSource("raw_vpp__live", "live", model.LivePoint,
              "Live measured points of the day, plus the last 15 minutes before it (the step signal "
              "of a point holds for up to 15 minutes into the day).",
              _in_window("timestamp", before=QH)),
    RawSource("raw_dso__final_production", "final_production", model.FinalProduction,
              "DSO final production of the day's quarter-hours, every file (corrections included).",
              _in_window("delivery_start")),
    RawSource("raw_dso__redispatch_flags", "redispatch_flags", model.RedispatchFlag,
              "Curtailed quarter-hours of the day, every flag file.",
              _in_window("delivery_start")),
    RawSource("raw_dso__redispatch_compensation", "redispatch_compensation", model.RedispatchCompensation,
              "The DSO's compensation price for the day's quarter-hours, every file.",
              _in_window("delivery_start")),
    RawSource("raw_exchange__private_trades", "private_trades", model.Trade,
              "Our exchange trades with at least one quarter-hour in the day, from every export.",
              _overlapping),
    RawSource("raw_exchange__public_trades", "public_trades", model.Trade,
              "Market trades with at least one quarter-hour in the day, from every export.",
              _overlapping),
    RawSource("raw_imbalance__estimates", "imbalance_estimate", model.ImbalanceEstimate,
              "AEP estimates for the day's quarter-hours, from every estimate file.",
              _in_window("delivery_start")),
    RawSource("raw_imbalance__final", "imbalance_final", model.ImbalanceFinal,
              "Final reBAP for the day's quarter-hours, from every final file.",
              _in_window("delivery_start")),
)


def raw_columns(source: RawSource) -> dict[str, pl.DataType]:
    return {"delivery_day": pl.Date, **columns_of(source.model), "file_id": pl.Int64}


def select_raw(warehouse: Warehouse, source: RawSource, window: Window, day,
               accepted: pl.Series | None = None) -> pl.DataFrame:
    """The accepted staging rows of a source for one day, in the raw table's column layout
    (``accepted``: the kind's accepted file ids for ``raw_days`` of this day or more)."""
    columns = raw_columns(source)
    window = (to_utc(window[0]), to_utc(window[1]))  # the staged times are UTC; polars compares like with like
    rows = accepted_rows(warehouse, source.kind, lambda staged: source.keep(staged, window), days=raw_days(day),
                         accepted=accepted)
    if rows.is_empty():
        return pl.DataFrame(schema=columns)
    rows = rows.with_columns(delivery_day=pl.lit(day, dtype=pl.Date))
    return rows.select([pl.col(name).cast(dtype) for name, dtype in columns.items()])


def raw_days(day: date) -> list[date]:
    """The staging days a delivery day's raw rows come from: rows are staged under the delivery
    day of their own time, and a day also needs the evening before it (live points held into
    it, products that straddle midnight)."""
    return [day - timedelta(days=1), day]


def raw_table(source: RawSource) -> Table:
    def compute(day: Day) -> Built:
        frame, seconds = day.prefetched[(source.kind, day.day)]
        metadata = {"files_used": frame["file_id"].n_unique() if frame.height else 0, "read_seconds": seconds}
        if day.is_first:  # the step registered new files once, for all its days
            metadata.update(sync_metadata(day.synced, source.kind))
        return Built(frame, metadata)

    return Table(key=RAW_ASSET_KEYS[source.kind], group="raw", description=source.description,
                 compute=compute, schema="raw")


def sync_selected(context: dg.AssetExecutionContext, landing: LandingZone, warehouse: Warehouse) -> Counter:
    """Bring the catalog up to date for the selected raw tables' kinds, once for the step.

    Returns the new files per kind and status, and per kind the files still changing (read once
    settled, ``min_file_age_s``) under ``(kind, "still_changing")``; a no-op when nothing arrived.
    """
    kinds = [source.kind for source in RAW_SOURCES if RAW_ASSET_KEYS[source.kind] in context.selected_asset_keys]
    if not kinds:
        return Counter()
    report = sync_landing(landing.root, warehouse, kinds=kinds, workers=landing.parse_workers,
                          min_age_s=landing.min_file_age_s)
    if report.rejected:
        context.log.warning(f"{len(report.rejected)} file(s) rejected: "
                            + "; ".join(message for _path, message in report.rejected[:5]))
    counts = Counter(report.counts)
    for relative in report.unsettled:
        file_kind = classify(relative)
        counts[(file_kind.name if file_kind else "unrecognised", "still_changing")] += 1
    return counts


def prefetch_raw(context: dg.AssetExecutionContext, session: WarehouseSession, days) -> dict:
    """Every selected raw table's rows for every day of the run, read on one connection (the same
    queries as one day at a time, without a lock and a connection per table and day)."""
    kinds = [source for source in RAW_SOURCES if RAW_ASSET_KEYS[source.kind] in context.selected_asset_keys]
    staging_days = sorted({staged for day in days for staged in raw_days(day.day)})
    frames = {}
    for source in kinds:
        began = time.perf_counter()
        # the catalog read once for the run's days, not once a day
        accepted = accepted_ids(session, source.kind, staging_days)
        catalog_s = (time.perf_counter() - began) / len(days)
        for day in days:
            began = time.perf_counter()
            frame = select_raw(session, source, (day.start, day.end), day.day,
                               accepted=pl.Series("file_id", [], dtype=pl.Int64) if accepted is None else accepted)
            frames[(source.kind, day.day)] = (frame, time.perf_counter() - began + catalog_s)
    return frames


def sync_metadata(counts: Counter, kind: str) -> dict[str, int]:
    return {"new_files_registered": sum(n for (of, status), n in counts.items()
                                        if of == kind and status != "still_changing"),
            "files_rejected_now": counts.get((kind, "rejected"), 0),
            "files_still_changing": counts.get((kind, "still_changing"), 0)}


RAW_ASSET_KEYS = {source.kind: dg.AssetKey(["raw", source.name]) for source in RAW_SOURCES}
RAW_TABLES = [raw_table(source) for source in RAW_SOURCES]
