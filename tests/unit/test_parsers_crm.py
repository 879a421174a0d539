"""CRM contract snapshots: values as published, inconsistent contracts loaded, bad files rejected."""

from __future__ import annotations

import datetime as dt

import pytest

from flexpower_assets.parsers.crm import parse_contracts
from flexpower_assets.parsers.errors import InputFileError

UTC = dt.timezone.utc
NAME = "asset_contracts_20250608_043831.csv"
HEADER = ("contract_id,asset_id,metering_point_id,capacity,technology,contract_begin,contract_end,"
          "price_model,price,fee_model,fee,fee_percent,email")
SOLAR = "CON1_SOL-X-001,SOL-X-001,MP-SOL-X1,1.088,solar,2024-03-01,,fixed,85.0,fixed_as_produced,2.5,,a@b.de"
WIND = "CON1_WND-X-002,WND-X-002,MP-WND-X2,6.6,wind,2024-09-01,2029-09-01,market,,percent_of_market,,7.0,c@d.de"
# fixed price model without a price; fixed_as_produced without a fee but with a fee_percent
INCONSISTENT = "CON1_WND-X-003,WND-X-003,MP-WND-X3,5.6,wind,2024-09-01,,fixed,,fixed_as_produced,,7.0,e@f.de"


def write(tmp_path, *lines: str, name: str = NAME):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rejection(path) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        parse_contracts(path)
    return caught.value


def test_snapshot_values_open_ended_and_inconsistent_contracts(tmp_path):
    frame = parse_contracts(write(tmp_path, HEADER, SOLAR, WIND, INCONSISTENT))

    assert frame["contract_id"].to_list() == ["CON1_SOL-X-001", "CON1_WND-X-002", "CON1_WND-X-003"]
    assert frame["capacity_mw"].to_list() == [1.088, 6.6, 5.6]
    assert frame["contract_begin"].to_list() == [dt.date(2024, 3, 1), dt.date(2024, 9, 1), dt.date(2024, 9, 1)]
    # an empty contract_end is open-ended
    assert frame["contract_end"].to_list() == [None, dt.date(2029, 9, 1), None]
    assert frame["price_eur_per_mwh"].to_list() == [85.0, None, None]
    assert frame["fee"].to_list() == [2.5, None, None]
    assert frame["fee_percent"].to_list() == [None, 7.0, 7.0]
    # the inconsistent contract is loaded as published (a later check flags it)
    inconsistent = frame.row(2, named=True)
    assert (inconsistent["price_model"], inconsistent["fee_model"]) == ("fixed", "fixed_as_produced")
    assert inconsistent["metering_point_id"] == "MP-WND-X3"
    assert inconsistent["email"] == "e@f.de"
    # snapshot time from the name asset_contracts_20250608_043831 (UTC)
    assert frame["snapshot_created_at"].unique().to_list() == [dt.datetime(2025, 6, 8, 4, 38, 31, tzinfo=UTC)]


def test_identical_repeated_rows_collapse_to_one(tmp_path):
    frame = parse_contracts(write(tmp_path, HEADER, SOLAR, WIND, SOLAR))

    assert frame["contract_id"].to_list() == ["CON1_SOL-X-001", "CON1_WND-X-002"]


def test_contract_repeated_with_different_values_names_both_lines(tmp_path):
    changed = SOLAR.replace(",1.088,", ",1.2,")
    error = rejection(write(tmp_path, HEADER, SOLAR, WIND, changed))

    assert error.path.name == NAME
    assert error.line == 4
    assert error.problem == "contract_id='CON1_SOL-X-001' appears on lines 2 and 4 with different values"
    assert str(error).startswith(f"{NAME}: line 4: ")


def test_empty_file_is_rejected(tmp_path):
    path = tmp_path / NAME
    path.write_bytes(b"")

    error = rejection(path)

    assert str(error) == f"{NAME}: whole file: file is empty (0 bytes)"


def test_wrong_header_is_rejected_at_line_1(tmp_path):
    error = rejection(write(tmp_path, HEADER.replace("capacity", "capacity_kw"), SOLAR))

    assert error.line == 1
    assert error.problem.startswith("wrong header 'contract_id,asset_id,metering_point_id,capacity_kw,")


def test_unparsable_number_names_line_and_column(tmp_path):
    error = rejection(write(tmp_path, HEADER, SOLAR, WIND.replace(",6.6,", ",6.6MW,")))

    assert str(error) == f"{NAME}: line 3: column 'capacity': cannot read '6.6MW' as a number"


def test_unparsable_date_names_line_and_column(tmp_path):
    error = rejection(write(tmp_path, HEADER, SOLAR.replace("2024-03-01", "01.03.2024")))

    assert str(error) == f"{NAME}: line 2: column 'contract_begin': cannot read '01.03.2024' as a date YYYY-MM-DD"


def test_unknown_technology_is_rejected_at_its_line(tmp_path):
    error = rejection(write(tmp_path, HEADER, SOLAR, WIND.replace(",wind,", ",hydro,")))

    assert error.line == 3
    assert error.problem.startswith("column 'technology': value 'hydro' fails isin")


def test_row_with_missing_field_is_rejected(tmp_path):
    error = rejection(write(tmp_path, HEADER, SOLAR.rsplit(",", 1)[0]))

    assert str(error) == f"{NAME}: line 2: 12 fields where the header has 13"


def test_file_name_must_carry_the_snapshot_time(tmp_path):
    error = rejection(write(tmp_path, HEADER, SOLAR, name="asset_contracts_20251340_043831.csv"))

    assert error.problem == "file name holds no valid timestamp: '20251340_043831'"


def test_header_only_snapshot_is_rejected(tmp_path):
    from flexpower_assets.parsers.crm import parse_contracts
    from flexpower_assets.parsers.errors import InputFileError

    path = tmp_path / "asset_contracts_20250608_043831.csv"
    path.write_text("contract_id,asset_id,metering_point_id,capacity,technology,contract_begin,contract_end,"
                    "price_model,price,fee_model,fee,fee_percent,email\n")
    with pytest.raises(InputFileError) as error:
        parse_contracts(path)
    assert "asset_contracts_20250608_043831.csv: line 2: snapshot holds no contract" in str(error.value)
