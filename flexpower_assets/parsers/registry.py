"""Which inbound file is which: landing-zone folder and file-name pattern -> parser.

The folders and name patterns are those of FORMATS.md. A file is classified by its folder
(relative to the landing zone) and its whole name; anything else is not an inbound file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from flexpower_assets.parsers import crm, dso, exchange, hydro, imbalance, market, vpp
from flexpower_assets.parsers.errors import InputFileError

BatchReader = Callable[[list], "tuple[pl.DataFrame, list[InputFileError]]"]


@dataclass(frozen=True)
class FileKind:
    """One kind of inbound file: where it lands, how it is named and how it is parsed.

    ``read_batch`` (forecast, live and final production) reads many files at once and returns the good rows
    with a ``file_index`` column plus one error per bad file. With ``batch_takes_contents`` it
    also takes the files' bytes (``contents=``), read once by the caller that hashes them.
    ``kept_in_landing``: some tools read these files from their folder, so ``flexpower archive``
    leaves them there (every other kind is read only through its staged rows once registered).
    """

    name: str
    source: str
    folder: str
    pattern: re.Pattern[str]
    parse: Callable[..., pl.DataFrame]
    read_batch: BatchReader | None = None
    batch_takes_contents: bool = False
    day_in_name: str | None = None  # the name's group that dates the rows' (Berlin) delivery day
    kept_in_landing: bool = False


FILE_KINDS: tuple[FileKind, ...] = (
    FileKind("contracts", "crm", "crm", crm.CONTRACTS_NAME, crm.parse_contracts),
    FileKind("technical_data", "vpp", "vpp/technical_data", vpp.TECHNICAL_DATA_NAME,
             vpp.parse_technical_data),
    FileKind("forecast", "vpp", "vpp/forecasts", vpp.FORECAST_NAME, vpp.parse_forecast,
             read_batch=vpp.read_forecast_batch, batch_takes_contents=True),
    FileKind("live", "vpp", "vpp/live", vpp.LIVE_NAME, vpp.parse_live, read_batch=vpp.read_live_batch,
             batch_takes_contents=True, day_in_name="day"),
    FileKind("final_production", "dso", "dso", dso.FINAL_PRODUCTION_NAME, dso.parse_final_production,
             read_batch=dso.read_final_production_batch),
    FileKind("redispatch_flags", "dso", "dso", dso.REDISPATCH_FLAG_NAME, dso.parse_redispatch_flags),
    FileKind("redispatch_compensation", "dso", "dso", dso.REDISPATCH_COMPENSATION_NAME,
             dso.parse_redispatch_compensation),
    FileKind("private_trades", "exchange", "exchange", exchange.PRIVATE_TRADES_NAME,
             exchange.parse_trades, day_in_name="day"),
    FileKind("public_trades", "exchange", "exchange", exchange.PUBLIC_TRADES_NAME,
             exchange.parse_trades, day_in_name="day"),
    FileKind("imbalance_estimate", "imbalance", "imbalance", imbalance.ESTIMATE_NAME,
             imbalance.parse_imbalance_estimate),
    FileKind("imbalance_final", "imbalance", "imbalance", imbalance.FINAL_NAME,
             imbalance.parse_imbalance_final),
    # day-ahead bidding (BIDDING.md)
    FileKind("price_scenarios", "market", "market", market.PRICE_SCENARIOS_NAME,
             market.parse_price_scenarios, kept_in_landing=True),
    FileKind("day_ahead_prices", "market", "market", market.DAY_AHEAD_PRICES_NAME,
             market.parse_day_ahead_prices, kept_in_landing=True),
    FileKind("hydro_technical_data", "hydro", "hydro", hydro.TECHNICAL_DATA_NAME,
             hydro.parse_hydro_technical_data, kept_in_landing=True),
    FileKind("inflow_forecast", "hydro", "hydro", hydro.INFLOW_FORECAST_NAME,
             hydro.parse_inflow_forecast, kept_in_landing=True),
    FileKind("reservoir_level", "hydro", "hydro", hydro.RESERVOIR_LEVEL_NAME,
             hydro.parse_reservoir_level, kept_in_landing=True),
)
KINDS_BY_NAME = {kind.name: kind for kind in FILE_KINDS}


KINDS_BY_FOLDER: dict[str, tuple[FileKind, ...]] = {
    folder: tuple(kind for kind in FILE_KINDS if kind.folder == folder) for folder in {k.folder for k in FILE_KINDS}
}


def classify(relative_path: str) -> FileKind | None:
    """The kind of the file at ``relative_path`` (relative to the landing zone), or None."""
    folder, _, name = relative_path.replace("\\", "/").rpartition("/")
    for kind in KINDS_BY_FOLDER.get(folder, ()):
        if kind.pattern.fullmatch(name):
            return kind
    return None


def named_delivery_day(relative_path: str) -> tuple[FileKind, date] | None:
    """The kind and the delivery day a file's name dates, for kinds whose names date their rows.

    A trade export (``Private_Trades-<YYYYMMDD>-...``) and a live file (``..._<YYYYMMDD>.json``)
    name the day their rows mostly feed; other kinds, or a name whose date is not a date, None.
    """
    kind = classify(relative_path)
    if kind is None or kind.day_in_name is None:
        return None
    text = kind.pattern.fullmatch(relative_path.replace("\\", "/").rpartition("/")[2])[kind.day_in_name]
    try:
        return kind, datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None
