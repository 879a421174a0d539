"""Clearing, order hashing, gate closure, approval rules and the compliance chain (no server)."""

from datetime import date, datetime, timezone

import polars as pl
import pytest

from flexpower_assets.bidding import approval
from flexpower_assets.bidding.clearing import clear
from flexpower_assets.bidding.compliance import ComplianceLog
from flexpower_assets.bidding.orders import content_hash, gate_closure, idempotency_key, order_problems, order_rows
from flexpower_assets.portal.policy import DEFAULT_POLICY, Policy, PolicyError

T0 = datetime(2025, 10, 14, 22, 0, tzinfo=timezone.utc)
T1 = datetime(2025, 10, 14, 22, 15, tzinfo=timezone.utc)


def _matrix(rows):
    return pl.DataFrame(rows, schema={"delivery_start": pl.Datetime("us", "UTC"), "point": pl.Int64,
                                      "price_eur_per_mwh": pl.Float64, "volume_mw": pl.Float64}, orient="row")


MATRIX = _matrix([
    (T0, 1, -500.0, -2.0), (T0, 2, 40.0, 0.0), (T0, 3, 80.0, 5.0), (T0, 4, 4000.0, 5.0),
    (T1, 1, -500.0, 0.0), (T1, 2, 60.0, 3.5), (T1, 3, 4000.0, 3.5),
])


def test_clearing_takes_the_highest_point_at_or_below_the_price():
    prices = pl.DataFrame({"delivery_start": [T0, T1], "price_eur_per_mwh": [80.0, 59.9]})
    out = clear(MATRIX, prices)
    # T0: P = 80.0 -> points at -500, 40, 80 are <= P; the highest is 80 -> 5.0 MW
    #     revenue = 80.0 x 5.0 x 0.25 = 100.0 EUR
    # T1: P = 59.9 -> only the -500 point is <= P -> 0.0 MW, revenue 0.0
    assert out["accepted_mw"].to_list() == [5.0, 0.0]
    assert out["revenue_eur"].to_list() == [100.0, 0.0]


def test_clearing_a_buy_at_a_negative_price():
    prices = pl.DataFrame({"delivery_start": [T0, T1], "price_eur_per_mwh": [-20.0, 4000.0]})
    out = clear(MATRIX, prices)
    # T0: P = -20 -> only the -500 point -> -2.0 MW (buy); revenue = -20 x -2.0 x 0.25 = +10.0 EUR
    # T1: P = 4000 -> the 4000 point -> 3.5 MW; revenue = 4000 x 3.5 x 0.25 = 3500.0 EUR
    assert out["accepted_mw"].to_list() == [-2.0, 3.5]
    assert out["revenue_eur"].to_list() == [10.0, 3500.0]


def test_clearing_without_a_price_for_an_mtu_is_an_error():
    with pytest.raises(ValueError, match="no clearing price for 1 MTU"):
        clear(MATRIX, pl.DataFrame({"delivery_start": [T0], "price_eur_per_mwh": [10.0]}))


def test_content_hash_ignores_row_order_and_float_noise_but_not_a_volume():
    shuffled = MATRIX.reverse().with_columns(pl.col("volume_mw") + 1e-9)
    assert content_hash(shuffled) == content_hash(MATRIX)
    changed = MATRIX.with_columns(volume_mw=pl.when(pl.col("point") == 3).then(5.1).otherwise(pl.col("volume_mw")))
    assert content_hash(changed) != content_hash(MATRIX)
    assert idempotency_key("HYD-A", date(2025, 10, 15), "ab") == "HYD-A:2025-10-15:ab"


def test_gate_closure_is_noon_berlin_the_day_before():
    # 2025-10-14 is summer time (UTC+2): 12:00 Berlin = 10:00 UTC
    assert gate_closure(date(2025, 10, 15)) == datetime(2025, 10, 14, 10, 0, tzinfo=timezone.utc)
    # 2025-10-26 (the day the clocks go back) is bid on 2025-10-25, still UTC+2 -> 10:00 UTC;
    # 2025-10-27 is bid on 2025-10-26, already UTC+1 -> 11:00 UTC
    assert gate_closure(date(2025, 10, 26)) == datetime(2025, 10, 25, 10, 0, tzinfo=timezone.utc)
    assert gate_closure(date(2025, 10, 27)) == datetime(2025, 10, 26, 11, 0, tzinfo=timezone.utc)


def test_the_exchange_refuses_falling_volumes_and_single_points():
    bad = _matrix([(T0, 1, -500.0, 3.0), (T0, 2, 4000.0, 2.0), (T1, 1, -500.0, 0.0)])
    assert order_problems(order_rows(bad)) == [
        "MTU 2025-10-14T22:00:00Z point 2: volume falls as the price rises",
        "MTU 2025-10-14T22:15:00Z: 1 point(s), at least 2 are needed",
    ]
    assert order_problems(order_rows(MATRIX)) == []


TRADER = approval.Actor("anna", "trader", frozenset({"view", "edit", "approve", "submit"}))
CHECKER = approval.Actor("ben", "trader", frozenset({"view", "edit", "approve", "submit"}))
OPERATIONS = approval.Actor("olga", "operations", frozenset({"view"}))


