"""The bidding configuration: defaults, validation messages (file, key, line), hash, settings."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from flexpower_assets.bidding.config import BiddingConfigError, config_hash, load_bidding_config
from flexpower_assets.settings import Settings, parse_now

MINIMAL = """\
clients:
  - {id: HYD-ALPEN, name: Alpen Wasserkraft, approval: maker_checker, assets: [HYD-ALPEN-01, HYD-ALPEN-02]}
"""

FULL = """\
market: {timezone: Europe/Berlin, gate_closure: "12:00", price_min_eur_per_mwh: -500.0,
         price_max_eur_per_mwh: 4000.0, price_tick_eur_per_mwh: 0.1, volume_step_mw: 0.1, max_points: 256}
stage_time_limits_s: {dispatch: 30, solve_per_scenario: 10, solve_stage: 600, aggregate: 60, submit: 30}
deadline_margin_min: 30
policy: {max_volume_share_of_capacity: 1.0, min_scenario_coverage: 0.7, curtailment_price_eur_per_mwh: 0.0}
clients:
  - {id: HYD-ALPEN, name: Alpen Wasserkraft, approval: maker_checker, scenarios: 50, chunk_size: 25,
     renewable_quantile: 0.5, fallback: previous_day, assets: [HYD-ALPEN-01, HYD-ALPEN-02]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bidding.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_fill_every_key_of_bidding_md(tmp_path):
    config = load_bidding_config(write(tmp_path, MINIMAL))
    assert config.market.price_min_eur_per_mwh == -500.0
    assert config.market.price_max_eur_per_mwh == 4000.0
    assert config.market.max_points == 256
    assert config.stage_time_limits_s.solve_per_scenario == 10
    assert config.deadline_margin_min == 30
    assert config.policy.min_scenario_coverage == 0.7
    client = config.clients[0]
    assert (client.scenarios, client.chunk_size, client.renewable_quantile, client.fallback) == (50, 25, 0.5,
                                                                                                "previous_day")
    assert client.asset_types() == {"HYD-ALPEN-01": "reservoir_hydro", "HYD-ALPEN-02": "reservoir_hydro"}
    assert client.fallback_chain() == ("previous_day", "deterministic", "zero")
    assert config.faults.share == 0.0


def test_hash_is_stable_across_spelling_and_changes_with_meaning(tmp_path):
    # FULL spells out exactly the defaults of MINIMAL: same meaning, same hash
    minimal = load_bidding_config(write(tmp_path, MINIMAL))
    full = load_bidding_config(write(tmp_path, FULL))
    assert config_hash(minimal) == config_hash(full)
    assert len(config_hash(full)) == 64
    changed = load_bidding_config(write(tmp_path, FULL.replace("scenarios: 50", "scenarios: 40")))
    assert config_hash(changed) != config_hash(full)


@pytest.mark.parametrize(("text", "key", "line", "problem"), [
    (MINIMAL.replace("maker_checker", "manual"), "clients[0].approval", 2, "'manual' is not allowed"),
    (MINIMAL + "deadline_margn_min: 5\n", "deadline_margn_min", 3, "unknown key"),
    ("clients:\n  - {id: A, name: A, approval: auto}\n", "clients[0].assets", 2, "required key is missing"),
    (MINIMAL + "policy:\n  min_scenario_coverage: 1.5\n", "policy.min_scenario_coverage", 4,
     "less than or equal to 1"),
    (MINIMAL + "market: {gate_closure: '25:00'}\n", "market.gate_closure", 3, "hour must be in 0..23"),
    (MINIMAL + "faults: {share: 0.3, kinds: [explode]}\n", "faults.kinds[0]", 3, "'explode' is not allowed"),
    (MINIMAL + "  - {id: HYD-ALPEN, name: Twin, approval: auto, assets: [X]}\n", "(top level)", 1,
     "client id 'HYD-ALPEN' is used twice"),
    (MINIMAL.replace("[HYD-ALPEN-01,", "[HYD-ALPEN-02,"), "clients[0]", 2, "asset 'HYD-ALPEN-02' is listed twice"),
    (MINIMAL.replace("approval: maker_checker,", "approval: auto, asset_type: tidal,"), "clients[0].asset_type",
     2, "unknown asset type 'tidal'"),
])
def test_bad_configuration_names_file_key_line_and_problem(tmp_path, text, key, line, problem):
    with pytest.raises(BiddingConfigError) as caught:
        load_bidding_config(write(tmp_path, text))
    error = caught.value
    assert (error.key, error.line) == (key, line)
    assert problem in error.problem
    assert str(error).startswith(f"bidding.yaml: line {line}: {key}: ")


def test_missing_file_and_broken_yaml(tmp_path):
    with pytest.raises(BiddingConfigError, match="no bidding configuration"):
        load_bidding_config(tmp_path / "absent.yaml")
    with pytest.raises(BiddingConfigError, match="line 3: .*not valid YAML"):
        load_bidding_config(write(tmp_path, "clients:\n  - {id: A\n"))


def test_gate_closure_mtus_and_deadline(tmp_path):
    config = load_bidding_config(write(tmp_path, MINIMAL))
    # 12:00 CEST on 2025-10-13 = 10:00 UTC; the deadline is 30 minutes earlier
    assert config.market.gate_closure_utc(date(2025, 10, 14)) == datetime(2025, 10, 13, 10, 0, tzinfo=timezone.utc)
    assert config.submission_deadline_utc(date(2025, 10, 14)) == datetime(2025, 10, 13, 9, 30, tzinfo=timezone.utc)
    # 96 MTUs on a normal day, 100 on the autumn clock change (25 h), starting at 22:00 / 23:00 UTC
    assert len(config.market.mtu_starts(date(2025, 10, 14))) == 96
    autumn = config.market.mtu_starts(date(2025, 10, 26))
    assert len(autumn) == 100
    assert autumn[0] == datetime(2025, 10, 25, 22, 0, tzinfo=timezone.utc)
    assert len(config.market.mtu_starts(date(2026, 3, 29))) == 92


def test_settings_read_config_path_and_now(monkeypatch, tmp_path):
    monkeypatch.setenv("FLEXPOWER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FLEXPOWER_BIDDING_CONFIG", raising=False)
    monkeypatch.delenv("FLEXPOWER_NOW", raising=False)
    settings = Settings.from_env()
    assert settings.bidding_config == tmp_path.resolve() / "bidding" / "bidding.yaml"
    assert settings.now is None
    monkeypatch.setenv("FLEXPOWER_BIDDING_CONFIG", str(tmp_path / "other.yaml"))
    monkeypatch.setenv("FLEXPOWER_NOW", "2025-10-13T09:15:00Z")
    settings = Settings.from_env()
    assert settings.bidding_config == (tmp_path / "other.yaml").resolve()
    assert settings.current_time() == datetime(2025, 10, 13, 9, 15, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["yesterday", "2025-10-13T09:15:00", "2025-10-13T11:15:00+02:00"])
def test_now_must_be_iso_utc(text):
    with pytest.raises(ValueError, match="FLEXPOWER_NOW"):
        parse_now(text)
