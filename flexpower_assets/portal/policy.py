"""The portal's access policy (``policy.yaml``) and ``Gate``, the one place every read goes through.

``Policy`` is the YAML file loaded and checked: every dataset a role names exists, row filters only
on roles bound to a contract and on datasets that know their owner, and a role bound to a contract
(a customer) can only be granted its own rows, its own asset's reports and nothing of the portfolio.

``Gate`` applies it. Every table row, invoice document and report file the portal serves comes out
of a ``Gate`` method; endpoints never touch the warehouse or the file system themselves. A read
first checks the role's grant (no grant: ``Denied``, HTTP 403), then reads with the row filter and
the column mask applied in SQL. A single item that does not exist, is not the principal's, or has
an id that does not match its strict pattern raises the same ``NotFound`` (HTTP 404), so a customer
cannot tell another customer's invoice from one that does not exist. Values are always query
parameters; identifiers come from the policy file (checked against a strict pattern) or from the
warehouse's own catalog, and are quoted. Files are served only from ``<documents>/reports`` and
``<documents>/invoices`` (the documents folder of the warehouse), after resolving the path and
checking it stays inside, and only when the file's SHA-256 equals the hash the warehouse stores with
the row it shows (``invoice.document_sha256``, the ``main.document`` index for reports): a file
left by another warehouse, edited, or half-way through a rebuild raises ``DocumentMismatch`` (HTTP
409), never the wrong document. Reports are listed from that index, not from the folder. Besides
the reports, a report folder holds plotly's ``plotly.min.js``, which its reports load; it is a
public library and is served to whoever may open at least one report of that folder's period.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from flexpower_assets.documents import invoice_pdf_path
from flexpower_assets.documents.store import indexed_document, indexed_documents, sha256_of
from flexpower_assets.reports.html import PLOTLY_BUNDLE, REPORT_KINDS
from resources.warehouse import Warehouse

DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")
MAX_ROWS = 200_000

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MONTH = re.compile(r"^[0-9]{4}-[0-9]{2}$")
# asset, contract and role names: letters, digits, '.', '_' and '-', not starting with '.';
# never '/', '\\', '%', spaces or quotes
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
INVOICE_ID = re.compile(r"^INV-([A-Za-z0-9][A-Za-z0-9._-]{0,63})-([0-9]{4}-[0-9]{2})$")
PORTFOLIO_SCOPE = "portfolio"
OWNER_KINDS = ("asset", "contract", "invoice")
REPORT_ASSET_GRANTS = ("all", "own", "none")
# who owns an asset on a day: the contracts of the day and the active-day rule (domain.contracts)
CONTRACT_DAYS = ("core", "contract_days")
# what a role may do with a bid matrix (flexpower_assets/bidding/approval.py applies them):
# view it, edit a curve (a new version), approve a version (never one the same user made), submit it
BID_ACTIONS = frozenset({"view", "edit", "approve", "submit"})
# trader briefings: <documents>/reports/briefing/<day>/<client>.html, kind 'briefing' in the document index
BRIEFING_KIND = "briefing"


class PolicyError(ValueError):
    """``policy.yaml`` is inconsistent; the message says where."""


class Denied(Exception):
    """The principal's role has no grant for this kind of data (HTTP 403)."""


class NotFound(Exception):
    """No such item for this principal: absent, someone else's, or an invalid id (HTTP 404)."""


class DocumentMismatch(Exception):
    """The file on disk is not the document the warehouse row names (HTTP 409)."""


@dataclass(frozen=True)
class ServedFile:
    """A document checked against its warehouse row: its name and the exact bytes checked."""

    name: str
    content: bytes


class BadRequest(ValueError):
    """A query parameter is malformed (HTTP 400)."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user, a role of the policy, and the contract a customer is bound to."""

    user: str
    role: str
    contract_id: str | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    schema: str
    table: str
    description: str
    date_column: str | None
    month_column: str | None
    order_by: tuple[str, ...]
    owned_by: str | None


