"""The bid run's step pickles: the file layout of Dagster's FilesystemIOManager, no event per file."""

import dagster as dg
import pytest

from resources.step_io import StepPickleIOManager


def test_op_and_asset_outputs_round_trip_where_the_filesystem_io_manager_puts_them(tmp_path):
    io = StepPickleIOManager(base_dir=str(tmp_path))
    out = dg.build_output_context(step_key="bidding__bid_solves.solve_chunk[tA_0]", name="result", run_id="r1")
    io.handle_output(out, {"solves": [1, 2, 3]})
    path = tmp_path / "r1" / "bidding__bid_solves.solve_chunk[tA_0]" / "result"
    assert path.is_file() and not list(path.parent.glob(".*.tmp"))
    assert io.load_input(dg.build_input_context(upstream_output=out)) == {"solves": [1, 2, 3]}

    asset_out = dg.build_output_context(asset_key=dg.AssetKey(["bidding", "bid_solves"]), partition_key="2025-10-15")
    io.handle_output(asset_out, ("plan", "solves"))
    assert (tmp_path / "bidding" / "bid_solves" / "2025-10-15").is_file()
    loaded = io.load_input(dg.build_input_context(asset_key=dg.AssetKey(["bidding", "bid_solves"]),
                                                  partition_key="2025-10-15", upstream_output=asset_out))
    assert loaded == ("plan", "solves")


def test_a_missing_step_output_is_a_clear_failure(tmp_path):
    io = StepPickleIOManager(base_dir=str(tmp_path))
    out = dg.build_output_context(step_key="dispatch", name="plan", run_id="gone")
    with pytest.raises(dg.Failure, match="dispatch/plan does not exist"):
        io.load_input(dg.build_input_context(upstream_output=out))
