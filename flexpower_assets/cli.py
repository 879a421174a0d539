"""The ``flexpower`` command line: simulate, ingest, materialize, demo, bench (and the portal).

Every command reads the same settings as the Dagster code location (FLEXPOWER_LANDING_DIR,
FLEXPOWER_WAREHOUSE) and runs partitions through Dagster, so runs show up in the UI.
"""

from __future__ import annotations

import importlib
import sys
import time
from datetime import date
from pathlib import Path

import click

from flexpower_assets.bench.runs import bench_runs_command
from flexpower_assets.bidding.commands import bench_bids_command, bids_group, compliance_group, exchange_group
from flexpower_assets.settings import Settings

LAYOUTS = ("real", "compact")  # of the simulated VPP files (flexpower_assets.simulator.vpp.LAYOUTS)


def check_warehouse(path: Path) -> None:
    """Stop with a readable error (naming the file and how to restore it) if the warehouse is damaged."""
    from resources.warehouse import Warehouse, WarehouseDamaged

    try:
        Warehouse(path).check()
    except WarehouseDamaged as exc:
        raise click.ClickException(str(exc)) from None


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class LazyGroup(click.Group):
    """A group whose heavy subcommands (the portal's) are imported only when they are called:
    ``flexpower simulate`` or ``materialize`` should not pay for FastAPI and the portal policy."""

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy_commands:
            module, attribute = self.lazy_commands[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)


LAZY_COMMANDS = {
    "portal": "flexpower_assets.portal.commands:portal_command",
    "token": "flexpower_assets.portal.commands:token_group",
    "audit": "flexpower_assets.portal.commands:audit_group",
    "briefing": "flexpower_assets.briefing_cli:briefing_command",
}


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS)
def main() -> None:
    """RouteToMarket data platform."""


@main.command()
@click.option("--assets", "n_assets", type=int, default=12, show_default=True, help="Number of assets.")
@click.option("--start", required=True, help="First delivery day, YYYY-MM-DD.")
@click.option("--days", type=int, default=1, show_default=True, help="Number of delivery days.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same files).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Landing zone to write (default: FLEXPOWER_LANDING_DIR).")
@click.option("--public-trades-per-day", type=int, default=None, help="Market trades per day (default 200,000).")
@click.option("--forecasts-and-public-trades-only", is_flag=True,
              help="Only add forecasts and public trades for the assets in an existing landing zone's contracts.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="real", show_default=True,
              help="Forecast and live JSON: real (indented, float ms, as the VPP writes them) or compact.")
@click.option("--bidding", is_flag=True,
              help="Also write the day-ahead bidding data (market/, hydro/) and the bidding configuration "
                   "(to FLEXPOWER_BIDDING_CONFIG, or --bidding-config).")
@click.option("--bidding-config", type=click.Path(path_type=Path), default=None,
              help="Where --bidding writes the bidding configuration.")
@click.option("--bidding-clients", type=int, default=3, show_default=True, help="Hydro clients (with --bidding).")
@click.option("--bidding-plants-per-client", type=int, default=2, show_default=True,
              help="Reservoir plants per hydro client (with --bidding).")
@click.option("--bidding-scenarios", type=int, default=50, show_default=True,
              help="Price scenarios per delivery day (with --bidding).")
def simulate(n_assets: int, start: str, days: int, seed: int, out: Path | None,
             public_trades_per_day: int | None, forecasts_and_public_trades_only: bool, layout: str,
             bidding: bool, bidding_config: Path | None, bidding_clients: int, bidding_plants_per_client: int,
             bidding_scenarios: int) -> None:
    """Write a sample landing zone in the inbound formats (deterministic for a seed)."""
    from flexpower_assets import simulator

    settings = Settings.from_env()
    out = out or settings.landing_dir
    extra = {"layout": layout}
    if bidding and not forecasts_and_public_trades_only:
        extra.update(bidding_config=bidding_config or settings.bidding_config, bidding_clients=bidding_clients,
                     bidding_plants_per_client=bidding_plants_per_client, bidding_scenarios=bidding_scenarios)
    if public_trades_per_day is not None:
        extra["public_trades_per_day"] = public_trades_per_day
    began = time.perf_counter()
    if forecasts_and_public_trades_only:
        summary = simulator.add_forecasts_and_public_trades(out, _day(start), days, seed, progress=True, **extra)
    else:
        summary = simulator.simulate(out, n_assets, _day(start), days, seed, progress=True, **extra)
    click.echo(f"wrote {sum(summary.files_by_kind.values())} files to {out} in {time.perf_counter() - began:.1f} s")
    for kind, count in sorted(summary.files_by_kind.items()):
        click.echo(f"  {kind:<26}{count:>8}")
    for path, problem in summary.bad_files:
        click.echo(f"  deliberately bad: {path} ({problem})")


