"""The bid run through Dagster, one fixture case at a time (bidding_cases/*.yaml)."""

from datetime import date, datetime

import polars as pl
import pytest

from flexpower_assets.bidding.approval import create_client_api_app
from flexpower_assets.bidding.exchange_mock import ExchangeServer, LocalServer, prices_from_landing
from resources.warehouse import Warehouse
from tests.integration.bidding_harness import Bench, load_case, prepare


def _now(case):
    return datetime.fromisoformat(case["now"].replace("Z", "+00:00"))


@pytest.fixture
def world(tmp_path):
    """A bench with the mock exchange and a client confirmation API that answers yes."""
    answers = {}
    api = create_client_api_app(lambda request: answers.get(request.client_id, (True, "confirmed")))

    def make(case_name):
        case = load_case(case_name)
        bench = Bench(tmp_path, date.fromisoformat(case["delivery_day"]), case["now"])
        prepare(bench, case)
        return case, bench

    with LocalServer(api) as confirmations:
        state = {"answers": answers, "api": api, "confirm_url": confirmations.url}

        class World:
            def open(self, case_name):
                case, bench = make(case_name)
                clock = {"now": _now(case)}
                exchange = ExchangeServer(prices_from_landing(bench.landing), now=lambda: clock["now"])
                exchange.__enter__()
                self._exchange = exchange
                bench.exchange_url = exchange.url
                bench.approval_url = state["confirm_url"]
                return case, bench

        w = World()
        w.answers, w.api = answers, api
        yield w
        if hasattr(w, "_exchange"):
            w._exchange.__exit__(None, None, None)


def _table(bench, sql, params=None):
    return Warehouse(bench.root / "wh.duckdb").read(sql, params or [])


def test_complete_day(world):
    case, bench = world.open("complete")
    result = bench.run()
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    expected = case["expected"]
    assert _table(bench, "select count(*) as n from main.solver_run")["n"][0] == expected["solver_run_rows"]
    statuses = _table(bench, "select distinct asset_id, curve_status from main.asset_bid_curve order by 1")
    assert dict(statuses.rows()) == expected["curve_status"]
    subs = _table(bench, "select client_id, status from main.bid_submission order by 1")
    assert dict(subs.rows()) == expected["submission"]


def _statuses(bench):
    return dict(_table(bench, "select distinct asset_id, curve_status from main.asset_bid_curve order by 1").rows())


def _submissions(bench):
    return _table(bench, "select client_id, version, status, exchange_version from main.bid_submission "
                         "order by client_id, version").rows()


def test_a_run_for_one_client_keeps_the_other_clients_curves(world):
    from flexpower_assets.assets.bidding import CLIENTS_TAG

    _case, bench = world.open("complete")
    assert bench.run().success
    curves = "select * from main.asset_bid_curve order by client_id, asset_id, delivery_start, point"
    before = _table(bench, curves)
    assert set(before["client_id"]) == {"HYD-A", "HYD-M", "HYD-X"}
    again = bench.run(tags={CLIENTS_TAG: "HYD-M"})
    assert again.success, [e.message for e in again.all_events if e.is_failure]
    after = _table(bench, curves)
    # the day's partition is rewritten by the HYD-M run: the curves of HYD-A and HYD-X stay as they were
    assert after.equals(before)


def test_partial_day_with_30_percent_injected_failures(world):
    case, bench = world.open("partial")
    result = bench.run()
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    runs = _table(bench, "select status, message from main.solver_run")
    assert runs.height == case["expected"]["solver_run_rows"]
    failed = runs.filter(runs["status"] != "optimal")
    low, high = case["expected"]["failed_share_between"]
    assert low <= failed.height / runs.height <= high
    # every injected kind shows up with its own status and message
    assert {"error", "timeout", "infeasible"} <= set(failed["status"].to_list())
    assert any("was killed" in m for m in failed.filter(failed["status"] == "timeout")["message"].to_list())
    curves = _table(bench, "select distinct asset_id, curve_status, coverage from main.asset_bid_curve")
    for asset_id, status, coverage in curves.rows():
        expected = "fallback" if coverage < 0.7 else ("complete" if coverage == 1.0 else "partial")
        assert status == expected, asset_id
    assert "partial" in set(curves["curve_status"].to_list())
    # every client gets a valid matrix (the blocking checks passed) and auto/external are submitted
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert len(checks) >= 10 and all(e.event_specific_data.passed for e in checks)
    assert {c for c, _v, s, _e in _submissions(bench) if s == "accepted"} == {"HYD-A", "HYD-X"}


