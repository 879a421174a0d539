"""Entry points: write a complete sample landing zone, or add forecasts and public trades to one.

``simulate`` writes every folder of FORMATS.md for a simulated portfolio, with the quirks of the
real files and a few deliberately bad files. ``add_forecasts_and_public_trades`` completes a
landing zone of real files (which lack both) from the assets of its newest CRM snapshot.
Both are deterministic for a seed and never read the clock.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from tqdm import tqdm

from flexpower_assets.simulator.bad_files import (
    write_bad_trade_reexports,
    write_broken_number_final,
    write_off_grid_forecast,
)
from flexpower_assets.simulator.bidding import simulate_bidding
from flexpower_assets.simulator.crm import read_newest_crm_assets, write_crm_snapshots
from flexpower_assets.simulator.dso import (
    CORRECTION_DELAY_DAYS,
    FinalPlan,
    choose_redispatch,
    write_compensation,
    write_redispatch_flags,
)
from flexpower_assets.simulator.exchange import (
    export_name,
    export_time,
    private_trades,
    public_trades,
    sort_trades,
    write_export,
)
from flexpower_assets.simulator.imbalance import write_imbalance
from flexpower_assets.simulator.jobs import AssetJob, JobContext, run_asset_jobs
from flexpower_assets.simulator.market import Market
from flexpower_assets.simulator.noise import rng_for
from flexpower_assets.simulator.portfolio import Contract, Portfolio, asset_spec_for, build_portfolio
from flexpower_assets.simulator.summary import KINDS, SimulationSummary
from flexpower_assets.simulator.timegrid import Grid, Period
from flexpower_assets.simulator.vpp import (
    REAL_LAYOUT,
    ForecastVersions,
    LivePlan,
    check_layout,
    live_stem,
    write_technical_data,
)
from flexpower_assets.simulator.weather import AssetModel, Weather

DEFAULT_PUBLIC_TRADES_PER_DAY = 200_000
DAY_AHEAD_VERSION_BEFORE_DAY_QH = 52  # our hourly sales use the version 13 h before the day
TRADEABLE_LEAD_QH = 4  # quarter-hour trades follow the version 1 h before delivery
FOLDERS = ["crm", "vpp/technical_data", "vpp/forecasts", "vpp/live", "dso", "exchange", "imbalance"]


def simulate(out: Path, n_assets: int, start: date, days: int, seed: int, progress: bool = False,
             public_trades_per_day: int = DEFAULT_PUBLIC_TRADES_PER_DAY,
             layout: str = REAL_LAYOUT, bidding_config: Path | None = None, bidding_clients: int = 3,
             bidding_plants_per_client: int = 2, bidding_scenarios: int = 50) -> SimulationSummary:
    """Write a complete landing zone for ``n_assets`` assets and ``days`` delivery days into ``out``.

    ``layout`` is that of the forecast and live files: ``real`` (indented, float milliseconds,
    as the VPP writes them) or ``compact`` (see ``simulator.vpp``). With ``bidding_config`` (a path)
    the day-ahead bidding folders (``market``, ``hydro``) are written too and the bidding
    configuration (the hydro clients, plus the portfolio's assets as the renewable client) goes to
    that path; without it the output is unchanged."""
    out = Path(out)
    check_layout(layout)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; the simulator writes a fresh landing zone")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    period = Period(start, days)
    grid = Grid.for_period(period)
    portfolio = build_portfolio(n_assets, period, seed)
    weather = Weather.generate(grid, seed)
    market = Market.generate(grid, seed)
    events = choose_redispatch(portfolio, period, grid, weather, seed)
    curtailed: dict[str, dict[int, float]] = {}
    for event in events:
        curtailed.setdefault(event.asset_id, {}).update(zip(event.indices, event.shares))
    models = [AssetModel(a.spec, grid, weather, seed, curtailed.get(a.asset_id, {}))
              for a in portfolio.assets]

    summary = _new_summary(out, [a.asset_id for a in portfolio.assets], period)
    for folder in FOLDERS:
        (out / folder).mkdir(parents=True, exist_ok=True)
    write_crm_snapshots(out, portfolio, period, seed, summary)
    _describe_contracts(portfolio, summary)
    write_technical_data(out, portfolio, period, seed, summary)

    context = JobContext(out, period, ForecastVersions.for_period(grid, period, layout), seed)
    jobs = _asset_jobs(portfolio, models, period, seed, summary)
    _add_counts(summary, run_asset_jobs(jobs, context, progress))
    write_redispatch_flags(out, events, grid, seed, summary)
    write_compensation(out, market, grid, period, summary)
    _write_private_exports(out, portfolio, models, market, grid, period, seed, summary)
    _write_public_exports(out, market, grid, period, seed, public_trades_per_day, summary, progress,
                          empty_one=True)
    write_imbalance(out, market, grid, period, seed, summary)

    write_off_grid_forecast(out, models[0], period, summary, layout)
    broken = portfolio.role("bad_final_production")
    write_broken_number_final(out, models[broken.index], broken.metering_point_id, period, summary)
    write_bad_trade_reexports(out, period, summary)
    if bidding_config is not None:
        simulate_bidding(out, bidding_config, start, days, seed, summary, n_clients=bidding_clients,
                         plants_per_client=bidding_plants_per_client, n_scenarios=bidding_scenarios,
                         renewable_assets=[a.asset_id for a in portfolio.assets])
    return summary


def add_forecasts_and_public_trades(
    landing: Path, start: date, days: int, seed: int, progress: bool = False,
    public_trades_per_day: int = DEFAULT_PUBLIC_TRADES_PER_DAY, layout: str = REAL_LAYOUT,
) -> SimulationSummary:
    """Forecast versions for the assets of the newest CRM snapshot, and public trades, for the days."""
    landing = Path(landing)
    check_layout(layout)
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    assets = read_newest_crm_assets(landing)
    period = Period(start, days)
    grid = Grid.for_period(period)
    weather = Weather.generate(grid, seed)
    market = Market.generate(grid, seed)
    models = [AssetModel(asset_spec_for(a.asset_id, a.technology, round(a.capacity_mw * 1000, 3), seed),
                         grid, weather, seed) for a in assets]
    summary = _new_summary(landing, [a.asset_id for a in assets], period)
    for folder in ("vpp/forecasts", "exchange"):
        (landing / folder).mkdir(parents=True, exist_ok=True)
    context = JobContext(landing, period, ForecastVersions.for_period(grid, period, layout), seed)
    _add_counts(summary, run_asset_jobs([AssetJob(m) for m in models], context, progress))
    _write_public_exports(landing, market, grid, period, seed, public_trades_per_day, summary, progress,
                          empty_one=False)
    return summary


def _new_summary(out: Path, asset_ids: list[str], period: Period) -> SimulationSummary:
    return SimulationSummary(landing=out, asset_ids=asset_ids, days=list(period.days),
                             files={kind: 0 for kind in KINDS})


def _add_counts(summary: SimulationSummary, counts: Counter) -> None:
    for kind, n in counts.items():
        summary.count(kind, n)


def _describe_contracts(portfolio: Portfolio, summary: SimulationSummary) -> None:
    bad = portfolio.contracts[portfolio.role("inconsistent_contract").index]
    starts = portfolio.contracts[portfolio.role("contract_starts").index]
    ends = portfolio.contracts[portfolio.role("contract_ends").index]
    summary.quirks["inconsistent_contract"] = (
        f"{bad.contract_id}: price_model fixed without a price; fixed_as_produced without a fee "
        f"but with fee_percent {bad.fee_percent}")
    summary.quirks["contract_starts"] = (
        f"{starts.contract_id} begins {starts.begin}, listed from the snapshot of {starts.listed_from}")
    summary.quirks["contract_ends"] = f"{ends.contract_id} ends {ends.end} (inactive from that day)"


def _asset_jobs(portfolio: Portfolio, models: list[AssetModel], period: Period, seed: int,
                summary: SimulationSummary) -> list[AssetJob]:
    rng = rng_for(seed, "quirk-days")
    no_live = portfolio.role("live_missing")
    no_live_day = period.days[int(rng.integers(period.n_days))]
    entity = portfolio.role("live_entity_id")
    alias = portfolio.role("live_alias_name")
    no_final = portfolio.role("final_missing")
    no_final_day = period.utc_days[int(rng.integers(len(period.utc_days)))]
    corrected = portfolio.role("final_correction")
    corrected_day = period.utc_days[int(rng.integers(len(period.utc_days)))]
    jobs = []
    entity_files = []
    for asset, model in zip(portfolio.assets, models):
        missing = frozenset({no_live_day}) if asset is no_live else frozenset()
        by_entity = {d for d in period.days if asset is entity or rng.random() < 0.05} - missing
        stem = live_stem(asset, alias=asset is alias)
        entity_files += [f"{stem}_{d:%Y%m%d}.json" for d in sorted(by_entity)]
        final = FinalPlan(
            missing_days=frozenset({no_final_day}) if asset is no_final else frozenset(),
            correction_day=corrected_day if asset is corrected else None,
        )
        live = LivePlan(stem, missing, frozenset(by_entity))
        jobs.append(AssetJob(model, asset.metering_point_id, live, final))
    summary.quirks["live_missing"] = f"{no_live.asset_id} has no live file for {no_live_day}"
    summary.quirks["live_entity_id"] = "key.entity_id instead of key.asset_id in " + ", ".join(entity_files)
    summary.quirks["live_alias_name"] = (
        f"{alias.asset_id}'s live files are named {live_stem(alias, True)}_<day>.json")
    summary.quirks["final_missing"] = (
        f"{no_final.metering_point_id} has no final production for UTC day {no_final_day}")
    delivered = corrected_day + timedelta(days=1 + CORRECTION_DELAY_DAYS)
    correction_name = f"final_production_{corrected.metering_point_id}_{delivered:%Y%m%d}.csv"
    summary.quirks["final_correction"] = (
        f"{correction_name} corrects 09:00-13:00 UTC of {corrected_day} (the first file reads 30 % low "
        "from 10:00 to 12:00)")
    return jobs


def _is_active(contract: Contract, day: date) -> bool:
    return contract.begin <= day and (contract.end is None or day < contract.end)


def _write_private_exports(out: Path, portfolio: Portfolio, models: list[AssetModel], market: Market,
                           grid: Grid, period: Period, seed: int, summary: SimulationSummary) -> None:
    rng = rng_for(seed, "private-exports")
    frames: dict[date, pl.DataFrame] = {}
    for day in period.days:
        sl = grid.day_slice(day)
        targets = np.arange(sl.start, sl.stop)
        day_ahead = np.zeros(len(targets))
        latest = np.zeros(len(targets))
        for contract, model in zip(portfolio.contracts, models):
            if _is_active(contract, day):
                day_ahead += model.forecast(targets, sl.start - DAY_AHEAD_VERSION_BEFORE_DAY_QH)
                latest += model.forecast(targets, targets - TRADEABLE_LEAD_QH)
        frames[day] = private_trades(day, grid, market, day_ahead / 1000, latest / 1000, seed)
    duplicate = frames[period.first_day].head(1)
    exports = [(day, export_time(day, rng, (3, 12)), frame) for day, frame in frames.items()]
    if period.n_days > 1:
        last_day, exported, frame = exports[-1]
        exports[-1] = (last_day, exported, sort_trades(pl.concat([frame, duplicate])))
        target = exports[-1]
    else:
        target = (period.first_day, exports[0][1] + timedelta(hours=2), duplicate)
        exports.append(target)
    for day, exported, frame in exports:
        path = write_export(out / "exchange", "Private_Trades", "Private Trades", day, exported, frame)
        summary.count("private_trades")
        if (day, exported) == target[:2]:
            summary.quirks["duplicate_trade"] = (
                f"TradeId {duplicate['trade_id'][0]} of {period.first_day} is also in {path.name}")


def _write_public_exports(out: Path, market: Market, grid: Grid, period: Period, seed: int, per_day: int,
                          summary: SimulationSummary, progress: bool, empty_one: bool) -> None:
    rng = rng_for(seed, "public-exports")
    empty_day = period.days[int(rng.integers(period.n_days))] if empty_one else None
    for day in tqdm(period.days, desc="public trades", unit="day", disable=not progress):
        frame = public_trades(day, grid, market, per_day, seed)
        exported = export_time(day, rng, (15, 30))
        write_export(out / "exchange", "Public_Trades", "Public Trades", day, exported, frame)
        summary.count("public_trades")
        if day == empty_day:
            path = out / "exchange" / export_name("Public_Trades", day, export_time(day, rng, (0, 2)))
            path.write_bytes(b"")
            summary.count("public_trades")
            summary.bad(path, "empty export (0 bytes); the day's valid export is another file")
