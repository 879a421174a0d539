"""Defects found in review: each is a rejected file naming the file, the line and the problem."""

from __future__ import annotations

import datetime as dt

import pytest

from flexpower_assets.parsers.crm import parse_contracts
from flexpower_assets.parsers.dso import (
    parse_final_production,
    parse_redispatch_flags,
    read_final_production_batch,
)
from flexpower_assets.parsers.errors import InputFileError
from flexpower_assets.parsers.exchange import parse_trades
from flexpower_assets.parsers.imbalance import parse_imbalance_final

CRM = "asset_contracts_20250608_043831.csv"
CRM_HEADER = ("contract_id,asset_id,metering_point_id,capacity,technology,contract_begin,contract_end,"
              "price_model,price,fee_model,fee,fee_percent,email")
SOLAR = "CON1_SOL-X-001,SOL-X-001,MP-SOL-X1,1.088,solar,2024-03-01,,fixed,85.0,fixed_as_produced,2.5,,a@b.de"
TRADES = "Private_Trades-20250608-20250609T000516000Z.csv"
TITLE = "# Private Trades - 2025-06-08 - 2025-06-09T00:05:16.000Z;;;;;;;;"
TRADES_HEADER = "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit"
TRADE = ("2043263611;BUY;2025-06-08 10:15:00+00:00;2025-06-08 10:30:00+00:00;"
         "2025-06-08 09:14:10+00:00;-5.5;EUR;2.5;MWH")
DSO = "final_production_MP-A_20250609.csv"
FLAGS = "redispatch_flag_MP-A_20250609_1201.csv"
IMBALANCE = "imbalance_price_final_20250608_170800.csv"
IMBALANCE_HEADER = "Datum;Zeitzone;von;bis;Datenkategorie;Datentyp;Einheit;reBAP unterdeckt;reBAP ueberdeckt"
IMBALANCE_ROW = "08.06.2025;UTC;00:15;00:30;reBAP;Qualitätsgesichert;EUR/MWh;-14,35;-14,35"


def write(tmp_path, name: str, *lines: str):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rejection(parse, path) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        parse(path)
    assert caught.value.path.name == path.name
    return caught.value


# --- item 7: a contract that ends before it begins ----------------------------------------------

def test_contract_end_before_contract_begin_is_rejected_naming_the_line(tmp_path):
    backwards = "CON1_WND-X-002,WND-X-002,MP-WND-X2,6.6,wind,2025-09-01,2025-06-01,market,,percent_of_market,,7.0,c@d.de"
    error = rejection(parse_contracts, write(tmp_path, CRM, CRM_HEADER, SOLAR, backwards))
    assert error.line == 3
    assert str(error) == (f"{CRM}: line 3: contract 'CON1_WND-X-002': contract_end 2025-06-01 is before "
                          "contract_begin 2025-09-01")


def test_contract_ending_on_its_begin_day_is_accepted_and_active_on_no_day(tmp_path):
    same_day = "CON1_WND-X-002,WND-X-002,MP-WND-X2,6.6,wind,2025-06-01,2025-06-01,market,,percent_of_market,,7.0,c@d.de"
    frame = parse_contracts(write(tmp_path, CRM, CRM_HEADER, SOLAR, same_day))
    assert frame["contract_end"].to_list() == [None, dt.date(2025, 6, 1)]


# --- item 4: an unknown volume unit ---------------------------------------------------------------

def test_unknown_volume_unit_rejects_the_export_and_the_documented_label_is_accepted(tmp_path):
    gwh = TRADE.replace(";MWH", ";GWH").replace("2043263611", "2043263612")
    error = rejection(parse_trades, write(tmp_path, TRADES, TITLE, TRADES_HEADER, TRADE, gwh))
    assert error.line == 4
    assert str(error) == f"{TRADES}: line 4: column 'VolumeUnit': unknown unit 'GWH' (the exchange documents MWH)"
    accepted = parse_trades(write(tmp_path, TRADES, TITLE, TRADES_HEADER, TRADE))
    assert accepted["volume_unit_label"].to_list() == ["MWH"]


