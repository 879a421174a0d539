"""The one place that builds the Definitions: assets, checks, jobs, sensors, schedule, resources.

``build_defs`` takes the settings (and resource overrides for tests); the module-level ``defs``
is what ``dagster dev`` loads through workspace.yaml. Steps run in-process: a day is one step
of 26 tables, and a process per step (the multiprocess executor) costs more than the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from flexpower_assets.assets.backtest import backtest_assets, backtest_job
from flexpower_assets.assets.bidding import bidding_assets
from flexpower_assets.assets.briefing import BriefingWriter, briefing_assets, briefing_job
from flexpower_assets.assets.daily import daily_assets
from flexpower_assets.assets.landing import landing_files
from flexpower_assets.assets.monthly import monthly_assets
from flexpower_assets.assets.position import position_assets, position_job
from flexpower_assets.assets.probabilistic import probabilistic_assets
from flexpower_assets.assets.raw import RAW_ASSET_KEYS
from flexpower_assets.assets.reports import report_assets
from flexpower_assets.settings import AlertSettings, Settings
from resources.acknowledgements import Acknowledgements
from resources.bidding import BiddingResource
from resources.documents import DocumentStore
from resources.forecasting import ForecastingResource
from resources.io_manager import WarehouseIOManager
from resources.landing import LandingZone
from resources.notifier import Notifier
from resources.position import PositionResource
from resources.step_io import StepPickleIOManager
from resources.warehouse_resource import WarehouseResource
from schedules.bid_sensors import bid_deadline_sensor
from schedules.jobs import bidding_job, daily_job, daily_reports_job, daily_selection, ingest_job, monthly_job
from schedules.schedules import schedules
from schedules.sensors import (
    BID_SOURCES,
    SOURCES,
    build_bid_landing_sensor,
    build_landing_sensor,
    late_data_sensor,
    rebuild_after_daily_sensor,
    run_failure_alert_sensor,
)

EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}
ALL_ASSETS = [landing_files, *daily_assets, *monthly_assets, *report_assets, *bidding_assets,
              *probabilistic_assets, *backtest_assets, *position_assets, *briefing_assets]


def _downstream_by_kind() -> dict[str, list[dg.AssetKey]]:
    """For each file kind, its raw asset and every daily asset downstream of it (not the monthly ones)."""
    return {
        kind: sorted((dg.AssetSelection.assets(key).downstream() & daily_selection).resolve(ALL_ASSETS),
                     key=lambda k: k.to_user_string())
        for kind, key in RAW_ASSET_KEYS.items()
    }


def notifier_of(alerts: AlertSettings) -> Notifier:
    """The notifier of the alert settings; secrets read from the environment stay references there
    (the UI shows the variable's name, not its value)."""
    secret = {"webhook_url": "FLEXPOWER_ALERT_WEBHOOK_URL", "smtp_password": "FLEXPOWER_ALERT_SMTP_PASSWORD"}
    values = {name: getattr(alerts, name) for name in (
        "webhook_url", "smtp_host", "smtp_port", "smtp_starttls", "smtp_user", "smtp_password", "mail_from",
        "mail_to", "min_severity")}
    if alerts.from_environment:
        values.update({name: dg.EnvVar(variable) for name, variable in secret.items() if values[name]})
    return Notifier(**values)


def build_defs(settings: Settings | None = None,
               resource_overrides: Mapping[str, Any] | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    resources: dict[str, Any] = {
        "io_manager": WarehouseIOManager(database=str(settings.warehouse_path)),
        "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
        "landing": LandingZone(path=str(settings.landing_dir), parse_workers=settings.parse_workers,
                               min_file_age_s=settings.min_file_age_s,
                               now=settings.now.isoformat() if settings.now else ""),
        "notifier": notifier_of(settings.alerts),
        "acknowledgements": Acknowledgements(path=str(settings.acknowledgements_path)),
        "forecasting": ForecastingResource(),
        "position": PositionResource(now=settings.now.isoformat() if settings.now else ""),
        "documents": DocumentStore(path=str(settings.documents_root)),
        "bidding": BiddingResource(config_path=str(settings.bidding_config), data_dir=str(settings.data_dir),
                                   now=settings.now.isoformat() if settings.now else "", exchange_url=settings.exchange_url,
                                   external_approval_url=settings.external_approval_url,
                                   solve_workers=settings.solve_workers),
        # the optional language model that may reword the trader briefings (its key stays an env reference)
        "briefing_writer": BriefingWriter(llm_url=settings.briefing_llm_url, llm_model=settings.briefing_llm_model,
                                          llm_api_key=dg.EnvVar("FLEXPOWER_BRIEFING_LLM_API_KEY")
                                          if settings.briefing_llm_api_key_set else ""),
        # the bid run's step outputs (plan, solve results) are pickles, not warehouse tables
        "bid_step_io": StepPickleIOManager(base_dir=str(settings.data_dir / "bidding" / "steps")),
    }
    resources.update(resource_overrides or {})
    selection_by_kind = _downstream_by_kind()
    sensors = [build_landing_sensor(source, selection_by_kind, settings.sensor_interval_s) for source in SOURCES]
    sensors += [build_bid_landing_sensor(source, settings.sensor_interval_s) for source in BID_SOURCES]
    sensors += [rebuild_after_daily_sensor, late_data_sensor, run_failure_alert_sensor]
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=[ingest_job, daily_job, daily_reports_job, monthly_job, bidding_job, backtest_job, briefing_job,
              position_job],
        schedules=schedules,
        sensors=[*sensors, bid_deadline_sensor],
        resources=resources,
        executor=EXECUTORS[settings.executor],
    )


defs = build_defs()