def test_the_maker_cannot_approve_their_own_version():
    with pytest.raises(approval.ApprovalRefused, match="anna made version 2 and cannot also approve it"):
        approval.check_manual_approval(TRADER, made_by="anna", version=2, violations=[], approval_mode="maker_checker")
    approval.check_manual_approval(CHECKER, made_by="anna", version=2, violations=[], approval_mode="maker_checker")


def test_approval_needs_the_role_a_valid_version_and_the_manual_mode():
    with pytest.raises(approval.ApprovalRefused, match="role 'operations' of olga may not approve"):
        approval.check_manual_approval(OPERATIONS, made_by="anna", version=1, violations=[], approval_mode="maker_checker")
    with pytest.raises(approval.ApprovalRefused, match="breaks 1 rule"):
        approval.check_manual_approval(CHECKER, made_by="anna", version=1, violations=["MTU x point 2: price_tick"],
                                       approval_mode="maker_checker")
    with pytest.raises(approval.ApprovalRefused, match="approval mode is 'auto'"):
        approval.check_manual_approval(CHECKER, made_by="system", version=1, violations=[], approval_mode="auto")
    assert approval.auto_decision([]).approved is True
    assert approval.auto_decision(["MTU a point 1: max_points"]).approved is False


def test_an_edit_sets_one_point_and_an_unknown_point_is_an_error():
    edited = approval.apply_edits(MATRIX, [approval.Edit(T1, 2, 2.0)])
    # only T1 point 2 changes: 3.5 -> 2.0
    assert edited["volume_mw"].to_list() == [-2.0, 0.0, 5.0, 5.0, 0.0, 2.0, 3.5]
    with pytest.raises(ValueError, match="no point 9"):
        approval.apply_edits(MATRIX, [approval.Edit(T1, 9, 2.0)])


def test_the_portal_policy_says_what_each_role_may_do_with_bids():
    policy = Policy.load(DEFAULT_POLICY)
    assert policy.role("trader").bids == frozenset({"view", "edit", "submit"})
    assert policy.role("head_of_trading").bids == frozenset({"view", "approve", "submit"})
    assert policy.role("operations").bids == frozenset({"view"})
    assert policy.role("customer").bids == frozenset()
    raw = {"datasets": {}, "roles": {"x": {"bids": ["view", "sign"]}}}
    with pytest.raises(PolicyError, match=r"roles.x.bids: \['sign'\] not among"):
        Policy.from_dict(raw)


def test_compliance_log_chains_every_event_and_finds_tampering(tmp_path):
    log = ComplianceLog(tmp_path / "compliance.jsonl")
    day = date(2025, 10, 15)
    log.record("generated", client_id="HYD-A", delivery_day=day, version=1, content_hash="h1")
    log.record("approved", client_id="HYD-A", delivery_day=day, version=1, content_hash="h1", user="ben", role="trader")
    log.record("submitted", client_id="HYD-A", delivery_day=day, version=1, content_hash="h1", detail="EX-1")
    events = log.events("HYD-A", day)
    assert [(e.event, e.user, e.version) for e in events] == [("generated", "system", 1), ("approved", "ben", 1),
                                                             ("submitted", "system", 1)]
    assert log.verify().ok and log.verify().records == 3
    lines = log.path.read_text().splitlines()
    lines[1] = lines[1].replace('"ben"', '"eve"')
    log.path.write_text("\n".join(lines) + "\n")
    result = log.verify()
    assert not result.ok and result.records == 1 and "line 2" in result.problem
    with pytest.raises(ValueError, match="unknown bid event"):
        log.record("deleted", client_id="HYD-A", delivery_day=day, version=1, content_hash="h1")


def test_an_actor_needs_both_the_portal_grant_and_the_bidding_roles():
    from flexpower_assets.bidding.actors import actor_for
    from flexpower_assets.bidding.config import parse_bidding_config
    from flexpower_assets.portal.policy import Principal

    policy = Policy.load(DEFAULT_POLICY)
    config = parse_bidding_config({"clients": [{"id": "C", "name": "C", "approval": "maker_checker", "assets": ["A"]}]})
    # defaults: makers = trader, checkers = head_of_trading
    assert actor_for(Principal("anna", "trader"), policy, config).actions == frozenset({"view", "edit", "submit"})
    assert actor_for(Principal("ben", "head_of_trading"), policy, config).actions == frozenset({"view", "approve", "submit"})
    # admin holds every portal grant, but the configuration names no admin as maker or checker
    assert actor_for(Principal("root", "admin"), policy, config).actions == frozenset({"view", "submit"})
    assert actor_for(Principal("olga", "operations"), policy, config).actions == frozenset({"view"})


def test_briefings_are_granted_per_role_and_never_to_a_customer():
    policy = Policy.load(DEFAULT_POLICY)
    assert {name for name, role in policy.roles.items() if role.briefings} == {"admin", "trader", "head_of_trading"}
    datasets = {"datasets": {}, "roles": {"c": {"bound_to_contract": True, "briefings": True}}}
    with pytest.raises(PolicyError, match="roles.c.briefings: a role bound to a contract cannot read"):
        Policy.from_dict(datasets)
    with pytest.raises(PolicyError, match="roles.x.briefings: 'yes' is not true or false"):
        Policy.from_dict({"datasets": {}, "roles": {"x": {"briefings": "yes"}}})
