"""Solving a chunk of scenarios in worker processes that are killed when they hang (no Dagster).

Dagster has no op-level timeout, so the limits are enforced here: each solve runs in a forked
worker process; the parent waits for its answer at most ``per_solve_s`` (the solver's own time
limit plus a grace) and kills the worker when it is overdue (status ``timeout``). A worker that
dies (a crash, an out-of-memory kill) costs only the solve it was running (status ``error``,
with its exit code), and a fresh worker takes its place. Past the stage deadline nothing new is
started and every solve not yet answered is recorded as ``timeout``.

Workers are forked, not spawned: a fork starts in milliseconds with every module (and every asset
type registered in this process) already loaded, so a chunk costs no interpreter start-up. The
worker runs only the solver (HiGHS, numpy); it never touches polars, DuckDB or a lock.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from flexpower_assets.bidding.asset_types import AssetType
from flexpower_assets.bidding.config import FaultInjection
from flexpower_assets.bidding.model import ERROR, TIMEOUT, SolveInput, SolveResult
from flexpower_assets.bidding.solve import failed_result, solve_scenario

KILL_GRACE_S = 1.0


def _worker(conn: Connection, kind: AssetType, faults: FaultInjection | None) -> None:
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        index, solve_input = task
        conn.send((index, solve_scenario(kind, solve_input, faults)))


@dataclass
class _Slot:
    process: mp.Process
    conn: Connection
    index: int | None = None
    started: float = 0.0


def _start(ctx, kind: AssetType, faults: FaultInjection | None) -> _Slot:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_worker, args=(child, kind, faults), daemon=True)
    process.start()
    child.close()
    return _Slot(process, parent)


def _stop(slot: _Slot, kill: bool) -> None:
    if kill:
        slot.process.kill()
    else:
        try:
            slot.conn.send(None)
        except (BrokenPipeError, OSError):
            slot.process.kill()
    slot.process.join(timeout=5)
    if slot.process.is_alive():
        slot.process.kill()
        slot.process.join(timeout=5)
    slot.conn.close()


def solve_in_workers(  # noqa: C901 (the worker loop: start, wait, kill on time-out, collect)
        kind: AssetType, inputs: Sequence[SolveInput], *, per_solve_s: float,
        deadline: float, workers: int = 2, faults: FaultInjection | None = None,
        known: Mapping[str, SolveResult] | None = None) -> list[SolveResult]:
    """One result per input, in order. ``deadline`` is a ``time.time()`` instant (the stage's);
    ``known`` results (same input hash) are returned without solving again."""
    results: list[SolveResult | None] = [None] * len(inputs)
    todo: list[int] = []
    for i, solve_input in enumerate(inputs):
        if known and solve_input.input_hash in known:
            results[i] = known[solve_input.input_hash]
        else:
            todo.append(i)
    if not todo:
        return results  # type: ignore[return-value]
    ctx = mp.get_context("fork")
    slots: list[_Slot] = []
    pending = list(reversed(todo))
    try:
        while pending or any(s.index is not None for s in slots):
            now = time.time()
            if now >= deadline:
                break
            # hand out work
            while pending and (len(slots) < min(workers, len(todo)) or any(s.index is None for s in slots)):
                slot = next((s for s in slots if s.index is None), None)
                if slot is None:
                    slot = _start(ctx, kind, faults)
                    slots.append(slot)
                i = pending.pop()
                slot.index, slot.started = i, time.time()
                slot.conn.send((i, inputs[i]))
            busy = [s for s in slots if s.index is not None]
            if not busy:
                continue
            next_due = min(s.started + per_solve_s for s in busy)
            ready = wait([s.conn for s in busy] + [s.process.sentinel for s in busy],
                         timeout=max(0.0, min(next_due, deadline) - time.time()))
            for slot in list(busy):
                pipe_closed = False
                if slot.conn in ready or slot.conn.poll():
                    try:
                        index, result = slot.conn.recv()
                        results[index] = result
                        slot.index = None
                        continue
                    except (EOFError, OSError):
                        pipe_closed = True
                if pipe_closed or slot.process.sentinel in ready or not slot.process.is_alive():
                    slot.process.join(timeout=2)  # the pipe closes a moment before the exit code is known
                    code = slot.process.exitcode
                    results[slot.index] = failed_result(
                        inputs[slot.index], ERROR, f"the worker process died (exit code {code}) during the solve",
                        time.time() - slot.started)
                    _retire(slots, slot)
                elif time.time() - slot.started >= per_solve_s:
                    results[slot.index] = failed_result(
                        inputs[slot.index], TIMEOUT,
                        f"no answer within {per_solve_s:g} s: the worker process (pid {slot.process.pid}) was killed",
                        time.time() - slot.started)
                    _retire(slots, slot)
    finally:
        for slot in slots:
            _stop(slot, kill=slot.index is not None)
    for i in todo:
        if results[i] is None:
            results[i] = failed_result(inputs[i], TIMEOUT, "the solve stage's deadline passed before this solve "
                                       "finished (not started or killed)")
    return results  # type: ignore[return-value]


def _retire(slots: list[_Slot], slot: _Slot) -> None:
    """Kill a worker that hung or died; the hand-out loop starts a fresh one when work remains."""
    _stop(slot, kill=True)
    slots.remove(slot)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
