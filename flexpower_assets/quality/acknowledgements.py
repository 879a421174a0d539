"""Known findings that operators have acknowledged, so that a check fails only on news.

The file (``acknowledgements.yaml`` at the project root, or ``FLEXPOWER_ACKNOWLEDGEMENTS``) is a
list of entries::

    - check: core/portfolio_assets:contracts_consistent   # <asset key>:<check name>
      finding: {contract_id: CON1_WND-DE-003, issue: fixed price model without a price}
      who: Jana Weber (operations)
      when: 2025-06-10
      why: CRM ticket 4711; the contract is blocked from invoicing until the CRM is fixed.

A finding (one row of a check's findings table) is acknowledged when an entry of its check
names it: every key given under ``finding`` has that value in the row (numbers compared as
numbers). When the finding changes (another issue, another capacity) no entry matches any more
and the check fails again. Entries are kept in version control, so who, when and why are
reviewed like code; a malformed entry stops loading with the file and the entry named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import yaml

REQUIRED = ("check", "finding", "who", "when", "why")


class AcknowledgementError(ValueError):
    """The acknowledgements file cannot be used (names the file and the entry)."""


@dataclass(frozen=True)
class Acknowledgement:
    check: str
    finding: dict[str, str]
    who: str
    when: date
    why: str

    def matches(self, row: dict) -> bool:
        return all(key in row and _same(row[key], value) for key, value in self.finding.items())


def _same(actual, expected) -> bool:
    if actual is None:
        return expected in (None, "", "null")
    try:
        return abs(float(actual) - float(expected)) < 1e-9
    except (TypeError, ValueError):
        return str(actual) == str(expected)


def load_acknowledgements(path: Path) -> list[Acknowledgement]:
    """Every entry of the file (none when it does not exist)."""
    if not path.exists():
        return []
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as error:
        raise AcknowledgementError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(entries, list):
        raise AcknowledgementError(f"{path}: expected a list of acknowledgements")
    found = []
    for number, entry in enumerate(entries, start=1):
        missing = [key for key in REQUIRED if not isinstance(entry, dict) or entry.get(key) in (None, "")]
        if missing:
            raise AcknowledgementError(f"{path}: entry {number} lacks {', '.join(missing)}")
        if not isinstance(entry["finding"], dict) or not entry["finding"]:
            raise AcknowledgementError(f"{path}: entry {number}: 'finding' must name the finding's values")
        when = entry["when"] if isinstance(entry["when"], date) else _date(entry["when"], path, number)
        found.append(Acknowledgement(check=str(entry["check"]),
                                     finding={str(k): v for k, v in entry["finding"].items()},
                                     who=str(entry["who"]), when=when, why=str(entry["why"]).strip()))
    return found


def _date(value, path: Path, number: int) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise AcknowledgementError(f"{path}: entry {number}: 'when' is not a date (YYYY-MM-DD): {value!r}") from error


def split_acknowledged(check: str, findings: pl.DataFrame,
                       acknowledgements: list[Acknowledgement]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The findings no entry acknowledges, and the acknowledged ones with ``who``, ``when``, ``why``."""
    entries = [a for a in acknowledgements if a.check == check]
    if findings.is_empty() or not entries:
        return findings, findings.clear().with_columns(
            who=pl.lit(None, pl.String), when=pl.lit(None, pl.Date), why=pl.lit(None, pl.String))
    open_rows, acknowledged = [], []
    for index, row in enumerate(findings.iter_rows(named=True)):
        entry = next((a for a in entries if a.matches(row)), None)
        if entry is None:
            open_rows.append(index)
        else:
            acknowledged.append((index, entry))
    indexed = findings.with_row_index("_row")
    open_frame = indexed.filter(pl.col("_row").is_in(open_rows)).drop("_row")
    entries_frame = pl.DataFrame(
        {"_row": [i for i, _ in acknowledged], "who": [a.who for _, a in acknowledged],
         "when": [a.when for _, a in acknowledged], "why": [a.why for _, a in acknowledged]},
        schema={"_row": pl.UInt32, "who": pl.String, "when": pl.Date, "why": pl.String})
    acknowledged_frame = indexed.join(entries_frame, on="_row", how="inner").sort("_row").drop("_row")
    return open_frame, acknowledged_frame
