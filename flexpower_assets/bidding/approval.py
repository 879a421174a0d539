"""Approval of a bid matrix version by the client's mode (BIDDING.md, "Approval and submission").

Pure rules plus the HTTP client of the ``external`` mode; no Dagster, no warehouse.

- ``auto``: approved by the system when the version breaks no policy or exchange rule.
- ``maker_checker``: a person approves; the role needs ``approve`` in the portal policy
  (``bids: [...]`` of ``flexpower_assets/portal/policy.yaml``), and whoever made the version
  (edited it) can never approve it, whatever the role.
- ``external``: the client confirms through its own API (``ExternalApprovalClient``; the project
  ships a mock of such an API, ``create_client_api_app``). A "no", no answer in time, or a malformed
  answer all leave the version unapproved.

A version that breaks a rule is never approved, in any mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx
import polars as pl
from fastapi import FastAPI
from pydantic import BaseModel

AUTO, MAKER_CHECKER, EXTERNAL = "auto", "maker_checker", "external"
MODES = (AUTO, MAKER_CHECKER, EXTERNAL)
SYSTEM_USER = "system"


class ApprovalRefused(PermissionError):
    """An approval or edit that the rules do not allow; the message says which rule."""


@dataclass(frozen=True)
class Decision:
    approved: bool
    by: str
    reason: str


@dataclass(frozen=True)
class Actor:
    user: str
    role: str
    actions: frozenset[str]


def require(actor: Actor, action: str) -> None:
    if action not in actor.actions:
        raise ApprovalRefused(f"role {actor.role!r} of {actor.user} may not {action} bid matrices")


def check_manual_approval(actor: Actor, *, made_by: str, version: int, violations: list[str],
                          approval_mode: str) -> None:
    """Raise ``ApprovalRefused`` unless ``actor`` may approve this version."""
    if approval_mode != MAKER_CHECKER:
        raise ApprovalRefused(f"the client's approval mode is {approval_mode!r}: versions are not approved by hand")
    require(actor, "approve")
    if actor.user == made_by:
        raise ApprovalRefused(f"{actor.user} made version {version} and cannot also approve it (four eyes)")
    if violations:
        raise ApprovalRefused(f"version {version} breaks {len(violations)} rule(s): {violations[0]}")


def auto_decision(violations: list[str]) -> Decision:
    if violations:
        return Decision(False, SYSTEM_USER, f"breaks {len(violations)} rule(s), first: {violations[0]}")
    return Decision(True, SYSTEM_USER, "within policy")


# ------------------------------------------------------------------------- manual edits

@dataclass(frozen=True)
class Edit:
    """Set the volume (and optionally the price) of one point of one MTU's curve."""

    delivery_start: datetime
    point: int
    volume_mw: float
    price_eur_per_mwh: float | None = None


def apply_edits(matrix: pl.DataFrame, edits: Iterable[Edit]) -> pl.DataFrame:
    """The matrix with the edits applied; an edit of a point that does not exist is an error."""
    out = matrix
    for edit in edits:
        hit = (pl.col("delivery_start") == edit.delivery_start) & (pl.col("point") == edit.point)
        if out.filter(hit).height != 1:
            raise ValueError(f"the matrix has no point {edit.point} at MTU {edit.delivery_start.isoformat()}")
        out = out.with_columns(volume_mw=pl.when(hit).then(pl.lit(float(edit.volume_mw))).otherwise(pl.col("volume_mw")))
        if edit.price_eur_per_mwh is not None:
            out = out.with_columns(price_eur_per_mwh=pl.when(hit).then(pl.lit(float(edit.price_eur_per_mwh)))
                                   .otherwise(pl.col("price_eur_per_mwh")))
    return out


# ------------------------------------------------------------------------- the external mode

class ExternalApprovalClient:
    """Asks the client's own API: ``POST <url>/bid-approvals`` -> ``{"approved": bool, "reason": str}``."""

    def __init__(self, url: str, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._transport = transport

    def ask(self, *, client_id: str, delivery_day: date, version: int, content_hash: str,
            summary: dict[str, Any]) -> Decision:
        who = f"external:{client_id}"
        body = {"client_id": client_id, "delivery_day": delivery_day.isoformat(), "version": version,
                "content_hash": content_hash, "summary": summary}
        try:
            with httpx.Client(timeout=self.timeout_s, transport=self._transport) as http:
                response = http.post(f"{self.url}/bid-approvals", json=body)
        except httpx.HTTPError as exc:
            return Decision(False, who, f"no answer from {self.url}: {type(exc).__name__}: {exc}")
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200 or not isinstance(payload, dict) or not isinstance(payload.get("approved"), bool):
            return Decision(False, who, f"unusable answer from {self.url}: HTTP {response.status_code} {response.text[:200]}")
        if payload.get("content_hash") not in (None, content_hash):
            return Decision(False, who, "the client confirmed another matrix (content hash differs)")
        return Decision(payload["approved"], who, str(payload.get("reason") or ("confirmed" if payload["approved"] else "declined")))


class ApprovalRequest(BaseModel):
    client_id: str
    delivery_day: date
    version: int
    content_hash: str
    summary: dict[str, Any] = {}


def create_client_api_app(decide: Callable[[ApprovalRequest], tuple[bool, str]] | None = None) -> FastAPI:
    """A local mock of a client's own confirmation API; ``decide`` says yes or no (default: yes).
    Every request it received is kept in ``app.state.requests``."""
    decide = decide or (lambda request: (True, "confirmed by the client's desk"))
    app = FastAPI(title="Client confirmation API (mock)")
    app.state.requests = []

    @app.post("/bid-approvals")
    def confirm(request: ApprovalRequest) -> dict[str, Any]:
        app.state.requests.append(request)
        approved, reason = decide(request)
        return {"approved": approved, "reason": reason, "content_hash": request.content_hash}

    return app