@main.command()
def ingest() -> None:
    """Register every new file of the landing zone (accepted, rejected, duplicate) and stage its rows."""
    from flexpower_assets.ingestion.catalog import sync_landing
    from resources.warehouse import Warehouse

    settings = Settings.from_env()
    check_warehouse(settings.warehouse_path)
    report = sync_landing(settings.landing_dir, Warehouse(settings.warehouse_path), workers=settings.parse_workers,
                          min_age_s=settings.min_file_age_s)
    click.echo(f"registered {report.n_new} new file(s) from {settings.landing_dir}")
    if report.unsettled:
        click.echo(f"  {len(report.unsettled)} file(s) changed in the last {settings.min_file_age_s:g} s "
                   f"(still being written?): left for the next sync")
    for (kind, status), count in sorted(report.counts.items()):
        click.echo(f"  {kind:<26}{status:<12}{count:>8}")
    for path, message in report.rejected:
        click.echo(f"  rejected {path}: {message}")


@main.command()
@click.option("--older-than-days", type=float, default=7.0, show_default=True,
              help="Move files registered at least this many days ago.")
@click.option("--to", "archive_dir", type=click.Path(path_type=Path), default=None,
              help="The archive folder, on the landing zone's file system (default: <data dir>/archive).")
@click.option("--dry-run", is_flag=True, help="Only list what would be moved.")
def archive(older_than_days: float, archive_dir: Path | None, dry_run: bool) -> None:
    """Move registered, unchanged files out of the landing zone (rejected and changed files stay).

    Each sync lists every file of the landing zone; moving the registered ones to an archive
    keeps that listing to recent files. Catalog and staged rows stay: nothing is rebuilt.
    """
    from datetime import UTC, datetime, timedelta

    from flexpower_assets.ingestion.archive import archive_registered
    from resources.warehouse import Warehouse

    settings = Settings.from_env()
    check_warehouse(settings.warehouse_path)
    target = archive_dir or settings.data_dir / "archive"
    try:
        report = archive_registered(settings.landing_dir, target, Warehouse(settings.warehouse_path),
                                    timedelta(days=older_than_days), datetime.now(UTC), dry_run=dry_run)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    click.echo(f"{'would move' if dry_run else 'moved'} {len(report.moved)} file(s) from {settings.landing_dir} "
               f"to {target / 'files'}" + ("" if dry_run else f" (listed in {target / 'manifest.jsonl'})"))
    for path in report.vanished:
        click.echo(f"  {path} was removed from the landing zone before it could move")
    if report.kept_changed:
        click.echo(f"  {report.kept_changed} registered file(s) changed since: left for the next sync")
    for path in report.skipped_existing:
        click.echo(f"  kept {path}: the archive already holds a file of that name")


@main.command()
@click.option("--day", help="One delivery day, YYYY-MM-DD.")
@click.option("--from", "first", help="First delivery day of a range.")
@click.option("--to", "last", help="Last delivery day of a range (inclusive).")
@click.option("--month", help="A month YYYY-MM: its invoices and monthly reports from the days already built.")
@click.option("--reports/--no-reports", default=True, show_default=True,
              help="Also write each day's performance reports (after the day's tables).")
def materialize(day: str | None, first: str | None, last: str | None, month: str | None, reports: bool) -> None:
    """Materialize every daily asset for some days (or a month's assets) through Dagster.

    A range of days is one run (per 31 days), as a backfill from the UI is.
    """
    if not (month or day or first):
        raise click.UsageError("give --day, --from/--to or --month")
    if not month:
        start = _day(day or first)
        end = _day(day or last or first)
        if end < start:
            raise click.UsageError(f"--to {end} is before --from {start}")
    from flexpower_assets.definitions import build_defs
    from flexpower_assets.runner import instance as dagster_instance
    from flexpower_assets.runner import materialize_days, run_partition

    check_warehouse(Settings.from_env().warehouse_path)
    defs = build_defs()
    instance = dagster_instance()
    if month:
        began = time.perf_counter()
        summary = run_partition(defs, "monthly_job", month + "-01", instance)
        click.echo(f"monthly_job {summary.partition}: {'ok' if summary.success else 'FAILED'}, "
                   f"{summary.materialized} assets, {time.perf_counter() - began:.1f} s (run {summary.run_id[:8]})")
        for check in summary.failed_checks:
            click.echo(f"    check failed: {check}")
        if not summary.success:
            click.echo(f"    error: {summary.error}", err=True)
            sys.exit(1)
        return
    from flexpower_assets.domain.time import days_between

    failed = materialize_days(defs, instance, days_between(start, end), reports=reports, echo=click.echo,
                              echo_error=lambda text: click.echo(text, err=True))
    if failed:
        click.echo(f"failed: {', '.join(failed)}; see the runs in the Dagster UI (make ui).", err=True)
        sys.exit(1)


