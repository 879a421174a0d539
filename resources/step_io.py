"""Pickled step outputs of the bid run (plan, tasks, solve results), one file per output.

It keeps the files where Dagster's ``FilesystemIOManager`` keeps them (``<base_dir>/<run id>/<step
key>/<output>`` for op outputs, with the mapping key of a dynamic output; ``<base_dir>/<asset
key>/<partition>`` for an asset's), so a run is re-executed from the UI the same way. What it leaves
out is the debug message that manager logs for every file it writes and reads: each is an event in
the run's event log, and a bid run of 10,000 solves has 200 solve steps with one input and one
output each (measured in the README's "Bid benchmark"). A file is written under a temporary name
and renamed, so a reader never sees half a pickle.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import dagster as dg


class StepPickleIOManager(dg.ConfigurableIOManager):
    """Step outputs as pickles under ``base_dir`` (see the module docstring)."""

    base_dir: str

    def _output_path(self, context: dg.OutputContext) -> Path:
        parts = context.get_asset_identifier() if context.has_asset_key else context.get_identifier()
        return Path(self.base_dir, *parts)

    def _input_path(self, context: dg.InputContext) -> Path:
        if context.has_asset_key:
            return Path(self.base_dir, *context.get_asset_identifier())
        return self._output_path(context.upstream_output)

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        path = self._output_path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(partial, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)

    def load_input(self, context: dg.InputContext) -> object:
        path = self._input_path(context)
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except FileNotFoundError:
            raise dg.Failure(f"the step output {path} does not exist (was its step run?)") from None
