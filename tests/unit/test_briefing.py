"""The trader briefing: every figure worked out by hand, the rule text, and the number check."""

from datetime import date, datetime, timezone

import polars as pl
import pytest

from flexpower_assets.bidding.briefing import (
    BriefingInputs,
    Limits,
    build_briefing,
    format_number,
    number_check,
    render_html,
    visible_text,
    volume_at,
)

UTC = timezone.utc
DAY = date(2025, 10, 15)
A = datetime(2025, 10, 14, 22, 0, tzinfo=UTC)   # 00:00 Berlin (UTC+2): block 0-4
B = datetime(2025, 10, 15, 2, 0, tzinfo=UTC)    # 04:00 Berlin: block 4-8


def _matrix() -> pl.DataFrame:
    # A: (-500, 0), (50, 4), (4000, 10) MW; B: (-500, -2), (30, 2), (80, 6), (4000, 6) MW
    rows = [(A, 1, -500.0, 0.0), (A, 2, 50.0, 4.0), (A, 3, 4000.0, 10.0),
            (B, 1, -500.0, -2.0), (B, 2, 30.0, 2.0), (B, 3, 80.0, 6.0), (B, 4, 4000.0, 6.0)]
    return pl.DataFrame(rows, schema={"delivery_start": pl.Datetime("us", "UTC"), "point": pl.Int64,
                                      "price_eur_per_mwh": pl.Float64, "volume_mw": pl.Float64}, orient="row")


def _scenarios() -> pl.DataFrame:
    # A: 40, 60, 80 EUR/MWh; B: 20, 50, 110 EUR/MWh
    rows = [(s, A, p) for s, p in enumerate([40.0, 60.0, 80.0], 1)] + [(s, B, p) for s, p in enumerate([20.0, 50.0, 110.0], 1)]
    return pl.DataFrame(rows, schema={"scenario_id": pl.Int64, "delivery_start": pl.Datetime("us", "UTC"),
                                      "price_eur_per_mwh": pl.Float64}, orient="row")


def _quantiles() -> pl.DataFrame:
    rows = [("X", A, 0.1, 1200.0), ("X", A, 0.5, 2400.0), ("X", A, 0.9, 4000.0), ("X", A, 0.3, 99999.0),
            ("Y", A, 0.1, 400.0), ("Y", A, 0.5, 800.0), ("Y", A, 0.9, 1600.0),
            ("X", B, 0.1, 0.0), ("X", B, 0.5, 800.0), ("X", B, 0.9, 2000.0)]
    return pl.DataFrame(rows, schema={"asset_id": pl.String, "delivery_start": pl.Datetime("us", "UTC"),
                                      "quantile_level": pl.Float64, "power_kw": pl.Float64}, orient="row")


def _curves() -> pl.DataFrame:
    return pl.DataFrame({"asset_id": ["X", "Y", "Z"], "curve_status": ["complete", "fallback", "partial"],
                         "coverage": [1.0, 0.4, 0.8], "fallback_source": [None, "previous_day", None]})


def _inputs(previous: pl.DataFrame | None = None, **changes) -> BriefingInputs:
    values = dict(client_id="OWN-1", delivery_day=DAY, timezone="Europe/Berlin", matrix_version=2, matrix=_matrix(),
                  curves=_curves(), scenarios=_scenarios(), quantiles=_quantiles(),
                  limits=Limits(capacity_mw=10.0, max_volume_share=0.8, max_points=3, volume_step_mw=0.1,
                                p90_deviation_share=0.1),
                  violations={"max_volume": 3, "price_tick": 0}, previous=previous)
    values.update(changes)
    return BriefingInputs(**values)


def _previous() -> pl.DataFrame:
    return pl.DataFrame({"key": ["day.max_offer_mwh", "assets_fallback", "mtus_at_cap", "day.price_spread"],
                         "value": [3.26, 0.0, 3.0, 50.04], "decimals": [1, 0, 0, 1]})


def test_volume_at_is_the_step_curve_at_the_price():
    # B at 60: the highest point priced <= 60 is (30, 2); at 80 exactly (80, 6); A at 49.9: (-500, 0)
    prices = pl.DataFrame({"delivery_start": [A, B], "p": [49.9, 80.0]},
                          schema={"delivery_start": pl.Datetime("us", "UTC"), "p": pl.Float64})
    got = dict(volume_at(_matrix(), prices, "p").sort("delivery_start").rows())
    assert got == {A: 0.0, B: 6.0}
    # a price below the first point keeps the first point's volume
    cheap = pl.DataFrame({"delivery_start": [A, B], "p": [-600.0, -600.0]},
                         schema={"delivery_start": pl.Datetime("us", "UTC"), "p": pl.Float64})
    assert dict(volume_at(_matrix(), cheap, "p").rows()) == {A: 0.0, B: -2.0}