# --- item 5: a quoted line with one field too many -----------------------------------------------

def test_crm_quoted_line_with_a_field_too_many_is_rejected(tmp_path):
    extra = 'CON1_WND-X-002,WND-X-002,MP-WND-X2,6.6,wind,2024-09-01,,market,,percent_of_market,,7.0,"c@d.de",extra'
    error = rejection(parse_contracts, write(tmp_path, CRM, CRM_HEADER, SOLAR, extra))
    assert str(error) == f"{CRM}: line 3: 14 fields where the header has 13"


def test_crm_quoted_field_holding_the_separator_is_one_field(tmp_path):
    quoted = 'CON1_WND-X-002,WND-X-002,MP-WND-X2,6.6,wind,2024-09-01,,market,,percent_of_market,,7.0,"Ops, Nord <c@d.de>"'
    frame = parse_contracts(write(tmp_path, CRM, CRM_HEADER, SOLAR, quoted))
    assert frame["email"].to_list() == ["a@b.de", "Ops, Nord <c@d.de>"]


def test_exchange_quoted_line_with_a_field_too_many_is_rejected(tmp_path):
    extra = TRADE.replace("2043263611", '"2043263612"') + ";0.1"
    error = rejection(parse_trades, write(tmp_path, TRADES, TITLE, TRADES_HEADER, TRADE, extra))
    # line 1 title, 2 header, 3 the good trade, 4 the bad one
    assert str(error) == f"{TRADES}: line 4: 10 fields where the header has 9"


def test_dso_quoted_line_with_a_field_too_many_is_rejected_alone_and_in_a_batch(tmp_path):
    header = "delivery_start__utc_,MP-A__kw_"
    path = write(tmp_path, DSO, header, "2025-06-08 00:00:00.000000 UTC,1.0",
                 '"2025-06-08 00:15:00.000000 UTC",2.0,3.0')
    error = rejection(parse_final_production, path)
    assert str(error) == f"{DSO}: line 3: 3 fields where the header has 2"
    rows, errors = read_final_production_batch([path])
    assert rows.height == 0 and [str(e) for e in errors] == [str(error)]


def test_dso_flags_quoted_line_with_a_field_too_many_is_rejected(tmp_path):
    path = write(tmp_path, FLAGS, "delivery_start,delivery_end,is_redispatched",
                 '"2025-06-08T10:15:00Z",2025-06-08T10:30:00Z,1,1')
    assert str(rejection(parse_redispatch_flags, path)) == f"{FLAGS}: line 2: 4 fields where the header has 3"


def test_imbalance_quoted_line_with_a_field_too_many_is_rejected(tmp_path):
    extra = IMBALANCE_ROW.replace("-14,35;-14,35", '"-14,35";-14,35;-14,35')
    path = write(tmp_path, IMBALANCE, IMBALANCE_HEADER, extra)
    assert str(rejection(parse_imbalance_final, path)) == f"{IMBALANCE}: line 2: 10 fields where the header has 9"
    # the quoted decimal comma alone is one field, read as -14.35
    good = IMBALANCE_ROW.replace("-14,35;-14,35", '"-14,35";-14,35')
    frame = parse_imbalance_final(write(tmp_path, IMBALANCE, IMBALANCE_HEADER, good))
    assert frame["price_short_eur_per_mwh"].to_list() == [-14.35]


def test_an_unterminated_quote_is_rejected_naming_its_line(tmp_path):
    bad = 'CON1_WND-X-002,WND-X-002,MP-WND-X2,6.6,wind,2024-09-01,,market,,percent_of_market,,7.0,"c@d.de'
    error = rejection(parse_contracts, write(tmp_path, CRM, CRM_HEADER, SOLAR, bad))
    assert error.line == 3 and "cannot be read as CSV" in error.problem
