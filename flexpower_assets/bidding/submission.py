"""Submitting a bid matrix to the exchange over HTTP (httpx), within the submit stage's time limit.

``ExchangeClient`` speaks the order interface of ``exchange_mock`` (the URL is a setting; an
adapter with the same three methods can talk to a real exchange). Because every order carries
its idempotency key (client, delivery day, content hash), a request whose answer was lost can be
sent again safely: the client retries transport errors until the stage deadline, and the
exchange answers the repeat with the order it already holds.
"""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import httpx
import polars as pl

from flexpower_assets.bidding.orders import content_hash, idempotency_key, order_rows

# outcome.status: accepted (a new version), duplicate (the same matrix was already the active
# order: nothing changed), refused (after gate closure), invalid (the exchange rejected the
# content), error (no answer within the time limit)
ACCEPTED, DUPLICATE, REFUSED, INVALID, ERROR = "accepted", "duplicate", "refused", "invalid", "error"


@dataclass(frozen=True)
class SubmissionOutcome:
    status: str
    client_id: str
    delivery_day: date
    content_hash: str
    idempotency_key: str
    submitted_at: datetime
    version: int | None = None
    exchange_order_id: str | None = None
    message: str | None = None

    @property
    def is_live(self) -> bool:
        """The exchange holds this matrix as the client's active order."""
        return self.status in (ACCEPTED, DUPLICATE)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every request (httpx would build one, loading the CA bundle,
    for every client: tens of ms each, once per client and submission)."""
    return httpx.create_ssl_context()


class ExchangeClient:
    def __init__(self, base_url: str, timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)
        self._transport = transport

    def _client(self, timeout_s: float) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(timeout_s), transport=self._transport,
                            verify=_tls_context())

    def submit(self, client_id: str, delivery_day: date, matrix: pl.DataFrame,
               submitted_at: datetime | None = None) -> SubmissionOutcome:
        """Send the matrix; never raises for the exchange's or the network's answer (see ``status``).
        ``submitted_at`` is the platform's clock (the ``FLEXPOWER_NOW`` setting when it is set)."""
        rows = order_rows(matrix)
        matrix_hash = content_hash(rows)
        key = idempotency_key(client_id, delivery_day, matrix_hash)
        body = {"client_id": client_id, "delivery_day": delivery_day.isoformat(), "content_hash": matrix_hash,
                "rows": rows}
        submitted_at = submitted_at or datetime.now(timezone.utc)
        base = {"client_id": client_id, "delivery_day": delivery_day, "content_hash": matrix_hash,
                "idempotency_key": key, "submitted_at": submitted_at}
        deadline = time.monotonic() + self.timeout_s
        last_error = "not sent"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return SubmissionOutcome(status=ERROR, message=f"no answer within {self.timeout_s:g} s: {last_error}",
                                         **base)
            try:
                with self._client(remaining) as http:
                    response = http.post("/orders", json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError as exc:  # connection refused, reset, timeout: safe to repeat
                last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
                continue
            return _outcome(response, base)

    def orders(self, client_id: str, delivery_day: date) -> dict[str, Any]:
        with self._client(self.timeout_s) as http:
            response = http.get("/orders", params={"client_id": client_id, "delivery_day": delivery_day.isoformat()})
            response.raise_for_status()
            return response.json()

    def results(self, client_id: str, delivery_day: date) -> dict[str, Any] | None:
        """The cleared active order, or None while the auction's results are not published."""
        with self._client(self.timeout_s) as http:
            response = http.get(f"/results/{client_id}/{delivery_day.isoformat()}")
            if response.status_code == 404:
                return None
            response.raise_for_status()
            return response.json()


def _outcome(response: httpx.Response, base: dict[str, Any]) -> SubmissionOutcome:
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if response.status_code in (200, 201):
        return SubmissionOutcome(status=DUPLICATE if payload.get("result") == "duplicate" else ACCEPTED,
                                 version=payload.get("version"), exchange_order_id=payload.get("order_id"), **base)
    if response.status_code == 409:
        return SubmissionOutcome(status=REFUSED, message=payload.get("reason") or response.text, **base)
    if response.status_code == 422:
        detail = payload.get("detail", response.text)
        return SubmissionOutcome(status=INVALID, message=str(detail), **base)
    return SubmissionOutcome(status=ERROR, message=f"HTTP {response.status_code}: {response.text[:500]}", **base)
