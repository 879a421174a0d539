"""Content identity: a file's sha256, and the id of one registration of it."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path


def bytes_sha256(raw: bytes) -> str:
    """The sha256 of bytes already read (the same as ``file_sha256`` of their file)."""
    return hashlib.sha256(raw).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_id_of(relative: str, sha256: str, registered_at: datetime) -> int:
    """One id per registration: content accepted again later (A, B, A) is staged anew."""
    digest = hashlib.sha1(f"{relative}\n{sha256}\n{registered_at.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
