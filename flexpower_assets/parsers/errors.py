"""The one error every parser raises for a file it cannot accept."""

from __future__ import annotations

from pathlib import Path


class InputFileError(ValueError):
    """A file that cannot be accepted as a whole: names the file, the line and the problem.

    ``line`` is the 1-based line of a text file; for JSON documents it is ``None`` and
    ``location`` names the place inside the document instead (e.g. ``values[3][17]``).
    """

    def __init__(self, path: Path | str, problem: str, line: int | None = None,
                 location: str | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        self.line = line
        self.location = location
        where = f"line {line}" if line is not None else (location or "whole file")
        super().__init__(f"{self.path.name}: {where}: {problem}")

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else (self.location or "whole file")
