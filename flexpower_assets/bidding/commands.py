"""The bidding command line, added to ``flexpower``: ``bids``, ``compliance``, ``exchange``.

- ``flexpower bids run --day D [--client C]`` runs the bid job for a delivery day through Dagster
  (the run is in the UI, re-runnable there); ``bids show`` lists versions, approvals and
  submissions (``--matrix`` prints a version's points); ``bids edit`` makes a new version by hand,
  ``bids approve`` approves one (maker-checker), ``bids submit`` sends the newest approved one.
  A person is identified by a portal token (``--token`` or ``FLEXPOWER_TOKEN``; ``flexpower token
  create``): what the token's role may do comes from the portal policy and the bidding configuration.
- ``flexpower compliance verify`` checks the compliance log's hash chain.
- ``flexpower exchange serve`` runs the mock exchange; ``flexpower exchange confirmations`` a mock
  of the clients' confirmation API (``--decline CLIENT`` makes it say no for a client).
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import click

from flexpower_assets.settings import Settings


def _settings() -> Settings:
    return Settings.from_env()


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a day YYYY-MM-DD", param_hint="--day") from None


def _desk(settings: Settings):
    from flexpower_assets.bidding.config import load_bidding_config
    from resources.bidding import BiddingResource

    config = load_bidding_config(settings.bidding_config)
    resource = BiddingResource(config_path=str(settings.bidding_config), data_dir=str(settings.data_dir),
                               now=settings.now.isoformat() if settings.now else "",
                               exchange_url=settings.exchange_url,
                               external_approval_url=settings.external_approval_url)
    return config, resource


def _validator(config, day: date, client_id: str, settings: Settings):
    """The rule check of a client's matrix (capacity from the day's technical data)."""
    from flexpower_assets.bidding import validation
    from flexpower_assets.bidding.asset_types import asset_type
    from flexpower_assets.bidding.inputs import technical_source
    from resources.warehouse import Warehouse

    client = config.client(client_id)
    as_of = min(settings.current_time(), config.market.gate_closure_utc(day))
    sell = buy = 0.0
    for asset_id, type_name in client.asset_types().items():
        source = technical_source(type_name)
        rows = source(Warehouse(settings.warehouse_path), day, as_of) if source else None
        if rows is None or rows.is_empty() or "asset_id" not in rows.columns:
            continue
        mine = rows.filter(rows["asset_id"] == asset_id)
        if mine.height:
            kind = asset_type(type_name)
            record = {k: v for k, v in mine.row(0, named=True).items() if k in kind.technical_model.model_fields}
            technical = kind.technical_model.model_validate(record)
            sell += technical.max_sell_mw
            buy += technical.max_buy_mw
    starts = config.market.mtu_starts(day)
    return lambda matrix: [str(v) for v in validation.validate_bids(matrix, config, starts, sell, buy)]


def _actor(token: str | None, config):
    from flexpower_assets.bidding.actors import actor_for
    from flexpower_assets.portal.policy import DEFAULT_POLICY, Policy
    from flexpower_assets.portal.tokens import TokenStore

    if not token:
        raise click.UsageError("give --token (or set FLEXPOWER_TOKEN): a portal token from `flexpower token create`")
    principal = TokenStore(_settings().data_dir / "portal").principal(token)
    if principal is None:
        raise click.ClickException("the token is unknown or revoked")
    return actor_for(principal, Policy.load(DEFAULT_POLICY), config)


def _open(day: date, client_id: str):
    from resources.warehouse import Warehouse

    settings = _settings()
    config, resource = _desk(settings)
    try:
        config.client(client_id)
    except KeyError as error:
        raise click.BadParameter(str(error), param_hint="--client") from None
    desk = resource.desk(Warehouse(settings.warehouse_path), config, _validator(config, day, client_id, settings),
                         alert=lambda s, b, sev: click.echo(f"[{sev.upper()}] {s}: {b}", err=True))
    return settings, config, resource, desk


TOKEN = click.option("--token", envvar="FLEXPOWER_TOKEN", default=None, help="Your portal token [env FLEXPOWER_TOKEN].")


@click.group("bids")
def bids_group() -> None:
    """Day-ahead bid matrices: run, show, edit, approve, submit."""


@bids_group.command("run")
@click.option("--day", required=True, help="Delivery day YYYY-MM-DD.")
@click.option("--client", "client_id", default=None, help="Only this client (default: every configured client).")
def bids_run(day: str, client_id: str | None) -> None:
    """Run the bid job for a delivery day through Dagster (visible and re-runnable in the UI)."""
    from flexpower_assets.assets.bidding import CLIENTS_TAG
    from flexpower_assets.definitions import build_defs
    from flexpower_assets.runner import QUIET, instance

    settings = _settings()
    delivery_day = _day(day)
    job = build_defs(settings).resolve_job_def("bidding_job")
    tags = {CLIENTS_TAG: client_id} if client_id else {}
    result = job.execute_in_process(partition_key=delivery_day.isoformat(), instance=instance(),
                                    raise_on_error=False, run_config=QUIET, tags=tags)
    for event in result.all_events:
        if event.is_step_failure:
            click.echo(f"  step {event.step_key} failed: {event.event_specific_data.error.message.strip()}", err=True)
    _print_day(settings, delivery_day, client_id)
    click.echo(f"run {result.run_id[:8]}: {'ok' if result.success else 'FAILED'}")
    if not result.success:
        sys.exit(1)


def _print_day(settings: Settings, day: date, client_id: str | None) -> None:
    from flexpower_assets.bidding.store import BidStore
    from resources.warehouse import Warehouse

    config, _ = _desk(settings)
    store = BidStore(Warehouse(settings.warehouse_path))
    for client in config.clients:
        if client_id and client.id != client_id:
            continue
        versions = store.versions(client.id, day)
        live = store.live_submission(client.id, day)
        latest = versions[-1] if versions else None
        state = "no matrix" if latest is None else (
            f"v{latest.version} {latest.approval or 'pending approval'}"
            + (f", {len(latest.violations)} rule violation(s)" if latest.violations else ""))
        sent = f"accepted v{live['version']} as exchange order {live['exchange_order_id']}" if live else "not submitted"
        click.echo(f"{client.id:<14} {client.approval:<14} {state:<32} {sent}")


@bids_group.command("show")
@click.option("--day", required=True, help="Delivery day YYYY-MM-DD.")
@click.option("--client", "client_id", default=None)
@click.option("--version", type=int, default=None, help="With --matrix: which version (default the latest).")
@click.option("--matrix", is_flag=True, help="Print the matrix points of one client's version.")
def bids_show(day: str, client_id: str | None, version: int | None, matrix: bool) -> None:
    """Versions, approvals and submissions of a delivery day (or one version's points)."""
    from flexpower_assets.bidding.store import BidStore
    from resources.warehouse import Warehouse

    settings = _settings()
    delivery_day = _day(day)
    if not matrix:
        _print_day(settings, delivery_day, client_id)
        if client_id:
            for v in BidStore(Warehouse(settings.warehouse_path)).versions(client_id, delivery_day):
                click.echo(f"  v{v.version} {v.origin:<9} by {v.made_by:<10} {v.content_hash[:12]} "
                           f"{v.approval or 'pending'}{' by ' + v.approved_by if v.approved_by else ''}"
                           + (f"; {v.violations[0]}" if v.violations else ""))
        return
    if not client_id:
        raise click.UsageError("--matrix needs --client")
    store = BidStore(Warehouse(settings.warehouse_path))
    try:
        chosen = store.version(client_id, delivery_day, version)
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    frame = store.matrix(client_id, delivery_day, chosen.version)
    click.echo(f"{client_id} {delivery_day} v{chosen.version} ({frame.height} points, hash {chosen.content_hash})")
    click.echo("delivery_start\tpoint\tprice_eur_per_mwh\tvolume_mw")
    for row in frame.iter_rows():
        click.echo(f"{row[0]:%Y-%m-%dT%H:%M:%SZ}\t{row[1]}\t{row[2]}\t{row[3]}")


@bids_group.command("edit")
@click.option("--day", required=True)
@click.option("--client", "client_id", required=True)
@click.option("--mtu", "mtus", multiple=True, required=True, help="MTU start, ISO UTC (repeat with --point/--volume).")
@click.option("--point", "points", type=int, multiple=True, required=True)
@click.option("--volume", "volumes", type=float, multiple=True, required=True, help="New volume in MW.")
@click.option("--from-version", type=int, default=None, help="Version to edit (default the latest).")
@TOKEN
def bids_edit(day: str, client_id: str, mtus, points, volumes, from_version: int | None, token: str | None) -> None:
    """Set volumes of points by hand: a new version, which another person must approve."""
    from flexpower_assets.bidding.approval import ApprovalRefused, Edit

    if not len(mtus) == len(points) == len(volumes):
        raise click.UsageError("give as many --mtu as --point and --volume")
    delivery_day = _day(day)
    settings, config, _resource, desk = _open(delivery_day, client_id)
    actor = _actor(token, config)
    try:
        edits = [Edit(datetime.fromisoformat(m.replace("Z", "+00:00")), p, v) for m, p, v in zip(mtus, points, volumes)]
        version = desk.edit(client_id, delivery_day, edits, actor, base_version=from_version)
    except (ApprovalRefused, ValueError, LookupError) as error:
        raise click.ClickException(str(error)) from None
    note = f"; {len(version.violations)} rule violation(s): {version.violations[0]}" if version.violations else ""
    click.echo(f"{client_id} {delivery_day}: v{version.version} made by {actor.user} from v{version.based_on}{note}")


@bids_group.command("approve")
@click.option("--day", required=True)
@click.option("--client", "client_id", required=True)
@click.option("--version", type=int, required=True)
@TOKEN
def bids_approve(day: str, client_id: str, version: int, token: str | None) -> None:
    """Approve a version (maker-checker: never one you made)."""
    from flexpower_assets.bidding.approval import ApprovalRefused

    delivery_day = _day(day)
    settings, config, _resource, desk = _open(delivery_day, client_id)
    actor = _actor(token, config)
    try:
        approved = desk.approve(client_id, delivery_day, version, actor, config.client(client_id).approval)
    except (ApprovalRefused, LookupError) as error:
        raise click.ClickException(f"not approved: {error}") from None
    click.echo(f"{client_id} {delivery_day}: v{approved.version} approved by {approved.approved_by}")


@bids_group.command("submit")
@click.option("--day", required=True)
@click.option("--client", "client_id", required=True)
@TOKEN
def bids_submit(day: str, client_id: str, token: str | None) -> None:
    """Send the newest approved version to the exchange (nothing is sent twice)."""
    delivery_day = _day(day)
    settings, config, resource, desk = _open(delivery_day, client_id)
    actor = _actor(token, config)
    if "submit" not in actor.actions:
        raise click.ClickException(f"role {actor.role!r} of {actor.user} may not submit bid matrices")
    outcome = desk.submit(client_id, delivery_day, resource.exchange(config.stage_time_limits_s.submit),
                          now=settings.current_time(), timezone_name=config.market.timezone,
                          gate_closure_local=config.market.gate_closure, user=actor.user)
    click.echo(f"{client_id} {delivery_day}: {outcome['status']}"
               + (f" v{outcome['version']}" if outcome.get("version") else "")
               + (f" ({outcome['message']})" if outcome.get("message") else ""))
    if outcome["status"] not in ("accepted", "duplicate", "already_submitted"):
        sys.exit(1)


@click.group("compliance")
def compliance_group() -> None:
    """The bidding compliance log."""


@compliance_group.command("verify")
def compliance_verify() -> None:
    """Check the compliance log's hash chain; exit 1 at the first broken record."""
    from flexpower_assets.bidding.compliance import ComplianceLog, compliance_log_path

    log = ComplianceLog(compliance_log_path(_settings().data_dir))
    result = log.verify()
    if not result.ok:
        raise click.ClickException(f"compliance log broken after {result.records} good records: {result.problem}")
    click.echo(f"compliance log intact: {result.records} records ({log.path})")


@click.group("exchange")
def exchange_group() -> None:
    """The mock exchange and the mock client confirmation API."""


@exchange_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8300, show_default=True)
def exchange_serve(host: str, port: int) -> None:
    """Serve the mock exchange (orders kept in <data-dir>/exchange/state.json)."""
    import uvicorn

    from flexpower_assets.bidding.exchange_mock import create_exchange_app, prices_from_landing

    settings = _settings()
    app = create_exchange_app(prices_from_landing(settings.landing_dir), now=settings.current_time,
                              state_path=settings.data_dir / "exchange" / "state.json")
    click.echo(f"mock exchange on http://{host}:{port}/ (set FLEXPOWER_EXCHANGE_URL to it)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@exchange_group.command("confirmations")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8301, show_default=True)
@click.option("--decline", multiple=True, help="A client whose confirmation API says no.")
def exchange_confirmations(host: str, port: int, decline: tuple[str, ...]) -> None:
    """Serve a mock of the clients' own confirmation API (yes, except for --decline clients)."""
    import uvicorn

    from flexpower_assets.bidding.approval import create_client_api_app

    app = create_client_api_app(lambda r: (False, "declined by the client's desk") if r.client_id in decline
                                else (True, "confirmed by the client's desk"))
    click.echo(f"client confirmation API on http://{host}:{port}/ (set FLEXPOWER_EXTERNAL_APPROVAL_URL)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@click.command("bids")
@click.option("--clients", type=int, default=20, show_default=True)
@click.option("--assets-per-client", type=int, default=10, show_default=True)
@click.option("--scenarios", type=int, default=50, show_default=True)
@click.option("--chunk-size", type=int, default=None, help="Solves per task (default: every scenario of an asset).")
@click.option("--fault-share", type=float, default=0.0, show_default=True,
              help="Share of solves injected to fail (seeded).")
@click.option("--fault-kinds", default="raise,infeasible", show_default=True,
              help="Comma-separated injected kinds: raise, hang, infeasible (a hang costs its solve's time limit).")
@click.option("--workers", type=int, default=2, show_default=True, help="Solver worker processes per task.")
@click.option("--workdir", type=click.Path(path_type=Path), default=None)
def bench_bids_command(clients: int, assets_per_client: int, scenarios: int, chunk_size: int | None,
                       fault_share: float, fault_kinds: str, workers: int, workdir: Path | None) -> None:
    """Time one delivery day's bid run for N clients x M plants x S scenarios; last line is JSON."""
    from flexpower_assets.bench.bids import run_bid_benchmark

    summary = run_bid_benchmark(clients, assets_per_client, scenarios, fault_share=fault_share,
                                fault_kinds=tuple(k for k in fault_kinds.split(",") if k), chunk_size=chunk_size,
                                workers=workers, workdir=workdir, echo=click.echo)
    if not summary["run_success"]:
        sys.exit(1)


__all__ = ["bench_bids_command", "bids_group", "compliance_group", "exchange_group"]
