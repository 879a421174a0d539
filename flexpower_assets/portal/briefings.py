"""The portal's trader-briefing pages, registered on the app by ``create_app``.

- ``GET /briefings``                                   the briefings you may read (HTML)
- ``GET /briefings/{day}/{client_id}``                 one briefing (HTML, served only when its hash
                                                       matches the warehouse's document index)
- ``GET /api/briefings``                               the same list as JSON
- ``GET /api/briefings/{day}/{client_id}/figures``     the numbers the briefing's text is made of

Who may read them is ``briefings: true`` of a role in policy.yaml, applied by ``Gate``.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from flexpower_assets.portal.policy import Gate, Principal


def register_briefing_routes(app: FastAPI, principal, gate: Gate, templates) -> None:
    @app.get("/briefings", tags=["briefings"], response_class=HTMLResponse, summary="Trader briefings you may read")
    def briefings_page(request: Request, who: Principal = Depends(principal)):
        request.state.resource = "briefings"
        return templates.TemplateResponse(request, "briefings.html", {"who": who, "briefings": gate.briefings(who)})

    @app.get("/briefings/{day}/{client_id}", tags=["briefings"], response_class=Response,
             summary="One trader briefing (HTML)")
    def briefing(request: Request, day: str, client_id: str, who: Principal = Depends(principal)):
        request.state.resource = f"briefing:{day}/{client_id}"
        return Response(gate.briefing_file(who, day, client_id).content, media_type="text/html; charset=utf-8")

    @app.get("/api/briefings", tags=["briefings"], summary="Trader briefings you may read")
    def briefings(request: Request, who: Principal = Depends(principal)):
        request.state.resource = "briefings"
        return [{"delivery_day": day, "client_id": client, "url": f"/briefings/{day}/{client}",
                 "figures": f"/api/briefings/{day}/{client}/figures"} for day, client in gate.briefings(who)]

    @app.get("/api/briefings/{day}/{client_id}/figures", tags=["briefings"], summary="The figures of one briefing")
    def figures(request: Request, day: str, client_id: str, who: Principal = Depends(principal)):
        request.state.resource = f"briefing-figures:{day}/{client_id}"
        return gate.briefing_figures(who, day, client_id).to_dicts()
