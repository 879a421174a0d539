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

- A torn write (the process killed in the middle of a line) leaves a partial last line. It never
  breaks a request: the next append finds the last complete record, ends the partial line and
  writes its record on a line of its own, linked to that last complete record. ``verify`` reports
  the partial line (no record is lost: the head was never moved to it).
- The head, ``audit.head.json`` beside the log, names the record count and the last record's hash,
  signed with HMAC-SHA256 under a key kept outside the log (``audit.key``, 32 random bytes created
  with mode 0600 on first use; ``FLEXPOWER_AUDIT_KEY_FILE`` moves it, e.g. to another disk or a
  secrets mount). It is rewritten (atomically) after every append, so ``verify`` detects a lost
  tail: the last line, the last 100 lines or the whole file removed.
- Secrets never reach the log: ``token=`` and similar query parameters and anything shaped like a
  portal token (``fpt_...``) are written as ``[redacted]`` (``redact``, also used for the access log).

What it cannot do: a person who can write the log, its head and read the key can still rewrite
all three consistently. Keep the key where the portal's user can read it but the log's readers
cannot, ship the lines to a write-once store, or make the file append-only (``chattr +a``, root)
when that matters.

A record: seq, ts (UTC), user, role, contract_id, action (HTTP method or CLI command), target
(path or object), query, resource, decision (allow | deny | error), status, reason, client.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import re
import secrets
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


REDACTED = "[redacted]"
# query parameters that carry a secret, and anything that looks like one of our tokens
_SECRET_PARAMS = re.compile(r"(?i)(^|[?&;])((?:access_|api_|auth_|session_)?token|session|password|secret|api_key)=([^&;#]*)")
_TOKEN_TEXT = re.compile(r"fpt_[A-Za-z0-9_-]+")


def redact(text: str | None) -> str | None:
    """``text`` (a query string or a path) with secrets replaced: ``token=...`` and the like, and
    anything that looks like a portal token (``fpt_...``)."""
    if not text:
        return text
    text = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}{m.group(2)}={REDACTED}", text)
    return _TOKEN_TEXT.sub(REDACTED, text)


def _head_mac(key: bytes, records: int, last_hash: str) -> str:
    return hmac.new(key, f"{records}:{last_hash}".encode("ascii"), hashlib.sha256).hexdigest()