def test_every_figure_by_hand():
    briefing = build_briefing(_inputs(previous=_previous()))
    got = {f.key: f.value for f in briefing.figures}
    expected = {
        "mtus": 2, "matrix_version": 2,
        # block 0-4 = MTU A. Last point 10 MW x 0.25 h = 2.5 MWh
        "block_00_04.start_h": 0, "block_00_04.end_h": 4, "block_00_04.max_offer_mwh": 2.5,
        # scenario prices 40, 60, 80: mean 60; P10 = 40 + 0.2 x 20 = 44; P90 = 80 - 0.2 x 20 = 76; spread 32
        "block_00_04.mean_price": 60.0, "block_00_04.price_p10": 44.0, "block_00_04.price_p90": 76.0,
        "block_00_04.price_spread": 32.0,
        # at 60: point (50, 4) -> 1.0 MWh; at 44: (-500, 0) -> 0; at 76: 4 MW -> 1.0; sensitivity 1.0 - 0 = 1.0
        "block_00_04.expected_mwh": 1.0, "block_00_04.at_p10_mwh": 0.0, "block_00_04.at_p90_mwh": 1.0,
        "block_00_04.price_sensitivity_mwh": 1.0,
        # forecast (X + Y): P10 1.2 + 0.4 = 1.6 MW -> 0.4 MWh; P50 2.4 + 0.8 = 3.2 -> 0.8; P90 4.0 + 1.6 = 5.6 -> 1.4
        "block_00_04.forecast_p10_mwh": 0.4, "block_00_04.forecast_p50_mwh": 0.8, "block_00_04.forecast_p90_mwh": 1.4,
        "block_00_04.forecast_spread_mwh": 1.0,
        # block 4-8 = MTU B. Last point 6 MW -> 1.5 MWh
        "block_04_08.start_h": 4, "block_04_08.end_h": 8, "block_04_08.max_offer_mwh": 1.5,
        # 20, 50, 110: mean 60; P10 = 20 + 0.2 x 30 = 26; P90 = 50 + 0.8 x 60 = 98; spread 72
        "block_04_08.mean_price": 60.0, "block_04_08.price_p10": 26.0, "block_04_08.price_p90": 98.0,
        "block_04_08.price_spread": 72.0,
        # at 60: (30, 2) -> 0.5 MWh; at 26: (-500, -2) -> -0.5; at 98: (80, 6) -> 1.5; sensitivity 1.5 - -0.5 = 2.0
        "block_04_08.expected_mwh": 0.5, "block_04_08.at_p10_mwh": -0.5, "block_04_08.at_p90_mwh": 1.5,
        "block_04_08.price_sensitivity_mwh": 2.0,
        # X only: P10 0 -> 0; P50 0.8 MW -> 0.2; P90 2.0 MW -> 0.5; spread 0.5
        "block_04_08.forecast_p10_mwh": 0.0, "block_04_08.forecast_p50_mwh": 0.2, "block_04_08.forecast_p90_mwh": 0.5,
        "block_04_08.forecast_spread_mwh": 0.5,
        # day: sums of energy, means of prices over the 2 MTUs
        "day.max_offer_mwh": 4.0, "day.expected_mwh": 1.5, "day.mean_price": 60.0,
        "day.price_p10": 35.0, "day.price_p90": 87.0, "day.price_spread": 52.0,   # (44 + 26) / 2, (76 + 98) / 2
        "day.at_p10_mwh": -0.5, "day.at_p90_mwh": 2.5, "day.price_sensitivity_mwh": 3.0,
        "day.forecast_p10_mwh": 0.4, "day.forecast_p50_mwh": 1.0, "day.forecast_p90_mwh": 1.9,
        "day.forecast_spread_mwh": 1.5, "interval_pct": 80, "day.forecast_spread_pct": 150.0,  # 1.5 / 1.0
        # assets: X complete, Y fallback at 40 %, Z partial at 80 %
        "assets": 3, "assets_complete": 1, "assets_partial": 1, "assets_fallback": 1,
        "asset.Y.coverage_pct": 40, "asset.Z.coverage_pct": 80, "min_coverage_pct": 40,
        # cap 0.8 x 10 = 8.0 MW: A's top 10 MW >= 8 - 0.05, B's 6 MW not -> 1 MTU
        "capacity_mw": 10.0, "cap_share_pct": 80, "cap_mw": 8.0, "mtus_at_cap": 1,
        # 3 points allowed: A has 3, B 4 -> both at the limit
        "max_points": 3, "mtus_at_max_points": 2,
        # P90 distance 0.1 x 10 = 1.0 MW allowed: A |10 - 5.6| = 4.4, B |6 - 2.0| = 4.0 -> both at it
        "p90_allowed_mw": 1.0, "mtus_at_p90_limit": 2,
        "violations": 3, "violations.max_volume": 3,
        # against the day before (rounded first): 4.0 - 3.3 = 0.7; 52.0 - 50.0 = 2.0; 1 - 0 = 1; 1 - 3 = -2
        "previous.day.max_offer_mwh": 3.3, "change.day.max_offer_mwh": 0.7,
        "previous.day.price_spread": 50.0, "change.day.price_spread": 2.0,
        "previous.assets_fallback": 0, "change.assets_fallback": 1,
        "previous.mtus_at_cap": 3, "change.mtus_at_cap": -2,
    }
    assert got == pytest.approx(expected)
    assert set(got) == set(expected)


