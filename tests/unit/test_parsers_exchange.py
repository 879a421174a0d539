"""Exchange trade exports: '#' title line, hourly and quarter-hourly products, MWH label kept."""

from __future__ import annotations

import datetime as dt

import pytest

from flexpower_assets.parsers.errors import InputFileError
from flexpower_assets.parsers.exchange import parse_trades

UTC = dt.timezone.utc
PRIVATE = "Private_Trades-20250608-20250609T000516000Z.csv"
PUBLIC = "Public_Trades-20250608-20250609T001502250Z.csv"
TITLE = "# Private Trades - 2025-06-08 - 2025-06-09T00:05:16.000Z;;;;;;;;"
HEADER = "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit"
HOURLY = ("2042884497;SELL;2025-06-08 00:00:00+00:00;2025-06-08 01:00:00+00:00;"
          "2025-06-07 15:03:44.509000+00:00;81.29;EUR;0.1;MWH")
QUARTER = ("2043263611;BUY;2025-06-08 10:15:00+00:00;2025-06-08 10:30:00+00:00;"
           "2025-06-08 09:14:10+00:00;-5.5;EUR;2.5;MWH")
# the same instant written with a +02:00 offset: 12:15+02:00 is 10:15 UTC
OFFSET = ("2043263612;SELL;2025-06-08 12:15:00+02:00;2025-06-08 12:30:00+02:00;"
          "2025-06-08 11:00:00.25+02:00;40;EUR;1;MWH")


def write(tmp_path, *lines: str, name: str = PRIVATE):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rejection(path) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        parse_trades(path)
    assert caught.value.path.name == path.name
    return caught.value


def test_private_export_hourly_and_quarter_hourly_products(tmp_path):
    frame = parse_trades(write(tmp_path, TITLE, HEADER, HOURLY, QUARTER, OFFSET))

    assert frame["trade_id"].to_list() == ["2042884497", "2043263611", "2043263612"]
    assert frame["side"].to_list() == ["SELL", "BUY", "SELL"]
    assert frame["delivery_start"].to_list() == [
        dt.datetime(2025, 6, 8, 0, tzinfo=UTC), dt.datetime(2025, 6, 8, 10, 15, tzinfo=UTC),
        dt.datetime(2025, 6, 8, 10, 15, tzinfo=UTC)]
    # hourly product: 00:00-01:00; quarter-hourly: 10:15-10:30
    lengths = (frame["delivery_end"] - frame["delivery_start"]).to_list()
    assert lengths == [dt.timedelta(hours=1), dt.timedelta(minutes=15), dt.timedelta(minutes=15)]
    assert frame["execution_time"].to_list() == [
        dt.datetime(2025, 6, 7, 15, 3, 44, 509000, tzinfo=UTC), dt.datetime(2025, 6, 8, 9, 14, 10, tzinfo=UTC),
        dt.datetime(2025, 6, 8, 9, 0, 0, 250000, tzinfo=UTC)]
    assert frame["price_eur_per_mwh"].to_list() == [81.29, -5.5, 40.0]
    # Volume is MW over the period; the export's 'MWH' label is kept as published
    assert frame["volume_mw"].to_list() == [0.1, 2.5, 1.0]
    assert frame["volume_unit_label"].to_list() == ["MWH", "MWH", "MWH"]
    assert frame["currency"].to_list() == ["EUR"] * 3
    # 20250609T000516000Z -> 2025-06-09 00:05:16.000 UTC
    assert frame["exported_at"].unique().to_list() == [dt.datetime(2025, 6, 9, 0, 5, 16, tzinfo=UTC)]


def test_public_export_same_layout_and_millisecond_export_time(tmp_path):
    frame = parse_trades(write(tmp_path, TITLE.replace("Private", "Public"), HEADER, HOURLY, name=PUBLIC))

    assert frame["trade_id"].to_list() == ["2042884497"]
    # 20250609T001502250Z -> 00:15:02.250 UTC
    assert frame["exported_at"][0] == dt.datetime(2025, 6, 9, 0, 15, 2, 250000, tzinfo=UTC)