@dataclass(frozen=True)
class Grant:
    """Access to one dataset: ``own_rows`` is the row filter, ``mask`` the hidden columns."""

    own_rows: bool = False
    mask: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ReportGrant:
    portfolio: bool = False
    assets: str = "none"  # all | own | none


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    bound_to_contract: bool
    datasets: Mapping[str, Grant]
    reports: ReportGrant
    bids: frozenset[str] = frozenset()  # what the role may do with bid matrices (BID_ACTIONS)
    briefings: bool = False  # may read the trader briefings (every client's, every day)


@dataclass(frozen=True)
class Policy:
    datasets: Mapping[str, Dataset]
    roles: Mapping[str, Role]

    @classmethod
    def load(cls, path: Path = DEFAULT_POLICY) -> Policy:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: Any, source: str = "policy") -> Policy:
        if not isinstance(raw, dict) or set(raw) != {"datasets", "roles"}:
            raise PolicyError(f"{source}: top level must have exactly 'datasets' and 'roles'")
        datasets = {name: _dataset(name, spec, source) for name, spec in raw["datasets"].items()}
        roles = {name: _role(name, spec, datasets, source) for name, spec in raw["roles"].items()}
        return cls(datasets=datasets, roles=roles)

    def role(self, name: str) -> Role | None:
        return self.roles.get(name)


def _check_keys(where: str, spec: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise PolicyError(f"{where}: expected a mapping, got {spec!r}")
    unknown = set(spec) - allowed
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(allowed)})")
    return spec


def _identifier(where: str, value: Any) -> str:
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise PolicyError(f"{where}: {value!r} is not a plain lower-case SQL identifier")
    return value


def _dataset(name: str, spec: Any, source: str) -> Dataset:
    where = f"{source}: datasets.{name}"
    _identifier(where, name)
    spec = _check_keys(where, spec, {"table", "description", "date_column", "month_column", "order_by", "owned_by"})
    schema, _, table = str(spec.get("table", "")).partition(".")
    _identifier(f"{where}.table schema", schema)
    _identifier(f"{where}.table name", table)
    owned_by = spec.get("owned_by")
    if owned_by is not None and owned_by not in OWNER_KINDS:
        raise PolicyError(f"{where}.owned_by: {owned_by!r} is not one of {OWNER_KINDS}")
    date_column = spec.get("date_column")
    if owned_by == "asset" and date_column != "delivery_day":
        raise PolicyError(f"{where}: owned_by asset needs date_column delivery_day (ownership is per day)")
    return Dataset(
        name=name, schema=schema, table=table, description=str(spec.get("description", "")),
        date_column=_identifier(f"{where}.date_column", date_column) if date_column else None,
        month_column=_identifier(f"{where}.month_column", spec["month_column"]) if spec.get("month_column") else None,
        order_by=tuple(_identifier(f"{where}.order_by", c) for c in spec.get("order_by", [])),
        owned_by=owned_by,
    )


