"""The bid desk: what happens to a client's matrix after it is built, the same from the pipeline,
the command line and the portal. No Dagster here.

generate -> (validated) -> approve by the client's mode -> submit; an edit makes a new version
that needs approval again. Every step is written to the compliance log and, where it changes
state, to the warehouse (``store.BidStore``). Alerts go to ``alert(subject, body, severity)``
(the pipeline passes its notifier resource).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from flexpower_assets.bidding import approval as rules
from flexpower_assets.bidding.compliance import SYSTEM, ComplianceLog
from flexpower_assets.bidding.orders import gate_closure, idempotency_key
from flexpower_assets.bidding.store import BidStore, MatrixVersion
from flexpower_assets.bidding.submission import ACCEPTED, DUPLICATE, REFUSED, ExchangeClient, SubmissionOutcome

Alert = Callable[[str, str, str], None]
Validate = Callable[[pl.DataFrame], list[str]]


def _no_alert(subject: str, body: str, severity: str) -> None:
    return None


@dataclass
class BidDesk:
    store: BidStore
    log: ComplianceLog
    validate: Validate                     # the matrix's rule violations (empty = valid)
    alert: Alert = _no_alert
    external_approvers: dict[str, rules.ExternalApprovalClient] = field(default_factory=dict)

    # ---------------------------------------------------------------- generation

    def register_generated(self, client_id: str, day: date, matrix: pl.DataFrame,
                           config_hash: str | None = None) -> tuple[MatrixVersion, bool]:
        """Store a freshly built matrix (a new version only when its content is new) and log it."""
        violations = self.validate(matrix)
        version, is_new = self.store.save_version(client_id, day, matrix, origin="generated", made_by=SYSTEM,
                                                  violations=violations, config_hash=config_hash)
        if is_new:
            self.log.record("generated", client_id=client_id, delivery_day=day, version=version.version,
                            content_hash=version.content_hash, detail=f"config {config_hash}")
            self._log_validation(version)
        return version, is_new

    def _log_validation(self, version: MatrixVersion, user: str = SYSTEM) -> None:
        detail = "valid" if not version.violations else (
            f"{len(version.violations)} violation(s): " + "; ".join(version.violations[:5]))
        self.log.record("validated", client_id=version.client_id, delivery_day=version.delivery_day,
                        version=version.version, content_hash=version.content_hash, user=user, detail=detail)

    # ---------------------------------------------------------------- approval

    def approve_by_mode(self, client_id: str, day: date, mode: str, version: MatrixVersion | None = None) -> str:
        """Approve the latest version where the mode allows it without a person.
        Returns approved, rejected, pending (waits for a checker) or already (decided before)."""
        version = version or self.store.version(client_id, day)
        if version.approval is not None:
            return "already"
        if mode == rules.AUTO:
            decision = rules.auto_decision(version.violations)
        elif mode == rules.EXTERNAL:
            if version.violations:
                decision = rules.auto_decision(version.violations)
            elif client_id not in self.external_approvers:
                decision = rules.Decision(False, f"external:{client_id}", "no confirmation API configured")
            else:
                summary = _summary(self.store.matrix(client_id, day, version.version))
                decision = self.external_approvers[client_id].ask(
                    client_id=client_id, delivery_day=day, version=version.version,
                    content_hash=version.content_hash, summary=summary)
        elif mode == rules.MAKER_CHECKER:
            return "pending"
        else:
            raise ValueError(f"unknown approval mode {mode!r}")
        self._decide(version, decision.approved, decision.by, None, decision.reason)
        if not decision.approved:
            self.alert(f"bid matrix of {client_id} for {day} not approved",
                       f"version {version.version} ({mode}): {decision.reason}", "warning")
        return "approved" if decision.approved else "rejected"

    def approve(self, client_id: str, day: date, version_no: int, actor: rules.Actor, mode: str) -> MatrixVersion:
        """A person's approval (maker-checker); ``ApprovalRefused`` says which rule forbids it."""
        version = self.store.version(client_id, day, version_no)
        try:
            rules.check_manual_approval(actor, made_by=version.made_by, version=version.version,
                                        violations=version.violations, approval_mode=mode)
            if version.approval is not None:
                raise rules.ApprovalRefused(f"version {version.version} is already {version.approval}")
        except rules.ApprovalRefused as refused:
            self.log.record("rejected", client_id=client_id, delivery_day=day, version=version.version,
                            content_hash=version.content_hash, user=actor.user, role=actor.role,
                            detail=f"approval refused: {refused}")
            raise
        self._decide(version, True, actor.user, actor.role, "approved by the checker")
        return self.store.version(client_id, day, version_no)

    def reject(self, client_id: str, day: date, version_no: int, actor: rules.Actor, reason: str) -> None:
        rules.require(actor, "approve")
        version = self.store.version(client_id, day, version_no)
        self._decide(version, False, actor.user, actor.role, reason)

    def _decide(self, version: MatrixVersion, approved: bool, by: str, role: str | None, reason: str) -> None:
        self.store.record_approval(version.client_id, version.delivery_day, version.version, approved=approved,
                                   by=by, role=role, reason=reason)
        self.log.record("approved" if approved else "rejected", client_id=version.client_id,
                        delivery_day=version.delivery_day, version=version.version,
                        content_hash=version.content_hash, user=by, role=role, detail=reason)

    # ---------------------------------------------------------------- edits

    def edit(self, client_id: str, day: date, edits: list[rules.Edit], actor: rules.Actor,
             base_version: int | None = None) -> MatrixVersion:
        """A manual edit: a new version made by ``actor`` (who then cannot approve it)."""
        rules.require(actor, "edit")
        base = self.store.version(client_id, day, base_version)
        edited = rules.apply_edits(self.store.matrix(client_id, day, base.version), edits)
        violations = self.validate(edited)
        version, is_new = self.store.save_version(client_id, day, edited, origin="edited", made_by=actor.user,
                                                  violations=violations, config_hash=base.config_hash,
                                                  based_on=base.version)
        if not is_new:
            raise rules.ApprovalRefused(f"the edit changes nothing: it equals version {version.version}")
        self.log.record("edited", client_id=client_id, delivery_day=day, version=version.version,
                        content_hash=version.content_hash, user=actor.user, role=actor.role,
                        detail=f"from version {base.version}: " + "; ".join(
                            f"{e.delivery_start.isoformat()} point {e.point} -> {e.volume_mw} MW"
                            + ("" if e.price_eur_per_mwh is None else f" at {e.price_eur_per_mwh} EUR/MWh")
                            for e in edits))
        self._log_validation(version, actor.user)
        return version

    # ---------------------------------------------------------------- submission

    def submit(self, client_id: str, day: date, exchange: ExchangeClient, *, now: datetime,
               timezone_name: str = "Europe/Berlin", gate_closure_local: str = "12:00",
               user: str = SYSTEM) -> dict[str, Any]:
        """Submit the newest approved version. Nothing is sent when it is already the live order
        (re-running a day submits nothing twice), or when no version is approved. After gate
        closure the attempt is refused here, recorded and alerted (the exchange would refuse too)."""
        approved = [v for v in self.store.versions(client_id, day) if v.approval == "approved"]
        if not approved:
            return {"status": "not_approved", "version": None}
        version = approved[-1]
        live = self.store.live_submission(client_id, day)
        if live is not None and live["content_hash"] == version.content_hash:
            return {"status": "already_submitted", "version": version.version,
                    "exchange_order_id": live["exchange_order_id"]}
        closes = gate_closure(day, timezone_name, gate_closure_local)
        if now >= closes:
            outcome = SubmissionOutcome(
                status=REFUSED, client_id=client_id, delivery_day=day, content_hash=version.content_hash,
                idempotency_key="", submitted_at=now, message=f"gate closure was {closes.isoformat()}")
        else:
            outcome = exchange.submit(client_id, day, self.store.matrix(client_id, day, version.version), now)
        self._record_outcome(version, outcome, user)
        return {"status": outcome.status, "version": version.version, "exchange_order_id": outcome.exchange_order_id,
                "exchange_version": outcome.version, "message": outcome.message}

    def _record_outcome(self, version: MatrixVersion, outcome: SubmissionOutcome, user: str) -> None:
        key = outcome.idempotency_key or idempotency_key(version.client_id, version.delivery_day, version.content_hash)
        status = ACCEPTED if outcome.status == DUPLICATE else outcome.status
        self.store.record_submission(
            client_id=version.client_id, day=version.delivery_day, version=version.version,
            content_hash=version.content_hash, idempotency_key=key, status=status,
            approved_by=version.approved_by, submitted_at=outcome.submitted_at,
            exchange_order_id=outcome.exchange_order_id, exchange_version=outcome.version, message=outcome.message)
        where = dict(client_id=version.client_id, delivery_day=version.delivery_day, version=version.version,
                     content_hash=version.content_hash, user=user)
        if outcome.is_live:
            self.log.record("submitted", **where, detail=f"exchange order {outcome.exchange_order_id} "
                                                          f"version {outcome.version} ({outcome.status})")
        else:
            self.log.record("refused", **where, detail=f"{outcome.status}: {outcome.message}")
            self.alert(f"bid matrix of {version.client_id} for {version.delivery_day} NOT submitted",
                       f"version {version.version}: {outcome.status}: {outcome.message}", "error")

    def record_cleared(self, client_id: str, day: date, results: dict[str, Any]) -> None:
        version = next((v for v in self.store.versions(client_id, day) if v.content_hash == results["content_hash"]), None)
        self.log.record("cleared", client_id=client_id, delivery_day=day,
                        version=version.version if version else 0, content_hash=results["content_hash"],
                        detail=f"accepted {results['accepted_mwh']:.3f} MWh, revenue {results['revenue_eur']:.2f} EUR")


def _summary(matrix: pl.DataFrame) -> dict[str, Any]:
    """What the client's desk sees when asked to confirm: MTUs, points and the volume range."""
    return {"mtus": matrix["delivery_start"].n_unique(), "points": matrix.height,
            "max_volume_mw": float(matrix["volume_mw"].max() or 0.0),
            "min_volume_mw": float(matrix["volume_mw"].min() or 0.0)}