def test_fallback_asset_keeps_its_client_submitted(world):
    case, bench = world.open("fallback")
    result = bench.run()
    assert result.success
    assert _statuses(bench) == case["expected"]["curve_status"]
    source = _table(bench, "select distinct asset_id, fallback_source from main.asset_bid_curve where curve_status = 'fallback'")
    assert dict(source.rows()) == case["expected"]["fallback_source"]
    zero = _table(bench, "select max(abs(volume_mw)) as v from main.asset_bid_curve where asset_id = 'HYD-A-02'")
    assert zero["v"][0] == 0.0
    assert [s for s in _submissions(bench)] == [("HYD-A", 1, "accepted", 1)]
    assert any("HYD-A-02" in a["subject"] and "falls back" in a["subject"] for a in bench.alerts())
    infeasible = _table(bench, "select count(*) as n from main.solver_run where asset_id = 'HYD-A-02' and status = 'infeasible'")
    assert infeasible["n"][0] == 10


def test_client_with_every_asset_failed_fails_the_run_with_context(world):
    case, bench = world.open("all_failed")
    result = bench.run()
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.event_specific_data.error
    assert failure.step_key == "bid_submission", error
    assert "every asset failed for HYD-F" in (error.message + str(error.cause)), error
    # the healthy client was still submitted before the run failed
    assert _submissions(bench)[0][:3] == ("HYD-A", 1, "accepted")
    alert = next(a for a in bench.alerts() if "FAILED for HYD-F" in a["subject"])
    assert alert["severity"] == "error"
    import json as _json

    from flexpower_assets.bidding.config import config_hash, load_bidding_config
    digest = config_hash(load_bidding_config(bench.config_path))
    assert digest in alert["body"]
    incidents = list((bench.data / "bidding" / "incidents").glob("2025-10-15_HYD-F_*.json"))
    assert len(incidents) == 1 and str(incidents[0]) in alert["body"]
    record = _json.loads(incidents[0].read_text())
    assert record["config_hash"] == digest and record["client_id"] == "HYD-F"
    solves = record["assets"][0]["solves"]
    hashes = _table(bench, "select input_hash from main.solver_run where asset_id = 'HYD-F-01' order by scenario_id")
    assert [s["input_hash"] for s in solves] == hashes["input_hash"].to_list() == record["assets"][0]["input_hashes"]
    assert {s["status"] for s in solves} == {"infeasible"} and all(s["message"] for s in solves)


def test_missed_solve_stage_deadline(world):
    case, bench = world.open("deadline")
    result = bench.run()
    assert not result.success
    runs = _table(bench, "select status, message from main.solver_run")
    assert runs.height == 20 and set(runs["status"].to_list()) == {"timeout"}
    assert all("deadline passed" in m for m in runs["message"].to_list())
    assert _statuses(bench) == {"HYD-A-01": "fallback", "HYD-A-02": "fallback"}
    assert any("FAILED for HYD-A" in a["subject"] and "deadline passed" in a["body"] for a in bench.alerts())


def test_rerun_adds_no_solver_rows_and_submits_nothing_twice(world):
    case, bench = world.open("complete")
    assert bench.run().success
    before = _table(bench, "select count(*) as n from main.solver_run")["n"][0]
    submissions = _submissions(bench)
    log_lines = (bench.data / "bidding" / "compliance.jsonl").read_text().count("\n")
    again = bench.run()
    assert again.success
    assert _table(bench, "select count(*) as n from main.solver_run")["n"][0] == before == 40
    assert _submissions(bench) == submissions
    assert (bench.data / "bidding" / "compliance.jsonl").read_text().count("\n") == log_lines
    from flexpower_assets.bidding.submission import ExchangeClient
    orders = ExchangeClient(bench.exchange_url).orders("HYD-A", bench.day)["orders"]
    assert [(o["version"], o["status"]) for o in orders] == [(1, "active")]


