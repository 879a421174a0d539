"""The ``flexpower backtest`` and ``flexpower champion-pin`` commands (through Dagster, so the
backtest run shows up in the UI like one launched there)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import polars as pl

from flexpower_assets.domain.probabilistic import EMPIRICAL, GBM
from flexpower_assets.reports.backtest import report_path
from flexpower_assets.settings import Settings
from resources.warehouse import Warehouse

PINNABLE = (EMPIRICAL, GBM)


def run_backtest_command(settings: Settings, first: str, last: str, strategies: str, curtailment_price: float,
                         echo: Callable[[str], None] = print) -> int:
    from flexpower_assets.definitions import build_defs
    from flexpower_assets.runner import QUIET, instance

    chosen = [s.strip() for s in strategies.split(",") if s.strip()]
    config = {**QUIET, "ops": {"backtest_result": {"config": {
        "first_day": first, "last_day": last, "strategies": chosen, "curtailment_price_eur_per_mwh": curtailment_price}}}}
    job = build_defs(settings).resolve_job_def("backtest_job")
    result = job.execute_in_process(run_config=config, instance=instance(), raise_on_error=False)
    if not result.success:
        errors = [e.event_specific_data.error.message.strip() for e in result.all_events
                  if e.is_step_failure and e.event_specific_data.error]
        echo("backtest failed: " + ("; ".join(errors) or "a step failed"))
        return 1
    warehouse = Warehouse(settings.warehouse_path)
    rows = warehouse.read("select asset_type, strategy, delivery_day, sum(net_eur) as net_eur from main.backtest_result "
                          "group by 1, 2, 3")
    echo(f"backtest_result: {warehouse.read('select count(*) as n from main.backtest_result')['n'][0]} rows, "
         f"{rows['delivery_day'].n_unique()} day(s), strategies {', '.join(sorted(rows['strategy'].unique()))}")
    for kind, name, value in rows.group_by("asset_type", "strategy").agg(pl.col("net_eur").sum()).sort(
            "asset_type", "strategy").iter_rows():
        echo(f"  {kind:<16}{name:<20}{value:>14,.2f} EUR net")
    echo(f"report: {report_path(settings.documents_root, date.fromisoformat(first), date.fromisoformat(last))}")
    return 0


def pin_champion(settings: Settings, method: str, from_day: date, asset_id: str | None, pinned_by: str,
                 reason: str) -> None:
    if method not in PINNABLE:
        raise ValueError(f"cannot pin {method!r}: choose one of {', '.join(PINNABLE)}")
    warehouse = Warehouse(settings.warehouse_path)
    with warehouse.writer() as conn:
        conn.execute("create table if not exists main.champion_pin (method varchar, from_day date, asset_id varchar, "
                     "pinned_by varchar, reason varchar, pinned_at timestamptz)")
        conn.execute("insert into main.champion_pin values (?, ?, ?, ?, ?, ?)",
                     [method, from_day, asset_id, pinned_by, reason, datetime.now().astimezone()])


def run_demo_backtest(settings: Settings, warehouse: Warehouse, echo: Callable[[str], None] = print) -> int:
    """The demo's backtest: every built day that has the methods' quantiles (not only the fallback)."""
    if not warehouse.table_exists("main", "asset_forecast_quantile"):
        return 0
    days = warehouse.read("select min(delivery_day) as first, max(delivery_day) as last from main.asset_forecast_quantile "
                          "where method <> 'fallback'")
    if days["first"][0] is None:
        echo("backtest: no day with quantiles from the methods yet (too little history)")
        return 0
    echo("")
    return run_backtest_command(settings, days["first"][0].isoformat(), days["last"][0].isoformat(),
                                "point,quantile,scenario_curves,perfect_foresight", 0.0, echo)
