"""Solving a chunk of scenarios in worker processes that are killed when they hang (no Dagster).

Dagster has no op-level timeout, so the limits are enforced here: each solve runs in a forked
worker process; the parent waits for its answer at most ``per_solve_s`` (the solver's own time
limit plus a grace) and kills the worker when it is overdue (status ``timeout``). A worker that
dies (a crash, an out-of-memory kill) costs only the solve it was running (status ``error``,
with its exit code), and a fresh worker takes its place. Past the stage deadline nothing new is
started and every solve not yet answered is recorded as ``timeout``.

Workers are forked, not spawned: a fork starts in milliseconds with every module (and every asset
type registered in this process) already loaded, so a chunk costs no interpreter start-up, and it
inherits the chunk's inputs, so only their positions travel through the pipe. A worker keeps
``PREFETCH`` positions in hand (the next waits in the pipe while one runs) and one solve function
of its asset type for all its solves (hydro: the plant's LP is built once). It sends back what
``solver_run`` records (the hydro schedule stays behind: nothing downstream reads it). The worker
runs only the solver (HiGHS, numpy); it never touches polars, DuckDB or a lock.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait

from flexpower_assets.bidding.asset_types import AssetType
from flexpower_assets.bidding.config import FaultInjection
from flexpower_assets.bidding.model import ERROR, TIMEOUT, SolveInput, SolveResult
from flexpower_assets.bidding.solve import failed_result, solve_scenario

PREFETCH = 2  # positions handed to a worker at once


def _worker(conn: Connection, kind: AssetType, inputs: Sequence[SolveInput], faults: FaultInjection | None) -> None:
    solve = kind.solver()
    while True:
        try:
            index = conn.recv()
        except EOFError:
            return
        if index is None:
            return
        result = solve_scenario(kind, inputs[index], faults, solver=solve)
        conn.send((index, replace(result, schedule={}) if result.schedule else result))


@dataclass
class _Slot:
    """One worker process and the positions it holds: the first runs since ``started``."""

    process: mp.Process
    conn: Connection
    held: deque[int] = field(default_factory=deque)
    started: float = 0.0


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


class _Chunk:
    """The solves of one ``solve_in_workers`` call: hand-out, answers, time-outs, dead workers."""

    def __init__(self, kind: AssetType, inputs: Sequence[SolveInput], faults: FaultInjection | None,
                 per_solve_s: float, workers: int, todo: Sequence[int]) -> None:
        self.kind, self.inputs, self.faults, self.per_solve_s = kind, inputs, faults, per_solve_s
        self.size = max(1, min(workers, len(todo)))
        self.pending: deque[int] = deque(todo)
        self.results: dict[int, SolveResult] = {}
        self.slots: list[_Slot] = []
        self.context = mp.get_context("fork")

    def run(self, deadline: float) -> dict[int, SolveResult]:
        try:
            while (self.pending or any(s.held for s in self.slots)) and time.time() < deadline:
                self._hand_out()
                self._wait(deadline)
        finally:
            for slot in self.slots:
                _stop(slot, kill=bool(slot.held))
        return self.results

    def _hand_out(self) -> None:
        while self.pending and len(self.slots) < self.size:
            parent, child = self.context.Pipe()
            process = self.context.Process(target=_worker, args=(child, self.kind, self.inputs, self.faults),
                                           daemon=True)
            process.start()
            child.close()
            self.slots.append(_Slot(process, parent))
        for slot in self.slots:
            while self.pending and len(slot.held) < PREFETCH:
                if not slot.held:
                    slot.started = time.time()
                index = self.pending.popleft()
                slot.held.append(index)
                slot.conn.send(index)

    def _wait(self, deadline: float) -> None:
        busy = [s for s in self.slots if s.held]
        if not busy:
            return
        due = min(s.started + self.per_solve_s for s in busy)
        ready = wait([s.conn for s in busy] + [s.process.sentinel for s in busy],
                     timeout=max(0.0, min(due, deadline) - time.time()))
        for slot in busy:
            self._settle(slot, ready)

    def _settle(self, slot: _Slot, ready: list) -> None:
        """Take the worker's answers; retire it when it died or its current solve is overdue."""
        pipe_closed = self._receive(slot)
        if not slot.held:
            return
        if pipe_closed or slot.process.sentinel in ready or not slot.process.is_alive():
            slot.process.join(timeout=2)  # the pipe closes a moment before the exit code is known
            self._retire(slot, ERROR, f"the worker process died (exit code {slot.process.exitcode}) during the solve")
        elif time.time() - slot.started >= self.per_solve_s:
            self._retire(slot, TIMEOUT, f"no answer within {self.per_solve_s:g} s: the worker process "
                                        f"(pid {slot.process.pid}) was killed")

    def _receive(self, slot: _Slot) -> bool:
        """Every answer waiting in the worker's pipe; True when the pipe is closed."""
        try:
            while slot.held and slot.conn.poll():
                index, result = slot.conn.recv()
                self.results[index] = result
                slot.held.remove(index)
                slot.started = time.time()
        except (EOFError, OSError):
            return True
        return False

    def _retire(self, slot: _Slot, status: str, message: str) -> None:
        """The current solve fails with ``status``; the worker is killed and its other positions
        go back to the queue (the hand-out starts a fresh worker for them)."""
        current, *rest = slot.held
        self.results[current] = failed_result(self.inputs[current], status, message, time.time() - slot.started)
        slot.held.clear()
        self.pending.extendleft(reversed(rest))
        _stop(slot, kill=True)
        self.slots.remove(slot)


def solve_in_workers(kind: AssetType, inputs: Sequence[SolveInput], *, per_solve_s: float,
                     deadline: float, workers: int = 2, faults: FaultInjection | None = None,
                     known: Mapping[str, SolveResult] | None = None) -> list[SolveResult]:
    """One result per input, in order. ``deadline`` is a ``time.time()`` instant (the stage's);
    ``known`` results (same input hash) are returned without solving again."""
    known = known or {}
    results: dict[int, SolveResult] = {i: known[s.input_hash] for i, s in enumerate(inputs) if s.input_hash in known}
    todo = [i for i in range(len(inputs)) if i not in results]
    if todo:
        results.update(_Chunk(kind, inputs, faults, per_solve_s, workers, todo).run(deadline))
    return [results[i] if i in results else failed_result(
        inputs[i], TIMEOUT, "the solve stage's deadline passed before this solve finished (not started or killed)")
        for i in range(len(inputs))]


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