def test_rule_text_names_the_block_sensitivities_limits_fallbacks_and_changes():
    text = build_briefing(_inputs(previous=_previous())).text()
    assert "Client OWN-1, delivery day 2025-10-15, bid matrix version 2, 2 MTUs." in text
    assert "0–4 h: up to 2.5 MWh, net 1.0 MWh at 60.0 EUR/MWh." in text
    # block 4-8 moves 2.0 MWh against 1.0 in 0-4; its spread 72 is also the widest (no second line)
    assert ("Largest price sensitivity: 4–8 h, where the offer moves by 2.0 MWh between the scenarios' P10 and P90 "
            "prices (26.0 and 98.0 EUR/MWh, a spread of 72.0 EUR/MWh).") in text
    assert "Widest price spread" not in text
    assert "Largest forecast spread: 0–4 h, 1.0 MWh between P10 and P90." in text
    assert "spans 1.5 MWh over the day (0.4 to 1.9 MWh, P50 1.0 MWh; the spread is 150.0 % of the P50)" in text
    assert "The volume cap of 80 % of 10.0 MW (8.0 MW) binds in 1 of 2 MTUs." in text
    assert "The limit of 3 points per curve binds in 2 MTUs." in text
    assert "breaks the rules in 3 places (max_volume: 3)" in text
    assert "Y: fallback, coverage 40 %, curve from previous day." in text
    assert "Z: partial, coverage 80 %." in text
    assert "Maximum offer: 4.0 MWh, +0.7 MWh against 3.3 MWh the day before." in text
    assert "Assets on a fallback curve: 1, +1 against 0 the day before." in text
    assert "MTUs at the volume cap: 1, -2 against 3 the day before." in text


def test_without_scenarios_quantiles_or_a_day_before_the_text_says_so():
    empty_q = _quantiles().clear()
    briefing = build_briefing(_inputs(scenarios=_scenarios().clear(), quantiles=empty_q, violations={},
                                      limits=Limits(20.0, 1.0, 256, 0.1)))
    text = briefing.text()
    assert "No quantile forecast is stored" in text
    assert "No price scenarios or quantiles to measure sensitivities with." in text
    assert "No policy limit binds: volumes stay below the cap of 20.0 MW" in text
    assert "No briefing of the day before to compare with." in text
    keys = {f.key for f in briefing.figures}
    assert "day.expected_mwh" not in keys and "day.forecast_p50_mwh" not in keys and "mtus_at_p90_limit" not in keys
    assert briefing.figure("day.max_offer_mwh").value == 4.0     # (10 + 6) MW x 0.25 h


def test_format_number_separates_thousands_and_has_no_negative_zero():
    assert format_number(1234.56, 1) == "1,234.6"
    assert format_number(-0.04, 1) == "0.0"
    assert format_number(2.0, 1, sign=True) == "+2.0"
    assert format_number(-2, 0, sign=True) == "-2"


# ------------------------------------------------------------------ the number check

def _figures(briefing) -> pl.DataFrame:
    return briefing.figure_rows()


def test_number_check_finds_every_number_of_the_rendered_page_in_the_figures():
    briefing = build_briefing(_inputs(previous=_previous()))
    page = render_html(briefing, "Written by rules from the figures below.")
    result = number_check(visible_text(page), _figures(briefing), "OWN-1", DAY)
    assert result.passed, result.unmatched
    assert result.numbers > 100   # the text, the block table and the figures table


@pytest.mark.parametrize("planted, bad", [
    ("The offer is 12.34 MWh.", "12.34"),       # a made-up value
    ("The offer is 4.00 MWh.", "4.00"),         # a figure (4.0) at other decimals
    ("The offer is 4,0 MWh.", "4,0"),           # a German decimal comma
    ("Version v7.", "7"),                       # digits glued to a word
    ("Compared with 2025-10-14.", "2025"),      # a date other than the delivery day
    ("Between 10-20 MWh.", "-20"),
])
def test_a_text_with_a_made_up_number_is_rejected(planted, bad):
    briefing = build_briefing(_inputs(previous=_previous()))
    text = briefing.text() + "\n" + planted
    result = number_check(text, _figures(briefing), "OWN-1", DAY)
    assert not result.passed
    assert bad in result.unmatched
    assert number_check(briefing.text(), _figures(briefing), "OWN-1", DAY).passed


