"""Documents on disk bound to the warehouse they were built from: content hashes and the index.

A document (invoice PDF, DSO claim PDF, HTML report, a report folder's plotly.js) lives under the
documents folder of its warehouse (``Settings.documents_root``: ``<warehouse dir>/<warehouse
stem>.documents/`` unless ``FLEXPOWER_DOCUMENTS_DIR`` says otherwise), and its SHA-256 is stored in
that warehouse with the row it shows: ``invoice.document_sha256`` for an invoice version, the
``main.document`` index for reports and claims. Whoever serves a file (the portal) compares the
file's hash with the row first: a file that was rewritten by another warehouse, edited, or is
half-way through a rebuild is never shown as the row's document.

Writing: ``write_document`` replaces a file (atomically: temporary file, then rename) whenever its
bytes differ from the new ones, never "only when no file of that name exists".
No Dagster here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from resources.warehouse import Warehouse

INDEX_SCHEMA, INDEX_TABLE = "main", "document"
INDEX = f"{INDEX_SCHEMA}.{INDEX_TABLE}"
KINDS = ("daily_report", "monthly_report", "dso_claim", "briefing")
_CREATE_INDEX = f"""
create table if not exists {INDEX} (
    kind        varchar not null,   -- daily_report | monthly_report | dso_claim | briefing
    period      varchar not null,   -- YYYY-MM-DD (daily) or YYYY-MM
    name        varchar not null,   -- report scope, 'plotly.min.js', the DSO id, or the client id
    path        varchar not null,   -- relative to the documents folder
    sha256      varchar not null,
    size_bytes  bigint not null,
    primary key (kind, period, name)
)
"""


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def file_sha256(path: Path) -> str | None:
    """The SHA-256 of a file's bytes, or None when there is no such file."""
    try:
        return sha256_of(Path(path).read_bytes())
    except (FileNotFoundError, IsADirectoryError):
        return None


def write_document(path: Path, content: bytes) -> str:
    """Put ``content`` at ``path`` unless the file already holds exactly these bytes; the SHA-256.

    The file is replaced atomically, so a reader sees either the old or the new document."""
    path = Path(path)
    digest = sha256_of(content)
    if path.is_file() and path.stat().st_size == len(content) and file_sha256(path) == digest:
        return digest
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    tmp.replace(path)
    return digest


@dataclass(frozen=True)
class IndexedDocument:
    name: str
    path: str  # relative to the documents folder
    sha256: str
    size_bytes: int


def indexed_file(root: Path, name: str, path: Path) -> IndexedDocument:
    """The index entry of a file just written under ``root``."""
    path = Path(path)
    content = path.read_bytes()
    return IndexedDocument(name, path.resolve().relative_to(Path(root).resolve()).as_posix(),
                           sha256_of(content), len(content))


def record_documents(warehouse: Warehouse, kind: str, period: str, documents: list[IndexedDocument]) -> None:
    """Make ``documents`` the index of ``kind`` and ``period`` (the rows before are replaced)."""
    if kind not in KINDS:
        raise ValueError(f"document kind must be one of {KINDS}, not {kind!r}")
    with warehouse.writer() as conn:
        conn.execute(_CREATE_INDEX)
        conn.execute(f"delete from {INDEX} where kind = ? and period = ?", [kind, period])
        if documents:
            conn.executemany(
                f"insert into {INDEX} (kind, period, name, path, sha256, size_bytes) values (?, ?, ?, ?, ?, ?)",
                [[kind, period, d.name, d.path, d.sha256, d.size_bytes] for d in documents],
            )


def indexed_documents(warehouse: Warehouse, kinds: tuple[str, ...] = KINDS) -> pl.DataFrame:
    """Every index row of ``kinds`` (empty when nothing was recorded yet), sorted."""
    empty = pl.DataFrame(schema={"kind": pl.String, "period": pl.String, "name": pl.String, "path": pl.String,
                                 "sha256": pl.String, "size_bytes": pl.Int64})
    if not warehouse.table_exists(INDEX_SCHEMA, INDEX_TABLE):
        return empty
    placeholders = ", ".join("?" for _ in kinds)
    return warehouse.read(
        f"select kind, period, name, path, sha256, size_bytes from {INDEX} where kind in ({placeholders}) "
        "order by kind, period, name", list(kinds))


def indexed_document(warehouse: Warehouse, kind: str, period: str, name: str) -> IndexedDocument | None:
    """The index row of one document, or None."""
    if not warehouse.table_exists(INDEX_SCHEMA, INDEX_TABLE):
        return None
    found = warehouse.read(f"select name, path, sha256, size_bytes from {INDEX} where kind = ? and period = ? "
                           "and name = ?", [kind, period, name])
    return IndexedDocument(**found.row(0, named=True)) if found.height else None
