"""The audit log: one JSON line per access, appended, never rewritten, chained by hashes.

Design (``<state_dir>/audit.jsonl``):
- The application opens the file only with ``O_WRONLY | O_APPEND``: the kernel places every write
  at the current end of the file, so the code has no way to overwrite or truncate earlier records.
  There is no update or delete function in this module.
- Each record carries ``seq``, the previous record's hash (``prev``) and its own ``hash`` =
  SHA-256(prev + canonical JSON of the record without ``hash``). Editing, removing or reordering
  any line breaks the chain from that line on; ``verify_audit_log`` reports where.
- Appends are serialised by a thread lock and an exclusive ``flock`` (the portal's worker threads
  and the ``flexpower token`` command can write at the same time).

What it cannot do: a person with write access to the file can still append a forged tail or
delete the whole file. Ship the lines to a write-once store, or make the file append-only for
everyone with ``chattr +a`` (root), when that matters.

A record: seq, ts (UTC), user, role, contract_id, action (HTTP method or CLI command), target
(path or object), query, resource, decision (allow | deny | error), status, reason, client.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

GENESIS = "0" * 64
_TAIL_BYTES = 65536


def _canonical(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def _chain_hash(prev: str, record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(prev.encode("ascii") + _canonical(body)).hexdigest()


class AuditLog:
    """Append-only, hash-chained JSON lines."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, *, action: str, target: str, decision: str, status: int | None = None,
               user: str | None = None, role: str | None = None, contract_id: str | None = None,
               resource: str | None = None, query: str | None = None, reason: str | None = None,
               client: str | None = None) -> dict[str, Any]:
        """Append one record and return it (with its seq and hash)."""
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                seq, prev = self._last()
                record: dict[str, Any] = {
                    "seq": seq + 1,
                    "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                    "user": user, "role": role, "contract_id": contract_id,
                    "action": action, "target": target, "query": query or None, "resource": resource,
                    "decision": decision, "status": status, "reason": reason, "client": client,
                    "prev": prev,
                }
                record["hash"] = _chain_hash(prev, record)
                os.write(fd, _canonical(record) + b"\n")
            finally:
                os.close(fd)  # also releases the flock
        return record

    def _last(self) -> tuple[int, str]:
        """seq and hash of the last record (0 and the genesis hash for an empty log)."""
        with open(self.path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - _TAIL_BYTES))
            lines = f.read().splitlines()
        if not lines:
            return 0, GENESIS
        last = orjson.loads(lines[-1])
        return int(last["seq"]), str(last["hash"])

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [orjson.loads(line) for line in self.path.read_bytes().splitlines() if line.strip()]


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    problem: str | None = None


def verify_audit_log(path: Path) -> Verification:
    """Check the whole chain: sequence numbers, links and hashes."""
    prev, n = GENESIS, 0
    if not Path(path).exists():
        return Verification(True, 0)
    for line_no, line in enumerate(Path(path).read_bytes().splitlines(), start=1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return Verification(False, n, f"line {line_no}: not JSON")
        if record.get("seq") != n + 1:
            return Verification(False, n, f"line {line_no}: seq {record.get('seq')} where {n + 1} was expected")
        if record.get("prev") != prev:
            return Verification(False, n, f"line {line_no}: does not link to the record before it")
        if record.get("hash") != _chain_hash(prev, record):
            return Verification(False, n, f"line {line_no}: content does not match its hash")
        prev, n = record["hash"], n + 1
    return Verification(True, n)
