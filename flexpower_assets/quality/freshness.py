"""When each source's files are due (FORMATS.md arrival windows) and whether they came.

Rules, each with ``LATE_AFTER`` of grace past the window's end (times UTC, as in the names):

- CRM contracts: a full snapshot every Sunday 04:30-05:00. Late when, after the last Sunday's
  05:00 plus grace, the newest snapshot was created before that Sunday's 04:30.
- VPP technical data: daily between 12:30 and 13:00. Late when, after today's (or, before it,
  yesterday's) 13:00 plus grace, the newest file was created before that day's 12:30.
- DSO final production: one UTC day per file, delivered the next day. Late when, after the end
  of day D+1 plus grace, no accepted final-production file has rows of UTC day D.

Other sources have no documented window and are not judged. A file's creation time is the one
in its name (the source's own clock); whether it arrived is whether the catalog accepted it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flexpower_assets.domain.time import UTC

LATE_AFTER = timedelta(minutes=30)
CRM_WINDOW = (time(4, 30), time(5, 0))  # Sundays
TECHNICAL_WINDOW = (time(12, 30), time(13, 0))  # daily


@dataclass(frozen=True)
class Arrival:
    """One source's verdict: which delivery was due by when, and whether it is late."""

    source: str
    check_name: str
    due: str  # what was due, in words
    deadline: datetime  # end of the window plus grace (UTC)
    late: bool
    newest: str  # what the newest file is, in words

    @property
    def slot(self) -> str:
        """A stable id of the delivery that was due (alert once per slot)."""
        return f"{self.source}:{self.deadline.isoformat()}"


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=UTC)


def crm_arrival(newest_created: datetime | None, now: datetime) -> Arrival:
    day = now.astimezone(UTC).date()
    sunday = day - timedelta(days=(day.weekday() - 6) % 7)
    if _at(sunday, CRM_WINDOW[1]) + LATE_AFTER > now:
        sunday -= timedelta(days=7)
    start, deadline = _at(sunday, CRM_WINDOW[0]), _at(sunday, CRM_WINDOW[1]) + LATE_AFTER
    return Arrival("crm", "crm_snapshot_on_time",
                   f"the weekly CRM snapshot of Sunday {sunday} (04:30-05:00 UTC)", deadline,
                   newest_created is None or newest_created < start, _describe(newest_created))


def technical_data_arrival(newest_created: datetime | None, now: datetime) -> Arrival:
    day = now.astimezone(UTC).date()
    if _at(day, TECHNICAL_WINDOW[1]) + LATE_AFTER > now:
        day -= timedelta(days=1)
    start, deadline = _at(day, TECHNICAL_WINDOW[0]), _at(day, TECHNICAL_WINDOW[1]) + LATE_AFTER
    return Arrival("vpp", "technical_data_on_time", f"the VPP technical data of {day} (12:30-13:00 UTC)",
                   deadline, newest_created is None or newest_created < start, _describe(newest_created))


def dso_final_arrival(utc_days_received: set[date], now: datetime) -> Arrival:
    # the file of UTC day D is due by the end of D+1: D + 2 days at 00:00, plus grace
    due_day = (now.astimezone(UTC) - LATE_AFTER).date() - timedelta(days=2)
    deadline = _at(due_day + timedelta(days=2), time(0, 0)) + LATE_AFTER
    newest = max(utc_days_received) if utc_days_received else None
    return Arrival("dso", "dso_final_on_time", f"DSO final production of UTC day {due_day} (due the day after)",
                   deadline, due_day not in utc_days_received,
                   f"newest UTC day received: {newest}" if newest else "none received")


def _describe(created: datetime | None) -> str:
    return f"newest created {created:%Y-%m-%d %H:%M} UTC" if created else "none received"


def arrivals(warehouse, now: datetime) -> list[Arrival]:
    """The verdict of every source with an arrival window, from the landing catalog."""
    from flexpower_assets.ingestion.catalog import CATALOG
    from flexpower_assets.ingestion.watch import accepted_paths, name_created_at

    def newest(kind: str) -> datetime | None:
        times = [t for t in (name_created_at(p) for p in accepted_paths(warehouse, kind)) if t is not None]
        return max(times) if times else None

    utc_days: set[date] = set()
    if warehouse.table_exists("landing", "files"):
        rows = warehouse.read(f"select distinct first_delivery_start as start from {CATALOG} "
                              "where kind = 'final_production' and status in ('accepted', 'replaced') "
                              "and first_delivery_start is not null")
        utc_days = {start.astimezone(UTC).date() for start in rows["start"].to_list()}
    return [crm_arrival(newest("contracts"), now), technical_data_arrival(newest("technical_data"), now),
            dso_final_arrival(utc_days, now)]