def test_export_with_only_title_and_header_has_no_trades(tmp_path):
    assert parse_trades(write(tmp_path, TITLE, HEADER)).height == 0


def test_identical_repeated_trade_is_kept_once(tmp_path):
    frame = parse_trades(write(tmp_path, TITLE, HEADER, HOURLY, QUARTER, HOURLY))

    assert frame["trade_id"].to_list() == ["2042884497", "2043263611"]


def test_trade_id_repeated_with_different_values_names_both_lines(tmp_path):
    changed = HOURLY.replace(";81.29;", ";81.30;")

    error = rejection(write(tmp_path, TITLE, HEADER, HOURLY, QUARTER, changed))

    # line 1 title, line 2 header, trades on lines 3, 4, 5
    assert str(error) == f"{PRIVATE}: line 5: trade_id='2042884497' appears on lines 3 and 5 with different values"


def test_empty_export_is_rejected(tmp_path):
    path = tmp_path / PUBLIC
    path.write_bytes(b"")

    assert str(rejection(path)) == f"{PUBLIC}: whole file: file is empty (0 bytes)"


def test_wrong_header_is_rejected_at_line_2(tmp_path):
    error = rejection(write(tmp_path, TITLE, HEADER.replace("Volume;", "Quantity;"), HOURLY))

    assert error.line == 2
    assert error.problem.startswith("wrong header 'TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;"
                                    "Currency;Quantity;VolumeUnit'")


def test_unknown_currency_is_rejected(tmp_path):
    error = rejection(write(tmp_path, TITLE, HEADER, HOURLY, QUARTER.replace(";EUR;", ";USD;")))

    assert str(error) == f"{PRIVATE}: line 4: column 'Currency': unknown currency 'USD' (only EUR)"


def test_unknown_side_is_rejected(tmp_path):
    error = rejection(write(tmp_path, TITLE, HEADER, HOURLY.replace(";SELL;", ";HOLD;")))

    assert str(error) == f"{PRIVATE}: line 3: column 'Side': 'HOLD' is not BUY or SELL"


def test_product_neither_15_nor_60_minutes_is_rejected(tmp_path):
    half_hour = QUARTER.replace("10:30:00+00:00", "10:45:00+00:00")

    error = rejection(write(tmp_path, TITLE, HEADER, HOURLY, half_hour))

    assert str(error) == (f"{PRIVATE}: line 4: product 2025-06-08 10:15 to 2025-06-08 10:45 UTC is "
                          "neither 15 nor 60 minutes long")


def test_unparsable_price_is_rejected(tmp_path):
    error = rejection(write(tmp_path, TITLE, HEADER, HOURLY.replace(";81.29;", ";81,29;")))

    assert str(error) == f"{PRIVATE}: line 3: column 'Price': cannot read '81,29' as a number"


def test_unparsable_time_is_rejected(tmp_path):
    german_time = HOURLY.replace("2025-06-08 00:00:00+00:00", "08.06.2025 00:00")

    error = rejection(write(tmp_path, TITLE, HEADER, QUARTER, german_time))

    assert error.line == 4
    assert error.problem == ("column 'DeliveryStart': cannot read '08.06.2025 00:00' as a time like "
                             "'2025-06-08 00:00:00+00:00'")


def test_zero_volume_is_rejected_at_its_line(tmp_path):
    error = rejection(write(tmp_path, TITLE, HEADER, HOURLY, QUARTER.replace(";2.5;", ";0;")))

    assert error.line == 4
    assert error.problem.startswith("column 'Volume': value '0.0' fails greater_than(0)")


def test_product_not_starting_on_a_quarter_hour_is_rejected(tmp_path):
    # 10:05-10:20 is 15 minutes long but no quarter-hour product: its slices would fall between QHs
    off_grid = QUARTER.replace("10:15:00+00:00;2025-06-08 10:30:00", "10:05:00+00:00;2025-06-08 10:20:00")
    error = rejection(write(tmp_path, TITLE, HEADER, HOURLY, off_grid))

    assert str(error) == f"{PRIVATE}: line 4: product starts at 2025-06-08 10:05:00 UTC, not on a quarter-hour"