def _role(name: str, spec: Any, datasets: Mapping[str, Dataset], source: str) -> Role:
    where = f"{source}: roles.{name}"
    if not NAME.match(name):
        raise PolicyError(f"{where}: invalid role name")
    spec = _check_keys(where, spec, {"description", "bound_to_contract", "datasets", "reports", "bids",
                                        "briefings"})
    bound = bool(spec.get("bound_to_contract", False))
    granted = spec.get("datasets", {})
    if granted == "all":
        if bound:
            raise PolicyError(f"{where}: a role bound to a contract cannot be granted all datasets")
        granted = {d: {} for d in datasets}
    grants: dict[str, Grant] = {}
    for ds_name, g in _check_keys(f"{where}.datasets", granted, set(datasets)).items():
        g = _check_keys(f"{where}.datasets.{ds_name}", g or {}, {"rows", "mask"})
        rows = g.get("rows", "all")
        if rows not in ("all", "own"):
            raise PolicyError(f"{where}.datasets.{ds_name}.rows: {rows!r} is not 'all' or 'own'")
        if bound and rows != "own":
            raise PolicyError(f"{where}.datasets.{ds_name}: a role bound to a contract sees only its own rows")
        if rows == "own" and not bound:
            raise PolicyError(f"{where}.datasets.{ds_name}: rows: own needs bound_to_contract: true")
        if rows == "own" and datasets[ds_name].owned_by is None:
            raise PolicyError(f"{where}.datasets.{ds_name}: the dataset has no owner, rows: own is impossible")
        mask = frozenset(_identifier(f"{where}.datasets.{ds_name}.mask", c) for c in g.get("mask", []))
        grants[ds_name] = Grant(own_rows=rows == "own", mask=mask)
    r = _check_keys(f"{where}.reports", spec.get("reports", {}), {"portfolio", "assets"})
    reports = ReportGrant(portfolio=bool(r.get("portfolio", False)), assets=str(r.get("assets", "none")))
    if reports.assets not in REPORT_ASSET_GRANTS:
        raise PolicyError(f"{where}.reports.assets: {reports.assets!r} is not one of {REPORT_ASSET_GRANTS}")
    if bound and (reports.portfolio or reports.assets == "all"):
        raise PolicyError(f"{where}.reports: a role bound to a contract sees only its own asset's reports")
    if not bound and reports.assets == "own":
        raise PolicyError(f"{where}.reports.assets: own needs bound_to_contract: true")
    bids = frozenset(spec.get("bids", []))
    if not bids <= BID_ACTIONS:
        raise PolicyError(f"{where}.bids: {sorted(bids - BID_ACTIONS)} not among {sorted(BID_ACTIONS)}")
    if bound and bids:
        raise PolicyError(f"{where}.bids: a role bound to a contract cannot act on bid matrices")
    return Role(name=name, description=str(spec.get("description", "")).strip(), bound_to_contract=bound,
                datasets=grants, reports=reports, bids=bids, briefings=_briefings(where, spec, bound))


def _briefings(where: str, spec: Mapping[str, Any], bound: bool) -> bool:
    """``briefings: true|false`` of a role; never for a role bound to a contract."""
    briefings = spec.get("briefings", False)
    if not isinstance(briefings, bool):
        raise PolicyError(f"{where}.briefings: {briefings!r} is not true or false")
    if bound and briefings:
        raise PolicyError(f"{where}.briefings: a role bound to a contract cannot read the trader briefings")
    return briefings


@dataclass(frozen=True)
class Period:
    """An optional ``from``/``to`` filter (inclusive delivery days), parsed strictly."""

    start: date | None = None
    end: date | None = None

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Period:
        parsed = [_parse_day(name, value) for name, value in (("from", start), ("to", end))]
        if parsed[0] and parsed[1] and parsed[0] > parsed[1]:
            raise BadRequest("'from' must not be after 'to'")
        return cls(*parsed)

    @property
    def is_set(self) -> bool:
        return self.start is not None or self.end is not None