@main.command()
def demo() -> None:
    """Build every day of the landing zone, then its months; print what was produced and where."""
    from flexpower_assets.demo import run_demo

    settings = Settings.from_env()
    check_warehouse(settings.warehouse_path)
    sys.exit(run_demo(settings, echo=click.echo))


@main.group(invoke_without_command=True)
@click.option("--assets", "n_assets", type=int, default=1000, show_default=True)
@click.option("--days", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--baseline/--no-baseline", default=False, help="Also run the plain-pandas implementation.")
@click.option("--workdir", type=click.Path(path_type=Path), default=None, help="Where to simulate (default: a temp dir).")
@click.option("--layout", type=click.Choice(LAYOUTS), default="real", show_default=True,
              help="Layout of the simulated forecast and live files.")
@click.option("--drop-caches/--no-drop-caches", default=True, show_default=True,
              help="Empty the page cache before each measured run where permitted (else the run is warm).")
@click.option("--day-by-day", is_flag=True,
              help="Let the days arrive one at a time (ingest, then build the day) and compare the cost "
                   "of the last days with the first.")
@click.option("--public-trades-per-day", type=int, default=None, help="Market trades per day (default 200,000).")
@click.option("--archive-after-days", type=int, default=None,
              help="With --day-by-day: archive the files registered this many days before each day "
                   "(`flexpower archive`), so the landing zone holds only recent files.")
@click.pass_context
def bench(ctx: click.Context, n_assets: int, days: int, seed: int, baseline: bool, workdir: Path | None, layout: str,
          drop_caches: bool, day_by_day: bool, public_trades_per_day: int | None,
          archive_after_days: int | None) -> None:
    """Time ingestion and every contract table for N simulated assets; last line is JSON.

    `flexpower bench bids ...` times a day-ahead bid run instead."""
    if ctx.invoked_subcommand is not None:
        return
    if day_by_day:
        if baseline:
            raise click.UsageError("--baseline compares one ingestion of all days; it does not go with --day-by-day")
        from flexpower_assets.bench.days import run_day_by_day

        run_day_by_day(n_assets=n_assets, days=days, seed=seed, workdir=workdir, echo=click.echo,
                       public_trades_per_day=public_trades_per_day, layout=layout, drop_caches=drop_caches,
                       archive_after_days=archive_after_days)
        return
    if archive_after_days is not None:
        raise click.UsageError("--archive-after-days goes with --day-by-day")
    from flexpower_assets.bench.run import run_benchmark

    run_benchmark(n_assets=n_assets, days=days, seed=seed, baseline=baseline, workdir=workdir, echo=click.echo,
                  layout=layout, drop_caches=drop_caches, public_trades_per_day=public_trades_per_day)


bench.add_command(bench_bids_command, "bids")
bench.add_command(bench_runs_command, "runs")


@main.command()
@click.option("--from", "first", required=True, help="First delivery day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last delivery day, YYYY-MM-DD.")
@click.option("--strategies", default="point,quantile,scenario_curves,perfect_foresight", show_default=True,
              help="Comma-separated strategies: point and quantile (renewables), scenario_curves (the hydro "
                   "clients' plants); perfect_foresight, the bound, is always added.")
@click.option("--curtailment-price", type=float, default=0.0, show_default=True,
              help="EUR/MWh from which the renewable sell step is offered.")
def backtest(first: str, last: str, strategies: str, curtailment_price: float) -> None:
    """Replay past delivery days with each strategy into backtest_result, and write the HTML report."""
    from flexpower_assets.backtest_cli import run_backtest_command

    sys.exit(run_backtest_command(Settings.from_env(), first, last, strategies, curtailment_price, echo=click.echo))


@main.command("champion-pin")
@click.argument("method")
@click.option("--from", "from_day", required=True, help="First delivery day the pin applies to, YYYY-MM-DD.")
@click.option("--asset", "asset_id", default=None, help="Asset to pin (default: every asset).")
@click.option("--by", "pinned_by", required=True, help="Who pins (recorded).")
@click.option("--reason", required=True, help="Why (recorded).")
def champion_pin(method: str, from_day: str, asset_id: str | None, pinned_by: str, reason: str) -> None:
    """Pin the champion forecast method from a day on (recorded in main.champion_pin)."""
    from flexpower_assets.backtest_cli import pin_champion

    pin_champion(Settings.from_env(), method, date.fromisoformat(from_day), asset_id, pinned_by, reason)
    click.echo(f"pinned {method} from {from_day} for {asset_id or 'every asset'}")


main.add_command(bids_group, "bids")
main.add_command(compliance_group, "compliance")
main.add_command(exchange_group, "exchange")

if __name__ == "__main__":
    main()