def test_identifiers_and_the_delivery_day_are_not_numbers():
    figures = pl.DataFrame({"key": ["asset.HYD-A-02.coverage_pct"], "value": [40.0], "decimals": [0]})
    ok = number_check("On 2025-10-15, HYD-A-02 covers 40 % (P10 to P90).", figures, "HYD-7", DAY)
    assert ok.passed and ok.numbers == 1
    # the client's id is a name too, but the same digits elsewhere are numbers
    assert number_check("Client HYD-7 has 7 assets.", figures, "HYD-7", DAY).unmatched == ["7"]


# ------------------------------------------------------------------ the optional language model

def _answer(content: str):
    import httpx

    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": content}}]})
    return httpx.MockTransport(handler), seen


def test_a_rewording_that_keeps_every_number_is_accepted():
    import json

    from flexpower_assets.bidding.briefing_rephrase import MODEL_WORDING, reword

    briefing = build_briefing(_inputs(previous=_previous()))
    transport, seen = _answer("For OWN-1 the matrix sells at most 4.0 MWh; block 4–8 h is the most price-sensitive "
                              "(2.0 MWh between P10 and P90).")
    result = reword(briefing, _figures(briefing), "http://model.local/v1/chat/completions", "m", "k", transport=transport)
    assert result.accepted and result.wording == MODEL_WORDING
    assert result.sections == [("Briefing", ["For OWN-1 the matrix sells at most 4.0 MWh; block 4–8 h is the most "
                                             "price-sensitive (2.0 MWh between P10 and P90)."])]
    body = json.loads(seen[0].content)
    assert body["model"] == "m" and body["messages"][1]["content"] == briefing.text()
    assert seen[0].headers["authorization"] == "Bearer k"


def test_a_rewording_with_a_made_up_number_is_refused_and_the_rule_text_kept():
    from flexpower_assets.bidding.briefing_rephrase import RULE_WORDING, reword

    briefing = build_briefing(_inputs(previous=_previous()))
    transport, _ = _answer("The matrix sells about 4.5 MWh, roughly 4.0 MWh.")
    result = reword(briefing, _figures(briefing), "http://model.local/v1/chat/completions", "m", transport=transport)
    assert not result.accepted
    assert result.sections == briefing.sections and result.wording == RULE_WORDING
    assert result.reason == "language model wording rejected: 1 number(s) not among the figures: 4.5"


def test_an_endpoint_that_fails_keeps_the_rule_text_and_says_why():
    import httpx

    from flexpower_assets.bidding.briefing_rephrase import reword

    briefing = build_briefing(_inputs())
    failing = httpx.MockTransport(lambda request: httpx.Response(503, text="busy"))
    result = reword(briefing, _figures(briefing), "http://model.local/v1/chat/completions", "m", transport=failing)
    assert not result.accepted and result.sections == briefing.sections
    assert result.reason.startswith("language model not used: HTTPStatusError")
    off = reword(briefing, _figures(briefing), "", "m")
    assert not off.accepted and off.reason == "no language model configured"


def test_an_offer_that_does_not_depend_on_the_price_is_said_so_without_a_zero_block():
    # one MTU selling 4 MW from the curtailment price 0 up: at every scenario price (40 .. 80) 4 MW
    matrix = pl.DataFrame({"delivery_start": [A, A, A], "point": [1, 2, 3], "price_eur_per_mwh": [-500.0, 0.0, 4000.0],
                           "volume_mw": [0.0, 4.0, 4.0]}, schema={"delivery_start": pl.Datetime("us", "UTC"),
                                                                  "point": pl.Int64, "price_eur_per_mwh": pl.Float64,
                                                                  "volume_mw": pl.Float64})
    briefing = build_briefing(_inputs(matrix=matrix, scenarios=_scenarios().filter(pl.col("delivery_start") == A)))
    text = briefing.text()
    assert briefing.figure("day.price_sensitivity_mwh").value == 0.0          # 1.0 - 1.0 MWh
    assert "The offer does not move between the scenarios' P10 and P90 prices in any block" in text
    assert "Largest price sensitivity" not in text
    assert "negative: the client buys" not in text                           # net 4 MW x 0.25 h = 1.0 MWh
    assert "net 1.0 MWh at the mean scenario price of 60.0 EUR/MWh." in text
