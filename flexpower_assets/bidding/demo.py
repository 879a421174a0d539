"""The bidding part of ``make demo``: the next delivery day's bid matrices, approved by each
client's mode, submitted to the mock exchange, and the outcome per client.

"Next delivery day" is the newest day the landing zone has price scenarios for; the clock is set
to ten minutes before that day's gate closure (after the last reservoir levels of the morning
arrived) unless ``FLEXPOWER_NOW`` says otherwise, so the sample can be bid as if it were the morning of D-1. The mock exchange
(orders kept under ``<data_dir>/exchange``) and a mock of the clients' confirmation API (it says
yes) run on free ports for the demo's duration. The maker-checker clients are handled by two demo
users: ``demo-trader`` edits one point of the matrix (a new version), ``demo-head`` (head of
trading) approves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import polars as pl

from flexpower_assets.bidding.approval import Actor, Edit, create_client_api_app
from flexpower_assets.bidding.config import load_bidding_config
from flexpower_assets.bidding.exchange_mock import ExchangeServer, LocalServer, prices_from_landing
from flexpower_assets.settings import Settings

SCENARIO_FILE = re.compile(r"price_scenarios_(\d{8})_")


def next_delivery_day(settings: Settings) -> date | None:
    days = [SCENARIO_FILE.match(p.name).group(1) for p in (settings.landing_dir / "market").glob("price_scenarios_*.csv")
            if SCENARIO_FILE.match(p.name)] if (settings.landing_dir / "market").exists() else []
    return max((date(int(d[:4]), int(d[4:6]), int(d[6:])) for d in days), default=None)


def run_bid_demo(settings: Settings, echo: Callable[[str], None] = print) -> int:
    from flexpower_assets.bidding.actors import actor_for
    from flexpower_assets.bidding.commands import _validator
    from flexpower_assets.briefing_cli import echo_briefings  # the bid run builds them (asset briefing_figure)
    from flexpower_assets.definitions import build_defs
    from flexpower_assets.portal.policy import DEFAULT_POLICY, Policy, Principal
    from flexpower_assets.runner import instance, run_partition
    from resources.bidding import BiddingResource
    from resources.warehouse import Warehouse

    if not settings.bidding_config.exists():
        echo(f"bidding: no configuration at {settings.bidding_config} (simulate with --bidding); skipped")
        return 0
    day = next_delivery_day(settings)
    if day is None:
        echo("bidding: no price scenarios in the landing zone; skipped")
        return 0
    config = load_bidding_config(settings.bidding_config)
    now = settings.now or (config.market.gate_closure_utc(day) - timedelta(minutes=10))
    echo(f"\nbidding for delivery day {day} as of {now:%Y-%m-%d %H:%M} UTC "
         f"(gate closure {config.market.gate_closure_utc(day):%H:%M} UTC)")
    confirmations = create_client_api_app()
    with ExchangeServer(prices_from_landing(settings.landing_dir), now=lambda: now,
                        state_path=settings.data_dir / "exchange" / "state.json") as exchange, \
            LocalServer(confirmations) as client_api:
        bid_settings = replace(settings, now=now, exchange_url=exchange.url, external_approval_url=client_api.url)
        summary = run_partition(build_defs(bid_settings), "bidding_job", day.isoformat(), instance())
        echo(f"bid run {summary.run_id[:8]}: {'ok' if summary.success else 'FAILED: ' + str(summary.error)}")
        failures_briefing = echo_briefings(settings, day, echo)
        resource = BiddingResource(config_path=str(settings.bidding_config), data_dir=str(settings.data_dir),
                                   now=now.isoformat(), exchange_url=exchange.url,
                                   external_approval_url=client_api.url)
        warehouse = Warehouse(settings.warehouse_path)
        policy = Policy.load(DEFAULT_POLICY)
        maker = actor_for(Principal("demo-trader", "trader"), policy, config)
        checker = actor_for(Principal("demo-head", "head_of_trading"), policy, config)
        failures = (0 if summary.success else 1) + failures_briefing
        for client in config.clients:
            desk = resource.desk(warehouse, config, _validator(config, day, client.id, bid_settings), alert=lambda s, b, sev: None)
            try:
                latest = desk.store.version(client.id, day)
            except LookupError:
                echo(f"  {client.id:<14} no matrix")
                continue
            if client.approval == "maker_checker" and latest.approval is None:
                latest = _four_eyes(desk, client.id, day, latest, maker, checker, client.approval, echo)
            sent = desk.submit(client.id, day, resource.exchange(config.stage_time_limits_s.submit), now=now,
                               timezone_name=config.market.timezone, gate_closure_local=config.market.gate_closure,
                               user="demo-head" if client.approval == "maker_checker" else "system")
            results = resource.exchange(10).results(client.id, day)
            cleared = ""
            if results is not None:
                desk.record_cleared(client.id, day, results)
                cleared = f"; cleared {results['accepted_mwh']:.1f} MWh for {results['revenue_eur']:,.0f} EUR"
            status = {"already_submitted": "accepted (sent by the bid run)"}.get(sent["status"], sent["status"])
            echo(f"  {client.id:<14} {client.approval:<14} v{latest.version} {latest.approval or 'not approved'}"
                 f" -> {status}{cleared}")
            failures += sent["status"] not in ("accepted", "already_submitted") and client.approval != "external"
    echo(f"compliance log: {settings.data_dir / 'bidding' / 'compliance.jsonl'} (flexpower compliance verify)")
    return 1 if failures else 0


def _four_eyes(desk, client_id: str, day: date, version, maker: Actor, checker: Actor, mode: str, echo):
    """The maker lowers the first rising point of the matrix to the point below; the checker approves."""
    matrix = desk.store.matrix(client_id, day, version.version)
    rising = matrix.sort("delivery_start", "point").with_columns(
        before=pl.col("volume_mw").shift(1).over("delivery_start")).filter(pl.col("volume_mw") > pl.col("before"))
    if rising.height:
        edit = Edit(rising["delivery_start"][0], int(rising["point"][0]), float(rising["before"][0]))
        version = desk.edit(client_id, day, [edit], maker)
        echo(f"  {client_id:<14} {maker.user} edited MTU {edit.delivery_start:%H:%M} point {edit.point} -> "
             f"{edit.volume_mw} MW: v{version.version}")
    return desk.approve(client_id, day, version.version, checker, mode)
