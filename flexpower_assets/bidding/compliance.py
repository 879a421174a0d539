"""The bidding compliance log: every bid event, append-only and hash-chained.

It is the portal's audit log (``flexpower_assets.portal.audit``) used for another stream of
records, so both share one implementation of the chain (SHA-256 over the previous hash and the
canonical record), of the append discipline (``O_APPEND`` and an exclusive ``flock``) and of the
verification (``verify_audit_log``). The log is its own file, ``<data_dir>/bidding/compliance.jsonl``.

A bid event maps onto the audit record's fields like this:
    who        -> user, role        (``system`` for the pipeline's own steps)
    what       -> action            ``bid.<event>`` (generated, validated, edited, approved,
                                    rejected, submitted, refused, cleared)
                  target            ``<client_id>/<delivery_day>/v<version>``
                  reason            a short free text (rule violated, exchange order id, ...)
    when       -> ts                (UTC, set by the log)
    content    -> resource          the matrix's content hash (orders.content_hash)
    outcome    -> decision          allow (the event happened as asked) or deny (refused/rejected)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flexpower_assets.portal.audit import AuditLog, Verification, verify_audit_log

EVENTS = ("generated", "validated", "edited", "approved", "rejected", "submitted", "refused", "cleared")
DENIED_EVENTS = {"rejected", "refused"}
SYSTEM = "system"


@dataclass(frozen=True)
class BidEvent:
    seq: int
    ts: str
    event: str
    client_id: str
    delivery_day: date
    version: int
    content_hash: str | None
    user: str | None
    role: str | None
    detail: str | None


def compliance_log_path(data_dir: Path) -> Path:
    return Path(data_dir) / "bidding" / "compliance.jsonl"


class ComplianceLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._log = AuditLog(self.path)

    def record(self, event: str, *, client_id: str, delivery_day: date, version: int,
               content_hash: str | None, user: str = SYSTEM, role: str | None = None,
               detail: str | None = None) -> dict[str, Any]:
        if event not in EVENTS:
            raise ValueError(f"unknown bid event {event!r}; one of {', '.join(EVENTS)}")
        return self._log.append(
            action=f"bid.{event}", target=f"{client_id}/{delivery_day.isoformat()}/v{int(version)}",
            resource=content_hash, user=user, role=role, reason=detail,
            decision="deny" if event in DENIED_EVENTS else "allow",
        )

    def events(self, client_id: str | None = None, delivery_day: date | None = None) -> list[BidEvent]:
        out = []
        for record in self._log.records():
            action = str(record.get("action", ""))
            if not action.startswith("bid."):
                continue
            client, day, version = str(record["target"]).split("/")
            event = BidEvent(seq=record["seq"], ts=record["ts"], event=action[4:], client_id=client,
                             delivery_day=date.fromisoformat(day), version=int(version[1:]),
                             content_hash=record.get("resource"), user=record.get("user"),
                             role=record.get("role"), detail=record.get("reason"))
            if (client_id is None or event.client_id == client_id) and (
                    delivery_day is None or event.delivery_day == delivery_day):
                out.append(event)
        return out

    def verify(self) -> Verification:
        return verify_audit_log(self.path)
