"""The acknowledged findings file as a resource, for the checks that honour it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from flexpower_assets.quality.acknowledgements import load_acknowledgements, split_acknowledged


class Acknowledgements(dg.ConfigurableResource):
    """``split(check, findings)``: the open findings and the acknowledged ones (who, when, why)."""

    path: str

    def split(self, check: str, findings: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        return split_acknowledged(check, findings, load_acknowledgements(Path(self.path)))
