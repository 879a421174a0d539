"""The read-only portal: FastAPI application factory.

Endpoints are thin: authenticate (bearer token or session cookie), name the resource for the audit
log, call one ``Gate`` method (``policy.py``: the only code that reads the warehouse or serves a
file), and format the answer (JSON by default, CSV with ``?format=csv`` or ``Accept: text/csv``).
A middleware appends one audit record per request, whatever its outcome.

The portal never writes to the warehouse. Its reads take the warehouse's shared lock: while the
pipeline holds the write lock, a request waits (up to ``lock_timeout_s``, then 503 with
``Retry-After``) and is answered as soon as the write ends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import polars as pl
from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from flexpower_assets.domain.time import BERLIN
from flexpower_assets.portal.audit import AuditLog
from flexpower_assets.portal.bids import register_bid_routes
from flexpower_assets.portal.briefings import register_briefing_routes
from flexpower_assets.portal.policy import (
    DEFAULT_POLICY,
    MAX_ROWS,
    MONTH,
    NAME,
    BadRequest,
    Denied,
    DocumentMismatch,
    Gate,
    NotFound,
    Period,
    Policy,
    Principal,
)
from flexpower_assets.portal.throttle import LoginThrottle
from flexpower_assets.portal.tokens import SESSION_HOURS, TokenStore
from flexpower_assets.portal.views import Filters, finance_index, invoice_view, position_view
from flexpower_assets.reports.html import PLOTLY_BUNDLE
from resources.warehouse import Warehouse, WarehouseBusy, WarehouseDamaged

TEMPLATES_DIR = Path(__file__).with_name("templates")
SESSION_COOKIE = "flexpower_session"
MAX_AUDIT_TEXT = 1000
BEARER = HTTPBearer(auto_error=False, description="A personal token from `flexpower token create`.")

DESCRIPTION = """Read-only access to the RouteToMarket data contract, invoices and performance reports.

