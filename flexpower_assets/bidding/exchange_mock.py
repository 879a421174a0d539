"""The mock day-ahead exchange this project ships: a small FastAPI service.

It stands in for the exchange's order interface (the submission client talks to it over HTTP;
its URL is the ``FLEXPOWER_EXCHANGE_URL`` setting, so an adapter for a real exchange can take
its place). Endpoints:

- ``POST /orders`` with header ``Idempotency-Key: <client>:<day>:<content hash>`` and body
  ``{client_id, delivery_day, content_hash, rows: [...]}``. The exchange recomputes the content
  hash and the key. The same key as the client's active order for the day is a no-op (200,
  ``duplicate``); another matrix before gate closure becomes version n+1 and supersedes the
  active one (201, ``accepted``); after gate closure nothing is accepted (409, ``refused``) and
  the attempt is kept in the day's list.
- ``GET /orders?client_id=&delivery_day=`` every version and every refused attempt.
- ``GET /results/{client_id}/{delivery_day}`` the active order cleared at the day-ahead prices
  (404 until the auction's prices are known).

State is kept in memory and, when ``state_path`` is given, in a JSON file rewritten atomically
after every change (a restarted exchange still knows its orders). ``ExchangeServer`` runs the
app with uvicorn in a thread on a free port: the demo and the tests start it that way.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
import uvicorn
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from flexpower_assets.bidding.clearing import clear
from flexpower_assets.bidding.orders import content_hash, gate_closure, idempotency_key, order_problems, order_rows
from flexpower_assets.ports import free_port

PriceSource = Callable[[date], pl.DataFrame | None]
Clock = Callable[[], datetime]


class OrderRow(BaseModel):
    delivery_start: str
    point: int = Field(ge=1)
    price_eur_per_mwh: float
    volume_mw: float


class OrderIn(BaseModel):
    client_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    delivery_day: date
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    rows: list[OrderRow]


def prices_from_landing(landing_dir: Path) -> PriceSource:
    """The auction's prices from ``market/day_ahead_prices_<YYYYMMDD>.csv`` of a landing zone."""

    def read(day: date) -> pl.DataFrame | None:
        path = Path(landing_dir) / "market" / f"day_ahead_prices_{day:%Y%m%d}.csv"
        if not path.exists():
            return None
        frame = pl.read_csv(path, schema_overrides={"delivery_start": pl.String, "price_eur_per_mwh": pl.Float64})
        return frame.with_columns(pl.col("delivery_start").str.to_datetime(time_zone="UTC"))

    return read


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ExchangeState:
    """Orders per client and delivery day, refused attempts, and their persistence."""

    def __init__(self, state_path: Path | None = None) -> None:
        self.state_path = Path(state_path) if state_path else None
        self.lock = threading.Lock()
        self.orders: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        if self.state_path and self.state_path.exists():
            saved = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.orders, self.refused = saved["orders"], saved["refused"]

    def save(self) -> None:
        if not self.state_path:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"orders": self.orders, "refused": self.refused}), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def of(self, client_id: str, day: date) -> list[dict[str, Any]]:
        return [o for o in self.orders if o["client_id"] == client_id and o["delivery_day"] == day.isoformat()]


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if k != "rows"}


