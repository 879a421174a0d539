"""Reading a chunk's files ahead of the parser: many reads in flight, each file read once.

A day brings ~100,000 small files. Read one after another, each read waits for the disk (about
0.4 ms a file on a virtual disk with a cold page cache), and the parser waits with it. Here a
few threads read the files of a chunk in order, a run of files each, while the parser works
through the ones already read: a read releases the GIL, so the disk sees several requests at
once and its latency hides behind the parsing. The parser gets each file's bytes in order; it
waits only when it overtakes the readers, and ``waited_s`` says how long it did.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from flexpower_assets.ingestion.hashing import bytes_sha256

READ_THREADS = 8  # reads in flight per worker process: enough to hide the latency of a virtual disk
FILES_PER_TASK = 64  # files one thread reads in a row: one hand-over per 64 files, not one per file


def _read(paths: Sequence[Path], keep: bool) -> list[bytes | str]:
    """Each file's bytes, or with ``keep=False`` only their sha256."""
    found: list[bytes | str] = []
    for path in paths:
        with open(path, "rb", buffering=0) as file:
            raw = file.readall()
        found.append(raw if keep else bytes_sha256(raw))
    return found


class ReadAhead(Sequence):
    """The bytes of ``paths``, read ahead by threads; ``self[i]`` waits for file ``i``.

    With ``keep_bytes=False`` only the hashes are kept (for parsers that read the file
    themselves: the read here brings it into the page cache). A file that cannot be read raises
    its ``OSError`` where its bytes or hash are asked for, as a plain read would.
    """

    def __init__(self, paths: Sequence[Path], keep_bytes: bool = True, threads: int = READ_THREADS) -> None:
        self.keep_bytes = keep_bytes
        self._n = len(paths)
        pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="read-ahead")
        self._futures: list[Future] = [pool.submit(_read, paths[i:i + FILES_PER_TASK], keep_bytes)
                                       for i in range(0, self._n, FILES_PER_TASK)]
        pool.shutdown(wait=False)  # its threads end once every file is read
        self.waited_s = 0.0  # seconds a caller waited for a file not yet read
        self.hash_s = 0.0  # seconds spent hashing kept bytes (``sha256``)

    def __len__(self) -> int:
        return self._n

    def _item(self, i: int) -> bytes | str:
        if not 0 <= i < self._n:
            raise IndexError(i)
        future = self._futures[i // FILES_PER_TASK]
        if not future.done():
            began = time.perf_counter()
            future.result()
            self.waited_s += time.perf_counter() - began
        return future.result()[i % FILES_PER_TASK]

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not self.keep_bytes:
            raise TypeError("the bytes were not kept (keep_bytes=False)")
        return self._item(i)

    def sha256(self) -> list[str]:
        """Every file's sha256, in the order of ``paths`` (waits for the reads still running)."""
        if not self.keep_bytes:
            return [self._item(i) for i in range(self._n)]
        shas = []
        for i in range(self._n):
            raw = self._item(i)
            began = time.perf_counter()
            shas.append(bytes_sha256(raw))
            self.hash_s += time.perf_counter() - began
        return shas
