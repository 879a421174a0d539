"""The generic batch reader: its fast path and its detailed path accept and reject the same
files with the same messages, and the spelling of a document changes neither result nor path."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from flexpower_assets.parsers import vpp
from flexpower_assets.parsers.vpp import read_forecast_batch, read_live_batch

MIDNIGHT_MS = 1_749_340_800_000  # 2025-06-08 00:00 UTC in epoch milliseconds
QH_MS = 900_000                  # 15 min * 60 s * 1000 ms
V0815_MS = MIDNIGHT_MS + 33 * QH_MS  # 08:15 is 33 quarter-hours after midnight: 1_749_370_500_000
MINUTE_MS = 60_000

SPELLINGS = ("compact", "real", "indent4_crlf", "tabs", "keys_reversed", "columns_reordered", "exponent")


def spell(doc: dict, spelling: str) -> str:
    """The same document written another way: whitespace, key order, column order, numbers."""
    if spelling == "compact":
        return json.dumps(doc, separators=(",", ":"))
    if spelling == "real":  # as the VPP writes it: indented by two, epoch ms as floats
        floats = {**doc, "values": [[float(v) if isinstance(v, int) and abs(v) > 10**12 else v for v in column]
                                    for column in doc["values"]]}
        return json.dumps(floats, indent=2) + "\n"
    if spelling == "indent4_crlf":
        return json.dumps(doc, indent=4).replace("\n", "\r\n")
    if spelling == "tabs":
        return json.dumps(doc, indent="\t")
    if spelling == "keys_reversed":
        return json.dumps(dict(reversed(list(doc.items()))), indent=1)
    if spelling == "columns_reordered":  # the last column first: columns are read by name
        order = [len(doc["column_ids"]) - 1, *range(len(doc["column_ids"]) - 1)]
        return json.dumps({**doc, **{part: [doc[part][i] for i in order]
                                     for part in ("column_ids", "units", "values")}})
    if spelling == "exponent":  # 1749370500000 written as 1.7493705E12
        return re.sub(r"\b(1\d{12})\b", lambda m: f"{int(m[1]) / 1e12!r}E12", json.dumps(doc))
    raise ValueError(spelling)


def forecast(asset: str = "A", version_ms: int = V0815_MS, powers=(100.0, 250.5, 0.0, 7.25)) -> dict:
    starts = [version_ms + k * QH_MS for k in range(len(powers))]
    return {"key": {"asset_id": asset, "type_id": "pv-forecast-real"},
            "column_ids": ["start", "end", "version", "power"], "units": ["ms", "ms", "ms", "kW"],
            "values": [starts, [s + QH_MS for s in starts], [version_ms] * len(powers), list(powers)]}


def live(asset: str = "SOL-X-002", first_ms: int = MIDNIGHT_MS, values=(-0.25, -0.2, 3.5, 4.0), key="asset_id") -> dict:
    times = [first_ms + k * MINUTE_MS for k in range(len(values))]
    return {"key": {key: asset, "type_id": "power-measurement-live"},
            "column_ids": ["timestamp", "value", "quality"], "units": ["ms", "kW", "factor"],
            "values": [times, list(values), [1.0] * len(values)]}


def changed(doc: dict, column: int, row: int, value) -> dict:
    values = [list(c) for c in doc["values"]]
    values[column][row] = value
    return {**doc, "values": values}


def bad_forecasts() -> dict[str, str | dict]:
    """Every kind of bad forecast file, by name (text as written, or a document)."""
    off_grid = forecast("F1")
    return {
        "E1_20250608T0815Z.json": "",
        "E2_20250608T0815Z.json": '{"key": {"asset_id": "E2"}, "values": [',
        "E3_20250608T0815Z.json": "[1, 2, 3]",
        "V1_20250608T0807Z.json": forecast("V1"),                                  # version off the grid
        "V2_20250608T0830Z.json": forecast("V2"),                                  # name's version differs
        "N1_20250608T0815Z.json": forecast("OTHER"),                               # name's asset differs
        "U1_20250608T0815Z.json": {**forecast("U1"), "units": ["ms", "ms", "ms", "MW"]},
        "C1_20250608T0815Z.json": {**forecast("C1"), "column_ids": ["start", "end", "version", "watts"]},
        "C2_20250608T0815Z.json": {**forecast("C2"), "column_ids": ["start", "start", "version", "power"]},
        "C3_20250608T0815Z.json": changed(forecast("C3"), 3, 1, None) | {
            "values": [c[:3] if i == 3 else c for i, c in enumerate(forecast("C3")["values"])]},
        "K1_20250608T0815Z.json": {k: v for k, v in forecast("K1").items() if k != "key"},
        "K2_20250608T0815Z.json": {**forecast("K2"), "key": {"asset_id": "K2", "entity_id": "K9"}},
        "F1_20250608T0815Z.json": changed(off_grid, 0, 2, off_grid["values"][0][2] + MINUTE_MS),
        "F2_20250608T0815Z.json": changed(forecast("F2"), 1, 0, V0815_MS + 2 * QH_MS),   # end != start + 15 min
        "F3_20250608T0815Z.json": changed(forecast("F3"), 0, 0, V0815_MS + 0.5),         # half a millisecond
        "F4_20250608T0815Z.json": changed(forecast("F4"), 0, 0, 1e300),                  # out of range
        "F5_20250608T0815Z.json": changed(forecast("F5"), 1, 1, True),                   # a boolean, not a time
        "F6_20250608T0815Z.json": changed(forecast("F6"), 2, 0, False),
        "P1_20250608T0815Z.json": changed(forecast("P1"), 3, 1, None),
        "P2_20250608T0815Z.json": changed(forecast("P2"), 3, 2, "1.5"),
        "P3_20250608T0815Z.json": changed(forecast("P3"), 3, 0, True),
        "P4_20250608T0815Z.json": changed(forecast("P4"), 3, 3, [1.0]),
        "P5_20250608T0815Z.json": changed(forecast("P5"), 3, 2, False),                 # a boolean among floats
        "R1_20250608T0815Z.json": changed(changed(forecast("R1"), 0, 2, V0815_MS + QH_MS), 1, 2, V0815_MS + 2 * QH_MS),
        "W1_20250608T0815Z.json": changed(forecast("W1"), 2, 1, V0815_MS + QH_MS),      # a row of another version
        "X1_20250608T0815Z.json": forecast("X1"),
        "X1_20250608T0815Z.json#second": forecast("X1", powers=(1.0,)),  # the same asset and version again
        # a repeated key (the last one counts, here a bad one), a byte-order mark (not JSON)
        "D1_20250608T0815Z.json": json.dumps(forecast("D1"))[:-1] + ', "values": [[1], [2], [3], ["x"]]}',
        "D2_20250608T0815Z.json": json.dumps(forecast("D2")).replace('"asset_id": "D2"',
                                                                     '"asset_id": "D2", "asset_id": "OTHER"'),
        "B1_20250608T0815Z.json": "\ufeff" + json.dumps(forecast("B1")),
    }


def bad_lives() -> dict[str, str | dict]:
    """Every kind of bad live file, by name."""
    return {
        "E1_20250608.json": "   \n",
        "E2_20250608.json": "{not json",
        "U1_20250608.json": {**live("U1"), "units": ["s", "kW", "factor"]},
        "C1_20250608.json": {**live("C1"), "column_ids": ["time", "value", "quality"]},
        "K1_20250608.json": {**live("K1"), "key": {"type_id": "power-measurement-live"}},
        "T1_20250608.json": changed(live("T1"), 0, 1, 1e300),
        "T2_20250608.json": changed(live("T2"), 0, 2, "2025-06-08T00:02:00Z"),
        "T3_20250608.json": changed(live("T3"), 0, 3, MIDNIGHT_MS),                     # repeated timestamp
        "T4_20250608.json": changed(live("T4"), 0, 0, True),                            # a boolean, not a time
        "T5_20250608.json": changed(live("T5"), 0, 1, False),
        "V1_20250608.json": changed(live("V1"), 1, 0, None),
        "V2_20250608.json": changed(live("V2"), 1, 1, False),
        "V4_20250608.json": changed(live("V4"), 1, 3, True),
        "V3_20250608.json": changed(live("V3"), 1, 2, "3.5"),
        "Q1_20250608.json": changed(live("Q1"), 2, 1, "good"),
        "D1_20250608.json": json.dumps(live("D1"))[:-1] + ', "values": [[1], [2], [true]]}',
        "B1_20250608.json": "\ufeff" + json.dumps(live("B1")),
    }


def write_corpus(folder, files: dict[str, str | dict]) -> list:
    paths = []
    for name, content in files.items():
        name, _, second = name.partition("#")
        target = folder / second if second else folder
        target.mkdir(parents=True, exist_ok=True)
        path = target / name
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2), encoding="utf-8")
        paths.append(path)
    return paths


def outcome(reader, paths: list, fast: bool) -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    frame, errors = reader(paths, fast=fast)
    return frame, [(str(e.path), str(e)) for e in errors]


@pytest.mark.parametrize("reader, good, bad, good_among_bad", [
    # X1 twice: the first is read, the second rejected as the same asset and version
    (read_forecast_batch, lambda i, spelling: (f"G{i}_20250608T0815Z.json", spell(forecast(f"G{i}"), spelling)),
     bad_forecasts, 1),
    (read_live_batch, lambda i, spelling: (f"G{i}_20250608.json", spell(live(f"G{i}"), spelling)), bad_lives, 0),
], ids=["forecast", "live"])
def test_fast_and_detailed_paths_accept_and_reject_the_same_corpus(tmp_path, reader, good, bad, good_among_bad):
    files = dict(good(i, spelling) for i, spelling in enumerate(SPELLINGS)) | bad()
    paths = write_corpus(tmp_path, files)

    fast_frame, fast_errors = outcome(reader, paths, fast=True)
    detailed_frame, detailed_errors = outcome(reader, paths, fast=False)

    assert fast_errors == detailed_errors
    assert fast_frame.equals(detailed_frame)
    # the bytes handed over by the caller that hashed them give the same outcome as reading the files
    handed_frame, handed_errors = reader(paths, contents=[path.read_bytes() for path in paths])
    assert [(str(e.path), str(e)) for e in handed_errors] == fast_errors
    assert handed_frame.equals(fast_frame)
    # every good file in every spelling is read (4 rows each), every bad file is rejected
    assert fast_frame["file_index"].n_unique() == len(SPELLINGS) + good_among_bad
    assert fast_frame.height == 4 * (len(SPELLINGS) + good_among_bad)
    assert len(fast_errors) == len(files) - len(SPELLINGS) - good_among_bad
    # and alone, each file gets the same verdict and message on both paths
    for path in paths:
        alone_fast, alone_fast_errors = outcome(reader, [path], fast=True)
        alone_detailed, alone_detailed_errors = outcome(reader, [path], fast=False)
        assert alone_fast_errors == alone_detailed_errors, path.name
        assert alone_fast.equals(alone_detailed), path.name


def test_the_corpus_messages_name_file_place_and_problem(tmp_path):
    paths = write_corpus(tmp_path, bad_forecasts())
    _frame, errors = outcome(read_forecast_batch, paths, fast=True)
    messages = dict((path.rsplit("/", 1)[-1], message) for path, message in errors)
    # 08:45 = 1_749_370_500_000 + 2 x 900_000 = 1_749_372_300_000; + 1 min = 1_749_372_360_000
    assert messages["F1_20250608T0815Z.json"] == ("F1_20250608T0815Z.json: values[0][2]: start 1749372360000 ms "
                                                  "is not on a quarter-hour")
    assert messages["P2_20250608T0815Z.json"] == "P2_20250608T0815Z.json: values[3][2]: column 'power': '1.5' is not a number"
    assert messages["P3_20250608T0815Z.json"] == "P3_20250608T0815Z.json: values[3][0]: column 'power': True is not a number"
    # R1's third start is 08:30 = 1_749_370_500_000 + 900_000 = 1_749_371_400_000, as its second
    assert messages["R1_20250608T0815Z.json"] == "R1_20250608T0815Z.json: values[0][2]: start 1749371400000 ms appears twice"
    assert messages["X1_20250608T0815Z.json"] == ("X1_20250608T0815Z.json: whole file: asset 'X1' at this version was "
                                                  "already read from X1_20250608T0815Z.json")
    assert messages["E1_20250608T0815Z.json"] == "E1_20250608T0815Z.json: whole file: file is empty (0 bytes)"
    # the repeated key: orjson's last "values" is read, whose version column holds 3
    assert messages["D1_20250608T0815Z.json"] == ("D1_20250608T0815Z.json: values[2][0]: version 3 ms differs from the "
                                                  "file name's version 2025-06-08 08:15 UTC (1749370500000 ms)")
    assert messages["D2_20250608T0815Z.json"] == ("D2_20250608T0815Z.json: key: the file name names asset 'D2', "
                                                  "the content 'OTHER'")
    assert messages["B1_20250608T0815Z.json"].startswith("B1_20250608T0815Z.json: line 1: not valid JSON: ")


@pytest.mark.parametrize("reader, document, name, detailed_check", [
    (read_forecast_batch, forecast, "G_20250608T0815Z.json", "_checked_forecast"),
    (read_live_batch, live, "G_20250608.json", "read_columnar"),
], ids=["forecast", "live"])
def test_every_spelling_gives_identical_rows_on_the_fast_path(tmp_path, monkeypatch, reader, document, name,
                                                              detailed_check):
    detailed = []
    original = getattr(vpp, detailed_check)
    monkeypatch.setattr(vpp, detailed_check, lambda *args: detailed.append(args) or original(*args))
    frames = {}
    for spelling in SPELLINGS:
        folder = tmp_path / spelling
        folder.mkdir()
        (folder / name).write_text(spell(document("G"), spelling), encoding="utf-8")
        frame, errors = reader([folder / name])
        assert errors == [], spelling
        frames[spelling] = frame

    # the same content in every spelling: the same rows, value for value and type for type
    for spelling, frame in frames.items():
        assert frame.equals(frames["compact"]), spelling
        assert frame.schema == frames["compact"].schema, spelling
    assert frames["compact"].height == 4
    # and none of them was sent to the detailed check: whitespace, key order, column order and
    # number spelling keep a document on the fast path
    assert detailed == []