def create_exchange_app(price_source: PriceSource, *, now: Clock = _utc_now, timezone_name: str = "Europe/Berlin",
                        gate_closure_local: str = "12:00", state_path: Path | None = None) -> FastAPI:
    state = ExchangeState(state_path)
    app = FastAPI(title="Mock day-ahead exchange", version="1")
    app.state.exchange = state

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/orders")
    def submit(order: OrderIn, idempotency_key_header: str = Header(alias="Idempotency-Key")):
        rows = order_rows([row.model_dump() for row in order.rows])
        actual_hash = content_hash(rows)
        if actual_hash != order.content_hash:
            raise HTTPException(422, f"content_hash {order.content_hash} does not match the rows ({actual_hash})")
        expected_key = idempotency_key(order.client_id, order.delivery_day, actual_hash)
        if idempotency_key_header != expected_key:
            raise HTTPException(422, f"Idempotency-Key must be {expected_key}")
        problems = order_problems(rows)
        if problems:
            raise HTTPException(422, "; ".join(problems[:10]))
        received = now()
        closes = gate_closure(order.delivery_day, timezone_name, gate_closure_local)
        with state.lock:
            if received >= closes:
                attempt = {"client_id": order.client_id, "delivery_day": order.delivery_day.isoformat(),
                           "content_hash": actual_hash, "idempotency_key": expected_key,
                           "received_at": received.isoformat(), "status": "refused",
                           "reason": f"gate closure was {closes.isoformat()}"}
                state.refused.append(attempt)
                state.save()
                return JSONResponse(attempt, status_code=409)
            existing = state.of(order.client_id, order.delivery_day)
            active = next((o for o in existing if o["status"] == "active"), None)
            if active is not None and active["idempotency_key"] == expected_key:
                return JSONResponse({**_public(active), "result": "duplicate"}, status_code=200)
            if active is not None:
                active["status"] = "superseded"
                active["superseded_at"] = received.isoformat()
            new = {"order_id": f"EX-{uuid.uuid4().hex[:12]}", "client_id": order.client_id,
                   "delivery_day": order.delivery_day.isoformat(), "version": len(existing) + 1,
                   "content_hash": actual_hash, "idempotency_key": expected_key, "status": "active",
                   "received_at": received.isoformat(), "superseded_at": None,
                   "supersedes": active["order_id"] if active else None, "rows": rows}
            state.orders.append(new)
            state.save()
        return JSONResponse({**_public(new), "result": "accepted"}, status_code=201)

    @app.get("/orders")
    def list_orders(client_id: str | None = None, delivery_day: date | None = None):
        def wanted(o: dict[str, Any]) -> bool:
            return ((client_id is None or o["client_id"] == client_id)
                    and (delivery_day is None or o["delivery_day"] == delivery_day.isoformat()))
        with state.lock:
            return {"orders": [_public(o) for o in state.orders if wanted(o)],
                    "refused": [dict(a) for a in state.refused if wanted(a)]}

    @app.get("/results/{client_id}/{delivery_day}")
    def results(client_id: str, delivery_day: date):
        with state.lock:
            active = next((o for o in state.of(client_id, delivery_day) if o["status"] == "active"), None)
        if active is None:
            raise HTTPException(404, f"no active order of {client_id} for {delivery_day}")
        prices = price_source(delivery_day)
        if prices is None or prices.is_empty():
            raise HTTPException(404, f"the auction results for {delivery_day} are not published yet")
        matrix = pl.DataFrame(active["rows"]).with_columns(pl.col("delivery_start").str.to_datetime(time_zone="UTC"))
        try:
            cleared = clear(matrix, prices)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        mtus = cleared.with_columns(pl.col("delivery_start").dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_dicts()
        return {"order_id": active["order_id"], "version": active["version"], "client_id": client_id,
                "delivery_day": delivery_day.isoformat(), "content_hash": active["content_hash"],
                "accepted_mwh": round(sum(m["accepted_mw"] for m in mtus) * 0.25, 6),
                "revenue_eur": round(sum(m["revenue_eur"] for m in mtus), 6), "mtus": mtus}

    return app


class LocalServer:
    """Serve an ASGI app with uvicorn in a daemon thread on 127.0.0.1 and a free port."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the local server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ExchangeServer(LocalServer):
    """The mock exchange on a free port: ``with ExchangeServer(prices) as ex: ex.url``."""

    def __init__(self, price_source: PriceSource, *, now: Clock = _utc_now, state_path: Path | None = None,
                 timezone_name: str = "Europe/Berlin", gate_closure_local: str = "12:00",
                 port: int | None = None) -> None:
        self.app = create_exchange_app(price_source, now=now, state_path=state_path, timezone_name=timezone_name,
                                       gate_closure_local=gate_closure_local)
        super().__init__(self.app, port)