Authenticate with a personal token (`Authorization: Bearer <token>`; created with
`flexpower token create`) or log in once in a browser at `/login` (session cookie).
Every answer is filtered by the access policy (`flexpower_assets/portal/policy.yaml`), and every
request is written to the audit log. Data endpoints answer JSON, or CSV with `?format=csv` or
`Accept: text/csv`; `from`/`to` (YYYY-MM-DD, inclusive) filter by delivery day (invoices: by month).
"""


class NotAuthenticated(Exception):
    """No valid token or session (HTTP 401)."""


def create_app(  # noqa: C901 (the routes are closures of the factory; each route is small)
        warehouse_path: Path, documents_dir: Path, state_dir: Path | None = None, *,
        data_dir: Path | None = None, policy_path: Path = DEFAULT_POLICY, lock_timeout_s: float = 60.0,
        secure_cookies: bool = False, audit_key_path: Path | None = None,
        login_throttle: LoginThrottle | None = None, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The portal over one warehouse file and the documents folder built from it
    (``Settings.documents_root``); tokens, sessions and the audit log under ``state_dir``
    (default ``<data_dir>/portal``); ``data_dir`` holds the bidding configuration (default: the
    folder above ``state_dir``, or ``documents_dir`` when neither is given).
    ``secure_cookies`` for deployments behind HTTPS (the session cookie gets ``Secure``, and a
    POST must come from an ``https://`` page of this host); ``audit_key_path`` signs the audit
    log's head (default ``<state_dir>/audit.key``). ``clock`` is the platform clock
    (``Settings.current_time``): the open-position page shows its today and tomorrow."""
    if data_dir is None:
        data_dir = Path(state_dir).parent if state_dir is not None else Path(documents_dir)
    state_dir = Path(state_dir) if state_dir is not None else Path(data_dir) / "portal"
    throttle = login_throttle or LoginThrottle()
    gate = Gate(Policy.load(policy_path), Warehouse(Path(warehouse_path), timeout_s=lock_timeout_s),
                Path(documents_dir))
    tokens = TokenStore(state_dir)
    audit = AuditLog(state_dir / "audit.jsonl", audit_key_path)
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

    app = FastAPI(title="RouteToMarket portal", version="1", description=DESCRIPTION)
    app.state.gate, app.state.tokens, app.state.audit = gate, tokens, audit

    # -- every request: audit record and safe headers ------------------------------------------

    @app.middleware("http")
    async def audit_every_request(request: Request, call_next):
        request.state.resource = None
        request.state.reason = None
        # who is asking is known before routing, so even a request for a path that does not exist
        # is recorded with its user; endpoints refuse anonymous callers through ``principal``
        request.state.who = await run_in_threadpool(identify, request)
        if request.method == "POST" and not _bearer(request) and not _same_origin(request, secure_cookies):
            # a form posted from another site (CSRF): refused before any endpoint runs. A request
            # carrying its own bearer token is exempt: no browser adds that header by itself
            request.state.reason = "cross-site or unverifiable origin"
            response = JSONResponse({"detail": "Cross-site request refused: POST only from this portal's own "
                                               "pages (the Origin or Referer header must name this host)."},
                                    status_code=403)
            await run_in_threadpool(_audit, request, 403, "deny")
            return response
        try:
            response = await call_next(request)
        except Exception as exc:
            await run_in_threadpool(_audit, request, 500, "error", type(exc).__name__)
            raise
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # same-origin, not no-referrer: with no-referrer a browser posts forms with "Origin: null", which
        # the CSRF check cannot tell from a foreign page; no other site ever gets a referrer
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cache-Control", "no-store")
        if response.status_code == 404 and request.state.resource is None:
            request.state.reason = "no such path"
        # a request that cannot be audited is not answered (the append raises, the client gets 500)
        await run_in_threadpool(_audit, request, response.status_code,
                                "allow" if response.status_code < 400 else "deny")
        return response

    def _audit(request: Request, status: int, decision: str, reason: str | None = None) -> None:
        who: Principal | None = getattr(request.state, "who", None)
        audit.append(
            action=request.method,
            target=request.url.path[:MAX_AUDIT_TEXT],
            query=request.url.query[:MAX_AUDIT_TEXT],
            user=who.user if who else None,
            role=who.role if who else None,
            contract_id=who.contract_id if who else None,
            resource=getattr(request.state, "resource", None),
            decision=decision,
            status=status,
            reason=reason or getattr(request.state, "reason", None),
            client=request.client.host if request.client else None,
        )

    # -- outcomes -------------------------------------------------------------------------------

    def _is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(NotAuthenticated)
    async def _unauthenticated(request: Request, exc: NotAuthenticated):
        request.state.reason = request.state.reason or "not authenticated"
        if _is_api(request):
            return JSONResponse({"detail": "Not authenticated"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return templates.TemplateResponse(request, "login.html", {"error": None}, status_code=401)

    @app.exception_handler(Denied)
    async def _denied(request: Request, exc: Denied):
        request.state.reason = str(exc)
        return JSONResponse({"detail": "Forbidden"}, status_code=403)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        # the same body as FastAPI's own 404 for an unknown path: nothing tells the cases apart
        request.state.reason = "not found or not visible"
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    @app.exception_handler(BadRequest)
    async def _bad_request(request: Request, exc: BadRequest):
        request.state.reason = str(exc)
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(DocumentMismatch)
    async def _mismatch(request: Request, exc: DocumentMismatch):
        request.state.reason = str(exc)
        return JSONResponse({"detail": f"Not served: {exc}. Retry after the next build, or ask the "
                                       "operators to rebuild it."}, status_code=409)

    @app.exception_handler(WarehouseDamaged)
    async def _damaged(request: Request, exc: WarehouseDamaged):
        request.state.reason = str(exc)[:MAX_AUDIT_TEXT]  # the file and the problem, for the operators
        return JSONResponse({"detail": "The warehouse is damaged and is being restored: no data is served "
                                       "until it is rebuilt. Please retry later."}, status_code=503,
                            headers={"Retry-After": "300"})

    @app.exception_handler(WarehouseBusy)
    async def _busy(request: Request, exc: WarehouseBusy):
        request.state.reason = "warehouse busy"
        return JSONResponse({"detail": "The warehouse is being written; retry shortly."}, status_code=503,
                            headers={"Retry-After": "5"})

    # -- authentication -------------------------------------------------------------------------

    def identify(request: Request) -> Principal | None:
        """The principal of the bearer token, else of the session cookie; None if neither is valid."""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            who = tokens.principal(auth[7:].strip())
            request.state.reason = None if who else "invalid or revoked token"
            return who
        if session := request.cookies.get(SESSION_COOKIE):
            who = tokens.session_principal(session)
            request.state.reason = None if who else "invalid or expired session"
            return who
        return None

    def principal(request: Request, _: HTTPAuthorizationCredentials | None = Depends(BEARER)) -> Principal:
        """Dependency of every endpoint that serves data: the caller, or 401. (The bearer scheme is
        declared for the OpenAPI page; the caller was identified by the middleware.)"""
        who = getattr(request.state, "who", None)
        if who is None:
            raise NotAuthenticated()
        return who

    # -- browser pages --------------------------------------------------------------------------

    @app.get("/login", tags=["pages"], response_class=HTMLResponse, summary="The login page")
    def login_page(request: Request):
        request.state.resource = "login"
        return templates.TemplateResponse(request, "login.html", {"error": None})

    @app.post("/login", tags=["session"], summary="Log in with a token; sets the session cookie")
    def login(request: Request, token: str = Form(...)):
        request.state.resource = "login"
        client = request.client.host if request.client else "unknown"
        wait = throttle.retry_after(client)
        if wait:
            request.state.reason = "locked out after repeated failed logins"
            return templates.TemplateResponse(
                request, "login.html", {"error": "Too many failed logins from your address: try again later."},
                status_code=429, headers={"Retry-After": str(wait)})
        opened = tokens.open_session(token.strip())
        if opened is None:
            locked = throttle.failed(client)
            request.state.reason = "invalid or revoked token" + ("; address locked out" if locked else "")
            return templates.TemplateResponse(request, "login.html", {"error": "Unknown or revoked token."},
                                              status_code=401)
        throttle.succeeded(client)
        session, who = opened
        request.state.who = who
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, session, max_age=SESSION_HOURS * 3600, httponly=True,
                            samesite="strict", secure=secure_cookies, path="/")
        return response

    @app.post("/logout", tags=["session"], summary="End the browser session")
    def logout(request: Request):
        request.state.resource = "logout"
        if session := request.cookies.get(SESSION_COOKIE):
            request.state.who = tokens.session_principal(session)
            tokens.close_session(session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/", tags=["pages"], response_class=HTMLResponse,
             summary="Your invoices, reports and datasets (HTML; the login page when not logged in)")
    def index(request: Request, who: Principal = Depends(principal),
              month: str = Query("", description="invoices and reports of one month, YYYY-MM"),
              status: str = Query("", description="invoices of one status: final, provisional, blocked"),
              customer: str = Query("", max_length=64, description="contract, asset or e-mail (part of it)"),
              page: int = Query(1, ge=1, le=100_000), report_page: int = Query(1, ge=1, le=100_000)):
        request.state.resource = "index"
        if month and not MONTH.match(month):
            raise BadRequest("'month' must be YYYY-MM")
        role = gate.role(who)
        reports = _or_empty(lambda: gate.reports(who))
        invoices = _or_empty(lambda: _current_invoices(gate.read(who, "invoice").frame).to_dicts())
        filters = Filters(month=month, status=status, customer=customer, page=page, report_page=report_page)
        return templates.TemplateResponse(request, "index.html", {
            "who": who, "role": role, "datasets": gate.datasets(who),
            "index": finance_index(invoices, reports, filters),
        })

    # before the report route, so that the library is never taken for a scope
    @app.get(f"/reports/{{kind}}/{{period}}/{PLOTLY_BUNDLE}", tags=["reports"], response_class=Response,
             summary="plotly.js, which the reports of a period load (for whoever may open one of them)")
    def report_bundle(request: Request, kind: str, period: str, who: Principal = Depends(principal)):
        request.state.resource = f"report-bundle:{kind}/{period}"
        served = gate.report_bundle(who, kind, period)
        # a public library that only changes with plotly: the browser may keep it for an hour
        return Response(served.content, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/reports/{kind}/{period}/{scope}", tags=["reports"], response_class=Response,
             summary="A performance report (HTML; loads plotly.min.js from its folder)")
    def report(request: Request, kind: str, period: str, scope: str, who: Principal = Depends(principal)):
        request.state.resource = f"report:{kind}/{period}/{scope}"
        return Response(gate.report_file(who, kind, period, scope).content, media_type="text/html; charset=utf-8")

    @app.get("/position", tags=["pages"], response_class=HTMLResponse,
             summary="The open position per quarter-hour of today and tomorrow, or of one day (HTML)")
    def position_page(request: Request, who: Principal = Depends(principal),
                      day: str | None = Query(None, description="one delivery day, YYYY-MM-DD")):
        request.state.resource = "position"
        period = Period.parse(day, day)
        if period.start is None:
            today = (clock or (lambda: datetime.now(timezone.utc)))().astimezone(BERLIN).date()
            days = [today, today + timedelta(days=1)]
        else:
            days = [period.start]
        rows = gate.read(who, "open_position", Period(min(days), max(days)))
        return templates.TemplateResponse(request, "position.html", {
            "who": who, "days": position_view(rows.frame.to_dicts(), days), "truncated": rows.truncated,
            "previous": (min(days) - timedelta(days=1)).isoformat(), "next": (max(days) + timedelta(days=1)).isoformat(),
        })

    @app.get("/invoices/{invoice_id}", tags=["pages"], response_class=HTMLResponse,
             summary="An invoice version with its lines and a link to its PDF (HTML)")
    def invoice_page(request: Request, invoice_id: str, version: int | None = Query(None, ge=1),
                     who: Principal = Depends(principal)):
        request.state.resource = f"invoice:{invoice_id}"
        doc = gate.invoice(who, invoice_id, version)
        return templates.TemplateResponse(request, "invoice.html", {
            "who": who, "doc": doc, "view": invoice_view(doc.header, doc.lines.to_dicts(), doc.day_volumes.to_dicts()),
        })

    @app.get("/invoices/{invoice_id}/pdf", tags=["invoices"], response_class=Response,
             summary="The PDF of an invoice version (the current one by default)")
    def invoice_pdf(request: Request, invoice_id: str, version: int | None = Query(None, ge=1),
                    who: Principal = Depends(principal)):
        request.state.resource = f"invoice-pdf:{invoice_id}"
        served = gate.invoice_pdf(who, invoice_id, version)
        return Response(served.content, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{served.name}"'})

    # -- API ------------------------------------------------------------------------------------

    @app.get("/api/me", tags=["session"], summary="Who you are and what your role may read")
    def me(request: Request, who: Principal = Depends(principal)):
        request.state.resource = "me"
        role = gate.role(who)
        return {
            "user": who.user, "role": who.role, "contract_id": who.contract_id, "description": role.description,
            "datasets": sorted(role.datasets),
            "reports": {"portfolio": role.reports.portfolio, "assets": role.reports.assets},
        }

    @app.get("/api/datasets", tags=["data"], summary="The datasets your role may read")
    def datasets(request: Request, who: Principal = Depends(principal)):
        request.state.resource = "datasets"
        role = gate.role(who)
        return [
            {
                "name": ds.name, "description": ds.description,
                "date_filter": ds.date_column or ds.month_column,
                "own_rows_only": role.datasets[ds.name].own_rows,
                "masked_columns": sorted(role.datasets[ds.name].mask),
                "url": f"/api/datasets/{ds.name}",
            }
            for ds in gate.datasets(who)
        ]

    @app.get("/api/datasets/{name}", tags=["data"], summary="Rows of one dataset, filtered by the policy")
    def dataset(request: Request, name: str,
                from_: str | None = Query(None, alias="from", description="first delivery day, YYYY-MM-DD"),
                to: str | None = Query(None, description="last delivery day, YYYY-MM-DD"),
                format: str | None = Query(None, description="json (default) or csv"),
                limit: int = Query(MAX_ROWS, ge=1, le=MAX_ROWS),
                who: Principal = Depends(principal)):
        request.state.resource = f"dataset:{name}" if NAME.match(name) else "dataset:?"
        csv = _wants_csv(request, format)
        rows = gate.read(who, name, Period.parse(from_, to), limit=limit)
        return _table_response(rows.dataset, rows.columns, rows.frame, csv, rows.truncated,
                               {"from": from_, "to": to})

    @app.get("/api/invoices", tags=["invoices"], summary="Invoices you may see (every version)")
    def invoices(request: Request,
                 from_: str | None = Query(None, alias="from", description="first month (a day in it)"),
                 to: str | None = Query(None, description="last month (a day in it)"),
                 format: str | None = Query(None, description="json (default) or csv"),
                 who: Principal = Depends(principal)):
        request.state.resource = "invoices"
        csv = _wants_csv(request, format)
        rows = gate.read(who, "invoice", Period.parse(from_, to))
        frame = rows.frame
        if frame.height and "invoice_id" in frame.columns and "version" in frame.columns:
            frame = frame.with_columns(
                pdf_url=pl.concat_str(pl.lit("/invoices/"), pl.col("invoice_id"), pl.lit("/pdf?version="),
                                      pl.col("version").cast(pl.Utf8))
            )
        return _table_response("invoice", frame.columns, frame, csv, rows.truncated, {"from": from_, "to": to})

    @app.get("/api/invoices/{invoice_id}", tags=["invoices"], summary="One invoice version with its lines")
    def invoice(request: Request, invoice_id: str, version: int | None = Query(None, ge=1),
                who: Principal = Depends(principal)):
        request.state.resource = f"invoice:{invoice_id}"
        doc = gate.invoice(who, invoice_id, version)
        return _json({
            "invoice_id": doc.invoice_id, "version": doc.version, "invoice": doc.header,
            "versions": [v["version"] for v in doc.versions], "lines": doc.lines.to_dicts(),
            "pdf_url": f"/invoices/{doc.invoice_id}/pdf?version={doc.version}",
        })

    @app.get("/api/reports", tags=["reports"], summary="Reports you may open")
    def reports(request: Request, who: Principal = Depends(principal)):
        request.state.resource = "reports"
        return [{"kind": r.kind, "period": r.period, "scope": r.scope, "url": r.url} for r in gate.reports(who)]

    # the bid endpoints (maker-checker) and the trader briefings live in their own modules
    register_bid_routes(app, principal, Path(warehouse_path), data_dir)
    register_briefing_routes(app, principal, gate, templates)

    return app


def _bearer(request: Request) -> bool:
    return request.headers.get("authorization", "").lower().startswith("bearer ")


def _same_origin(request: Request, https_only: bool) -> bool:
    """The request comes from a page of this host (strict Origin check, Referer when there is no
    Origin; neither: refused). Behind HTTPS only ``https://`` pages count."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    parsed = urlsplit(source)
    schemes = ("https",) if https_only else ("http", "https")
    return parsed.scheme in schemes and parsed.netloc.lower() == request.headers.get("host", "").lower()


def _or_empty(read):
    try:
        return read()
    except Denied:
        return []


def _current_invoices(frame: pl.DataFrame) -> pl.DataFrame:
    if frame.height == 0:
        return frame
    if "is_current" in frame.columns:
        return frame.filter(pl.col("is_current"))
    return frame.sort("version").unique("invoice_id", keep="last", maintain_order=True)


def _wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        if format not in ("json", "csv"):
            raise BadRequest("'format' must be json or csv")
        return format == "csv"
    return "text/csv" in request.headers.get("accept", "")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))  # exact amounts stay exact JSON numbers
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _json(payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY),
                    media_type="application/json", headers=headers)


def _csv(frame: pl.DataFrame) -> str:
    """CSV text; list columns (e.g. a file's delivery days) become ';'-separated text."""
    nested = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    flat = frame.with_columns(pl.col(name).cast(pl.List(pl.Utf8)).list.join(";") for name in nested)
    return flat.write_csv(datetime_format="%Y-%m-%dT%H:%M:%S%:z")


def _table_response(name: str, columns: list[str], frame: pl.DataFrame, csv: bool, truncated: bool,
                    filters: dict[str, str | None]) -> Response:
    headers = {"X-Truncated": "true"} if truncated else {}
    if csv:
        body = _csv(frame) if frame.width else ",".join(columns) + "\n"
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
    return _json({"dataset": name, **filters, "columns": columns, "rows": frame.height, "truncated": truncated,
                  "data": frame.to_dicts()}, headers)


__all__ = ["SESSION_COOKIE", "create_app"]
