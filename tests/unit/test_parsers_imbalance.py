"""Imbalance price files: German headers, decimal comma, bis 00:00 rollover, UTC only."""

from __future__ import annotations

import datetime as dt

import pytest

from flexpower_assets.parsers.errors import InputFileError
from flexpower_assets.parsers.imbalance import parse_imbalance_estimate, parse_imbalance_final

UTC = dt.timezone.utc
ESTIMATE = "imbalance_price_estimation_2025-06-07T041800Z.csv"
FINAL = "imbalance_price_final_20250608_170800.csv"
ESTIMATE_HEADER = "Datum;Zeitzone;von;bis;Datenkategorie;Datentyp;Einheit;AEP-Schätzer;Status"
FINAL_HEADER = "Datum;Zeitzone;von;bis;Datenkategorie;Datentyp;Einheit;reBAP unterdeckt;reBAP ueberdeckt"


def write(tmp_path, name: str, *lines: str):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def estimate_row(day="03.06.2025", von="23:30", bis="23:45", price="141,17", status="0,00", zone="UTC",
                 unit="EUR/MWh"):
    return f"{day};{zone};{von};{bis};AEP-Schätzer;Betrieblich;{unit};{price};{status}"


def final_row(day="08.06.2025", von="00:15", bis="00:30", short="-14,35", long="-14,35", zone="UTC"):
    return f"{day};{zone};{von};{bis};reBAP;Qualitätsgesichert;EUR/MWh;{short};{long}"


def rejection(parse, path) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        parse(path)
    assert caught.value.path.name == path.name
    return caught.value


def test_estimate_decimal_comma_status_text_and_midnight_rollover(tmp_path):
    path = write(tmp_path, ESTIMATE, ESTIMATE_HEADER,
                 estimate_row(),
                 estimate_row(von="23:45", bis="00:00", price="74,91", status="1,00"),
                 estimate_row(day="04.06.2025", von="00:00", bis="00:15", price="-1.234,5", status="2,00"))

    frame = parse_imbalance_estimate(path)

    assert frame.columns == ["delivery_start", "price_eur_per_mwh", "status", "file_created_at"]
    # 23:45-00:00 is the last QH of 03.06, not a QH of negative length
    assert frame["delivery_start"].to_list() == [
        dt.datetime(2025, 6, 3, 23, 30, tzinfo=UTC), dt.datetime(2025, 6, 3, 23, 45, tzinfo=UTC),
        dt.datetime(2025, 6, 4, 0, 0, tzinfo=UTC)]
    # '141,17' -> 141.17; '-1.234,5' (thousands dot) -> -1234.5
    assert frame["price_eur_per_mwh"].to_list() == [141.17, 74.91, -1234.5]
    assert frame["status"].to_list() == ["0,00", "1,00", "2,00"]
    # name ..._2025-06-07T041800Z -> 2025-06-07 04:18:00 UTC
    assert frame["file_created_at"].unique().to_list() == [dt.datetime(2025, 6, 7, 4, 18, tzinfo=UTC)]


def test_final_prices_for_short_and_long_positions(tmp_path):
    path = write(tmp_path, FINAL, FINAL_HEADER,
                 final_row(von="00:00", bis="00:15", short="87,11", long="80,00"),
                 final_row(),
                 final_row(von="23:45", bis="00:00", short="-59,37", long="-59,37"))

    frame = parse_imbalance_final(path)

    assert frame["delivery_start"].to_list() == [
        dt.datetime(2025, 6, 8, 0, 0, tzinfo=UTC), dt.datetime(2025, 6, 8, 0, 15, tzinfo=UTC),
        dt.datetime(2025, 6, 8, 23, 45, tzinfo=UTC)]
    assert frame["price_short_eur_per_mwh"].to_list() == [87.11, -14.35, -59.37]
    assert frame["price_long_eur_per_mwh"].to_list() == [80.0, -14.35, -59.37]
    # name ..._20250608_170800 -> 2025-06-08 17:08:00 UTC
    assert frame["file_created_at"].unique().to_list() == [dt.datetime(2025, 6, 8, 17, 8, tzinfo=UTC)]


def test_local_time_zone_is_rejected_because_the_autumn_hour_repeats(tmp_path):
    path = write(tmp_path, FINAL, FINAL_HEADER, final_row(zone="CET"))

    error = rejection(parse_imbalance_final, path)

    assert str(error) == (f"{FINAL}: line 2: column 'Zeitzone': 'CET' is a local time zone: the repeated hour "
                          "of the autumn clock change cannot be told apart; only UTC files are accepted")


def test_unknown_time_zone_is_rejected(tmp_path):
    path = write(tmp_path, ESTIMATE, ESTIMATE_HEADER,
                 estimate_row(), estimate_row(von="23:45", bis="00:00", zone="GMT+1"))

    error = rejection(parse_imbalance_estimate, path)

    assert str(error) == f"{ESTIMATE}: line 3: column 'Zeitzone': unknown time zone 'GMT+1' (only UTC is accepted)"


def test_unknown_unit_is_rejected(tmp_path):
    path = write(tmp_path, ESTIMATE, ESTIMATE_HEADER, estimate_row(unit="EUR/kWh"))

    error = rejection(parse_imbalance_estimate, path)

    assert str(error) == f"{ESTIMATE}: line 2: column 'Einheit': unknown unit 'EUR/kWh' (expected 'EUR/MWh')"


def test_unparsable_number_is_rejected(tmp_path):
    # a dot decimal is not a German number: '14.35' would silently read as 1435
    path = write(tmp_path, FINAL, FINAL_HEADER, final_row(), final_row(von="00:30", bis="00:45", long="14.35"))

    error = rejection(parse_imbalance_final, path)

    assert str(error) == (f"{FINAL}: line 3: column 'reBAP ueberdeckt': cannot read '14.35' as a number "
                          "with a decimal comma")


def test_unparsable_date_and_time_are_rejected(tmp_path):
    bad_date = write(tmp_path, FINAL, FINAL_HEADER, final_row(day="2025-06-08"))
    assert str(rejection(parse_imbalance_final, bad_date)) == (
        f"{FINAL}: line 2: column 'Datum': cannot read '2025-06-08' as a date DD.MM.YYYY")

    bad_time = write(tmp_path, FINAL, FINAL_HEADER, final_row(von="0:15 Uhr"))
    assert str(rejection(parse_imbalance_final, bad_time)) == (
        f"{FINAL}: line 2: column 'von': cannot read '0:15 Uhr' as a time HH:MM")


def test_period_other_than_one_quarter_hour_is_rejected(tmp_path):
    path = write(tmp_path, FINAL, FINAL_HEADER, final_row(von="00:15", bis="01:15"))

    error = rejection(parse_imbalance_final, path)

    assert str(error) == f"{FINAL}: line 2: von 00:15 to bis 01:15 is not one quarter-hour"


def test_wrong_header_and_quarter_hour_twice_with_different_prices(tmp_path):
    wrong = write(tmp_path, FINAL, ESTIMATE_HEADER, final_row())
    assert rejection(parse_imbalance_final, wrong).line == 1

    twice = write(tmp_path, FINAL, FINAL_HEADER, final_row(), final_row(short="1,00"))
    error = rejection(parse_imbalance_final, twice)
    assert error.line == 3
    assert error.problem == ("delivery_start=2025-06-08 00:15:00+00:00 appears on lines 2 and 3 "
                             "with different values")
