"""The bid run through Dagster, one fixture case at a time (bidding_cases/*.yaml)."""

from datetime import date, datetime, timezone

import pytest

from flexpower_assets.bidding.approval import create_client_api_app
from flexpower_assets.bidding.exchange_mock import ExchangeServer, LocalServer, prices_from_landing
from resources.warehouse import Warehouse
from tests.integration.bidding_harness import Bench, load_case, prepare


def _now(case):
    return datetime.fromisoformat(case["now"].replace("Z", "+00:00"))


@pytest.fixture
def world(tmp_path):
    """A bench with the mock exchange and a client confirmation API that answers yes."""
    answers = {}
    api = create_client_api_app(lambda request: answers.get(request.client_id, (True, "confirmed")))

    def make(case_name):
        case = load_case(case_name)
        bench = Bench(tmp_path, date.fromisoformat(case["delivery_day"]), case["now"])
        prepare(bench, case)
        return case, bench

    with LocalServer(api) as confirmations:
        state = {"answers": answers, "api": api, "confirm_url": confirmations.url}

        class World:
            def open(self, case_name):
                case, bench = make(case_name)
                clock = {"now": _now(case)}
                exchange = ExchangeServer(prices_from_landing(bench.landing), now=lambda: clock["now"])
                exchange.__enter__()
                self._exchange = exchange
                bench.exchange_url = exchange.url
                bench.approval_url = state["confirm_url"]
                return case, bench

        w = World()
        w.answers, w.api = answers, api
        yield w
        if hasattr(w, "_exchange"):
            w._exchange.__exit__(None, None, None)


def _table(bench, sql, params=None):
    return Warehouse(bench.root / "wh.duckdb").read(sql, params or [])


def test_complete_day(world):
    case, bench = world.open("complete")
    result = bench.run()
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    expected = case["expected"]
    assert _table(bench, "select count(*) as n from main.solver_run")["n"][0] == expected["solver_run_rows"]
    statuses = _table(bench, "select distinct asset_id, curve_status from main.asset_bid_curve order by 1")
    assert dict(statuses.rows()) == expected["curve_status"]
    subs = _table(bench, "select client_id, status from main.bid_submission order by 1")
    assert dict(subs.rows()) == expected["submission"]
