"""A deterministic sample landing zone in exactly the inbound formats of FORMATS.md.

``simulate`` writes every source system's folder for any number of assets and days;
``add_forecasts_and_public_trades`` adds the two kinds real sample files lack. Modules:
``portfolio`` (assets, contracts, quirk roles), ``weather`` (truth and forecasts), ``market``
(prices), one writer module per source system (``crm``, ``vpp``, ``dso``, ``exchange``,
``imbalance``), ``bad_files``, ``jobs`` (the parallel per-asset writer) and ``landing`` (the entry
points).
"""

from flexpower_assets.simulator.landing import (
    DEFAULT_PUBLIC_TRADES_PER_DAY,
    add_forecasts_and_public_trades,
    simulate,
)
from flexpower_assets.simulator.summary import KINDS, BadFile, SimulationSummary

__all__ = [
    "DEFAULT_PUBLIC_TRADES_PER_DAY",
    "KINDS",
    "BadFile",
    "SimulationSummary",
    "add_forecasts_and_public_trades",
    "simulate",
]
