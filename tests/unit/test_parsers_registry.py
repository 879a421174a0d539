"""The file-kind registry: folder + file-name pattern -> kind and parser."""

from __future__ import annotations

import pytest

from flexpower_assets.parsers import crm, dso, exchange, hydro, imbalance, market, vpp
from flexpower_assets.parsers.registry import FILE_KINDS, classify


@pytest.mark.parametrize(("relative_path", "kind", "parse"), [
    ("crm/asset_contracts_20250608_043831.csv", "contracts", crm.parse_contracts),
    ("vpp/technical_data/technical_data_2025-06-02T125000Z.json", "technical_data", vpp.parse_technical_data),
    ("vpp/forecasts/WND-DE-003_20250608T0815Z.json", "forecast", vpp.parse_forecast),
    ("vpp/live/SOL02_20250608.json", "live", vpp.parse_live),
    ("dso/final_production_MP-SOL-001_20250609.csv", "final_production", dso.parse_final_production),
    ("dso/redispatch_flag_MP-WND-003_20250609_1201.csv", "redispatch_flags", dso.parse_redispatch_flags),
    ("dso/redispatch_compensation_2025-06-20.csv", "redispatch_compensation", dso.parse_redispatch_compensation),
    ("exchange/Private_Trades-20250608-20250609T000516000Z.csv", "private_trades", exchange.parse_trades),
    ("exchange/Public_Trades-20250608-20250609T000516000Z.csv", "public_trades", exchange.parse_trades),
    ("imbalance/imbalance_price_estimation_2025-06-07T041800Z.csv", "imbalance_estimate",
     imbalance.parse_imbalance_estimate),
    ("imbalance/imbalance_price_final_20250608_170800.csv", "imbalance_final", imbalance.parse_imbalance_final),
    ("market/price_scenarios_20251014_20251013T060000Z.csv", "price_scenarios", market.parse_price_scenarios),
    ("market/day_ahead_prices_20251014.csv", "day_ahead_prices", market.parse_day_ahead_prices),
    ("hydro/technical_data_2025-10-01T060000Z.json", "hydro_technical_data", hydro.parse_hydro_technical_data),
    ("hydro/inflow_forecast_HYD-ALPEN-01_20251013T0600Z.csv", "inflow_forecast", hydro.parse_inflow_forecast),
    ("hydro/reservoir_level_HYD-ALPEN-01_20251013T0800Z.csv", "reservoir_level", hydro.parse_reservoir_level),
])
def test_every_kind_is_classified_by_folder_and_name(relative_path, kind, parse):
    found = classify(relative_path)

    assert found is not None
    assert found.name == kind
    assert found.parse is parse


@pytest.mark.parametrize("relative_path", [
    "crm/notes.txt",                                         # unknown name
    "dso/asset_contracts_20250608_043831.csv",               # right name, wrong folder
    "crm/archive/asset_contracts_20250608_043831.csv",       # below the kind's folder
    "vpp/live/SOL02_2025-06-08.json",                        # live day not YYYYMMDD
    "vpp/forecasts/WND-DE-003_20250608T0815Z.csv",           # wrong extension
    "exchange/Private_Trades-20250608-20250609T000516Z.csv",  # export time without milliseconds
    "asset_contracts_20250608_043831.csv",                   # landing-zone root
    "market/price_scenarios_20251014.csv",                   # no creation stamp
    "hydro/technical_data/technical_data_2025-10-01T060000Z.json",  # below the hydro folder
    "vpp/technical_data/technical_data_2025-10-01T060000Z.csv",     # wrong extension
])
def test_other_files_are_not_inbound_files(relative_path):
    assert classify(relative_path) is None


def test_a_forecast_version_off_the_quarter_hour_is_still_a_forecast_file():
    # classified, so that its parser rejects it with a message rather than it being ignored
    assert classify("vpp/forecasts/WND-DE-003_20250608T0810Z.json").name == "forecast"


def test_kinds_names_sources_and_folders():
    table = [(kind.name, kind.source, kind.folder) for kind in FILE_KINDS]

    assert table == [
        ("contracts", "crm", "crm"),
        ("technical_data", "vpp", "vpp/technical_data"),
        ("forecast", "vpp", "vpp/forecasts"),
        ("live", "vpp", "vpp/live"),
        ("final_production", "dso", "dso"),
        ("redispatch_flags", "dso", "dso"),
        ("redispatch_compensation", "dso", "dso"),
        ("private_trades", "exchange", "exchange"),
        ("public_trades", "exchange", "exchange"),
        ("imbalance_estimate", "imbalance", "imbalance"),
        ("imbalance_final", "imbalance", "imbalance"),
        ("price_scenarios", "market", "market"),
        ("day_ahead_prices", "market", "market"),
        ("hydro_technical_data", "hydro", "hydro"),
        ("inflow_forecast", "hydro", "hydro"),
        ("reservoir_level", "hydro", "hydro"),
    ]
    assert [kind.name for kind in FILE_KINDS if kind.read_batch] == ["forecast", "live", "final_production"]
