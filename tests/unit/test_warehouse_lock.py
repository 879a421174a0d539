"""Writer priority in the warehouse lock, checked by order of events (no timing assertions)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from resources.warehouse import Warehouse, WarehouseBusy


def _held_exclusively(path: Path) -> bool:
    """True while another descriptor holds ``path`` locked (a probe that lets go at once)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 30  # a bound for a broken build, not a measurement
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.01)


def test_a_waiting_writer_keeps_new_readers_out_until_it_is_done(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.writer() as conn:
        conn.execute("create table t as select 1 as v")
    first_in, release_first = threading.Event(), threading.Event()
    events: list[str] = []
    seen_by_second: list[list[int]] = []

    def first_reader() -> None:
        with warehouse.reader():
            events.append("first reader in")
            first_in.set()
            release_first.wait(30)
        events.append("first reader out")

    def writer() -> None:
        with warehouse.writer() as conn:
            events.append("writer in")
            conn.execute("insert into t values (2)")
        events.append("writer out")

    def second_reader() -> None:
        seen_by_second.append(warehouse.read("select v from t order by v")["v"].to_list())
        events.append("second reader done")

    threads = [threading.Thread(target=first_reader)]
    threads[0].start()
    assert first_in.wait(30)
    threads.append(threading.Thread(target=writer))
    threads[1].start()
    # the writer waits for the reader in flight, holding the turnstile
    _wait_for(lambda: _held_exclusively(warehouse.turnstile_path), "the writer waits at the turnstile")
    assert events == ["first reader in"]
    # so a new reader does not get in beside the first one: it is refused within its timeout...
    with pytest.raises(WarehouseBusy):
        Warehouse(warehouse.path, timeout_s=0.2).read("select v from t")
    # ...and one that waits gets in only after the write, and sees it
    threads.append(threading.Thread(target=second_reader))
    threads[2].start()
    release_first.set()
    for thread in threads:
        thread.join(60)
    assert events.index("first reader out") < events.index("writer in") < events.index("writer out") \
        < events.index("second reader done")
    assert seen_by_second == [[1, 2]]


def test_readers_share_the_warehouse_when_no_writer_waits(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.writer() as conn:
        conn.execute("create table t as select 1 as v")
    with warehouse.reader() as a, warehouse.reader() as b:  # two readers at once, same process
        assert a.execute("select v from t").fetchone() == b.execute("select v from t").fetchone() == (1,)
