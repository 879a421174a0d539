"""Peak memory of a measured piece of work, and running that work in a process of its own.

``getrusage`` gives the peak resident set of a process (``RUSAGE_SELF``) and of the largest of
its waited-for children (``RUSAGE_CHILDREN``), in KiB on Linux. Both are high-water marks for
the whole life of a process, so each measured piece of work (the pipeline, the pandas baseline)
runs in a fresh ``spawn``-ed process: the simulation before it, or the other implementation,
cannot inflate its figure. Because two parse workers can be alive at the same time, a sampler
thread also adds up the resident sets of the process and all its descendants every 50 ms; the
reported peak is the larger of the two figures.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KIB_PER_MB = 1024
SAMPLE_EVERY_S = 0.05


@dataclass(frozen=True)
class PeakMemory:
    """Peak resident memory in MB: the process, its largest child, and the sampled process tree."""

    self_mb: float
    children_mb: float
    tree_sampled_mb: float

    @property
    def peak_mb(self) -> float:
        """The process plus its largest child (rusage), or the sampled tree when that is higher."""
        return max(self.self_mb + self.children_mb, self.tree_sampled_mb)


def rusage_peaks_mb() -> tuple[float, float]:
    """Peak RSS (MB) of this process and of its largest terminated child so far."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MB
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / KIB_PER_MB
    return own, children


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _parent_pids() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # the command name (field 2) may hold spaces: the fields after its ')' are fixed
        fields = stat[stat.rfind(")") + 2:].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def _children(pid: int) -> list[int]:
    """The children of ``pid``, from the kernel's per-task lists ``/proc/<pid>/task/*/children``."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


_HAS_CHILDREN_LISTS = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()


def tree_rss_kib(root: int) -> int:
    """Resident memory (KiB) of a process and every descendant, right now.

    The descendants come from the kernel's per-task children lists (a few small reads); only
    where the kernel has none is every process of the machine scanned for its parent."""
    children_of = _children
    if not _HAS_CHILDREN_LISTS:
        table: dict[int, list[int]] = {}
        for pid, parent in _parent_pids().items():
            table.setdefault(parent, []).append(pid)
        children_of = lambda pid: table.get(pid, [])  # noqa: E731
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss_kib(pid)
        stack.extend(children_of(pid))
    return total


class TreeSampler:
    """Samples the resident memory of this process and its descendants until stopped."""

    def __init__(self, every_s: float = SAMPLE_EVERY_S) -> None:
        self.every_s = every_s
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        root = os.getpid()
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, tree_rss_kib(root))
            self._stop.wait(self.every_s)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, tree_rss_kib(os.getpid()))

    @property
    def peak_mb(self) -> float:
        return self.peak_kib / KIB_PER_MB


def _child_main(connection, function: Callable[..., Any], args: tuple) -> None:
    try:
        # a helper forked while modules load (``platform.architecture()`` runs ``file``) reports
        # the pages it shared with this process as its own: only a child that outgrows it counts
        _own, children_before = rusage_peaks_mb()
        with TreeSampler() as sampler:
            result = function(*args)
        own, children = rusage_peaks_mb()
        children = children if children > children_before else 0.0
        connection.send(("ok", result, PeakMemory(own, children, sampler.peak_mb)))
    except BaseException:  # noqa: BLE001 - everything goes back to the parent, which re-raises
        connection.send(("error", traceback.format_exc(), None))
    finally:
        connection.close()


class ChildFailed(RuntimeError):
    """The measured work raised in its child process (the message holds its traceback)."""


def run_measured(function: Callable[..., Any], *args: Any) -> tuple[Any, PeakMemory]:
    """Run ``function(*args)`` in a fresh spawned process; its result and peak memory.

    ``function`` must be importable at module level and its arguments and result picklable.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(sender, function, args), name=function.__name__)
    process.start()
    sender.close()
    try:
        status, payload, memory = receiver.recv()
    except EOFError:
        process.join()
        raise ChildFailed(f"{function.__name__} died without an answer (exit code {process.exitcode})") from None
    finally:
        receiver.close()
    process.join()
    if status != "ok":
        raise ChildFailed(f"{function.__name__} failed in its child process:\n{payload}")
    return payload, memory
