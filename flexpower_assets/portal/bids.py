"""The portal's bid endpoints (maker-checker in the browser or over the API), registered on the
app by ``create_app`` through ``register_bid_routes``; kept apart from the read-only endpoints.

- ``GET  /api/bids/{day}``                                    clients, versions, approvals, submissions (view)
- ``GET  /api/bids/{day}/{client_id}/versions/{version}``     one version's points (view)
- ``POST /api/bids/{day}/{client_id}/edits``                  a manual edit: a new version (edit)
- ``POST /api/bids/{day}/{client_id}/versions/{version}/approve``  approval by a checker (approve)

What a role may do is ``bids`` in policy.yaml narrowed by the bidding configuration's
``approval_roles`` (``bidding.actors``); the four-eyes rule is ``bidding.approval``'s. Every
request is in the portal's audit log (its middleware); every bid event in the compliance log.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from flexpower_assets.portal.policy import Principal


class EditIn(BaseModel):
    delivery_start: datetime
    point: int = Field(ge=1)
    volume_mw: float
    price_eur_per_mwh: float | None = None


class EditsIn(BaseModel):
    base_version: int | None = Field(None, ge=1)
    edits: list[EditIn] = Field(min_length=1, max_length=2000)


def register_bid_routes(  # noqa: C901 (the routes are closures of the factory; each route is small)
        app: FastAPI, principal, warehouse_path: Path, data_dir: Path, bidding_config: Path | None = None) -> None:
    """Add the bid endpoints; ``principal`` is the app's authentication dependency."""
    config_path = Path(bidding_config) if bidding_config else Path(data_dir) / "bidding" / "bidding.yaml"

    def _context(who: Principal, action: str, day: date, client_id: str | None = None):
        from flexpower_assets.bidding.actors import actor_for
        from flexpower_assets.bidding.commands import _validator
        from flexpower_assets.bidding.config import BiddingConfigError, load_bidding_config
        from flexpower_assets.settings import Settings
        from resources.bidding import BiddingResource
        from resources.warehouse import Warehouse

        try:
            config = load_bidding_config(config_path)
        except BiddingConfigError as error:
            raise HTTPException(503, f"bidding configuration unusable: {error}") from None
        actor = actor_for(who, app.state.gate.policy, config)
        if action not in actor.actions:
            raise HTTPException(403, f"role {who.role!r} may not {action} bid matrices")
        if client_id is not None and client_id not in {c.id for c in config.clients}:
            raise HTTPException(404, "no such client")
        settings = Settings(landing_dir=Path(data_dir) / "landing", warehouse_path=Path(warehouse_path),
                            data_dir=Path(data_dir), bidding_config_path=config_path)
        resource = BiddingResource(config_path=str(config_path), data_dir=str(data_dir))
        validate = _validator(config, day, client_id, settings) if client_id else (lambda m: [])
        return config, actor, resource.desk(Warehouse(Path(warehouse_path)), config, validate, alert=lambda *a: None)

    def _version(v) -> dict[str, Any]:
        return {"version": v.version, "content_hash": v.content_hash, "origin": v.origin, "made_by": v.made_by,
                "based_on": v.based_on, "violations": v.violations, "approval": v.approval,
                "approved_by": v.approved_by}

    @app.get("/api/bids/{day}", tags=["bids"], summary="Bid matrices of a delivery day per client")
    async def bids_of_day(day: date, who: Principal = Depends(principal)):
        def work():
            config, _actor, desk = _context(who, "view", day)
            out = []
            for client in config.clients:
                live = desk.store.live_submission(client.id, day)
                out.append({"client_id": client.id, "approval_mode": client.approval,
                            "versions": [_version(v) for v in desk.store.versions(client.id, day)],
                            "submitted_version": live["version"] if live else None,
                            "exchange_order_id": live["exchange_order_id"] if live else None})
            return {"delivery_day": day.isoformat(), "clients": out}
        return await run_in_threadpool(work)

    @app.get("/api/bids/{day}/{client_id}/versions/{version}", tags=["bids"], summary="One version's points")
    async def bid_version(day: date, client_id: str, version: int, who: Principal = Depends(principal)):
        def work():
            _config, _actor, desk = _context(who, "view", day, client_id)
            try:
                chosen = desk.store.version(client_id, day, version)
            except LookupError:
                raise HTTPException(404, "no such version") from None
            rows = desk.store.matrix(client_id, day, version)
            return {**_version(chosen), "points": [
                {"delivery_start": r[0].strftime("%Y-%m-%dT%H:%M:%SZ"), "point": r[1], "price_eur_per_mwh": r[2],
                 "volume_mw": r[3]} for r in rows.iter_rows()]}
        return await run_in_threadpool(work)

    @app.post("/api/bids/{day}/{client_id}/edits", tags=["bids"], status_code=201,
              summary="Edit points by hand: a new version that another person must approve")
    async def bid_edit(day: date, client_id: str, body: EditsIn, who: Principal = Depends(principal)):
        from flexpower_assets.bidding.approval import ApprovalRefused, Edit

        def work():
            _config, actor, desk = _context(who, "edit", day, client_id)
            edits = [Edit(e.delivery_start, e.point, e.volume_mw, e.price_eur_per_mwh) for e in body.edits]
            try:
                return _version(desk.edit(client_id, day, edits, actor, base_version=body.base_version))
            except LookupError:
                raise HTTPException(404, "no such version") from None
            except (ApprovalRefused, ValueError) as error:
                raise HTTPException(409, str(error)) from None
        return await run_in_threadpool(work)

    @app.post("/api/bids/{day}/{client_id}/versions/{version}/approve", tags=["bids"],
              summary="Approve a version (never one you made)")
    async def bid_approve(day: date, client_id: str, version: int, who: Principal = Depends(principal)):
        from flexpower_assets.bidding.approval import ApprovalRefused

        def work():
            config, actor, desk = _context(who, "approve", day, client_id)
            try:
                return _version(desk.approve(client_id, day, version, actor, config.client(client_id).approval))
            except LookupError:
                raise HTTPException(404, "no such version") from None
            except ApprovalRefused as error:
                raise HTTPException(403, str(error)) from None
        return await run_in_threadpool(work)
