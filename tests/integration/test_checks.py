"""Check results that mean something: their day, acknowledged findings, this run's rejections."""

from __future__ import annotations

import dagster as dg
import pytest

from flexpower_assets.definitions import build_defs
from tests.integration.conftest import make_settings

DAY = "2025-06-08"


def evaluations(result) -> dict[str, object]:
    return {f"{e.event_specific_data.asset_key.to_user_string()}:{e.event_specific_data.check_name}":
            e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


@pytest.fixture(scope="module")
def day_run(sample_landing, tmp_path_factory):
    root = tmp_path_factory.mktemp("checks")
    acknowledgements = root / "acks.yaml"
    from flexpower_assets.settings import PROJECT_ROOT
    acknowledgements.write_text((PROJECT_ROOT / "acknowledgements.yaml").read_text() + """
- check: core/portfolio_assets:capacity_agrees
  finding: {asset_id: SOL-DE-001}
  who: Test operator
  when: 2025-06-09
  why: acknowledged in this test to see it pass
""")
    from dataclasses import replace
    settings = replace(make_settings(sample_landing, root), acknowledgements_path=acknowledgements)
    defs = build_defs(settings)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("daily_job").execute_in_process(
            partition_key=DAY, instance=instance, raise_on_error=False)
        ingest = defs.resolve_job_def("ingest_job").execute_in_process(instance=instance, raise_on_error=False)
        yield result, ingest


def test_every_check_result_names_its_delivery_day(day_run):
    result, _ingest = day_run
    found = evaluations(result)
    assert len(found) >= 15
    for key, evaluation in found.items():
        assert evaluation.partition == DAY, key
        assert evaluation.metadata["delivery_day"].value == DAY, key
        assert DAY in (evaluation.description or ""), key


def test_documented_label_and_acknowledged_findings_pass(day_run):
    result, _ingest = day_run
    found = evaluations(result)
    assert found["trading_pnl:volume_unit_documented"].passed  # MWH is the documented label
    assert found["trading_pnl:volume_unit_documented"].metadata["labels_seen"].value == "MWH"
    capacity = found["core/portfolio_assets:capacity_agrees"]
    assert capacity.passed and capacity.metadata["n_acknowledged"].value == 1
    assert "Test operator" in capacity.metadata["acknowledged"].value
    contracts = found["core/portfolio_assets:contracts_consistent"]
    # CON1_WND-DE-003's three issues are acknowledged by the project file: none is left open
    assert contracts.passed and contracts.metadata["n_acknowledged"].value == 3


def test_rejections_are_counted_per_run(day_run):
    _result, ingest = day_run
    # the daily run registered the sample's planted bad files already; this ingest run rejected none
    check = evaluations(ingest)["landing_files:no_rejected_files"]
    assert check.passed
    assert check.metadata["rejected_files"].value == 0
    assert check.metadata["rejected_files_all_runs"].value >= 1


def test_a_report_built_before_its_day_changed_shows_as_stale(sample_landing, tmp_path):
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    defs = build_defs(make_settings(sample_landing, tmp_path))
    report = dg.AssetKey("daily_performance_reports")
    with dg.instance_for_test() as instance:
        def status() -> StaleStatus:
            resolver = CachingStaleStatusResolver(instance, defs.resolve_asset_graph(), LoadingContextForTest(instance))
            return resolver.get_status(report, DAY)

        for job in ("daily_job", "daily_reports_job"):
            assert defs.resolve_job_def(job).execute_in_process(partition_key=DAY, instance=instance).success
        assert status() == StaleStatus.FRESH
        # the day is rebuilt (a correction): the report built from the old tables is stale
        assert defs.resolve_job_def("daily_job").execute_in_process(partition_key=DAY, instance=instance).success
        assert status() == StaleStatus.STALE
        assert defs.resolve_job_def("daily_reports_job").execute_in_process(partition_key=DAY, instance=instance).success
        assert status() == StaleStatus.FRESH
