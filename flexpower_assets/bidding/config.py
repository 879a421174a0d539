"""The bidding configuration: one YAML file, validated on load, hashed for every run.

The keys are those of BIDDING.md ("Configuration as data"); every key has a default except the
clients. ``load_bidding_config`` reads and validates the file and raises ``BiddingConfigError``
naming the file, the key (``clients[1].approval``), the YAML line where it can be found, and the
problem. ``config_hash`` is the SHA-256 of the validated configuration in canonical JSON (defaults
filled in, keys sorted), so two files that mean the same thing have the same hash whatever their
key order, comments or spelling of numbers.

Nothing here reads the clock or the environment: the path comes from the settings
(``FLEXPOWER_BIDDING_CONFIG``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

APPROVAL_MODES = ("auto", "maker_checker", "external")
FALLBACKS = ("previous_day", "deterministic", "zero")
FAULT_KINDS = ("raise", "hang", "infeasible")
CRITICAL_RATIO = "critical_ratio"
DEFAULT_ASSET_TYPE = "reservoir_hydro"


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt key must not silently fall back to its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MarketConfig(_Strict):
    """The exchange's rules (SDAC / EPEX SPOT DE-LU); configuration because they change."""

    timezone: str = "Europe/Berlin"
    gate_closure: str = Field("12:00", description="local time on D-1, HH:MM")
    mtu_minutes: int = Field(15, gt=0, le=60)
    price_min_eur_per_mwh: float = -500.0
    price_max_eur_per_mwh: float = 4000.0
    price_tick_eur_per_mwh: float = Field(0.1, gt=0)
    volume_step_mw: float = Field(0.1, gt=0)
    min_points: int = Field(2, ge=2)
    max_points: int = Field(256, ge=2)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("gate_closure")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not re.fullmatch(r"\d{2}:\d{2}", value):
            raise ValueError(f"{value!r} is not a local time HH:MM")
        time.fromisoformat(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> MarketConfig:
        if self.price_min_eur_per_mwh >= self.price_max_eur_per_mwh:
            raise ValueError(f"price_min_eur_per_mwh {self.price_min_eur_per_mwh} is not below "
                             f"price_max_eur_per_mwh {self.price_max_eur_per_mwh}")
        if self.min_points > self.max_points:
            raise ValueError(f"min_points {self.min_points} exceeds max_points {self.max_points}")
        return self

    @property
    def gate_closure_time(self) -> time:
        return time.fromisoformat(self.gate_closure)

    def gate_closure_utc(self, delivery_day: date) -> datetime:
        """Gate closure for a delivery day: ``gate_closure`` local time on the day before, in UTC."""
        before = delivery_day - timedelta(days=1)
        local = datetime.combine(before, self.gate_closure_time, tzinfo=ZoneInfo(self.timezone))
        return local.astimezone(timezone.utc)

    def mtu_starts(self, delivery_day: date) -> tuple[datetime, ...]:
        """The UTC start of every MTU of a delivery day (96 a day at 15 minutes; 92 / 100 on DST days)."""
        zone = ZoneInfo(self.timezone)
        start = datetime.combine(delivery_day, time(0), tzinfo=zone).astimezone(timezone.utc)
        end = datetime.combine(delivery_day + timedelta(days=1), time(0), tzinfo=zone).astimezone(timezone.utc)
        step = timedelta(minutes=self.mtu_minutes)
        return tuple(start + i * step for i in range(int((end - start) / step)))


class StageTimeLimits(_Strict):
    """Seconds each stage may take; ``solve_per_scenario`` is also the solver's own time limit."""

    dispatch: float = Field(30, gt=0)
    solve_per_scenario: float = Field(10, gt=0)
    solve_stage: float = Field(600, gt=0)
    aggregate: float = Field(60, gt=0)
    submit: float = Field(30, gt=0)


class ApprovalRoles(_Strict):
    """Who may do what to a bid (maker-checker): the roles that may edit and that may approve.

    One user never both edits and approves the same matrix, whatever roles they hold.
    """

    edit: tuple[str, ...] = ("trader",)
    approve: tuple[str, ...] = ("head_of_trading",)


class Policy(_Strict):
    """Bidding rules as data (checked on every curve and matrix before approval)."""

    max_volume_share_of_capacity: float = Field(1.0, gt=0, le=1.0)
    min_scenario_coverage: float = Field(0.7, ge=0, le=1.0)
    curtailment_price_eur_per_mwh: float = 0.0
    max_renewable_deviation_from_p90_share: float | None = Field(
        None, ge=0, description="largest |volume - P90| of a renewable bid, as a share of capacity; "
                                "null = not checked")
    approval_roles: ApprovalRoles = ApprovalRoles()


class AssetRef(_Strict):
    """An asset of a client; ``type`` is a registered asset type (default: the client's)."""

    id: str = Field(min_length=1)
    type: str | None = None


class ClientConfig(_Strict):
    """One client: its assets, its market, how its bids are approved, scenarios and fallback."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    market: str = "DE-LU"
    approval: Literal["auto", "maker_checker", "external"]
    asset_type: str = DEFAULT_ASSET_TYPE
    assets: tuple[AssetRef, ...] = Field(min_length=1)
    scenarios: int = Field(50, ge=1)
    chunk_size: int = Field(25, ge=1)
    #: the level a renewable asset sells, or ``critical_ratio``: the level the critical-ratio rule
    #: picks from past imbalance and auction prices (``domain.probabilistic.critical_ratio_level``)
    renewable_quantile: Annotated[float, Field(gt=0, lt=1)] | Literal["critical_ratio"] = 0.5
    fallback: Literal["previous_day", "deterministic", "zero"] = "previous_day"

    @field_validator("assets", mode="before")
    @classmethod
    def _plain_ids(cls, value: Any) -> Any:
        # an asset may be written as its id alone
        if isinstance(value, list):
            return [{"id": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _unique_assets(self) -> ClientConfig:
        ids = [asset.id for asset in self.assets]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"asset {repeated[0]!r} is listed twice")
        return self

    def asset_types(self) -> dict[str, str]:
        """Each asset id and its type (an asset's own type, else the client's)."""
        return {asset.id: asset.type or self.asset_type for asset in self.assets}

    @property
    def asset_ids(self) -> list[str]:
        return [asset.id for asset in self.assets]

    def fallback_chain(self) -> tuple[str, ...]:
        """The fallbacks tried in order, starting at the configured one and ending at 0 MW."""
        return FALLBACKS[FALLBACKS.index(self.fallback):]


class FaultInjection(_Strict):
    """Tests and benchmarks only: a seeded share of solves raise, hang or come back infeasible."""

    share: float = Field(0.0, ge=0, le=1.0)
    kinds: tuple[Literal["raise", "hang", "infeasible"], ...] = ("raise",)
    seed: int = 0
    hang_seconds: float = Field(3600.0, ge=0, description="how long an injected hang sleeps")

    @field_validator("kinds")
    @classmethod
    def _some_kind(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one fault kind is needed")
        return value


class BiddingConfig(_Strict):
    """The whole bidding configuration."""

    market: MarketConfig = MarketConfig()
    stage_time_limits_s: StageTimeLimits = StageTimeLimits()
    deadline_margin_min: float = Field(30, ge=0)
    policy: Policy = Policy()
    clients: tuple[ClientConfig, ...] = Field(min_length=1)
    faults: FaultInjection = FaultInjection()

    @model_validator(mode="after")
    def _unique_ids(self) -> BiddingConfig:
        ids = [client.id for client in self.clients]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"client id {repeated[0]!r} is used twice")
        owner: dict[str, str] = {}
        for client in self.clients:
            for asset_id in client.asset_ids:
                if asset_id in owner:
                    raise ValueError(f"asset {asset_id!r} belongs to both {owner[asset_id]!r} and "
                                     f"{client.id!r}")
                owner[asset_id] = client.id
        return self

    def submission_deadline_utc(self, delivery_day: date) -> datetime:
        """Gate closure minus the deadline margin: by then an accepted submission must exist."""
        return self.market.gate_closure_utc(delivery_day) - timedelta(minutes=self.deadline_margin_min)

    def client(self, client_id: str) -> ClientConfig:
        for client in self.clients:
            if client.id == client_id:
                return client
        raise KeyError(f"no client {client_id!r} in the bidding configuration")

    def client_of_asset(self, asset_id: str) -> ClientConfig:
        for client in self.clients:
            if asset_id in client.asset_ids:
                return client
        raise KeyError(f"no client owns asset {asset_id!r}")


class BiddingConfigError(ValueError):
    """A configuration that cannot be used: names the file, the key, the line and the problem."""

    def __init__(self, path: Path | str, key: str, problem: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.key = key
        self.problem = problem
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{self.path.name}: {where}{key}: {problem}")


def load_bidding_config(path: Path | str) -> BiddingConfig:
    """The validated configuration in the YAML file at ``path`` (raises ``BiddingConfigError``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BiddingConfigError(path, "(file)", f"no bidding configuration at {path}") from None
    except UnicodeDecodeError as error:
        raise BiddingConfigError(path, "(file)", f"not UTF-8 text: {error.reason}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise BiddingConfigError(path, "(file)", f"not valid YAML: {getattr(error, 'problem', error)}",
                                 line=mark.line + 1 if mark else None) from None
    if not isinstance(document, dict):
        raise BiddingConfigError(path, "(file)", "the configuration must be a mapping of keys")
    config = parse_bidding_config(document, path, node)
    _check_asset_types(config, path, node)
    return config


def parse_bidding_config(document: dict, path: Path | str = "<config>", node: yaml.Node | None = None
                         ) -> BiddingConfig:
    """Validate an already-read configuration mapping (``node`` only locates lines for errors)."""
    try:
        return BiddingConfig.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        loc = _loc_without_unions(first["loc"])
        key = _key_name(loc) or "(top level)"
        problem = _problem(first)
        more = error.error_count() - 1
        if more:
            problem += f" ({more} more problem{'s' if more > 1 else ''})"
        raise BiddingConfigError(path, key, problem, line=_line_of(node, loc)) from None


def config_hash(config: BiddingConfig) -> str:
    """SHA-256 (hex) of the configuration in canonical JSON: same meaning, same hash."""
    return hashlib.sha256(canonical_json(config.model_dump(mode="json")).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, floats as Python writes them: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _check_asset_types(config: BiddingConfig, path: Path, node: yaml.Node | None) -> None:
    from flexpower_assets.bidding.asset_types import registered_types

    known = registered_types()
    for c, client in enumerate(config.clients):
        if client.asset_type not in known:
            loc = ("clients", c, "asset_type")
            raise BiddingConfigError(path, _key_name(loc), f"unknown asset type {client.asset_type!r} "
                                     f"(registered: {', '.join(sorted(known))})", line=_line_of(node, loc))
        for a, asset in enumerate(client.assets):
            if asset.type is not None and asset.type not in known:
                loc = ("clients", c, "assets", a, "type")
                raise BiddingConfigError(path, _key_name(loc), f"unknown asset type {asset.type!r} "
                                         f"(registered: {', '.join(sorted(known))})", line=_line_of(node, loc))


def _loc_without_unions(loc: Sequence[Any]) -> tuple[Any, ...]:
    # pydantic adds the name of a union member or a function validator to the location
    return tuple(part for part in loc if isinstance(part, int) or not (
        "[" in str(part) or str(part) in {"str", "function-after", "function-before"}))


def _key_name(loc: Sequence[Any]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _problem(error: dict) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (misspelt?)"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "literal_error":
        return f"{error.get('input')!r} is not allowed: {message}"
    if "input" in error and not isinstance(error["input"], (dict, list)):
        return f"{message} (got {error['input']!r})"
    return message


def _line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """The 1-based YAML line of the key at ``loc`` (or of its nearest parent that exists)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if found is None:
                return line
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
