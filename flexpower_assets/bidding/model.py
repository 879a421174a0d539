"""The records that cross stage boundaries of a bid run: plain, hashable, picklable.

``SolveInput`` is everything one solve of one asset and one price scenario depends on; its
``input_hash`` identifies the solve (BIDDING.md: plant data, inflows, level, scenario prices,
the configuration that affects the solve, the model version). ``SolveResult`` is what the
``solver_run`` table records.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flexpower_assets.bidding.config import BiddingConfig, ClientConfig, canonical_json

OPTIMAL = "optimal"
INFEASIBLE = "infeasible"
TIMEOUT = "timeout"
ERROR = "error"
SOLVE_STATUSES = (OPTIMAL, INFEASIBLE, TIMEOUT, ERROR)

COMPLETE = "complete"
PARTIAL = "partial"
FALLBACK = "fallback"
CURVE_STATUSES = (COMPLETE, PARTIAL, FALLBACK)

#: scenario id of the one solve of an asset type that does not use price scenarios, and of the
#: deterministic fallback solve at the mean scenario price
DETERMINISTIC_SCENARIO = 0


class AssetTechnicalData(BaseModel):
    """Base of every asset type's technical-data model: what the policy needs of any asset.

    ``max_sell_mw`` / ``max_buy_mw`` bound the volume of a bid (policy: share of capacity).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    asset_id: str = Field(min_length=1)
    client_id: str | None = None

    @property
    def max_sell_mw(self) -> float:
        raise NotImplementedError

    @property
    def max_buy_mw(self) -> float:
        return 0.0


_DIGESTS: dict[int, str] = {}  # id of a live SolveInput -> its input hash


@dataclass(frozen=True)
class SolveInput:
    """One solve: an asset of a registered type, the MTUs of a delivery day, one price scenario.

    ``series`` holds the type's own per-MTU inputs (hydro: ``inflow_mwh``; renewable:
    ``quantile_mw``), ``values`` its scalars (hydro: ``content_0_mwh``; renewable: the level, the
    forecast method and version), ``settings`` the part of
    the configuration that affects the solve (time limit, curtailment price, ...).
    """

    asset_id: str
    asset_type: str
    model_version: str
    technical: AssetTechnicalData
    delivery_starts: tuple[datetime, ...]
    scenario_id: int
    prices_eur_per_mwh: tuple[float, ...]
    series: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    values: Mapping[str, float | str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.delivery_starts)
        if self.prices_eur_per_mwh and len(self.prices_eur_per_mwh) != n:
            raise ValueError(f"{self.asset_id} scenario {self.scenario_id}: {len(self.prices_eur_per_mwh)} "
                             f"prices for {n} MTUs")
        for name, values in self.series.items():
            if len(values) != n:
                raise ValueError(f"{self.asset_id}: series {name!r} has {len(values)} values for {n} MTUs")

    @property
    def n_mtu(self) -> int:
        return len(self.delivery_starts)

    def hash_document(self) -> dict[str, Any]:
        """What the hash covers (the scenario id is not in it: equal prices are an equal solve)."""
        return {
            "asset_type": self.asset_type,
            "model_version": self.model_version,
            "technical": self.technical.model_dump(mode="json"),
            "delivery_starts": [ts.isoformat() for ts in self.delivery_starts],
            "prices_eur_per_mwh": [float(p) for p in self.prices_eur_per_mwh],
            "series": {k: [float(v) for v in vs] for k, vs in sorted(self.series.items())},
            "values": {k: v if isinstance(v, str) else float(v) for k, v in sorted(self.values.items())},
            "settings": dict(sorted(self.settings.items())),
        }

    @property
    def input_hash(self) -> str:
        """SHA-256 of ``hash_document`` in canonical JSON.

        Computed once per input (it is frozen) and carried along when the input is pickled to a
        step, so the plan, the workers and the records do not hash the same input again. The
        digest is kept beside the input, not in its ``__dict__``, which holds the fields only."""
        digest = _DIGESTS.get(id(self))
        if digest is None:
            digest = hashlib.sha256(canonical_json(self.hash_document()).encode()).hexdigest()
            self._remember(digest)
        return digest

    def _remember(self, digest: str) -> None:
        key = id(self)
        _DIGESTS[key] = digest
        weakref.finalize(self, _DIGESTS.pop, key, None)  # gone with the input, before its id is reused

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_input_hash": _DIGESTS.get(id(self))}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        digest = state.pop("_input_hash", None)
        self.__dict__.update(state)
        if digest is not None:
            self._remember(digest)


@dataclass(frozen=True)
class SolveResult:
    """The outcome of one solve (one ``solver_run`` row, plus the schedule when optimal).

    ``volumes_mw`` is the net sell volume per MTU (sell positive, buy negative), empty unless
    ``status`` is optimal; ``schedule`` holds the type's own per-MTU decisions (hydro: turbine,
    pump, spill, content) for inspection.
    """

    input_hash: str
    status: str
    objective_eur: float | None
    solve_seconds: float
    iterations: int
    message: str
    volumes_mw: tuple[float, ...] = ()
    schedule: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in SOLVE_STATUSES:
            raise ValueError(f"unknown solve status {self.status!r}")

    @property
    def is_optimal(self) -> bool:
        return self.status == OPTIMAL


@dataclass(frozen=True)
class DayContext:
    """The delivery day being bid for one client: its MTUs and the knowledge cut-off.

    ``as_of`` = min(now, gate closure): only data known by then is used (levels, forecasts).
    """

    delivery_day: date
    delivery_starts: tuple[datetime, ...]
    as_of: datetime
    config: BiddingConfig
    client: ClientConfig

    @property
    def day_start(self) -> datetime:
        return self.delivery_starts[0]


def day_context(config: BiddingConfig, client: ClientConfig, delivery_day: date, now: datetime) -> DayContext:
    """The day's MTUs and ``as_of`` = min(now, gate closure) for one client."""
    gate = config.market.gate_closure_utc(delivery_day)
    return DayContext(delivery_day, config.market.mtu_starts(delivery_day), min(now, gate), config, client)