def _load_key(key_path: Path, create: bool) -> bytes | None:
    """The head's signing key (32 random bytes, created with mode 0600 on first use)."""
    try:
        return bytes.fromhex(key_path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        if not create:
            return None
    key_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = key_path.with_name(f".{key_path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode("ascii"))
    finally:
        os.close(fd)
    try:
        os.link(tmp, key_path)  # the first process to create the key wins; the others read it
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(key_path.read_text(encoding="ascii").strip())


def head_path_of(path: Path) -> Path:
    """``audit.jsonl`` -> ``audit.head.json``: the record count and last hash, signed."""
    return Path(path).with_name(Path(path).stem + ".head.json")


class AuditLog:
    """Append-only, hash-chained JSON lines, with a signed head (record count and last hash)."""

    def __init__(self, path: Path, key_path: Path | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.head_path = head_path_of(self.path)
        self.key_path = Path(key_path) if key_path is not None else self.path.with_name("audit.key")
        self._lock = threading.Lock()

    def append(self, *, action: str, target: str, decision: str, status: int | None = None,
               user: str | None = None, role: str | None = None, contract_id: str | None = None,
               resource: str | None = None, query: str | None = None, reason: str | None = None,
               client: str | None = None) -> dict[str, Any]:
        """Append one record and return it (with its seq and hash); then move the head to it."""
        key = _load_key(self.key_path, create=True)
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                seq, prev, torn = self._last(fd)
                record: dict[str, Any] = {
                    "seq": seq + 1,
                    "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                    "user": user, "role": role, "contract_id": contract_id,
                    "action": action, "target": redact(target), "query": redact(query) or None,
                    "resource": redact(resource), "decision": decision, "status": status, "reason": redact(reason),
                    "client": client, "prev": prev,
                }
                record["hash"] = _chain_hash(prev, record)
                # a write cut short before this one left a partial line: end it, so that this record
                # stands on a line of its own (verify reports the partial line)
                os.write(fd, (b"\n" if torn else b"") + _canonical(record) + b"\n")
                self._write_head(record["seq"], record["hash"], key)  # type: ignore[arg-type]
            finally:
                os.close(fd)  # also releases the flock
        return record

    def _write_head(self, records: int, last_hash: str, key: bytes) -> None:
        head = {"records": records, "last_hash": last_hash, "hmac": _head_mac(key, records, last_hash)}
        tmp = self.head_path.with_name(f".{self.head_path.name}.tmp")
        tmp.write_bytes(orjson.dumps(head))
        tmp.replace(self.head_path)

    @staticmethod
    def _last(fd: int) -> tuple[int, str, bool]:
        """seq and hash of the last complete record (0 and the genesis hash for an empty log), and
        whether the file ends in a partial line (a torn write)."""
        size = os.fstat(fd).st_size
        start = max(0, size - _TAIL_BYTES)
        tail = os.pread(fd, size - start, start)
        torn = bool(tail) and not tail.endswith(b"\n")
        lines = tail.split(b"\n")
        if torn:
            lines = lines[:-1]
        for line in reversed(lines[1:] if start > 0 else lines):  # the first may be cut by the window
            record = _parse(line)
            if record is not None:
                return int(record["seq"]), str(record["hash"]), torn
        if start > 0:  # no complete record in the window: read the whole file
            return AuditLog._last_of_whole(fd, torn)
        return 0, GENESIS, torn

    @staticmethod
    def _last_of_whole(fd: int, torn: bool) -> tuple[int, str, bool]:
        for line in reversed(os.pread(fd, os.fstat(fd).st_size, 0).split(b"\n")):
            record = _parse(line)
            if record is not None:
                return int(record["seq"]), str(record["hash"]), torn
        return 0, GENESIS, torn

    def records(self) -> list[dict[str, Any]]:
        """Every complete record (a partial line of a torn write is left out)."""
        if not self.path.exists():
            return []
        return [r for r in (_parse(line) for line in self.path.read_bytes().splitlines()) if r is not None]


def _parse(line: bytes) -> dict[str, Any] | None:
    """A complete record, or None for an empty or partial line."""
    if not line.strip():
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("seq"), int) or "hash" not in record:
        return None
    return record


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    problem: str | None = None
    torn_lines: tuple[int, ...] = ()


def verify_audit_log(path: Path, key_path: Path | None = None) -> Verification:
    """Check the whole chain (sequence numbers, links, hashes) and that it ends where the signed
    head says: a log whose last record, last 100 records or whole content was removed fails.

    A partial line (a write cut short by a crash) breaks nothing: the next record links to the
    one before it. It is reported in ``torn_lines``; the chain must go on around it."""
    path = Path(path)
    head_path = head_path_of(path)
    key_path = Path(key_path) if key_path is not None else path.with_name("audit.key")
    prev, n = GENESIS, 0
    torn: list[int] = []
    raw = path.read_bytes() if path.exists() else b""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    for line_no, line in enumerate(lines, start=1):
        record = _parse(line)
        if record is None:
            if not line.strip():
                continue
            # a partial record: a write cut short; only acceptable if the chain goes on around it
            torn.append(line_no)
            continue
        if record.get("seq") != n + 1:
            return Verification(False, n, f"line {line_no}: seq {record.get('seq')} where {n + 1} was expected",
                                tuple(torn))
        if record.get("prev") != prev:
            return Verification(False, n, f"line {line_no}: does not link to the record before it", tuple(torn))
        if record.get("hash") != _chain_hash(prev, record):
            return Verification(False, n, f"line {line_no}: content does not match its hash", tuple(torn))
        prev, n = record["hash"], n + 1
    head = _read_head(head_path)
    if head is None:
        if n == 0 and not torn:
            return Verification(True, 0)
        return Verification(False, n, f"the head {head_path} is missing: the log cannot be checked for a lost tail",
                            tuple(torn))
    key = _load_key(key_path, create=False)
    if key is None:
        return Verification(False, n, f"the key {key_path} that signs the head is missing", tuple(torn))
    if not hmac.compare_digest(str(head.get("hmac")), _head_mac(key, int(head.get("records", -1)),
                                                                 str(head.get("last_hash")))):
        return Verification(False, n, f"the head {head_path} is not signed by the audit key (forged or damaged)",
                            tuple(torn))
    if head["records"] != n or head["last_hash"] != prev:
        missing = head["records"] - n
        what = (f"{missing} record(s) at the end are missing" if missing > 0
                else "the log does not end at the record the head names")
        return Verification(False, n, f"the head names {head['records']} records, the log holds {n}: {what}",
                            tuple(torn))
    if torn:
        return Verification(True, n, f"partial line(s) {', '.join(map(str, torn))}: a write cut short, "
                                     "no record lost", tuple(torn))
    return Verification(True, n)


def _read_head(head_path: Path) -> dict[str, Any] | None:
    try:
        head = orjson.loads(head_path.read_bytes())
    except FileNotFoundError:
        return None
    except orjson.JSONDecodeError:
        return {"records": -1, "last_hash": "", "hmac": ""}
    return head if isinstance(head, dict) else {"records": -1, "last_hash": "", "hmac": ""}