def test_changed_scenario_file_before_gate_closure_supersedes_version_1(world):
    from datetime import datetime as _dt
    from datetime import timezone as _tz

    from tests.integration.bidding_harness import write_scenarios
    case, bench = world.open("complete")
    assert bench.run().success
    write_scenarios(bench.landing, bench.day, _dt(2025, 10, 14, 8, 30, tzinfo=_tz.utc), 10, shift=7.5)
    assert bench.run().success
    assert _table(bench, "select count(*) as n from main.solver_run")["n"][0] == 80  # 40 new solves
    subs = [s for s in _submissions(bench) if s[0] == "HYD-A"]
    assert subs == [("HYD-A", 1, "superseded", 1), ("HYD-A", 2, "accepted", 2)]
    from flexpower_assets.bidding.submission import ExchangeClient
    orders = ExchangeClient(bench.exchange_url).orders("HYD-A", bench.day)["orders"]
    assert [(o["version"], o["status"]) for o in orders] == [(1, "superseded"), (2, "active")]


def test_external_approval_that_says_no(world):
    world.answers["HYD-X"] = (False, "volumes exceed our water licence")
    case, bench = world.open("complete")
    assert bench.run().success
    assert {c for c, _v, s, _e in _submissions(bench)} == {"HYD-A"}
    decision = _table(bench, "select decision, decided_by, reason from bidding.approval where client_id = 'HYD-X'")
    assert decision.rows() == [("rejected", "external:HYD-X", "volumes exceed our water licence")]
    assert any("HYD-X" in a["subject"] and "not approved" in a["subject"] for a in bench.alerts())


def test_a_configuration_change_alone_changes_the_task_list(world):
    case, bench = world.open("complete")
    first = bench.run(tags={})
    def tasks(result):
        """The mapped solve steps Dagster ran (one per task of the dispatcher)."""
        return len({e.step_key for e in result.all_events
                    if e.is_step_success and e.step_key.startswith("bidding__bid_solves.solve_chunk[")})

    # 10 scenarios: HYD-A 2 assets x 2 chunks of 5, HYD-M 1 chunk of 10, HYD-X 1 chunk of 10 = 6 tasks
    assert tasks(first) == 6
    config = case["config"]
    config["clients"][1]["scenarios"] = 4
    config["clients"][1]["chunk_size"] = 2
    config["clients"] = config["clients"][:2]
    bench.write_config(config)
    second = bench.run()
    # HYD-A 4 tasks + HYD-M 4 scenarios in chunks of 2 = 2 tasks; HYD-X is gone: 6 tasks
    assert second.success and tasks(second) == 6
    assert _table(bench, "select count(*) as n from main.solver_run where asset_id = 'HYD-M-01'")["n"][0] == 10
    config["clients"][0]["chunk_size"] = 10
    bench.write_config(config)
    # HYD-A 2 x 1 + HYD-M 2 = 4 tasks
    assert tasks(bench.run()) == 4


