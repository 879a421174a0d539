"""Acknowledged findings and the arrival windows of FORMATS.md."""

from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl
import pytest

from flexpower_assets.quality.acknowledgements import (
    AcknowledgementError,
    load_acknowledgements,
    split_acknowledged,
)
from flexpower_assets.quality.freshness import crm_arrival, dso_final_arrival, technical_data_arrival

UTC = timezone.utc
CHECK = "core/portfolio_assets:capacity_agrees"
ACKS = f"""
- check: {CHECK}
  finding: {{asset_id: WND-DE-002, capacity_crm_kw: 6600, capacity_vpp_kw: 7260.0}}
  who: Jana Weber (operations)
  when: 2025-06-10
  why: VPP ticket 12; the VPP rounds the nameplate up.
"""


def test_acknowledged_finding_passes_until_it_changes(tmp_path):
    path = tmp_path / "acks.yaml"
    path.write_text(ACKS)
    acks = load_acknowledgements(path)
    findings = pl.DataFrame({"asset_id": ["WND-DE-002", "SOL-DE-001"], "capacity_crm_kw": [6600.0, 1088.0],
                             "capacity_vpp_kw": [7260.0, 1200.0]})
    open_findings, acknowledged = split_acknowledged(CHECK, findings, acks)
    assert open_findings["asset_id"].to_list() == ["SOL-DE-001"]  # not acknowledged: still fails
    assert acknowledged.select("asset_id", "who", "when").to_dicts() == [
        {"asset_id": "WND-DE-002", "who": "Jana Weber (operations)", "when": date(2025, 6, 10)}]
    # the VPP capacity changes: the finding is new, the acknowledgement no longer covers it
    changed = findings.with_columns(capacity_vpp_kw=pl.Series([7300.0, 1200.0]))
    open_findings, acknowledged = split_acknowledged(CHECK, changed, acks)
    assert open_findings["asset_id"].to_list() == ["WND-DE-002", "SOL-DE-001"] and acknowledged.is_empty()
    # another check's findings are not touched by it
    other, _ = split_acknowledged("best_of_infeed:within_capacity", findings, acks)
    assert other.height == 2


def test_malformed_acknowledgement_names_file_and_entry(tmp_path):
    path = tmp_path / "acks.yaml"
    path.write_text(f"- check: {CHECK}\n  finding: {{asset_id: X}}\n  who: someone\n  when: 2025-06-10\n")
    with pytest.raises(AcknowledgementError, match=r"acks.yaml: entry 1 lacks why"):
        load_acknowledgements(path)
    assert load_acknowledgements(tmp_path / "missing.yaml") == []


def test_the_project_acknowledges_the_documented_contract():
    from flexpower_assets.settings import PROJECT_ROOT

    acks = load_acknowledgements(PROJECT_ROOT / "acknowledgements.yaml")
    contract = [a for a in acks if a.check == "core/portfolio_assets:contracts_consistent"]
    assert {a.finding["contract_id"] for a in contract} == {"CON1_WND-DE-003"}
    assert all(a.who and a.why for a in acks)


def test_crm_snapshot_is_due_every_sunday_by_five_plus_grace():
    # Sunday 2025-06-08: window 04:30-05:00 UTC, late after 05:30 UTC
    before = datetime(2025, 6, 8, 5, 29, tzinfo=UTC)
    assert crm_arrival(datetime(2025, 6, 1, 4, 34, tzinfo=UTC), before).late is False  # last week's is the due one
    after = datetime(2025, 6, 8, 5, 31, tzinfo=UTC)
    verdict = crm_arrival(datetime(2025, 6, 1, 4, 34, tzinfo=UTC), after)
    assert verdict.late is True and verdict.deadline == datetime(2025, 6, 8, 5, 30, tzinfo=UTC)
    assert crm_arrival(datetime(2025, 6, 8, 4, 38, tzinfo=UTC), after).late is False
    # on Wednesday the due one is still Sunday's
    assert crm_arrival(datetime(2025, 6, 8, 4, 38, tzinfo=UTC), datetime(2025, 6, 11, 9, 0, tzinfo=UTC)).late is False


def test_technical_data_is_due_daily_by_thirteen_plus_grace():
    at_1325 = datetime(2025, 6, 9, 13, 25, tzinfo=UTC)  # before 13:30: yesterday's file is the due one
    assert technical_data_arrival(datetime(2025, 6, 8, 12, 50, tzinfo=UTC), at_1325).late is False
    at_1331 = datetime(2025, 6, 9, 13, 31, tzinfo=UTC)
    assert technical_data_arrival(datetime(2025, 6, 8, 12, 50, tzinfo=UTC), at_1331).late is True
    assert technical_data_arrival(datetime(2025, 6, 9, 12, 46, tzinfo=UTC), at_1331).late is False
    assert technical_data_arrival(None, at_1331).late is True


def test_dso_final_of_a_utc_day_is_due_by_the_end_of_the_next_day():
    # the file of UTC day 06-08 is due by 06-10 00:00 plus 30 min grace
    at_0029 = datetime(2025, 6, 10, 0, 29, tzinfo=UTC)
    assert dso_final_arrival({date(2025, 6, 7)}, at_0029).late is False  # 06-07's is the due one
    at_0031 = datetime(2025, 6, 10, 0, 31, tzinfo=UTC)
    verdict = dso_final_arrival({date(2025, 6, 7)}, at_0031)
    assert verdict.late is True and "2025-06-08" in verdict.due
    assert dso_final_arrival({date(2025, 6, 7), date(2025, 6, 8)}, at_0031).late is False
