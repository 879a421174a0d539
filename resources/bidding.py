"""The bid desk as a Dagster resource: where the configuration, the exchange and the logs are.

Everything a bid run needs from the outside world is here, chosen once in ``build_defs``: the
configuration file (read at run time, so a new client or scenario count needs no reload), the
clock (``now``: a fixed ISO instant replays a past day as if before its gate closure), the
exchange's URL, the clients' confirmation API, and the data directory of the compliance log and
the incident records.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg

from flexpower_assets.bidding.approval import ExternalApprovalClient
from flexpower_assets.bidding.compliance import ComplianceLog, compliance_log_path
from flexpower_assets.bidding.config import BiddingConfig, config_hash, load_bidding_config
from flexpower_assets.bidding.desk import BidDesk
from flexpower_assets.bidding.store import BidStore
from flexpower_assets.bidding.submission import ExchangeClient
from flexpower_assets.settings import platform_clock
from resources.warehouse import Warehouse


class BiddingResource(dg.ConfigurableResource):
    config_path: str
    data_dir: str
    now: str = ""
    exchange_url: str = ""
    external_approval_url: str = ""
    solve_workers: int = 2

    def clock(self) -> datetime:
        return platform_clock(self.now)

    def load(self) -> tuple[BiddingConfig, str]:
        config = load_bidding_config(Path(self.config_path))
        return config, config_hash(config)

    @property
    def incidents_dir(self) -> Path:
        return Path(self.data_dir) / "bidding" / "incidents"

    def compliance(self) -> ComplianceLog:
        return ComplianceLog(compliance_log_path(Path(self.data_dir)))

    def exchange(self, timeout_s: float) -> ExchangeClient:
        if not self.exchange_url:
            raise dg.Failure("no exchange configured: set FLEXPOWER_EXCHANGE_URL (flexpower exchange serve starts the mock)")
        return ExchangeClient(self.exchange_url, timeout_s=timeout_s)

    def desk(self, warehouse: Warehouse, config: BiddingConfig, validate, alert) -> BidDesk:
        approvers = {}
        if self.external_approval_url:
            approvers = {c.id: ExternalApprovalClient(self.external_approval_url,
                                                      timeout_s=config.stage_time_limits_s.submit)
                         for c in config.clients if c.approval == "external"}
        return BidDesk(store=BidStore(warehouse), log=self.compliance(), validate=validate, alert=alert,
                       external_approvers=approvers)
