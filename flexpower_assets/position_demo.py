"""The open-position part of ``make demo``: the position of the bid day and the day before.

The clock is ``FLEXPOWER_NOW`` when set, else 13:00 Berlin on the day before the bid day (after
the auction's results): "today" is then the day before the bid day and "tomorrow" the bid day,
whose day-ahead order the bid demo just had accepted. Both days' ``open_position`` is built with
that clock and summarised; the portal's ``/position`` page shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import dagster as dg

from flexpower_assets.bidding.demo import next_delivery_day
from flexpower_assets.bidding.orders import gate_closure
from flexpower_assets.settings import Settings

AFTER_RESULTS = timedelta(hours=1)  # gate closure 12:00 Berlin, results from 12:45: look at 13:00


def run_position_demo(settings: Settings, echo: Callable[[str], None] = print) -> int:
    from flexpower_assets.definitions import build_defs
    from flexpower_assets.runner import instance, run_partition
    from resources.warehouse import Warehouse

    warehouse = Warehouse(settings.warehouse_path)
    day = next_delivery_day(settings)
    if day is None and warehouse.table_exists("main", "portfolio_forecast"):
        day = warehouse.read("select max(delivery_day) as day from main.portfolio_forecast")["day"][0]
    if day is None:
        echo("open position: no delivery day; skipped")
        return 0
    clock = settings.now or (gate_closure(day) + AFTER_RESULTS)
    defs = build_defs(replace(settings, now=clock))
    echo(f"\nopen position as of {clock:%Y-%m-%d %H:%M} UTC (today {day - timedelta(days=1)}, tomorrow {day})")
    failures = 0
    for each in (day - timedelta(days=1), day):
        summary = run_partition(defs, "daily_job", each.isoformat(), instance(),
                                asset_selection=[dg.AssetKey("open_position")])
        if not summary.success:
            failures += 1
            echo(f"  {each}: FAILED: {summary.error}")
            continue
        row = warehouse.read(
            "select string_agg(distinct day_ahead_status, ', ') as status, sum(forecast_mwh) as forecast, "
            "sum(day_ahead_mwh) as day_ahead, sum(intraday_net_mwh) as intraday, sum(open_mwh) as open, "
            "max(abs(open_mwh)) as largest from main.open_position where delivery_day = ?", [each]).row(0, named=True)
        echo(f"  {each}: forecast {row['forecast'] or 0:,.1f} MWh, day-ahead {row['day_ahead'] or 0:,.1f} MWh "
             f"({row['status']}), intraday net {row['intraday'] or 0:,.1f} MWh, open {row['open'] or 0:,.1f} MWh "
             f"(largest QH {row['largest'] or 0:,.2f} MWh)")
    echo(f"open position: main.open_position in {settings.warehouse_path}; portal page /position "
         f"(flexpower portal, role trader)")
    return 1 if failures else 0
