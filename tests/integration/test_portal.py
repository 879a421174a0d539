"""The portal behind its policy: every role x every endpoint, customer isolation, traversal and
injection attempts, the audit log, tokens and sessions, and reads while the pipeline writes.

The world is written by the test: a small DuckDB warehouse with the data-contract tables, a few
invoice PDFs and report files, and tokens for every role. Customers:
- alice: contract CON-A on asset SOL-A (both days),
- carol: contract CON-C on asset WND-B, which ended on 2025-06-09 (so only 2025-06-08 is hers),
- bob:   contract CON-B on asset WND-B from 2025-06-09 on (so only 2025-06-09 is his).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from flexpower_assets.documents.store import indexed_file, record_documents, write_document
from flexpower_assets.domain.contracts import contract_days
from flexpower_assets.portal.app import SESSION_COOKIE, create_app
from flexpower_assets.portal.audit import AuditLog, verify_audit_log
from flexpower_assets.portal.commands import token_group
from flexpower_assets.portal.policy import Gate, NotFound, Policy, Principal
from flexpower_assets.portal.tokens import TokenStore
from resources.warehouse import Warehouse

D1, D2 = date(2025, 6, 8), date(2025, 6, 9)
T1 = datetime(2025, 6, 7, 22, 0, tzinfo=timezone.utc)  # first QH of 2025-06-08 (Berlin)
T2 = datetime(2025, 6, 8, 22, 0, tzinfo=timezone.utc)  # first QH of 2025-06-09
MONTH = "2025-06"
DATASETS = [
    "asset_forecast", "portfolio_forecast", "best_of_infeed", "portfolio_best_of_infeed", "trading_pnl",
    "trading_daily", "asset_imbalance", "portfolio_imbalance", "contracts", "redispatch_compensation",
    "landing_files", "invoice", "invoice_line", "invoice_day_volume", "open_position",
]
SECRET = "TOP-SECRET-OUTSIDE-DATA-DIR"
SAME_ORIGIN = {"Origin": "http://testserver"}  # a form posted from the portal's own page


# ---------------------------------------------------------------------------------------------
# the world


def _contracts() -> pl.DataFrame:
    base = dict(technology="solar", price_model="market", price_eur_per_mwh=None, fee_model="fixed_as_produced",
                fee=2.0, fee_percent=None, snapshot_created_at=datetime(2025, 6, 1, 4, 30, tzinfo=timezone.utc))
    contracts = [
        dict(contract_id="CON-A", asset_id="SOL-A", metering_point_id="MP-A", capacity_mw=1.0,
             contract_begin=date(2025, 1, 1), contract_end=None, email="alice@example.com"),
        dict(contract_id="CON-C", asset_id="WND-B", metering_point_id="MP-B", capacity_mw=2.0,
             contract_begin=date(2024, 1, 1), contract_end=D2, email="carol@example.com"),
        dict(contract_id="CON-B", asset_id="WND-B", metering_point_id="MP-B", capacity_mw=2.0,
             contract_begin=D2, contract_end=None, email="bob@example.com"),
    ]
    # a CRM snapshot holds every contract; the active rule decides whose day it is
    return pl.DataFrame([{**base, **c, "delivery_day": d} for d in (D1, D2) for c in contracts])


def _asset_rows(extra) -> pl.DataFrame:
    rows = []
    for day, t in ((D1, T1), (D2, T2)):
        for asset in ("SOL-A", "WND-B"):
            rows.append({"delivery_day": day, "asset_id": asset, "delivery_start": t, **extra(asset, day)})
    return pl.DataFrame(rows)


def _qh_rows(extra) -> pl.DataFrame:
    return pl.DataFrame([{"delivery_day": day, "delivery_start": t, **extra} for day, t in ((D1, T1), (D2, T2))])


def _invoices() -> tuple[pl.DataFrame, pl.DataFrame]:
    def inv(contract, asset, version, current, gross):
        return dict(invoice_id=f"INV-{contract}-{MONTH}", version=version, contract_id=contract, asset_id=asset,
                    month=MONTH, status="provisional", reason=None, net_eur=Decimal(gross) / Decimal("1.19"),
                    vat_eur=Decimal("0"), gross_eur=Decimal(gross), email=f"{contract}@example.com",
                    is_current=current)
    invoices = pl.DataFrame([
        inv("CON-A", "SOL-A", 1, False, "100.00"),
        inv("CON-A", "SOL-A", 2, True, "119.00"),
        inv("CON-B", "WND-B", 1, True, "238.00"),
        inv("CON-C", "WND-B", 1, True, "357.00"),
    ]).with_columns(pl.col("net_eur", "vat_eur", "gross_eur").cast(pl.Decimal(18, 2)))
    lines = pl.DataFrame([
        dict(invoice_id=f"INV-{c}-{MONTH}", version=v, line_type=lt, quantity=1.0, unit="MWh",
             unit_price_eur=Decimal("1.5"), net_eur=Decimal("1.50"), vat_eur=Decimal("0.29"), gross_eur=Decimal("1.79"),
             line_no=n)
        for c, v in (("CON-A", 1), ("CON-A", 2), ("CON-B", 1), ("CON-C", 1))
        for n, lt in enumerate(("infeed_payout", "fee", "redispatch_payout"), start=1)
    ]).with_columns(pl.col("net_eur", "vat_eur", "gross_eur").cast(pl.Decimal(18, 2)))
    return invoices, lines


def write_warehouse(path: Path) -> None:
    invoices, lines = _invoices()
    tables = {
        "raw.raw_crm__contracts": _contracts(),
        "core.contract_days": contract_days(_contracts()),
        "main.best_of_infeed": _asset_rows(lambda a, d: dict(
            power_kw=400.0, energy_mwh=0.1, source="final", is_redispatched=False)),
        "main.asset_forecast": _asset_rows(lambda a, d: dict(
            latest_power_kw=410.0, latest_version=T1, tradeable_power_kw=420.0, tradeable_version=T1)),
        "main.asset_imbalance": _asset_rows(lambda a, d: dict(
            imbalance_mwh=-0.005, price_eur_per_mwh=80.0, price_source="final", imbalance_cost_eur=0.4)),
        "main.portfolio_forecast": _qh_rows(dict(latest_power_kw=820.0, tradeable_power_kw=840.0,
                                                 latest_energy_mwh=0.205, tradeable_energy_mwh=0.21, n_assets=2)),
        "main.portfolio_best_of_infeed": _qh_rows(dict(power_kw=800.0, energy_mwh=0.2, final_share=1.0,
                                                       live_share=0.0, forecast_share=0.0)),
        "main.trading_pnl": _qh_rows(dict(revenue_eur=16.0, sold_mwh=0.2, bought_mwh=0.0, net_mwh=0.2,
                                          vwap_private=80.0, vwap_public=79.0)),
        "main.trading_daily": pl.DataFrame([dict(delivery_day=d, n_trades=3, revenue_eur=16.0, sold_mwh=0.2,
                                                 bought_mwh=0.0, net_mwh=0.2, vwap_private=80.0, vwap_public=79.0)
                                            for d in (D1, D2)]),
        "main.portfolio_imbalance": _qh_rows(dict(imbalance_mwh=-0.01, price_eur_per_mwh=80.0, price_source="final",
                                                  imbalance_cost_eur=0.8, standalone_cost_eur=0.8)),
        "core.redispatch_compensation": _qh_rows(dict(price_eur_per_mwh=60.0)),
        "main.open_position": _qh_rows(dict(as_of=T1, minutes_to_delivery=0.0, forecast_mwh=0.205, open_mwh=0.005,
                                            position_mwh=0.2, day_ahead_status="no_order", capacity_mw=3.0)),
        "landing.files": pl.DataFrame([
            dict(path="crm/asset_contracts_20250601_043000.csv", kind="contracts", status="accepted", error=None,
                 delivery_days=[D1, D2]),
            dict(path="exchange/Public_Trades-20250608-x.csv", kind="public_trades", status="rejected",
                 error="empty file", delivery_days=[]),
        ]),
        "main.invoice": invoices,
        "main.invoice_line": lines,
        "main.invoice_day_volume": pl.DataFrame([
            dict(invoice_id=f"INV-{c}-{MONTH}", version=1, delivery_day=d, volume_mwh=0.1, final_qh=96, total_qh=96)
            for c in ("CON-A", "CON-B", "CON-C") for d in (D1, D2)
        ]),
    }
    with Warehouse(path).writer() as conn:
        for name, frame in tables.items():
            schema = name.split(".")[0]
            conn.execute(f"create schema if not exists {schema}")
            conn.register("frame", frame.to_arrow())
            conn.execute(f"create table {name} as select * from frame")
            conn.unregister("frame")


def write_documents(data_dir: Path, warehouse: Path) -> None:
    """The documents, and their hashes where the pipeline records them (invoice rows, the index)."""
    with Warehouse(warehouse).writer() as conn:
        conn.execute("alter table main.invoice add column document_sha256 varchar")
        for contract, versions in (("CON-A", (1, 2)), ("CON-B", (1,)), ("CON-C", (1,))):
            for v in versions:
                pdf = data_dir / "invoices" / MONTH / f"INV-{contract}-{MONTH}-v{v}.pdf"
                digest = write_document(pdf, f"%PDF-1.4 invoice INV-{contract}-{MONTH} version {v}\n%%EOF\n".encode())
                conn.execute("update main.invoice set document_sha256 = ? where invoice_id = ? and version = ?",
                             [digest, f"INV-{contract}-{MONTH}", v])
    for kind, period in (("daily", "2025-06-08"), ("daily", "2025-06-09"), ("monthly", MONTH)):
        entries = []
        for scope in ("portfolio", "SOL-A", "WND-B"):
            html = data_dir / "reports" / kind / period / f"{scope}.html"
            write_document(html, f"<html><body>REPORT {kind} {period} {scope}</body></html>".encode())
            entries.append(indexed_file(data_dir, scope, html))
        bundle = data_dir / "reports" / kind / period / "plotly.min.js"
        write_document(bundle, bundle_text(kind, period).encode())
        entries.append(indexed_file(data_dir, "plotly.min.js", bundle))
        record_documents(Warehouse(warehouse), f"{kind}_report", period, entries)
    (data_dir.parent / "secret.txt").write_text(SECRET)
    (data_dir / "plotly.min.js").write_text(SECRET)  # outside the report folders: never served


def bundle_text(kind: str, period: str) -> str:
    """A stand-in for plotly.js in one report folder (the renderer writes the real one)."""
    return f"/* plotly.js of {kind} {period} */ window.Plotly = {{}};\n"


@dataclass
class World:
    root: Path
    warehouse: Path
    data_dir: Path
    state_dir: Path
    tokens: dict[str, str]


def build_world(root: Path) -> World:
    data_dir, state_dir = root / "data", root / "data" / "portal"
    data_dir.mkdir(parents=True)
    warehouse = root / "data" / "warehouse" / "flexpower.duckdb"
    write_warehouse(warehouse)
    write_documents(data_dir, warehouse)
    store = TokenStore(state_dir)
    tokens = {
        "admin": store.create("ada", "admin"),
        "trader": store.create("tom", "trader"),
        "operations": store.create("olga", "operations"),
        "finance": store.create("fin", "finance"),
        "alice": store.create("alice", "customer", "CON-A"),
        "bob": store.create("bob", "customer", "CON-B"),
        "carol": store.create("carol", "customer", "CON-C"),
    }
    return World(root, warehouse, data_dir, state_dir, tokens)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


@pytest.fixture
def client(world: World) -> TestClient:
    return TestClient(create_app(world.warehouse, world.data_dir, world.state_dir))


def as_(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}


# ---------------------------------------------------------------------------------------------
# role x endpoint matrix (expected access written out here, not read from policy.yaml)

ROLES = ["admin", "trader", "operations", "finance", "alice"]
EVERYONE = set(ROLES)
GRANTED_DATASETS = {
    "admin": set(DATASETS),
    "trader": {"trading_pnl", "trading_daily", "asset_forecast", "portfolio_forecast", "best_of_infeed",
               "portfolio_best_of_infeed", "asset_imbalance", "portfolio_imbalance", "contracts", "open_position"},
    "operations": {"asset_forecast", "portfolio_forecast", "best_of_infeed", "portfolio_best_of_infeed",
                   "redispatch_compensation", "landing_files", "contracts"},
    "finance": {"contracts", "invoice", "invoice_line", "invoice_day_volume", "best_of_infeed",
                "portfolio_best_of_infeed", "asset_imbalance", "portfolio_imbalance", "trading_daily",
                "redispatch_compensation"},
    "alice": {"best_of_infeed", "asset_forecast", "contracts", "invoice", "invoice_line", "invoice_day_volume"},
}
INVOICE_ROLES = {"admin", "finance", "alice"}

# (url, roles answered 200, roles answered 404; every other role gets 403)
ENDPOINTS: list[tuple[str, set[str], set[str]]] = [
    ("/", EVERYONE, set()),
    ("/api/me", EVERYONE, set()),
    ("/api/datasets", EVERYONE, set()),
    *[(f"/api/datasets/{d}", {r for r in ROLES if d in GRANTED_DATASETS[r]}, set()) for d in DATASETS],
    ("/api/datasets/best_of_infeed?from=2025-06-08&to=2025-06-08&format=csv",
     {r for r in ROLES if "best_of_infeed" in GRANTED_DATASETS[r]}, set()),
    ("/position", {"admin", "trader"}, set()),
    ("/position?day=2025-06-08", {"admin", "trader"}, set()),
    ("/api/invoices", INVOICE_ROLES, set()),
    ("/api/invoices/INV-CON-A-2025-06", INVOICE_ROLES, set()),
    ("/invoices/INV-CON-A-2025-06", INVOICE_ROLES, set()),
    ("/invoices/INV-CON-A-2025-06/pdf", INVOICE_ROLES, set()),
    ("/invoices/INV-CON-A-2025-06/pdf?version=1", INVOICE_ROLES, set()),
    ("/api/invoices/INV-CON-B-2025-06", {"admin", "finance"}, {"alice"}),
    ("/invoices/INV-CON-B-2025-06/pdf", {"admin", "finance"}, {"alice"}),
    ("/api/reports", EVERYONE, set()),
    ("/reports/daily/2025-06-08/portfolio", {"admin", "trader", "finance"}, {"operations", "alice"}),
    ("/reports/daily/2025-06-08/SOL-A", EVERYONE, set()),
    ("/reports/daily/2025-06-08/WND-B", {"admin", "trader", "operations", "finance"}, {"alice"}),
    ("/reports/monthly/2025-06/portfolio", {"admin", "trader", "finance"}, {"operations", "alice"}),
    ("/reports/monthly/2025-06/SOL-A", EVERYONE, set()),
    ("/reports/monthly/2025-06/WND-B", {"admin", "trader", "operations", "finance"}, {"alice"}),
    ("/reports/daily/2025-06-08/plotly.min.js", EVERYONE, set()),
    ("/reports/monthly/2025-06/plotly.min.js", EVERYONE, set()),
    ("/api/briefings", {"admin", "trader"}, set()),          # trader briefings: policy.yaml briefings: true
    ("/briefings", {"admin", "trader"}, set()),
    ("/briefings/2025-06-08/OWN-PORTFOLIO", set(), {"admin", "trader"}),   # none built in this world
]
PUBLIC = ["/login", "/docs", "/openapi.json"]


def expected_status(url: str, role: str) -> int:
    for u, allowed, hidden in ENDPOINTS:
        if u == url:
            return 200 if role in allowed else 404 if role in hidden else 403
    raise KeyError(url)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_on_every_endpoint(client: TestClient, world: World, role: str) -> None:
    got = {url: client.get(url, headers=as_(world, role)).status_code for url, _, _ in ENDPOINTS}
    want = {url: expected_status(url, role) for url, _, _ in ENDPOINTS}
    assert got == want


def test_without_a_token_everything_but_login_and_docs_is_401(client: TestClient, world: World) -> None:
    for url, _, _ in ENDPOINTS:
        assert client.get(url).status_code == 401, url
        assert client.get(url, headers={"Authorization": "Bearer fpt_not-a-token"}).status_code == 401, url
    assert client.get("/api/datasets").headers["www-authenticate"] == "Bearer"
    for url in PUBLIC:
        assert client.get(url).status_code == 200, url


def test_dataset_list_matches_the_grants(client: TestClient, world: World) -> None:
    for role in ROLES:
        names = {d["name"] for d in client.get("/api/datasets", headers=as_(world, role)).json()}
        assert names == GRANTED_DATASETS[role], role


# ---------------------------------------------------------------------------------------------
# row filters and column masks


def _data(client: TestClient, world: World, who: str, dataset: str, query: str = "") -> dict:
    response = client.get(f"/api/datasets/{dataset}{query}", headers=as_(world, who))
    assert response.status_code == 200, response.text
    return response.json()


def test_traders_and_operations_never_see_customer_emails(client: TestClient, world: World) -> None:
    for role in ("trader", "operations"):
        body = _data(client, world, role, "contracts")
        assert "email" not in body["columns"]
        assert body["rows"] == 6  # 3 contracts x 2 days, all rows
        csv = client.get("/api/datasets/contracts?format=csv", headers=as_(world, role)).text
        assert "example.com" not in csv and "email" not in csv.splitlines()[0]
    finance = _data(client, world, "finance", "contracts")
    assert {r["email"] for r in finance["data"]} == {"alice@example.com", "bob@example.com", "carol@example.com"}


def test_a_customer_sees_only_its_own_rows(client: TestClient, world: World) -> None:
    alice = _data(client, world, "alice", "contracts")
    assert {(r["contract_id"], r["email"]) for r in alice["data"]} == {("CON-A", "alice@example.com")}
    assert {r["asset_id"] for r in _data(client, world, "alice", "best_of_infeed")["data"]} == {"SOL-A"}
    assert {r["invoice_id"] for r in _data(client, world, "alice", "invoice")["data"]} == {"INV-CON-A-2025-06"}
    lines = _data(client, world, "alice", "invoice_line")["data"]
    assert {r["invoice_id"] for r in lines} == {"INV-CON-A-2025-06"} and len(lines) == 6  # 2 versions x 3 lines
    days = _data(client, world, "alice", "invoice_day_volume", "?from=2025-06-09")["data"]
    assert [(r["invoice_id"], r["delivery_day"]) for r in days] == [("INV-CON-A-2025-06", "2025-06-09")]


def test_an_asset_changing_owner_is_split_by_contract_day(client: TestClient, world: World) -> None:
    # WND-B belonged to carol (CON-C) until 2025-06-09 and to bob (CON-B) from then on
    carol = _data(client, world, "carol", "best_of_infeed")["data"]
    bob = _data(client, world, "bob", "asset_forecast")["data"]
    assert [(r["asset_id"], r["delivery_day"]) for r in carol] == [("WND-B", "2025-06-08")]
    assert [(r["asset_id"], r["delivery_day"]) for r in bob] == [("WND-B", "2025-06-09")]
    bob_reports = {r["url"] for r in client.get("/api/reports", headers=as_(world, "bob")).json()}
    carol_reports = {r["url"] for r in client.get("/api/reports", headers=as_(world, "carol")).json()}
    # June's WND-B report covers both owners' days: neither owner gets it
    assert bob_reports == {"/reports/daily/2025-06-09/WND-B"}
    assert carol_reports == {"/reports/daily/2025-06-08/WND-B"}
    for who, url in (("bob", "/reports/daily/2025-06-08/WND-B"), ("bob", "/reports/monthly/2025-06/WND-B"),
                     ("carol", "/reports/daily/2025-06-09/WND-B"), ("carol", "/reports/monthly/2025-06/WND-B")):
        assert client.get(url, headers=as_(world, who)).status_code == 404
    alice_reports = {r["url"] for r in client.get("/api/reports", headers=as_(world, "alice")).json()}
    assert alice_reports == {"/reports/daily/2025-06-08/SOL-A", "/reports/daily/2025-06-09/SOL-A",
                             "/reports/monthly/2025-06/SOL-A"}


def test_the_plotly_bundle_of_a_report_folder(client: TestClient, world: World) -> None:
    # the route serves the folder's library, not a report of an asset called "plotly.min.js"
    r = client.get("/reports/daily/2025-06-08/plotly.min.js", headers=as_(world, "alice"))
    assert r.status_code == 200 and r.text == bundle_text("daily", "2025-06-08")
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["cache-control"] == "private, max-age=3600"  # everything else: no-store
    assert client.get("/reports/monthly/2025-06/plotly.min.js", headers=as_(world, "alice")).text == \
        bundle_text("monthly", MONTH)
    # not logged in: 401, as for every report
    assert client.get("/reports/daily/2025-06-08/plotly.min.js").status_code == 401
    # a customer gets it only for a period in which it may open a report: bob owns WND-B from
    # 2025-06-09, carol until then, and neither gets June's WND-B report
    for who, url in (("bob", "/reports/daily/2025-06-08/plotly.min.js"),
                     ("carol", "/reports/daily/2025-06-09/plotly.min.js"),
                     ("carol", "/reports/monthly/2025-06/plotly.min.js")):
        _same_answer(client.get(url, headers=as_(world, who)),
                     client.get("/reports/daily/2031-01-01/plotly.min.js", headers=as_(world, who)))
    assert client.get("/reports/daily/2025-06-09/plotly.min.js", headers=as_(world, "bob")).status_code == 200
    # a library the warehouse lists but the folder lacks is not served (409); names that are not a
    # period are not found
    (world.data_dir / "reports" / "daily" / "2025-06-09" / "plotly.min.js").unlink()
    assert client.get("/reports/daily/2025-06-09/plotly.min.js", headers=as_(world, "admin")).status_code == 409
    for url in ("/reports/daily/2025-06-10/plotly.min.js", "/reports/daily/2025-06/plotly.min.js",
                "/reports/weekly/2025-06-08/plotly.min.js", "/reports/daily/plotly.min.js"):
        assert client.get(url, headers=as_(world, "admin")).status_code == 404, url
    # and the report route does not take the library for a scope either
    with pytest.raises(NotFound):
        Gate(Policy.load(), Warehouse(world.warehouse), world.data_dir).report_file(
            Principal("ada", "admin"), "daily", "2025-06-08", "plotly.min.js")


def test_date_filters(client: TestClient, world: World) -> None:
    body = _data(client, world, "admin", "best_of_infeed", "?from=2025-06-09&to=2025-06-09")
    assert body["rows"] == 2 and {r["delivery_day"] for r in body["data"]} == {"2025-06-09"}
    assert _data(client, world, "admin", "best_of_infeed", "?from=2025-06-09")["rows"] == 2
    assert _data(client, world, "admin", "best_of_infeed", "?to=2025-06-08")["rows"] == 2
    assert _data(client, world, "admin", "invoice", "?from=2025-07-01")["rows"] == 0
    assert _data(client, world, "admin", "invoice", "?from=2025-06-15&to=2025-06-20")["rows"] == 4
    r = client.get("/api/datasets/best_of_infeed?from=2025-06-10&to=2025-06-09", headers=as_(world, "admin"))
    assert r.status_code == 400
    assert client.get("/api/datasets/landing_files?from=2025-06-08", headers=as_(world, "admin")).status_code == 400


def test_csv_on_request(client: TestClient, world: World) -> None:
    by_param = client.get("/api/datasets/trading_daily?format=csv", headers=as_(world, "trader"))
    by_accept = client.get("/api/datasets/trading_daily", headers={**as_(world, "trader"), "Accept": "text/csv"})
    assert by_param.headers["content-type"].startswith("text/csv")
    assert by_param.text == by_accept.text
    assert by_param.text.splitlines()[0].split(",")[:2] == ["delivery_day", "n_trades"]
    assert len(by_param.text.splitlines()) == 3  # header + 2 days
    json = client.get("/api/datasets/trading_daily", headers=as_(world, "trader"))
    assert json.headers["content-type"] == "application/json" and json.json()["rows"] == 2


def test_csv_of_a_dataset_with_a_list_column(client: TestClient, world: World) -> None:
    csv = client.get("/api/datasets/landing_files?format=csv", headers=as_(world, "operations")).text.splitlines()
    assert csv[0] == "path,kind,status,error,delivery_days"
    assert csv[1] == "crm/asset_contracts_20250601_043000.csv,contracts,accepted,,2025-06-08;2025-06-09"
    # an empty list is an empty text (quoted, so it differs from a missing value)
    assert csv[2] == 'exchange/Public_Trades-20250608-x.csv,public_trades,rejected,empty file,""'


def test_invoice_amounts_stay_exact_in_json(client: TestClient, world: World) -> None:
    body = client.get("/api/invoices/INV-CON-A-2025-06", headers=as_(world, "alice")).json()
    assert body["version"] == 2 and body["versions"] == [1, 2]
    assert body["invoice"]["gross_eur"] == 119.00 and len(body["lines"]) == 3
    assert '"gross_eur":119.00' in client.get("/api/invoices/INV-CON-A-2025-06", headers=as_(world, "alice")).text
    pdf = client.get("/invoices/INV-CON-A-2025-06/pdf?version=1", headers=as_(world, "alice"))
    assert pdf.headers["content-type"] == "application/pdf"
    assert b"INV-CON-A-2025-06 version 1" in pdf.content


# ---------------------------------------------------------------------------------------------
# customer isolation: someone else's item answers exactly like one that does not exist


def _same_answer(a, b) -> None:
    assert (a.status_code, a.content) == (b.status_code, b.content)
    keep = ("content-type", "content-length", "www-authenticate", "retry-after")
    assert {k: a.headers.get(k) for k in keep} == {k: b.headers.get(k) for k in keep}


@pytest.mark.parametrize(("theirs", "nobodys"), [
    ("/api/invoices/INV-CON-B-2025-06", "/api/invoices/INV-CON-Z-2025-06"),
    ("/invoices/INV-CON-B-2025-06", "/invoices/INV-CON-Z-2025-06"),
    ("/invoices/INV-CON-B-2025-06/pdf", "/invoices/INV-CON-Z-2025-06/pdf"),
    ("/api/invoices/INV-CON-A-2025-06?version=9", "/api/invoices/INV-CON-Z-2025-06?version=9"),
    ("/reports/daily/2025-06-08/WND-B", "/reports/daily/2025-06-08/NOPE-1"),
    ("/reports/monthly/2025-06/WND-B", "/reports/monthly/2025-06/NOPE-1"),
    ("/reports/daily/2025-06-08/portfolio", "/reports/daily/2031-01-01/portfolio"),
    ("/reports/daily/2025-06-08/WND-B", "/no/such/page"),
])
def test_other_customers_items_look_like_missing_ones(client: TestClient, world: World, theirs: str,
                                                      nobodys: str) -> None:
    a = client.get(theirs, headers=as_(world, "alice"))
    b = client.get(nobodys, headers=as_(world, "alice"))
    assert a.status_code == 404
    _same_answer(a, b)


# ---------------------------------------------------------------------------------------------
# traversal and injection


TRAVERSALS = [
    "/reports/daily/2025-06-08/..%2F..%2F..%2Fsecret",
    "/reports/daily/2025-06-08/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
    "/reports/daily/%2e%2e/%2e%2e",
    "/reports/daily/2025-06-08/%2e%2e",
    "/reports/%2e%2e/%2e%2e/secret.txt",
    "/reports/daily/2025-06-08/%2Fetc%2Fpasswd",
    "/reports/daily/2025-06-08/..%5C..%5Csecret",
    "/reports/%2e%2e/%2e%2e/plotly.min.js",
    "/reports/daily/..%2F..%2F..%2Fsecret.txt%00/plotly.min.js",
    "/reports/daily/2025-06-08/..%2F..%2F..%2Fplotly.min.js",
    "/reports/daily/2025-06-08/..%2Fplotly.min.js",
    "/invoices/..%2F..%2Fsecret.txt/pdf",
    "/invoices/%2e%2e/pdf",
    "/invoices/%2Fetc%2Fpasswd/pdf",
    "/invoices/INV-..%2F..%2F..%2Fsecret-2025-06/pdf",
    "/api/datasets/..%2F..%2Fsecret.txt",
    "/api/datasets/%2e%2e",
]
INJECTIONS = [
    "/api/invoices/INV-CON-A-2025-06' OR 1=1 --",
    "/api/invoices/INV-CON-B-2025-06%27%20OR%20%271%27%3D%271",
    "/invoices/' OR 1=1 --/pdf",
    "/api/datasets/best_of_infeed' OR 1=1 --",
    "/api/datasets/best_of_infeed;drop table main.invoice",
    "/reports/daily/2025-06-08/SOL-A' OR 1=1 --",
    "/reports/daily/2025-06-08' OR 1=1 --/SOL-A",
]
BAD_QUERIES = [
    "/api/datasets/best_of_infeed?from=2025-06-08' OR 1=1 --",
    "/api/datasets/best_of_infeed?to=' OR '1'='1",
    "/api/datasets/best_of_infeed?from=2025-13-45",
    "/api/invoices?from=2025-06-01';delete from main.invoice;--",
    "/api/datasets/best_of_infeed?format=csv' OR 1=1 --",
]


@pytest.mark.parametrize("who", ["admin", "alice"])
def test_traversal_is_refused(client: TestClient, world: World, who: str) -> None:
    for url in TRAVERSALS:
        r = client.get(url, headers=as_(world, who))
        assert r.status_code == 404, (url, r.status_code)
        assert SECRET not in r.text and "root:" not in r.text


def test_the_gate_refuses_absolute_and_parent_paths(world: World) -> None:
    root = (world.data_dir / "reports").resolve()
    for parts in (("daily", "2025-06-08", "../../../../secret.txt"), ("/etc/passwd",), ("..",),
                  ("daily", "..", "..", "..", "secret.txt"), (str(world.root / "secret.txt"),)):
        with pytest.raises(NotFound):
            Gate._inside(root, *parts)
    assert Gate._inside(root, "daily", "2025-06-08", "SOL-A.html") == root / "daily" / "2025-06-08" / "SOL-A.html"


@pytest.mark.parametrize("who", ["admin", "alice"])
def test_injection_in_ids_and_dates_is_refused(client: TestClient, world: World, who: str) -> None:
    for url in INJECTIONS:
        assert client.get(url, headers=as_(world, who)).status_code == 404, url
    for url in BAD_QUERIES:
        assert client.get(url, headers=as_(world, who)).status_code == 400, url
    assert client.get("/api/invoices/INV-CON-A-2025-06?version=1 OR 1=1",
                      headers=as_(world, who)).status_code == 422
    # nothing was changed or leaked: every invoice is still there for the admin
    assert _data(client, world, "admin", "invoice")["rows"] == 4


# ---------------------------------------------------------------------------------------------
# audit log


def test_every_request_leaves_one_audit_record(client: TestClient, world: World) -> None:
    log = AuditLog(world.state_dir / "audit.jsonl")
    before = len(log.records())
    calls = [
        ("/api/datasets/best_of_infeed", "alice", 200),
        ("/api/datasets/trading_pnl", "alice", 403),
        ("/api/invoices/INV-CON-B-2025-06", "alice", 404),
        ("/api/datasets", None, 401),
        ("/api/datasets/best_of_infeed?from=x", "admin", 400),
        ("/docs", None, 200),
        (TRAVERSALS[0], "admin", 404),
        ("/reports/daily/2025-06-08/plotly.min.js", "alice", 200),
        ("/reports/daily/2025-06-08/plotly.min.js", "bob", 404),
    ]
    for url, who, status in calls:
        assert client.get(url, headers=as_(world, who) if who else {}).status_code == status
    records = log.records()[before:]
    assert len(records) == len(calls)
    users = {"alice": "alice", "admin": "ada", "bob": "bob", None: None}
    for record, (url, who, status) in zip(records, calls, strict=True):
        assert record["status"] == status
        assert record["decision"] == ("allow" if status < 400 else "deny")
        assert record["user"] == users[who]
        assert record["action"] == "GET" and url.split("?")[0].startswith(record["target"][:10])
        assert record["ts"].endswith("+00:00")
    assert records[1]["resource"] == "dataset:trading_pnl" and "may not read" in records[1]["reason"]
    assert records[2]["resource"] == "invoice:INV-CON-B-2025-06"
    assert records[7]["resource"] == records[8]["resource"] == "report-bundle:daily/2025-06-08"
    assert verify_audit_log(log.path).ok


def test_the_audit_log_is_chained_and_tampering_shows(client: TestClient, world: World) -> None:
    for _ in range(3):
        client.get("/api/me", headers=as_(world, "trader"))
    path = world.state_dir / "audit.jsonl"
    result = verify_audit_log(path)
    assert result.ok and result.records == len(path.read_bytes().splitlines())
    lines = path.read_bytes().splitlines()
    lines[1] = lines[1].replace(b'"status":200', b'"status":403')  # rewrite one decision
    path.write_bytes(b"\n".join(lines) + b"\n")
    broken = verify_audit_log(path)
    assert not broken.ok and broken.records == 1 and "line 2" in broken.problem
    path.write_bytes(b"\n".join(lines[:1] + lines[2:]) + b"\n")  # or drop it
    assert not verify_audit_log(path).ok


# ---------------------------------------------------------------------------------------------
# tokens, sessions, commands


def test_token_commands_create_and_revoke(world: World) -> None:
    runner = CliRunner()
    state = ["--data-dir", str(world.data_dir), "--state-dir", str(world.state_dir)]
    created = runner.invoke(token_group, ["create", "--user", "dora", "--role", "customer", "--contract", "CON-A",
                                          "--warehouse", str(world.warehouse), *state])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("fpt_") and len(token) > 40
    assert token not in (world.state_dir / "portal.sqlite").read_bytes().decode("latin-1")  # stored hashed
    client = TestClient(create_app(world.warehouse, world.data_dir, world.state_dir))
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["contract_id"] == "CON-A"
    cookie = client.post("/login", data={"token": token}, headers=SAME_ORIGIN,
                         follow_redirects=False).cookies[SESSION_COOKIE]

    revoked = runner.invoke(token_group, ["revoke", "--user", "dora", *state])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    client.cookies.set(SESSION_COOKIE, cookie)
    assert client.get("/api/me").status_code == 401  # the session died with the token
    assert runner.invoke(token_group, ["revoke", "--user", "dora", *state]).exit_code == 1

    actions = [(r["target"], r["user"]) for r in AuditLog(world.state_dir / "audit.jsonl").records()
               if r["action"] == "CLI"]
    assert actions == [("token create", "dora"), ("token revoke", "dora"), ("token revoke", "dora")]


@pytest.mark.parametrize(("args", "message"), [
    (["--user", "x", "--role", "customer"], "give --contract"),
    (["--user", "x", "--role", "trader", "--contract", "CON-A"], "leave out --contract"),
    (["--user", "x", "--role", "superuser"], "unknown role"),
    (["--user", "x", "--role", "customer", "--contract", "../CON-A"], "letters, digits"),
    (["--user", "x y", "--role", "admin"], "user name"),
    (["--user", "x", "--role", "customer", "--contract", "CON-NOPE"], "contract 'CON-NOPE' does not exist"),
])
def test_token_create_refuses_bad_arguments(world: World, args: list[str], message: str) -> None:
    result = CliRunner().invoke(token_group, ["create", *args, "--state-dir", str(world.state_dir),
                                              "--warehouse", str(world.warehouse)])
    assert result.exit_code == 2 and message in result.output


def test_browser_login_sets_a_session_and_logout_ends_it(client: TestClient, world: World) -> None:
    assert client.post("/login", data={"token": "fpt_wrong"}, headers=SAME_ORIGIN).status_code == 401
    r = client.post("/login", data={"token": world.tokens["alice"]}, headers=SAME_ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert world.tokens["alice"] not in cookie
    page = client.get("/")
    assert page.status_code == 200 and "alice" in page.text and "INV-CON-A-2025-06" in page.text
    assert "INV-CON-B" not in page.text and "WND-B" not in page.text
    assert client.post("/logout", headers=SAME_ORIGIN, follow_redirects=False).status_code == 303
    assert client.get("/api/me").status_code == 401


def test_policy_refuses_a_customer_role_that_could_leak() -> None:
    base = Policy.load()
    raw = {
        "datasets": {"trading_pnl": {"table": "main.trading_pnl", "date_column": "delivery_day"}},
        "roles": {"customer": {"bound_to_contract": True, "datasets": {"trading_pnl": {"rows": "own"}}}},
    }
    with pytest.raises(ValueError, match="no owner"):
        Policy.from_dict(raw)
    raw["roles"]["customer"]["datasets"] = {"trading_pnl": {}}
    with pytest.raises(ValueError, match="only its own rows"):
        Policy.from_dict(raw)
    raw["roles"]["customer"] = {"bound_to_contract": True, "reports": {"portfolio": True}}
    with pytest.raises(ValueError, match="own asset's reports"):
        Policy.from_dict(raw)
    assert set(base.roles) == {"admin", "trader", "head_of_trading", "operations", "finance", "customer"}


# ---------------------------------------------------------------------------------------------
# serving while the pipeline writes


def _hold_writer(warehouse: Path, holding: threading.Event, release: threading.Event) -> None:
    with Warehouse(warehouse).writer() as conn:
        conn.execute(
            "insert into main.best_of_infeed select delivery_day, asset_id, delivery_start + interval 15 minute, "
            "power_kw, energy_mwh, 'live', is_redispatched from main.best_of_infeed "
            "where asset_id = 'SOL-A' and delivery_day = ?", [D1],
        )
        holding.set()
        release.wait(timeout=10)


def test_reads_wait_for_a_running_write_and_then_succeed(world: World) -> None:
    client = TestClient(create_app(world.warehouse, world.data_dir, world.state_dir))
    holding, release = threading.Event(), threading.Event()
    writer = threading.Thread(target=_hold_writer, args=(world.warehouse, holding, release))
    writer.start()
    assert holding.wait(timeout=10)
    threading.Timer(2.0, release.set).start()  # the "materialization" commits after ~2 s
    try:
        r = client.get("/api/datasets/best_of_infeed?from=2025-06-08&to=2025-06-08", headers=as_(world, "alice"))
        r2 = client.get("/reports/daily/2025-06-08/SOL-A", headers=as_(world, "alice"))
    finally:
        release.set()
        writer.join()
    assert r.status_code == 200 and r2.status_code == 200
    # the read waited for the commit: it sees the row the writer added while the request was waiting
    assert [row["source"] for row in r.json()["data"]] == ["final", "live"]


def test_a_write_longer_than_the_lock_timeout_answers_503(world: World) -> None:
    client = TestClient(create_app(world.warehouse, world.data_dir, world.state_dir, lock_timeout_s=0.2))
    holding, release = threading.Event(), threading.Event()
    writer = threading.Thread(target=_hold_writer, args=(world.warehouse, holding, release))
    writer.start()
    assert holding.wait(timeout=10)
    try:
        r = client.get("/api/datasets/best_of_infeed", headers=as_(world, "alice"))
    finally:
        release.set()
        writer.join()
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert client.get("/api/datasets/best_of_infeed", headers=as_(world, "alice")).status_code == 200
