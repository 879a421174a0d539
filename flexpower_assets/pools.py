"""Spawned worker processes, ready before the work comes (the ingestion's parsers, the backtest's replays)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from flexpower_assets.settings import environment


def spawned_pool(workers: int, ready: Callable[[], object],
                 initializer: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """``workers`` spawned processes with one polars thread each (the workers already fill the
    cores), each started at once with one ``ready`` task.

    ``ready`` is a module-level function of the module the workers will run: unpickling it
    imports that module, so a worker does its imports (a second or more) while the caller still
    prepares the work. ``initializer`` runs in each worker before that.
    """
    with environment(POLARS_MAX_THREADS="1"):
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=initializer)
        for _ in range(workers):  # one task per worker while none is idle: each spawns its process
            pool.submit(ready)
    return pool
