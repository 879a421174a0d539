"""Parse worker processes import polars, not pandas.

Every parser validates with pandera's polars API, but ``import pandera`` also loads its pandas
API, pandas included, wherever pandas can be imported: about half of the CPU a spawned worker
spends importing its parsers (0.65 s), paid by each worker of every sync. So a worker hides
pandas before it imports the parsers (``hide_pandas`` is its pool's initializer): pandera then
loads its polars API alone, as where pandas is not installed, and validates the same way
(``tests/unit/test_ingestion_polars_only.py`` parses every file kind in such a process). Nothing the workers
run uses pandas.

This module imports nothing of the project: the hiding must come before the parsers' imports.
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder

HIDDEN = "pandas"


class _WithoutPandas(MetaPathFinder):
    """Finds no ``pandas``: importing it fails as if it were not installed."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ANN201 - the finder protocol
        if fullname == HIDDEN or fullname.startswith(f"{HIDDEN}."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def hide_pandas() -> None:
    """Make pandas unimportable in this process, unless something imported it already."""
    if HIDDEN in sys.modules or any(isinstance(finder, _WithoutPandas) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _WithoutPandas())
