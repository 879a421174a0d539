"""The registry of asset types: each with its technical-data model, its solver and its bid points.

The orchestration never names an asset type. It looks an asset's type up in the configuration
(``ClientConfig.asset_types()``), asks the registry for it (``asset_type(name)``) and calls:

- ``technical_model.model_validate(record)`` to read the asset's technical data;
- ``prepare(technical, frames, day)`` with the frames of the inbound kinds in ``input_kinds``
  (e.g. ``inflow_forecast``, or a warehouse input registered in ``bidding.inputs`` such as
  ``asset_forecast_quantile``) to get the type's own per-MTU inputs (``bidding.solve.build_solve_inputs``
  does this and adds the scenario prices);
- ``solve(SolveInput) -> SolveResult`` once per scenario (through ``bidding.solve.solve_scenario``,
  which adds the hash, fault injection and the error handling); a worker that solves many
  scenarios one after the other asks ``new_solver()`` once for a solve function that may keep
  state between them (hydro: the plant's LP, built once, only its prices changed). It must give
  exactly the result ``solve`` gives for every input, whatever ran before;
- ``bid_points(solves, config) -> frame`` to turn the scenario results into price/volume points
  per MTU for the aggregation;
- ``solve_settings(config, client)`` for the part of the configuration that enters a solve (and
  its hash); ``uses_price_scenarios`` says whether the type needs one solve per price scenario or
  a single one (``DETERMINISTIC_SCENARIO``).

The two built-in types (``reservoir_hydro``, ``renewable``) are registered on first use; a new
type is added with ``register_asset_type`` (a test registers a battery this way).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from flexpower_assets.bidding.config import BiddingConfig, ClientConfig
from flexpower_assets.bidding.model import AssetTechnicalData, DayContext, SolveInput, SolveResult
from flexpower_assets.domain.time import UTC_DATETIME

#: columns of the frame ``bid_points`` returns: one row per MTU and point
POINT_SCHEMA = {"delivery_start": UTC_DATETIME, "price_eur_per_mwh": pl.Float64, "volume_mw": pl.Float64}

BidPoints = Callable[[Sequence[tuple[SolveInput, SolveResult]], BiddingConfig], pl.DataFrame]
SolveSettings = Callable[[BiddingConfig, ClientConfig], Mapping[str, Any]]
#: (technical data, the input frames named in ``input_kinds``, the day) -> (series, values) of a SolveInput
Prepare = Callable[[AssetTechnicalData, Mapping[str, pl.DataFrame], DayContext],
                   tuple[Mapping[str, tuple[float, ...]], Mapping[str, float | str]]]


def scenario_points(solves: Sequence[tuple[SolveInput, SolveResult]], config: BiddingConfig) -> pl.DataFrame:
    """The default bid points: (scenario price, net volume) per MTU of every optimal solve.

    The solves of an asset share their MTUs, so each distinct tuple of MTU starts is turned into a
    column once and repeated (not 50 x 96 datetimes converted one by one)."""
    optimal = [(i, r) for i, r in solves if r.is_optimal]
    groups: dict[tuple, list[tuple[SolveInput, SolveResult]]] = {}
    for pair in optimal:
        groups.setdefault(pair[0].delivery_starts, []).append(pair)
    frames = []
    for starts, pairs in groups.items():
        mtus = pl.Series("delivery_start", list(starts), dtype=POINT_SCHEMA["delivery_start"])
        frames.append(pl.DataFrame({
            "delivery_start": mtus.gather(np.tile(np.arange(len(starts)), len(pairs))),
            "price_eur_per_mwh": np.fromiter((p for i, _ in pairs for p in i.prices_eur_per_mwh), dtype=float),
            "volume_mw": np.fromiter((v for _, r in pairs for v in r.volumes_mw), dtype=float),
        }, schema=POINT_SCHEMA))
    return pl.concat(frames) if frames else pl.DataFrame(schema=POINT_SCHEMA)


def default_solve_settings(config: BiddingConfig, client: ClientConfig) -> dict[str, Any]:
    """The solver's own time limit (per scenario) and the MTU length."""
    return {"time_limit_s": float(config.stage_time_limits_s.solve_per_scenario),
            "mtu_minutes": config.market.mtu_minutes}


@dataclass(frozen=True)
class AssetType:
    """One kind of asset the platform can bid."""

    name: str
    technical_model: type[AssetTechnicalData]
    solve: Callable[[SolveInput], SolveResult]
    model_version: str
    prepare: Prepare
    input_kinds: tuple[str, ...] = ()
    uses_price_scenarios: bool = True
    bid_points: BidPoints = scenario_points
    solve_settings: SolveSettings = default_solve_settings
    description: str = ""
    new_solver: Callable[[], Callable[[SolveInput], SolveResult]] | None = None

    def solver(self) -> Callable[[SolveInput], SolveResult]:
        """The solve function of one worker: a stateful one from ``new_solver`` if the type has it."""
        return self.new_solver() if self.new_solver is not None else self.solve


_REGISTRY: dict[str, AssetType] = {}
_BUILTINS_LOADED = False


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from flexpower_assets.bidding import hydro, renewable

        for builtin in (hydro.ASSET_TYPE, renewable.ASSET_TYPE):
            _REGISTRY.setdefault(builtin.name, builtin)


def register_asset_type(asset_type: AssetType, replace: bool = False) -> AssetType:
    """Add a type to the registry (a second type of the same name needs ``replace=True``)."""
    _load_builtins()
    if asset_type.name in _REGISTRY and not replace and _REGISTRY[asset_type.name] is not asset_type:
        raise ValueError(f"asset type {asset_type.name!r} is already registered")
    _REGISTRY[asset_type.name] = asset_type
    return asset_type


def unregister_asset_type(name: str) -> None:
    """Remove a type (tests that registered one clean up with this)."""
    _load_builtins()
    _REGISTRY.pop(name, None)


def registered_types() -> dict[str, AssetType]:
    """Every registered type by name."""
    _load_builtins()
    return dict(_REGISTRY)


def asset_type(name: str) -> AssetType:
    """The registered type ``name`` (KeyError naming the registered ones otherwise)."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown asset type {name!r} (registered: {', '.join(sorted(_REGISTRY))})") from None


def asset_type_of(config: BiddingConfig, asset_id: str) -> AssetType:
    """The registered type of a configured asset."""
    return asset_type(config.client_of_asset(asset_id).asset_types()[asset_id])
