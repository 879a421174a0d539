"""How a sync's files are cut into chunks for the parse workers, and in which order they go."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from flexpower_assets.ingestion import workers
from flexpower_assets.ingestion.scan import LandingFile
from flexpower_assets.parsers.registry import KINDS_BY_NAME

NOW = datetime(2025, 6, 9, 6, 0, tzinfo=timezone.utc)


def files_of(kind: str, n: int, size_bytes: int) -> list[LandingFile]:
    return [LandingFile(root="/landing", relative=f"{kind}/{i}", kind=KINDS_BY_NAME[kind], size_bytes=size_bytes,
                        mtime_ns=1, arrived_ns=1) for i in range(n)]


def test_file_by_file_kinds_go_first_then_the_batch_kinds_with_the_most_bytes_a_chunk(monkeypatch):
    monkeypatch.setattr(workers, "CHUNK_FILES", 3)
    monkeypatch.setattr(workers, "SINGLE_FILE_CHUNK", 2)
    sent: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(workers, "parse_chunk", lambda kind, root, relatives, *_rest: sent.append((kind, relatives)))
    files = (files_of("final_production", 4, 100)  # chunks of 3 x 100 = 300 and 1 x 100 bytes
             + files_of("contracts", 3, 5)          # file by file: chunks of 2 and 1 files
             + files_of("forecast", 7, 170)         # 3 x 170 = 510 bytes a chunk
             + files_of("live", 2, 1000))           # 2 x 1,000 = 2,000 bytes in its one chunk
    list(workers.parse_chunks(files, Path("/staging"), NOW, {}, workers=1))
    assert [(kind, [r.rsplit("/", 1)[1] for r in relatives]) for kind, relatives in sent] == [
        ("contracts", ["0", "1"]), ("contracts", ["2"]),
        ("live", ["0", "1"]),                                    # 2,000 bytes
        ("forecast", ["0", "1", "2"]), ("forecast", ["3", "4", "5"]), ("forecast", ["6"]),  # 510
        ("final_production", ["0", "1", "2"]), ("final_production", ["3"]),                  # 300
    ]