def test_maker_checker_through_the_command_line(world, monkeypatch):
    from click.testing import CliRunner

    from flexpower_assets.bidding.store import BidStore
    from flexpower_assets.cli import main
    from flexpower_assets.portal.tokens import TokenStore

    case, bench = world.open("complete")
    env = {"FLEXPOWER_LANDING_DIR": str(bench.landing), "FLEXPOWER_WAREHOUSE": str(bench.root / "wh.duckdb"),
           "FLEXPOWER_DATA_DIR": str(bench.data), "FLEXPOWER_BIDDING_CONFIG": str(bench.config_path),
           "FLEXPOWER_NOW": case["now"], "FLEXPOWER_EXCHANGE_URL": bench.exchange_url,
           "FLEXPOWER_EXTERNAL_APPROVAL_URL": bench.approval_url, "FLEXPOWER_MIN_FILE_AGE_S": "0",
           "DAGSTER_HOME": str(bench.root / "dagster_home")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ran = CliRunner().invoke(main, ["bids", "run", "--day", "2025-10-15"])
    assert ran.exit_code == 0, ran.output
    lines = {line.split()[0]: line for line in ran.output.splitlines() if line.startswith("HYD-")}
    assert "v1 approved" in lines["HYD-A"] and "accepted v1 as exchange order EX-" in lines["HYD-A"]
    assert "v1 pending approval" in lines["HYD-M"] and "not submitted" in lines["HYD-M"]
    tokens = TokenStore(bench.data / "portal")
    anna, ben, olga = tokens.create("anna", "trader"), tokens.create("ben", "head_of_trading"), tokens.create("olga", "operations")
    carla = tokens.create("carla", "admin")  # the configuration lets admins both edit and approve
    cli = CliRunner()
    day = ["--day", "2025-10-15", "--client", "HYD-M"]
    shown = cli.invoke(main, ["bids", "show", *day])
    assert shown.exit_code == 0 and "v1 pending approval" in shown.output and "not submitted" in shown.output
    v1 = BidStore(Warehouse(bench.root / "wh.duckdb")).matrix("HYD-M", bench.day, 1)
    steps = v1.sort("delivery_start", "point").with_columns(
        before=pl.col("volume_mw").shift(1).over("delivery_start")).filter(pl.col("volume_mw") > pl.col("before"))
    mtu, point, lower = steps["delivery_start"][0], steps["point"][0], steps["before"][0]
    # lower the first rising point to the volume of the point before it: still non-decreasing
    edit = ["--mtu", f"{mtu:%Y-%m-%dT%H:%M:%SZ}", "--point", str(point), "--volume", str(lower)]
    refused = cli.invoke(main, ["bids", "edit", *day, *edit, "--token", olga])
    assert refused.exit_code != 0 and "may not edit" in refused.output
    edited = cli.invoke(main, ["bids", "edit", *day, *edit, "--token", anna])
    assert edited.exit_code == 0, edited.output
    assert "v2 made by anna from v1" in edited.output
    trader = cli.invoke(main, ["bids", "approve", *day, "--version", "2", "--token", anna])
    assert trader.exit_code != 0 and "role 'trader' of anna may not approve" in trader.output
    # an admin may edit and approve, but never approve the version they made (four eyes)
    mtu2, point2, lower2 = steps["delivery_start"][1], steps["point"][1], steps["before"][1]
    second = cli.invoke(main, ["bids", "edit", *day, "--mtu", f"{mtu2:%Y-%m-%dT%H:%M:%SZ}", "--point", str(point2),
                               "--volume", str(lower2), "--token", carla])
    assert second.exit_code == 0 and "v3 made by carla from v2" in second.output, second.output
    own = cli.invoke(main, ["bids", "approve", *day, "--version", "3", "--token", carla])
    assert own.exit_code != 0 and "carla made version 3 and cannot also approve it" in own.output
    approved = cli.invoke(main, ["bids", "approve", *day, "--version", "3", "--token", ben])
    assert approved.exit_code == 0 and "v3 approved by ben" in approved.output
    sent = cli.invoke(main, ["bids", "submit", *day, "--token", ben])
    assert sent.exit_code == 0 and "accepted v3" in sent.output
    v3 = BidStore(Warehouse(bench.root / "wh.duckdb")).matrix("HYD-M", bench.day, 3)
    assert v3.filter((pl.col("delivery_start") == mtu) & (pl.col("point") == point))["volume_mw"][0] == lower
    assert v3.filter((pl.col("delivery_start") == mtu2) & (pl.col("point") == point2))["volume_mw"][0] == lower2
    verify = cli.invoke(main, ["compliance", "verify"])
    assert verify.exit_code == 0 and "compliance log intact" in verify.output
    from flexpower_assets.bidding.compliance import ComplianceLog
    events = [(e.event, e.user) for e in ComplianceLog(bench.data / "bidding" / "compliance.jsonl").events("HYD-M", bench.day)]
    assert events == [("generated", "system"), ("validated", "system"), ("edited", "anna"), ("validated", "anna"),
                      ("rejected", "anna"), ("edited", "carla"), ("validated", "carla"), ("rejected", "carla"),
                      ("approved", "ben"), ("submitted", "ben")]


def test_maker_checker_through_the_portal(world):
    import shutil

    from fastapi.testclient import TestClient

    from flexpower_assets.portal.app import create_app
    from flexpower_assets.portal.tokens import TokenStore

    case, bench = world.open("complete")
    assert bench.run().success
    (bench.data / "bidding").mkdir(parents=True, exist_ok=True)
    shutil.copy(bench.config_path, bench.data / "bidding" / "bidding.yaml")
    tokens = TokenStore(bench.data / "portal")
    who = {name: {"Authorization": f"Bearer {tokens.create(name, role)}"}
           for name, role in [("anna", "trader"), ("ben", "head_of_trading"), ("olga", "operations"), ("carla", "admin")]}
    client = TestClient(create_app(bench.root / "wh.duckdb", bench.data))
    listing = client.get("/api/bids/2025-10-15", headers=who["olga"])
    assert listing.status_code == 200
    hyd_m = next(c for c in listing.json()["clients"] if c["client_id"] == "HYD-M")
    assert [v["version"] for v in hyd_m["versions"]] == [1] and hyd_m["submitted_version"] is None
    points = client.get("/api/bids/2025-10-15/HYD-M/versions/1", headers=who["olga"]).json()["points"]
    by_mtu = {}
    for p in points:
        by_mtu.setdefault(p["delivery_start"], []).append(p)
    # (MTU, point, volume of the point below) of each first rising point: lowering it keeps the curve monotone
    rising = [(m, r[i]["point"], r[i - 1]["volume_mw"], r[i]["volume_mw"]) for m, r in sorted(by_mtu.items())
              for i in [next((i for i in range(1, len(r)) if r[i]["volume_mw"] > r[i - 1]["volume_mw"]), None)]
              if i is not None]
    mtu, point, lower, original = rising[0]
    edit = {"edits": [{"delivery_start": mtu, "point": point, "volume_mw": lower}]}
    assert client.post("/api/bids/2025-10-15/HYD-M/edits", json=edit, headers=who["olga"]).status_code == 403
    made = client.post("/api/bids/2025-10-15/HYD-M/edits", json=edit, headers=who["anna"])
    assert made.status_code == 201 and made.json()["version"] == 2 and made.json()["made_by"] == "anna"
    denied = client.post("/api/bids/2025-10-15/HYD-M/versions/2/approve", headers=who["anna"])
    assert denied.status_code == 403 and "may not approve" in denied.json()["detail"]
    back = {"base_version": 2, "edits": [{"delivery_start": mtu, "point": point, "volume_mw": original}]}
    again = client.post("/api/bids/2025-10-15/HYD-M/edits", json=back, headers=who["carla"])
    assert again.status_code == 409 and "equals version 1" in again.json()["detail"]  # putting it back is v1
    mtu2, point2, lower2, _ = rising[1]
    other = {"base_version": 2, "edits": [{"delivery_start": mtu2, "point": point2, "volume_mw": lower2}]}
    third = client.post("/api/bids/2025-10-15/HYD-M/edits", json=other, headers=who["carla"])
    assert third.status_code == 201 and third.json()["version"] == 3
    own = client.post("/api/bids/2025-10-15/HYD-M/versions/3/approve", headers=who["carla"])
    assert own.status_code == 403 and "carla made version 3" in own.json()["detail"]
    approved = client.post("/api/bids/2025-10-15/HYD-M/versions/3/approve", headers=who["ben"])
    assert approved.status_code == 200 and approved.json()["approved_by"] == "ben"
    assert client.get("/api/bids/2025-10-15/HYD-Q/versions/1", headers=who["olga"]).status_code == 404