def _parse_day(name: str, value: str | None) -> date | None:
    if value is None or value == "":
        return None
    if not DAY.match(value):
        raise BadRequest(f"'{name}' must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"'{name}' is not a valid date") from None


@dataclass(frozen=True)
class Rows:
    """The answer to a dataset read: visible columns in order, the rows, and whether it was cut."""

    dataset: str
    columns: list[str]
    frame: pl.DataFrame
    truncated: bool = False


@dataclass(frozen=True)
class ReportRef:
    kind: str
    period: str
    scope: str

    @property
    def url(self) -> str:
        return f"/reports/{self.kind}/{self.period}/{self.scope}"


@dataclass(frozen=True)
class InvoiceDocument:
    invoice_id: str
    version: int
    header: dict[str, Any]
    versions: list[dict[str, Any]]
    lines: pl.DataFrame = field(default_factory=pl.DataFrame)
    day_volumes: pl.DataFrame = field(default_factory=pl.DataFrame)


@dataclass(frozen=True)
class Ownership:
    """What a principal bound to a contract owns: (asset, day) pairs, and the (asset, month) pairs
    in which another contract also held the asset."""

    days: set[tuple[str, date]]
    shared_months: set[tuple[str, str]]


def _q(identifier: str) -> str:
    """A quoted SQL identifier (embedded quotes doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


class Gate:
    """Every read of the portal: decides, filters rows, masks columns, resolves files."""

    def __init__(self, policy: Policy, warehouse: Warehouse, documents_dir: Path) -> None:
        self.policy = policy
        self.warehouse = warehouse
        self.documents_dir = Path(documents_dir).resolve()
        self.reports_dir = self.documents_dir / "reports"
        self.invoices_dir = self.documents_dir / "invoices"

    # -- decisions ------------------------------------------------------------------------------

    def role(self, who: Principal) -> Role:
        role = self.policy.role(who.role)
        if role is None:
            raise Denied(f"role {who.role!r} is not in the policy")
        return role

    def grant(self, who: Principal, dataset: str) -> tuple[Dataset, Grant]:
        ds = self.policy.datasets.get(dataset)
        if ds is None:
            raise NotFound(dataset)
        grant = self.role(who).datasets.get(dataset)
        if grant is None:
            raise Denied(f"role {who.role!r} may not read {dataset!r}")
        return ds, grant

    def datasets(self, who: Principal) -> list[Dataset]:
        role = self.role(who)
        return [self.policy.datasets[name] for name in sorted(role.datasets)]

    # -- tables ---------------------------------------------------------------------------------

    def read(self, who: Principal, dataset: str, period: Period = Period(), *,
             where: list[tuple[str, list[Any]]] | None = None, limit: int = MAX_ROWS) -> Rows:
        """Rows of ``dataset`` the principal may see. ``where`` holds fixed SQL conditions written
        in this module's callers with ``?`` placeholders (never values)."""
        ds, grant = self.grant(who, dataset)
        if period.is_set and not (ds.date_column or ds.month_column):
            raise BadRequest(f"dataset {dataset!r} has no date to filter on: leave out 'from' and 'to'")
        columns = self._columns(ds)
        if not columns:  # not built yet
            return Rows(dataset, [], pl.DataFrame())
        visible = [c for c in columns if c not in grant.mask]
        conditions: list[str] = []
        params: list[Any] = []
        if grant.own_rows:
            sql, p = self._own_rows(ds, who)
            conditions.append(sql)
            params += p
        if ds.date_column:
            for bound, op in ((period.start, ">="), (period.end, "<=")):
                if bound is not None:
                    conditions.append(f"t.{_q(ds.date_column)} {op} ?")
                    params.append(bound)
        elif ds.month_column:
            for bound, op in ((period.start, ">="), (period.end, "<=")):
                if bound is not None:
                    conditions.append(f"left(cast(t.{_q(ds.month_column)} as varchar), 7) {op} ?")
                    params.append(bound.strftime("%Y-%m"))
        for sql, p in where or []:
            conditions.append(sql)
            params += p
        order = [f"t.{_q(c)}" for c in ds.order_by if c in columns]
        query = (
            f"select {', '.join('t.' + _q(c) for c in visible)} from {_q(ds.schema)}.{_q(ds.table)} as t"
            f" where {' and '.join(conditions) or 'true'}"
            + (f" order by {', '.join(order)}" if order else "")
            + " limit ?"
        )
        frame = self.warehouse.read(query, [*params, limit + 1])
        return Rows(dataset, visible, frame.head(limit), truncated=frame.height > limit)

    def _columns(self, ds: Dataset) -> list[str]:
        found = self.warehouse.read(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [ds.schema, ds.table],
        )
        return found["column_name"].to_list()

    def _table_exists(self, schema: str, table: str) -> bool:
        return self.warehouse.table_exists(schema, table)

    def _own_rows(self, ds: Dataset, who: Principal) -> tuple[str, list[Any]]:
        """The row filter of a role bound to a contract: SQL over alias ``t`` and its parameters."""
        if who.contract_id is None:
            return "false", []
        if ds.owned_by == "contract":
            return "t.contract_id = ?", [who.contract_id]
        if ds.owned_by == "invoice":
            if not self._table_exists("main", "invoice"):
                return "false", []
            return 't.invoice_id in (select i.invoice_id from "main"."invoice" as i where i.contract_id = ?)', [
                who.contract_id
            ]
        if ds.owned_by == "asset":
            if not self._table_exists(*CONTRACT_DAYS):
                return "false", []
            return (
                'exists (select 1 from "core"."contract_days" as c where c.contract_id = ? '
                "and c.asset_id = t.asset_id and c.delivery_day = t.delivery_day and c.is_active)",
                [who.contract_id],
            )
        return "false", []  # unreachable: the policy refuses rows: own on datasets without owner

    def ownership(self, who: Principal) -> Ownership:
        """The (asset, day) pairs of the principal's contract, and the (asset, month) pairs in which
        another contract also held one of its assets."""
        if who.contract_id is None or not self._table_exists(*CONTRACT_DAYS):
            return Ownership(set(), set())
        mine = self.warehouse.read(
            'select distinct asset_id, delivery_day from "core"."contract_days" where contract_id = ? and is_active',
            [who.contract_id],
        )
        others = self.warehouse.read(
            "select distinct asset_id, strftime(delivery_day, '%Y-%m') as month from \"core\".\"contract_days\" "
            "where contract_id <> ? and is_active and asset_id in "
            '(select asset_id from "core"."contract_days" where contract_id = ?)',
            [who.contract_id, who.contract_id],
        )
        return Ownership(
            set(zip(mine["asset_id"].to_list(), mine["delivery_day"].to_list(), strict=True)),
            set(zip(others["asset_id"].to_list(), others["month"].to_list(), strict=True)),
        )

    # -- invoices -------------------------------------------------------------------------------

    def invoice(self, who: Principal, invoice_id: str, version: int | None = None) -> InvoiceDocument:
        """One invoice version (the current one by default) with its lines, if the principal sees it."""
        self.grant(who, "invoice")  # 403 before anything is looked up
        if not INVOICE_ID.match(invoice_id) or (version is not None and not 1 <= version <= 10_000):
            raise NotFound(invoice_id)
        rows = self.read(who, "invoice", where=[("t.invoice_id = ?", [invoice_id])]).frame
        if rows.height == 0:
            raise NotFound(invoice_id)
        versions = rows.sort("version").to_dicts()
        if version is None:
            current = [r for r in versions if r.get("is_current")] or versions[-1:]
            header = current[-1]
        else:
            chosen = [r for r in versions if r["version"] == version]
            if not chosen:
                raise NotFound(invoice_id)
            header = chosen[0]
        lines = pl.DataFrame()
        if "invoice_line" in self.role(who).datasets:
            lines = self.read(
                who, "invoice_line", where=[("t.invoice_id = ? and t.version = ?", [invoice_id, header["version"]])]
            ).frame
        day_volumes = pl.DataFrame()
        if "invoice_day_volume" in self.role(who).datasets:
            day_volumes = self.read(
                who, "invoice_day_volume",
                where=[("t.invoice_id = ? and t.version = ?", [invoice_id, header["version"]])]).frame
        return InvoiceDocument(invoice_id, int(header["version"]), header, versions, lines, day_volumes)

    def invoice_pdf(self, who: Principal, invoice_id: str, version: int | None = None) -> ServedFile:
        """``<documents>/invoices/<YYYY-MM>/<invoice_id>-v<version>.pdf`` of a visible invoice, if its
        bytes are the ones recorded with the invoice row (``document_sha256``)."""
        doc = self.invoice(who, invoice_id, version)
        month = INVOICE_ID.match(invoice_id).group(2)  # type: ignore[union-attr]
        expected = invoice_pdf_path(self.documents_dir, invoice_id, month, doc.version)
        where = f"invoice {invoice_id} version {doc.version}"
        if not doc.header.get("document_sha256"):
            raise DocumentMismatch(f"no document hash is recorded for {where}: rebuild its month")
        return self._verified(self.invoices_dir, (month, expected.name), doc.header["document_sha256"], where)

    # -- reports --------------------------------------------------------------------------------

    def _report_grant(self, who: Principal) -> ReportGrant:
        grant = self.role(who).reports
        if not grant.portfolio and grant.assets == "none":
            raise Denied(f"role {who.role!r} may not read reports")
        return grant

    def _report_visible(self, grant: ReportGrant, kind: str, period: str, scope: str,
                        own: Ownership | None) -> bool:
        if scope == PORTFOLIO_SCOPE:
            return grant.portfolio
        if grant.assets == "all":
            return True
        if grant.assets == "own" and own is not None:
            if kind == "daily":
                return (scope, date.fromisoformat(period)) in own.days
            # a monthly report covers the whole month: not if the asset had another owner in it
            return (scope, period) not in own.shared_months and any(
                a == scope and d.strftime("%Y-%m") == period for a, d in own.days
            )
        return False

    def reports(self, who: Principal) -> list[ReportRef]:
        """Every report of the warehouse's document index the principal may open, sorted."""
        grant = self._report_grant(who)
        own = self.ownership(who) if grant.assets == "own" else None
        index = indexed_documents(self.warehouse, tuple(f"{kind}_report" for kind in REPORT_KINDS))
        refs = []
        for row in index.iter_rows(named=True):
            kind, period, scope = row["kind"].removesuffix("_report"), row["period"], row["name"]
            if not _valid_period(kind, period) or not _report_scope(scope):
                continue
            if self._report_visible(grant, kind, period, scope, own):
                refs.append(ReportRef(kind, period, scope))
        return sorted(refs, key=lambda r: (REPORT_KINDS.index(r.kind), r.period, r.scope))

    def report_file(self, who: Principal, kind: str, period: str, scope: str) -> Path:
        grant = self._report_grant(who)
        if kind not in REPORT_KINDS or not _valid_period(kind, period) or not _report_scope(scope):
            raise NotFound(scope)
        own = self.ownership(who) if grant.assets == "own" else None
        if not self._report_visible(grant, kind, period, scope, own):
            raise NotFound(scope)
        return self._indexed(kind, period, scope, f"{scope}.html")

    def report_bundle(self, who: Principal, kind: str, period: str) -> Path:
        """The ``plotly.min.js`` of a report folder, if the principal may open a report of its period.

        A role that sees the portfolio or every asset may; a customer only for a period in which
        it sees its own asset's report. Otherwise NotFound, like a period without reports."""
        grant = self._report_grant(who)
        if kind not in REPORT_KINDS or not _valid_period(kind, period):
            raise NotFound(period)
        if not grant.portfolio and grant.assets != "all":
            own = self.ownership(who)
            assets = sorted({asset for asset, _ in own.days})
            if not any(self._report_visible(grant, kind, period, asset, own) for asset in assets):
                raise NotFound(period)
        return self._indexed(kind, period, PLOTLY_BUNDLE, PLOTLY_BUNDLE)

    # -- trader briefings ------------------------------------------------------------------------

    def _briefing_grant(self, who: Principal) -> None:
        if not self.role(who).briefings:
            raise Denied(f"role {who.role!r} may not read trader briefings")

    def briefings(self, who: Principal) -> list[tuple[str, str]]:
        """(delivery day, client) of every briefing in the warehouse's document index: newest day
        first, clients in order."""
        self._briefing_grant(who)
        index = indexed_documents(self.warehouse, (BRIEFING_KIND,))
        found = [(r["period"], r["name"]) for r in index.iter_rows(named=True)
                 if _valid_period("daily", r["period"]) and NAME.match(r["name"])]
        return sorted(sorted(found, key=lambda x: x[1]), key=lambda x: x[0], reverse=True)

    def briefing_file(self, who: Principal, day: str, client_id: str) -> ServedFile:
        """One briefing's HTML, only when its bytes hash to what the warehouse's index holds."""
        self._briefing_grant(who)
        if not _valid_period("daily", day) or not NAME.match(client_id):
            raise NotFound(client_id)
        entry = indexed_document(self.warehouse, BRIEFING_KIND, day, client_id)
        if entry is None:
            raise NotFound(client_id)
        if entry.path != f"reports/{BRIEFING_KIND}/{day}/{client_id}.html":
            raise DocumentMismatch(f"the briefing {day}/{client_id} is indexed at an unexpected path")
        return self._verified(self.reports_dir, (BRIEFING_KIND, day, f"{client_id}.html"), entry.sha256,
                              f"the briefing {day}/{client_id}")

    def briefing_figures(self, who: Principal, day: str, client_id: str) -> pl.DataFrame:
        """The figures of one briefing (``main.briefing_figure``)."""
        self._briefing_grant(who)
        if not _valid_period("daily", day) or not NAME.match(client_id):
            raise NotFound(client_id)
        if not self._table_exists("main", "briefing_figure"):
            raise NotFound(client_id)
        rows = self.warehouse.read("select key, value, unit, decimals from main.briefing_figure "
                                   "where delivery_day = ? and client_id = ?", [date.fromisoformat(day), client_id])
        if not rows.height:
            raise NotFound(client_id)
        return rows

    def _indexed(self, kind: str, period: str, name: str, file_name: str) -> ServedFile:
        """A report folder's file, as the document index of the warehouse records it."""
        entry = indexed_document(self.warehouse, f"{kind}_report", period, name)
        if entry is None:
            raise NotFound(name)
        if entry.path != f"reports/{kind}/{period}/{file_name}":
            raise DocumentMismatch(f"the {kind} report {period}/{name} is indexed at an unexpected path")
        return self._verified(self.reports_dir, (kind, period, file_name), entry.sha256,
                              f"the {kind} report {period}/{name}")

    def _verified(self, root: Path, parts: tuple[str, ...], sha256: str, what: str) -> ServedFile:
        """The bytes of ``root/parts`` if they hash to ``sha256``; DocumentMismatch otherwise (the
        bytes checked are the bytes served: no window in which the file could change)."""
        try:
            path = self._inside(root, *parts)
        except NotFound:
            raise DocumentMismatch(f"the document of {what} is missing from {self.documents_dir}") from None
        content = path.read_bytes()
        if sha256_of(content) != sha256:
            raise DocumentMismatch(f"the file of {what} does not match the warehouse "
                                   "(another warehouse's file, edited, or being rebuilt)")
        return ServedFile(path.name, content)

    # -- files ----------------------------------------------------------------------------------

    @staticmethod
    def _inside(root: Path, *parts: str) -> Path:
        """``root/parts`` if, resolved, it is a regular file inside ``root``; otherwise NotFound."""
        for part in parts:
            if part in ("", ".", "..") or "/" in part or "\\" in part or "\x00" in part or os.path.isabs(part):
                raise NotFound(part)
        path = root.joinpath(*parts).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise NotFound(str(parts[-1]))
        return path


def _report_scope(scope: str) -> bool:
    """``portfolio`` or an asset id; never the name of the folder's plotly.js."""
    return bool(NAME.match(scope)) and scope != PLOTLY_BUNDLE


def _valid_period(kind: str, period: str) -> bool:
    pattern = DAY if kind == "daily" else MONTH
    if not pattern.match(period):
        return False
    try:
        date.fromisoformat(period if kind == "daily" else f"{period}-01")
    except ValueError:
        return False
    return True
