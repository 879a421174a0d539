"""Trader briefings through Dagster: built by the bid run, stored beside their figures, checked
number by number against the warehouse table, served by the portal only to roles that may read
them and only while the file's hash matches; a language model's wording with a made-up number is
refused."""

from datetime import date

import polars as pl
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from flexpower_assets.bidding.briefing import number_check, visible_text
from flexpower_assets.bidding.exchange_mock import LocalServer
from resources.warehouse import Warehouse
from tests.integration.test_bidding_pipeline import world  # noqa: F401 (the fixture)

DAY = date(2025, 10, 15)


def _figures(bench, client_id: str) -> pl.DataFrame:
    return Warehouse(bench.root / "wh.duckdb").read(
        "select key, value, unit, decimals from main.briefing_figure where delivery_day = ? and client_id = ?",
        [DAY, client_id])


def _page(bench, client_id: str) -> str:
    return (bench.settings().documents_root / "reports" / "briefing" / DAY.isoformat() / f"{client_id}.html").read_text()


def test_the_bid_run_writes_one_briefing_per_client_whose_every_number_is_in_the_table(world):  # noqa: F811
    case, bench = world.open("fallback")
    result = bench.run()
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    warehouse = Warehouse(bench.root / "wh.duckdb")
    index = warehouse.read("select name, path, sha256 from main.document where kind = 'briefing' and period = ?",
                           [DAY.isoformat()])
    assert index["name"].to_list() == ["HYD-A"]
    assert index["path"][0] == "reports/briefing/2025-10-15/HYD-A.html"
    figures = _figures(bench, "HYD-A")
    values = dict(zip(figures["key"], figures["value"]))
    # HYD-A-01 solved every scenario, HYD-A-02 got the 0 MW fallback; 96 MTUs; capacity 20 + 12 MW
    assert (values["assets"], values["assets_complete"], values["assets_fallback"]) == (2, 1, 1)
    assert values["asset.HYD-A-02.coverage_pct"] == 0 and values["mtus"] == 96 and values["capacity_mw"] == 32.0
    page = _page(bench, "HYD-A")
    assert "HYD-A-02: fallback, coverage 0 %, curve from zero." in page
    check = number_check(visible_text(page), figures, "HYD-A", DAY)
    assert check.passed, check.unmatched
    assert check.numbers > 100
    # the same page with one made-up number does not pass against the same table
    forged = page.replace("<h2>Fallbacks</h2>", "<h2>Fallbacks</h2><p>Expect 987.6 MWh more.</p>")
    assert number_check(visible_text(forged), figures, "HYD-A", DAY).unmatched == ["987.6"]


def test_portal_serves_briefings_to_traders_only_and_only_the_indexed_file(world):  # noqa: F811
    from flexpower_assets.portal.app import create_app
    from flexpower_assets.portal.tokens import TokenStore

    case, bench = world.open("complete")
    assert bench.run().success
    tokens = TokenStore(bench.data / "portal")
    who = {name: {"Authorization": f"Bearer {tokens.create(name, role)}"}
           for name, role in [("anna", "trader"), ("ben", "head_of_trading"), ("olga", "operations"),
                              ("fin", "finance")]}
    client = TestClient(create_app(bench.root / "wh.duckdb", bench.settings().documents_root,
                                   bench.data / "portal", data_dir=bench.data))
    listing = client.get("/api/briefings", headers=who["anna"])
    assert listing.status_code == 200
    assert [(b["delivery_day"], b["client_id"]) for b in listing.json()] == [
        ("2025-10-15", "HYD-A"), ("2025-10-15", "HYD-M"), ("2025-10-15", "HYD-X")]
    page = client.get("/briefings/2025-10-15/HYD-M", headers=who["ben"])
    assert page.status_code == 200 and page.text == _page(bench, "HYD-M")
    assert "HYD-M" in client.get("/briefings", headers=who["anna"]).text
    assert 'href="/briefings"' in client.get("/", headers=who["anna"]).text
    assert 'href="/briefings"' not in client.get("/", headers=who["olga"]).text
    figures = client.get("/api/briefings/2025-10-15/HYD-M/figures", headers=who["anna"]).json()
    assert {"key": "mtus", "value": 96.0, "unit": "MTU", "decimals": 0} in figures
    for other in ("olga", "fin"):   # operations and finance: no briefings
        assert client.get("/api/briefings", headers=who[other]).status_code == 403
        assert client.get("/briefings/2025-10-15/HYD-M", headers=who[other]).status_code == 403
    assert client.get("/briefings/2025-10-15/NOPE", headers=who["anna"]).status_code == 404
    assert client.get("/briefings/2025-10-15/..%2Fx", headers=who["anna"]).status_code == 404
    # an edited file is never served as the warehouse's briefing
    path = bench.settings().documents_root / "reports" / "briefing" / "2025-10-15" / "HYD-M.html"
    path.write_text(path.read_text().replace("96 MTUs", "95 MTUs"))
    assert client.get("/briefings/2025-10-15/HYD-M", headers=who["anna"]).status_code == 409


