"""The mock exchange, the submission client and the bid desk over real HTTP on free ports."""

from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from flexpower_assets.bidding import approval
from flexpower_assets.bidding.compliance import ComplianceLog
from flexpower_assets.bidding.desk import BidDesk
from flexpower_assets.bidding.exchange_mock import ExchangeServer, LocalServer, free_port, prices_from_landing
from flexpower_assets.bidding.orders import content_hash, order_problems, order_rows
from flexpower_assets.bidding.store import BidStore
from flexpower_assets.bidding.submission import ExchangeClient
from resources.warehouse import Warehouse

DAY = date(2025, 10, 15)
T0 = datetime(2025, 10, 14, 22, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(minutes=15)
BEFORE_GATE = datetime(2025, 10, 14, 9, 0, tzinfo=timezone.utc)   # 11:00 Berlin on D-1
AFTER_GATE = datetime(2025, 10, 14, 10, 0, tzinfo=timezone.utc)   # 12:00 Berlin on D-1: closed


def _matrix(volume_at_60: float = 3.5) -> pl.DataFrame:
    rows = [(T0, 1, -500.0, 0.0), (T0, 2, 50.0, 4.0), (T0, 3, 4000.0, 4.0),
            (T1, 1, -500.0, 0.0), (T1, 2, 60.0, volume_at_60), (T1, 3, 4000.0, volume_at_60)]
    return pl.DataFrame(rows, schema={"delivery_start": pl.Datetime("us", "UTC"), "point": pl.Int64,
                                      "price_eur_per_mwh": pl.Float64, "volume_mw": pl.Float64}, orient="row")


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def landing(tmp_path):
    market = tmp_path / "landing" / "market"
    market.mkdir(parents=True)
    (market / "day_ahead_prices_20251015.csv").write_text(
        "delivery_start,price_eur_per_mwh\n2025-10-14T22:00:00Z,55.0\n2025-10-14T22:15:00Z,59.9\n")
    return tmp_path / "landing"


@pytest.fixture
def desk(tmp_path):
    alerts = []
    d = BidDesk(store=BidStore(Warehouse(tmp_path / "wh.duckdb")), log=ComplianceLog(tmp_path / "compliance.jsonl"),
                validate=lambda m: order_problems(order_rows(m)), alert=lambda s, b, sev: alerts.append((s, b, sev)))
    d.alerts = alerts
    return d


def test_same_matrix_is_a_no_op_a_changed_one_is_version_2_and_after_gate_closure_nothing(landing, tmp_path):
    clock = Clock(BEFORE_GATE)
    with ExchangeServer(prices_from_landing(landing), now=clock, state_path=tmp_path / "exchange.json") as ex:
        client = ExchangeClient(ex.url, timeout_s=5)
        first = client.submit("HYD-A", DAY, _matrix())
        assert (first.status, first.version) == ("accepted", 1)
        again = client.submit("HYD-A", DAY, _matrix())
        assert (again.status, again.version, again.exchange_order_id) == ("duplicate", 1, first.exchange_order_id)
        second = client.submit("HYD-A", DAY, _matrix(2.0))
        assert (second.status, second.version) == ("accepted", 2)
        clock.now = AFTER_GATE
        late = client.submit("HYD-A", DAY, _matrix(1.0))
        assert late.status == "refused" and "gate closure was 2025-10-14T10:00:00+00:00" in late.message
        listing = client.orders("HYD-A", DAY)
        assert [(o["version"], o["status"]) for o in listing["orders"]] == [(1, "superseded"), (2, "active")]
        assert [a["content_hash"] for a in listing["refused"]] == [content_hash(_matrix(1.0))]
        # results: version 2 cleared at 55.0 and 59.9 EUR/MWh
        # T0: 50 <= 55 -> 4.0 MW, 55.0 x 4.0 x 0.25 = 55.0 EUR; T1: 60 > 59.9 -> only -500 -> 0 MW
        results = client.results("HYD-A", DAY)
        assert results["version"] == 2
        assert [m["accepted_mw"] for m in results["mtus"]] == [4.0, 0.0]
        assert results["revenue_eur"] == 55.0 and results["accepted_mwh"] == 1.0
        assert client.results("HYD-A", date(2025, 10, 16)) is None
    # a restarted exchange still knows its orders
    with ExchangeServer(prices_from_landing(landing), now=clock, state_path=tmp_path / "exchange.json") as ex:
        assert len(ExchangeClient(ex.url).orders("HYD-A", DAY)["orders"]) == 2


def test_the_exchange_checks_the_key_and_the_hash(landing):
    import httpx

    with ExchangeServer(prices_from_landing(landing), now=Clock(BEFORE_GATE)) as ex:
        rows = order_rows(_matrix())
        body = {"client_id": "HYD-A", "delivery_day": "2025-10-15", "content_hash": content_hash(rows), "rows": rows}
        wrong_key = httpx.post(f"{ex.url}/orders", json=body, headers={"Idempotency-Key": "HYD-A:2025-10-15:x"})
        assert wrong_key.status_code == 422 and "Idempotency-Key must be" in wrong_key.text
        body["content_hash"] = "0" * 64
        wrong_hash = httpx.post(f"{ex.url}/orders", json=body, headers={"Idempotency-Key": "k"})
        assert wrong_hash.status_code == 422 and "does not match the rows" in wrong_hash.text


def test_no_exchange_listening_gives_an_error_within_the_time_limit():
    outcome = ExchangeClient(f"http://127.0.0.1:{free_port()}", timeout_s=0.5).submit("HYD-A", DAY, _matrix())
    assert outcome.status == "error" and "no answer within 0.5 s" in outcome.message


def test_desk_auto_approves_submits_once_and_refuses_after_gate_closure(landing, desk):
    with ExchangeServer(prices_from_landing(landing), now=Clock(BEFORE_GATE)) as ex:
        exchange = ExchangeClient(ex.url, timeout_s=5)
        v1, new = desk.register_generated("HYD-A", DAY, _matrix(), config_hash="cfg1")
        assert (v1.version, new) == (1, True)
        assert desk.approve_by_mode("HYD-A", DAY, "auto") == "approved"
        assert desk.submit("HYD-A", DAY, exchange, now=BEFORE_GATE)["status"] == "accepted"
        # the same day again: same content -> same version, nothing submitted twice
        assert desk.register_generated("HYD-A", DAY, _matrix(), config_hash="cfg1")[1] is False
        assert desk.approve_by_mode("HYD-A", DAY, "auto") == "already"
        assert desk.submit("HYD-A", DAY, exchange, now=BEFORE_GATE)["status"] == "already_submitted"
        assert desk.store.submissions("HYD-A", DAY).height == 1
        # changed inputs before gate closure: version 2 replaces version 1 at the exchange
        v2, _ = desk.register_generated("HYD-A", DAY, _matrix(2.0), config_hash="cfg1")
        desk.approve_by_mode("HYD-A", DAY, "auto")
        sent = desk.submit("HYD-A", DAY, exchange, now=BEFORE_GATE)
        assert (sent["status"], sent["version"], sent["exchange_version"]) == ("accepted", 2, 2)
        # after gate closure: refused, recorded and alerted, never sent
        desk.register_generated("HYD-A", DAY, _matrix(1.0))
        desk.approve_by_mode("HYD-A", DAY, "auto")
        late = desk.submit("HYD-A", DAY, exchange, now=AFTER_GATE)
        assert late["status"] == "refused"
        assert len(ExchangeClient(ex.url).orders("HYD-A", DAY)["orders"]) == 2
    subs = desk.store.submissions("HYD-A", DAY)
    assert subs.select("version", "status").rows() == [(1, "superseded"), (2, "accepted"),
                                                      (3, "refused_after_gate_closure")]
    assert desk.alerts[-1][2] == "error" and "NOT submitted" in desk.alerts[-1][0]
    events = [(e.event, e.version) for e in desk.log.events("HYD-A", DAY)]
    assert events == [("generated", 1), ("validated", 1), ("approved", 1), ("submitted", 1),
                      ("generated", 2), ("validated", 2), ("approved", 2), ("submitted", 2),
                      ("generated", 3), ("validated", 3), ("approved", 3), ("refused", 3)]
    assert desk.log.verify().ok


def test_maker_checker_the_maker_cannot_approve_a_checker_can(desk):
    anna = approval.Actor("anna", "trader", frozenset({"view", "edit", "approve", "submit"}))
    ben = approval.Actor("ben", "trader", frozenset({"view", "edit", "approve", "submit"}))
    olga = approval.Actor("olga", "operations", frozenset({"view"}))
    desk.register_generated("HYD-M", DAY, _matrix())
    assert desk.approve_by_mode("HYD-M", DAY, "maker_checker") == "pending"
    v2 = desk.edit("HYD-M", DAY, [approval.Edit(T1, 2, 3.0), approval.Edit(T1, 3, 3.0)], anna)
    assert (v2.version, v2.made_by, v2.based_on, v2.violations) == (2, "anna", 1, [])
    with pytest.raises(approval.ApprovalRefused, match="anna made version 2"):
        desk.approve("HYD-M", DAY, 2, anna, "maker_checker")
    with pytest.raises(approval.ApprovalRefused, match="may not edit"):
        desk.edit("HYD-M", DAY, [approval.Edit(T1, 2, 1.0)], olga)
    approved = desk.approve("HYD-M", DAY, 2, ben, "maker_checker")
    assert (approved.approval, approved.approved_by) == ("approved", "ben")
    assert desk.store.matrix("HYD-M", DAY, 2)["volume_mw"].to_list() == [0.0, 4.0, 4.0, 0.0, 3.0, 3.0]
    # an edit that breaks a rule: volume falls from 3.0 to 1.0 as the price rises -> never approvable
    v3 = desk.edit("HYD-M", DAY, [approval.Edit(T1, 3, 1.0)], anna, base_version=2)
    assert v3.violations == ["MTU 2025-10-14T22:15:00Z point 3: volume falls as the price rises"]
    with pytest.raises(approval.ApprovalRefused, match="breaks 1 rule"):
        desk.approve("HYD-M", DAY, 3, ben, "maker_checker")
    events = [(e.event, e.user, e.version) for e in desk.log.events("HYD-M", DAY)]
    assert ("rejected", "anna", 2) in events and ("approved", "ben", 2) in events and ("edited", "anna", 2) in events


def test_external_approval_that_says_no_leaves_the_matrix_unsubmitted(desk, landing):
    answers = {"HYD-X": (False, "volumes above our water plan"), "HYD-Y": (True, "ok")}
    api = approval.create_client_api_app(lambda request: answers[request.client_id])
    with LocalServer(api) as server, ExchangeServer(prices_from_landing(landing), now=Clock(BEFORE_GATE)) as ex:
        desk.external_approvers = {c: approval.ExternalApprovalClient(server.url) for c in answers}
        for client in answers:
            desk.register_generated(client, DAY, _matrix())
        assert desk.approve_by_mode("HYD-X", DAY, "external") == "rejected"
        assert desk.approve_by_mode("HYD-Y", DAY, "external") == "approved"
        exchange = ExchangeClient(ex.url)
        assert desk.submit("HYD-X", DAY, exchange, now=BEFORE_GATE)["status"] == "not_approved"
        assert desk.submit("HYD-Y", DAY, exchange, now=BEFORE_GATE)["status"] == "accepted"
    assert [r.content_hash for r in api.state.requests] == [content_hash(_matrix())] * 2
    rejected = desk.store.version("HYD-X", DAY)
    assert (rejected.approval, rejected.approved_by) == ("rejected", "external:HYD-X")
    assert "volumes above our water plan" in desk.alerts[0][1]
    # a confirmation API that does not answer is a "no"
    nobody = approval.ExternalApprovalClient(f"http://127.0.0.1:{free_port()}", timeout_s=0.5)
    decision = nobody.ask(client_id="HYD-Z", delivery_day=DAY, version=1, content_hash="h", summary={})
    assert decision.approved is False and "no answer" in decision.reason


@pytest.mark.parametrize("command", ["serve", "confirmations"])
def test_the_exchange_commands_serve_on_the_given_port(tmp_path, command):
    import os
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    env = {**os.environ, "FLEXPOWER_DATA_DIR": str(tmp_path), "FLEXPOWER_LANDING_DIR": str(tmp_path / "landing")}
    process = subprocess.Popen([sys.executable, "-m", "flexpower_assets.cli", "exchange", command, "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if command == "serve":
                    answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                    assert answer.json() == {"status": "ok"}
                else:
                    answer = httpx.post(f"http://127.0.0.1:{port}/bid-approvals", timeout=1, json={
                        "client_id": "HYD-A", "delivery_day": "2025-10-15", "version": 1, "content_hash": "h"})
                    assert answer.json()["approved"] is True
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(timeout=10)
