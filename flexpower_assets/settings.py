"""Where the landing zone and the warehouse are: the only place environment variables are read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"


def documents_dir_for(warehouse_path: Path) -> Path:
    """The documents folder that belongs to a warehouse: ``<warehouse dir>/<warehouse stem>.documents``
    (``data/warehouse/flexpower.duckdb`` -> ``data/warehouse/flexpower.documents``)."""
    warehouse_path = Path(warehouse_path)
    return warehouse_path.parent / f"{warehouse_path.stem}.documents"


@dataclass(frozen=True)
class AlertSettings:
    """Where notifications go (README, "Alerts"); empty values switch a channel off."""

    webhook_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    mail_from: str = "flexpower@localhost"
    mail_to: str = ""
    min_severity: str = "warning"
    from_environment: bool = False  # secrets then stay environment references in the Dagster UI

    @classmethod
    def from_env(cls) -> AlertSettings:
        env = os.environ.get
        return cls(webhook_url=env("FLEXPOWER_ALERT_WEBHOOK_URL", ""),
                   smtp_host=env("FLEXPOWER_ALERT_SMTP_HOST", ""),
                   smtp_port=int(env("FLEXPOWER_ALERT_SMTP_PORT", "25")),
                   smtp_starttls=env("FLEXPOWER_ALERT_SMTP_STARTTLS", "0").lower() in ("1", "true", "yes"),
                   smtp_user=env("FLEXPOWER_ALERT_SMTP_USER", ""),
                   smtp_password=env("FLEXPOWER_ALERT_SMTP_PASSWORD", ""),
                   mail_from=env("FLEXPOWER_ALERT_MAIL_FROM", "flexpower@localhost"),
                   mail_to=env("FLEXPOWER_ALERT_MAIL_TO", ""),
                   min_severity=env("FLEXPOWER_ALERT_MIN_SEVERITY", "warning"), from_environment=True)


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_path: Path
    data_dir: Path
    parse_workers: int = 2
    executor: str = "in_process"  # or "multiprocess": a process per step (measured slower here)
    # day-ahead bidding: where orders go and who confirms for the `external` clients
    exchange_url: str = ""                 # FLEXPOWER_EXCHANGE_URL: the exchange's order interface
    external_approval_url: str = ""        # FLEXPOWER_EXTERNAL_APPROVAL_URL: clients' confirmation API
    solve_workers: int = 2                 # FLEXPOWER_SOLVE_WORKERS: worker processes per solve task
    # a landing file is read once nothing about it changed for this long (SFTP writes in place)
    min_file_age_s: float = 60.0
    bidding_config_path: Path | None = None  # default: <data_dir>/bidding/bidding.yaml
    now: datetime | None = None  # FLEXPOWER_NOW (ISO UTC); None = the wall clock
    alerts: AlertSettings = field(default_factory=AlertSettings)
    acknowledgements_path: Path = PROJECT_ROOT / "acknowledgements.yaml"
    sensor_interval_s: int = 60  # minimum seconds between two ticks of a landing sensor

    @property
    def bidding_config(self) -> Path:
        """The bidding configuration file (FLEXPOWER_BIDDING_CONFIG)."""
        return self.bidding_config_path or self.data_dir / "bidding" / "bidding.yaml"

    def current_time(self) -> datetime:
        """The current time in UTC: FLEXPOWER_NOW when set (replaying a past day), else the clock."""
        return self.now if self.now is not None else datetime.now(timezone.utc)
    # invoice PDFs, DSO claims and reports; None: the folder of the warehouse (documents_dir_for)
    documents_dir: Path | None = None
    # the portal is served over HTTPS (behind a TLS proxy): its session cookie gets the Secure flag
    portal_https: bool = False
    # the key that signs the audit log's head; None: <data_dir>/portal/audit.key
    audit_key_file: Path | None = None
    # trader briefings: an OpenAI-compatible chat-completions URL that may reword them ("" = off);
    # its key is read from FLEXPOWER_BRIEFING_LLM_API_KEY when the run starts, never stored
    briefing_llm_url: str = ""
    briefing_llm_model: str = ""
    briefing_llm_api_key_set: bool = False

    @property
    def documents_root(self) -> Path:
        """Where this warehouse's documents live (``documents_dir``, else next to the warehouse)."""
        return self.documents_dir if self.documents_dir is not None else documents_dir_for(self.warehouse_path)

    @classmethod
    def from_env(cls) -> Settings:
        landing = Path(os.environ.get("FLEXPOWER_LANDING_DIR", DATA_DIR / "landing"))
        warehouse = Path(os.environ.get("FLEXPOWER_WAREHOUSE", DATA_DIR / "warehouse" / "flexpower.duckdb"))
        data_dir = Path(os.environ.get("FLEXPOWER_DATA_DIR", DATA_DIR))
        workers = int(os.environ.get("FLEXPOWER_PARSE_WORKERS", "2"))
        executor = os.environ.get("FLEXPOWER_EXECUTOR", "in_process")
        min_age = float(os.environ.get("FLEXPOWER_MIN_FILE_AGE_S", "60"))
        bidding = os.environ.get("FLEXPOWER_BIDDING_CONFIG")
        acknowledgements = Path(os.environ.get("FLEXPOWER_ACKNOWLEDGEMENTS", PROJECT_ROOT / "acknowledgements.yaml"))
        documents = os.environ.get("FLEXPOWER_DOCUMENTS_DIR")
        https = os.environ.get("FLEXPOWER_PORTAL_HTTPS", "").strip().lower() in ("1", "true", "yes", "on")
        audit_key = os.environ.get("FLEXPOWER_AUDIT_KEY_FILE")
        return cls(landing_dir=landing.resolve(), warehouse_path=warehouse.resolve(),
                   data_dir=data_dir.resolve(), parse_workers=workers, executor=executor,
                   min_file_age_s=min_age,
                   bidding_config_path=Path(bidding).resolve() if bidding else None,
                   now=parse_now(os.environ.get("FLEXPOWER_NOW")),
                   exchange_url=os.environ.get("FLEXPOWER_EXCHANGE_URL", ""),
                   external_approval_url=os.environ.get("FLEXPOWER_EXTERNAL_APPROVAL_URL", ""),
                   solve_workers=int(os.environ.get("FLEXPOWER_SOLVE_WORKERS", "2")),

                   alerts=AlertSettings.from_env(), acknowledgements_path=acknowledgements.resolve(),
                   sensor_interval_s=int(os.environ.get("FLEXPOWER_SENSOR_INTERVAL_S", "60")),
                   documents_dir=Path(documents).resolve() if documents else None, portal_https=https,
                   audit_key_file=Path(audit_key).resolve() if audit_key else None,
                   briefing_llm_url=os.environ.get("FLEXPOWER_BRIEFING_LLM_URL", ""),
                   briefing_llm_model=os.environ.get("FLEXPOWER_BRIEFING_LLM_MODEL", ""),
                   briefing_llm_api_key_set=bool(os.environ.get("FLEXPOWER_BRIEFING_LLM_API_KEY")))


def platform_clock(now: str | None) -> datetime:
    """The platform's current time in UTC: the fixed instant ``now`` (FLEXPOWER_NOW's value,
    replaying a past day) when given, else the wall clock."""
    fixed = parse_now(now)
    return fixed if fixed is not None else datetime.now(timezone.utc)


def parse_now(text: str | None) -> datetime | None:
    """An ISO 8601 UTC time (``2025-10-14T09:30:00Z``) or None; anything else is an error."""
    if text is None or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"FLEXPOWER_NOW={text!r} is not an ISO 8601 time like 2025-10-14T09:30:00Z") from None
    if value.tzinfo is None or value.utcoffset() != timezone.utc.utcoffset(None):
        raise ValueError(f"FLEXPOWER_NOW={text!r} must be UTC (end it with Z or +00:00)")
    return value.astimezone(timezone.utc)


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Environment variables set for the block (and the processes started inside it), then restored."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