def _model(answer: str) -> FastAPI:
    app = FastAPI()
    app.state.seen = []

    @app.post("/v1/chat/completions")
    async def complete(request: Request):
        app.state.seen.append(await request.json())
        return {"choices": [{"message": {"role": "assistant", "content": answer.format(client="HYD-A")}}]}
    return app


def test_the_command_line_rebuilds_a_day_and_a_model_answer_with_a_made_up_number_is_refused(world, monkeypatch,  # noqa: F811
                                                                                              capsys):
    from dataclasses import replace

    from flexpower_assets.briefing_cli import run_briefing_command

    case, bench = world.open("complete")
    assert bench.run().success
    rule_page = _page(bench, "HYD-A")
    lines = []
    model = _model("{client}: the matrix sells 9,999.9 MWh tomorrow.")
    with LocalServer(model) as server:
        settings = replace(bench.settings(), briefing_llm_url=f"{server.url}/v1/chat/completions",
                           briefing_llm_model="local")
        monkeypatch.setenv("DAGSTER_HOME", str(bench.root / "dagster_home"))
        assert run_briefing_command(settings, DAY, "HYD-A", lines.append) == 0
    assert [body["model"] for body in model.state.seen] == ["local"] * 3      # one request per client
    assert "Client HYD-A, delivery day 2025-10-15" in model.state.seen[0]["messages"][1]["content"]
    # refused (9,999.9 is no figure): the page is the rule text, byte for byte as the bid run wrote it
    assert _page(bench, "HYD-A") == rule_page
    assert any(line.startswith("HYD-A") and line.endswith("HYD-A.html") for line in lines)
    assert any("Policy limits that bind" in line for line in lines)

    accepted = _model("{client}: three clients, one briefing each.")
    with LocalServer(accepted) as server:
        settings = replace(bench.settings(), briefing_llm_url=f"{server.url}/v1/chat/completions",
                           briefing_llm_model="local")
        assert run_briefing_command(settings, DAY, None, lines.append) == 0
    page = _page(bench, "HYD-A")
    assert "HYD-A: three clients, one briefing each." in page and "Reworded by the configured language model" in page
    index = Warehouse(bench.root / "wh.duckdb").read(
        "select sha256 from main.document where kind = 'briefing' and name = 'HYD-A'")
    from flexpower_assets.documents.store import sha256_of
    assert index["sha256"][0] == sha256_of(page.encode())


def test_flexpower_briefing_command(world, tmp_path):  # noqa: F811
    from click.testing import CliRunner

    from flexpower_assets.cli import main

    case, bench = world.open("complete")
    assert bench.run().success
    env = {"FLEXPOWER_LANDING_DIR": str(bench.landing), "FLEXPOWER_WAREHOUSE": str(bench.root / "wh.duckdb"),
           "FLEXPOWER_DATA_DIR": str(bench.data), "FLEXPOWER_BIDDING_CONFIG": str(bench.config_path),
           "FLEXPOWER_NOW": case["now"], "DAGSTER_HOME": str(tmp_path / "home")}
    # the briefing of the day before, as its run would have stored it (a figure of 100.0 MWh offered)
    with Warehouse(bench.root / "wh.duckdb").writer() as conn:
        conn.execute("insert into main.briefing_figure values ('2025-10-14', 'HYD-X', 'day.max_offer_mwh', 100.0, "
                     "'MWh', 1), ('2025-10-14', 'HYD-M', 'day.max_offer_mwh', 1.0, 'MWh', 1)")
    result = CliRunner().invoke(main, ["briefing", "--day", "2025-10-15", "--client", "HYD-X"], env=env)
    assert result.exit_code == 0, result.output
    assert "Client HYD-X, delivery day 2025-10-15, bid matrix version 1, 96 MTUs." in result.output
    offer = dict(zip(*_figures(bench, "HYD-X").select("key", "value")))["day.max_offer_mwh"]
    change = round(offer - 100.0, 1)
    assert f"Maximum offer: {offer:,.1f} MWh, {change:+,.1f} MWh against 100.0 MWh the day before." in result.output
    # the day before's rows are kept: the run replaced only its own day
    kept = Warehouse(bench.root / "wh.duckdb").read("select count(*) as n from main.briefing_figure "
                                                    "where delivery_day = '2025-10-14'")
    assert kept["n"][0] == 2
    assert str(bench.root / "wh.documents" / "reports" / "briefing" / "2025-10-15" / "HYD-X.html") in result.output
    missing = CliRunner().invoke(main, ["briefing", "--day", "2025-10-15", "--client", "NOPE"], env=env)
    assert missing.exit_code == 1 and "no briefing for client NOPE" in missing.output
