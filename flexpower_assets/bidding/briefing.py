"""The trader briefing of one client and delivery day, written by rules from its figures (no Dagster, no I/O).

Before gate closure a trader reads, per client: what the bid matrix offers in each 4-hour block of
the local delivery day (00-04 .. 20-24 Europe/Berlin), how uncertain the forecast is (the spread
of the served quantile forecast), the largest sensitivities (how much the offer moves between the
price scenarios' P10 and P90 prices; the widest forecast band), the policy limits that bind, the
assets that fell back, and what changed since the day before.

Every number of the text is a ``Figure`` (key, value, unit, decimals) computed first; the text is
then composed from the figures' formatted values only, and ``number_check`` finds every number of
a rendered text among the figures (the same check accepts or rejects a rephrased text). Figures
are rounded to what they show, and a figure derived from others (a spread, a change) is computed
from the rounded values, so the arithmetic a reader does on the page comes out.

Definitions (per block; the day is the sum or mean over its MTUs in the same way):
- ``max_offer_mwh``: sum over MTUs of the matrix's last point (the volume offered at the price
  limit, i.e. everything sold at any clearing price) x 0.25 h.
- ``expected_mwh``: sum over MTUs of the step curve's volume at the MTU's mean scenario price x 0.25 h.
- ``mean_price``, ``price_p10``, ``price_p90``: mean over the block's MTUs of the scenario prices'
  mean, 10 % and 90 % quantile (linear interpolation); ``price_spread`` = P90 - P10.
- ``at_p10_mwh`` / ``at_p90_mwh``: the curve's energy at each MTU's P10 / P90 scenario price;
  ``price_sensitivity_mwh`` = at_p90 - at_p10 (how much the offer depends on where the price lands).
- ``forecast_p10_mwh`` / ``_p50`` / ``_p90``: energy of the served quantile forecast at the levels
  0.10, 0.50, 0.90, summed over the client's assets per MTU (a sum of quantiles: wider than the
  quantile of the sum when the assets' errors are not fully correlated, i.e. on the safe side);
  ``forecast_spread_mwh`` = P90 - P10.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import polars as pl

QH_HOURS = 0.25
BLOCK_HOURS = 4
INTERVAL_LEVELS = (0.10, 0.50, 0.90)
#: day figures compared with the briefing of the day before
CHANGE_KEYS = ("max_offer_mwh", "expected_mwh", "price_spread", "forecast_spread_mwh", "assets_fallback",
               "mtus_at_cap")
CHANGE_NAMES = {"max_offer_mwh": "maximum offer", "expected_mwh": "offer at the mean scenario price",
                "price_spread": "price-scenario spread", "forecast_spread_mwh": "forecast spread",
                "assets_fallback": "assets on a fallback curve", "mtus_at_cap": "MTUs at the volume cap"}
#: names of the text that contain digits but are not numbers
TEXT_NAMES = ("P10", "P50", "P90")


@dataclass(frozen=True)
class Figure:
    key: str
    value: float
    unit: str
    decimals: int

    @property
    def text(self) -> str:
        return format_number(self.value, self.decimals)


@dataclass(frozen=True)
class Limits:
    """The policy and market limits a matrix is held to (from the bidding configuration)."""

    capacity_mw: float                   # summed sell capacity of the client's assets
    max_volume_share: float              # policy.max_volume_share_of_capacity
    max_points: int                      # market.max_points
    volume_step_mw: float                # market.volume_step_mw
    p90_deviation_share: float | None = None   # policy.max_renewable_deviation_from_p90_share


@dataclass
class BriefingInputs:
    """What the briefing of one client and day is computed from (frames as read from the warehouse).

    ``matrix``: delivery_start, point, price_eur_per_mwh, volume_mw of the latest matrix version;
    ``curves``: asset_id, curve_status, coverage, fallback_source (one row per asset, or per point);
    ``scenarios``: scenario_id, delivery_start, price_eur_per_mwh;
    ``quantiles``: asset_id, delivery_start, quantile_level, power_kw of the served forecast;
    ``violations``: rule -> number of violations of the matrix; ``previous``: the figures
    (key, value, decimals) of the same client's briefing of the day before, if any.
    """

    client_id: str
    delivery_day: date
    timezone: str
    matrix_version: int | None
    matrix: pl.DataFrame
    curves: pl.DataFrame
    scenarios: pl.DataFrame
    quantiles: pl.DataFrame
    limits: Limits
    violations: Mapping[str, int] = field(default_factory=dict)
    previous: pl.DataFrame | None = None


@dataclass
class Briefing:
    client_id: str
    delivery_day: date
    figures: list[Figure]
    sections: list[tuple[str, list[str]]]
    blocks: list[int]

    def figure(self, key: str) -> Figure:
        return self.by_key()[key]

    def by_key(self) -> dict[str, Figure]:
        return {f.key: f for f in self.figures}

    def text(self) -> str:
        """The plain text: a heading per section, then its sentences."""
        return "\n\n".join(f"{title}\n" + "\n".join(lines) for title, lines in self.sections)

    def figure_rows(self) -> pl.DataFrame:
        """The figures as rows of ``main.briefing_figure``."""
        return pl.DataFrame({
            "delivery_day": [self.delivery_day] * len(self.figures),
            "client_id": [self.client_id] * len(self.figures),
            "key": [f.key for f in self.figures], "value": [float(f.value) for f in self.figures],
            "unit": [f.unit for f in self.figures], "decimals": [f.decimals for f in self.figures],
        }, schema={"delivery_day": pl.Date, "client_id": pl.String, "key": pl.String, "value": pl.Float64,
                   "unit": pl.String, "decimals": pl.Int64})


def format_number(value: float, decimals: int, sign: bool = False) -> str:
    """``1,234.5``: thousands separators, ``decimals`` places, no negative zero."""
    rounded = _r(value, decimals)
    return f"{rounded:{'+' if sign else ''},.{decimals}f}"


def _r(value: float, decimals: int) -> float:
    """``value`` rounded to ``decimals``; float noise of a sum (1e-12) first, so the same numbers in
    another order round the same way."""
    rounded = round(round(float(value), 9), decimals)
    return 0.0 if rounded == 0 else rounded


# ------------------------------------------------------------------------------------ arithmetic

def with_block(frame: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """Adds ``block``: the local start hour (0, 4, .., 20) of the 4-hour block the MTU lies in."""
    local_hour = pl.col("delivery_start").dt.convert_time_zone(timezone).dt.hour()
    return frame.with_columns(block=(local_hour // BLOCK_HOURS * BLOCK_HOURS).cast(pl.Int64))


def scenario_stats(scenarios: pl.DataFrame) -> pl.DataFrame:
    """Per MTU: mean, P10 and P90 of the scenario prices (linear interpolation between scenarios)."""
    return scenarios.group_by("delivery_start").agg(
        price_mean=pl.col("price_eur_per_mwh").mean(),
        price_p10=pl.col("price_eur_per_mwh").quantile(0.10, interpolation="linear"),
        price_p90=pl.col("price_eur_per_mwh").quantile(0.90, interpolation="linear"),
    )


def volume_at(matrix: pl.DataFrame, prices: pl.DataFrame, price_column: str) -> pl.DataFrame:
    """Per MTU the step curve's volume at ``prices[price_column]``: the volume of the highest point
    priced at or below it (below the first point: the first point's volume)."""
    joined = matrix.join(prices.select("delivery_start", price_column), on="delivery_start")
    below = joined.filter(pl.col("price_eur_per_mwh") <= pl.col(price_column))
    at = below.sort("point").group_by("delivery_start").agg(volume_mw=pl.col("volume_mw").last())
    first = matrix.sort("point").group_by("delivery_start").agg(first_mw=pl.col("volume_mw").first())
    return first.join(at, on="delivery_start", how="left").select(
        "delivery_start", volume_mw=pl.coalesce("volume_mw", "first_mw"))


def offered(matrix: pl.DataFrame) -> pl.DataFrame:
    """Per MTU the largest sell volume (the last point) and the number of points."""
    return matrix.sort("point").group_by("delivery_start").agg(
        offer_mw=pl.col("volume_mw").last(), top_mw=pl.col("volume_mw").max(), points=pl.len())


def forecast_levels(quantiles: pl.DataFrame) -> pl.DataFrame:
    """Per MTU the client's P10, P50 and P90 in MW (summed over its assets)."""
    columns = {}
    for level in INTERVAL_LEVELS:
        name = f"p{round(level * 100):02d}_mw"
        columns[name] = (pl.col("power_kw").filter((pl.col("quantile_level") - level).abs() < 1e-9).sum() / 1000.0)
    return quantiles.group_by("delivery_start").agg(**columns)


# ------------------------------------------------------------------------------------ figures

def compute_figures(inputs: BriefingInputs) -> tuple[list[Figure], list[int]]:  # noqa: C901 (one block a figure family)
    """Every figure of the briefing, in the order the text uses them; and the blocks of the day."""
    figures: list[Figure] = []
    inputs = _utc(inputs)

    def add(key: str, value: float, unit: str, decimals: int) -> float:
        rounded = _r(value, decimals)
        figures.append(Figure(key, rounded, unit, decimals))
        return rounded

    matrix = inputs.matrix
    per_mtu = offered(matrix) if matrix.height else pl.DataFrame(
        schema={"delivery_start": pl.Datetime("us", "UTC"), "offer_mw": pl.Float64, "top_mw": pl.Float64,
                "points": pl.UInt32})
    has_scenarios = inputs.scenarios.height > 0 and matrix.height > 0
    if has_scenarios:
        stats = scenario_stats(inputs.scenarios)
        for column, name in (("price_mean", "at_mean_mw"), ("price_p10", "at_p10_mw"), ("price_p90", "at_p90_mw")):
            per_mtu = per_mtu.join(volume_at(matrix, stats, column).rename({"volume_mw": name}),
                                   on="delivery_start", how="left")
        per_mtu = per_mtu.join(stats, on="delivery_start", how="left")
    has_forecast = inputs.quantiles.height > 0
    if has_forecast:
        per_mtu = per_mtu.join(forecast_levels(inputs.quantiles), on="delivery_start", how="left") if per_mtu.height \
            else forecast_levels(inputs.quantiles)
    per_mtu = with_block(per_mtu, inputs.timezone).sort("delivery_start") if per_mtu.height \
        else per_mtu.with_columns(block=pl.lit(0))
    blocks = sorted(per_mtu["block"].unique().to_list()) if per_mtu.height else []

    add("mtus", matrix["delivery_start"].n_unique() if matrix.height else 0, "MTU", 0)
    if inputs.matrix_version is not None:
        add("matrix_version", inputs.matrix_version, "version", 0)

    def energy(frame: pl.DataFrame, column: str) -> float:
        return float(frame[column].fill_null(0.0).sum()) * QH_HOURS if column in frame.columns else 0.0

    def mean(frame: pl.DataFrame, column: str) -> float:
        value = frame[column].mean() if column in frame.columns else None
        return float(value) if value is not None else 0.0

    scopes = [(f"block_{b:02d}_{b + BLOCK_HOURS:02d}", per_mtu.filter(pl.col("block") == b), b) for b in blocks]
    for prefix, part, start in [("day", per_mtu, None), *scopes]:
        if start is not None:
            add(f"{prefix}.start_h", start, "h", 0)
            add(f"{prefix}.end_h", start + BLOCK_HOURS, "h", 0)
        if matrix.height:
            add(f"{prefix}.max_offer_mwh", energy(part, "offer_mw"), "MWh", 1)
        if has_scenarios:
            add(f"{prefix}.expected_mwh", energy(part, "at_mean_mw"), "MWh", 1)
            add(f"{prefix}.mean_price", mean(part, "price_mean"), "EUR/MWh", 1)
            p10 = add(f"{prefix}.price_p10", mean(part, "price_p10"), "EUR/MWh", 1)
            p90 = add(f"{prefix}.price_p90", mean(part, "price_p90"), "EUR/MWh", 1)
            add(f"{prefix}.price_spread", p90 - p10, "EUR/MWh", 1)
            at10 = add(f"{prefix}.at_p10_mwh", energy(part, "at_p10_mw"), "MWh", 1)
            at90 = add(f"{prefix}.at_p90_mwh", energy(part, "at_p90_mw"), "MWh", 1)
            add(f"{prefix}.price_sensitivity_mwh", at90 - at10, "MWh", 1)
        if has_forecast:
            f10 = add(f"{prefix}.forecast_p10_mwh", energy(part, "p10_mw"), "MWh", 1)
            f50 = add(f"{prefix}.forecast_p50_mwh", energy(part, "p50_mw"), "MWh", 1)
            f90 = add(f"{prefix}.forecast_p90_mwh", energy(part, "p90_mw"), "MWh", 1)
            spread = add(f"{prefix}.forecast_spread_mwh", f90 - f10, "MWh", 1)
            if prefix == "day":
                add("interval_pct", 80, "%", 0)
                if f50 > 0:
                    add("day.forecast_spread_pct", 100.0 * spread / f50, "%", 1)

    _asset_figures(inputs.curves, add)
    _limit_figures(inputs, per_mtu, add)
    _change_figures(figures, inputs.previous, add)
    return figures, blocks


def _utc(inputs: BriefingInputs) -> BriefingInputs:
    """The frames with one ``delivery_start`` type (UTC, microseconds), so they join."""
    def cast(frame: pl.DataFrame) -> pl.DataFrame:
        if "delivery_start" not in frame.columns:
            return frame
        column = pl.col("delivery_start")
        if frame.schema["delivery_start"].time_zone is None:
            column = column.dt.replace_time_zone("UTC")
        return frame.with_columns(column.dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    return replace(inputs, matrix=cast(inputs.matrix).sort("delivery_start", "point"),
                   scenarios=cast(inputs.scenarios).sort("delivery_start", "scenario_id"),
                   quantiles=cast(inputs.quantiles).sort("asset_id", "delivery_start", "quantile_level"))


def _asset_figures(curves: pl.DataFrame, add) -> None:
    assets = curves.group_by("asset_id").agg(pl.col("curve_status").first(), pl.col("coverage").first(),
                                             pl.col("fallback_source").first()).sort("asset_id") \
        if curves.height else pl.DataFrame(schema={"asset_id": pl.String, "curve_status": pl.String,
                                                   "coverage": pl.Float64, "fallback_source": pl.String})
    add("assets", assets.height, "assets", 0)
    for status in ("complete", "partial", "fallback"):
        add(f"assets_{status}", int((assets["curve_status"] == status).sum()), "assets", 0)
    for row in assets.filter(pl.col("curve_status") != "complete").iter_rows(named=True):
        add(f"asset.{row['asset_id']}.coverage_pct", 100.0 * (row["coverage"] or 0.0), "%", 0)
    if assets.height:
        add("min_coverage_pct", 100.0 * float(assets["coverage"].fill_null(0.0).min()), "%", 0)


def _limit_figures(inputs: BriefingInputs, per_mtu: pl.DataFrame, add) -> None:
    limits = inputs.limits
    add("capacity_mw", limits.capacity_mw, "MW", 1)
    add("cap_share_pct", 100.0 * limits.max_volume_share, "%", 0)
    cap = add("cap_mw", limits.max_volume_share * limits.capacity_mw, "MW", 1)
    at_cap = 0
    if per_mtu.height and "top_mw" in per_mtu.columns and cap > 0:
        at_cap = int((per_mtu["top_mw"] >= cap - limits.volume_step_mw / 2).sum())
    add("mtus_at_cap", at_cap, "MTU", 0)
    add("max_points", limits.max_points, "points", 0)
    full = int((per_mtu["points"] >= limits.max_points).sum()) if "points" in per_mtu.columns else 0
    add("mtus_at_max_points", full, "MTU", 0)
    if limits.p90_deviation_share is not None and "p90_mw" in per_mtu.columns and "offer_mw" in per_mtu.columns:
        allowed = add("p90_allowed_mw", limits.p90_deviation_share * limits.capacity_mw, "MW", 1)
        deviation = (per_mtu["offer_mw"] - per_mtu["p90_mw"]).abs()
        add("mtus_at_p90_limit", int((deviation >= allowed - limits.volume_step_mw / 2).sum()), "MTU", 0)
    add("violations", sum(inputs.violations.values()), "violations", 0)
    for rule, count in sorted(inputs.violations.items()):
        if count:
            add(f"violations.{rule}", count, "violations", 0)


def _change_figures(figures: list[Figure], previous: pl.DataFrame | None, add) -> None:
    if previous is None or previous.is_empty():
        return
    before = {r["key"]: r for r in previous.iter_rows(named=True)}
    now = {f.key: f for f in figures}
    for name in CHANGE_KEYS:
        key = name if name in now else f"day.{name}"
        if key in now and key in before:
            figure = now[key]
            old = _r(before[key]["value"], figure.decimals)
            add(f"previous.{key}", old, figure.unit, figure.decimals)
            add(f"change.{key}", figure.value - old, figure.unit, figure.decimals)


# ------------------------------------------------------------------------------------ text

def build_briefing(inputs: BriefingInputs) -> Briefing:
    """The figures and the rule text of one client's briefing."""
    figures, blocks = compute_figures(inputs)
    text = _Text({x.key: x for x in figures}, blocks)
    sections = [
        ("Summary", [f"Client {inputs.client_id}, delivery day {inputs.delivery_day.isoformat()}"
                     + (f", bid matrix version {text.n('matrix_version')}" if text.has("matrix_version")
                        else ", no bid matrix") + f", {text.n('mtus')} MTUs."]),
        ("Offer per block of four hours (Europe/Berlin)", _offer_lines(text)),
        ("How uncertain", _uncertainty_lines(text)),
        ("Largest sensitivities", _sensitivity_lines(text)),
        ("Policy limits that bind", _limit_lines(text)),
        ("Fallbacks", _fallback_lines(text, inputs.curves)),
        ("Since the day before", _change_lines(text)),
    ]
    return Briefing(inputs.client_id, inputs.delivery_day, figures, sections, blocks)


@dataclass(frozen=True)
class _Text:
    """The figures of a briefing as the text writes them: every number goes through ``n``."""

    f: dict[str, Figure]
    blocks: list[int]

    def n(self, key: str, sign: bool = False) -> str:
        figure = self.f[key]
        return format_number(figure.value, figure.decimals, sign=sign)

    def has(self, key: str) -> bool:
        return key in self.f

    def value(self, key: str) -> float:
        return self.f[key].value

    @staticmethod
    def prefix(b: int) -> str:
        return f"block_{b:02d}_{b + BLOCK_HOURS:02d}"

    def label(self, b: int) -> str:
        p = self.prefix(b)
        return f"{self.n(p + '.start_h')}–{self.n(p + '.end_h')} h"

    def largest(self, name: str, absolute: bool = False) -> int | None:
        """The block with the largest figure ``name`` (the earliest of equal ones); None without it."""
        keyed = [b for b in self.blocks if self.has(f"{self.prefix(b)}.{name}")]
        if not keyed:
            return None
        value = (lambda b: abs(self.value(f"{self.prefix(b)}.{name}"))) if absolute else \
            (lambda b: self.value(f"{self.prefix(b)}.{name}"))
        return max(keyed, key=lambda b: (value(b), -b))


def _offer_lines(t: _Text) -> list[str]:
    if not t.has("day.max_offer_mwh"):
        return ["No bid matrix is stored for this client and day."]
    line = f"Over the day the matrix sells up to {t.n('day.max_offer_mwh')} MWh (its volume at the price limit)"
    if t.has("day.expected_mwh"):
        line += f", net {t.n('day.expected_mwh')} MWh at the mean scenario price of {t.n('day.mean_price')} EUR/MWh"
        if any(t.value(f"{t.prefix(b)}.expected_mwh") < 0 for b in t.blocks) or t.value("day.expected_mwh") < 0:
            line += " (negative: the client buys, e.g. to pump)"
    lines = [line + "."]
    for b in t.blocks:
        p = t.prefix(b)
        line = f"{t.label(b)}: up to {t.n(p + '.max_offer_mwh')} MWh"
        if t.has(p + ".expected_mwh"):
            line += f", net {t.n(p + '.expected_mwh')} MWh at {t.n(p + '.mean_price')} EUR/MWh"
        lines.append(line + ".")
    return lines


def _uncertainty_lines(t: _Text) -> list[str]:
    lines = []
    if t.has("day.forecast_spread_mwh"):
        line = (f"The forecast's {t.n('interval_pct')} % interval (P10 to P90) spans {t.n('day.forecast_spread_mwh')} "
                f"MWh over the day ({t.n('day.forecast_p10_mwh')} to {t.n('day.forecast_p90_mwh')} MWh, P50 "
                f"{t.n('day.forecast_p50_mwh')} MWh")
        if t.has("day.forecast_spread_pct"):
            line += f"; the spread is {t.n('day.forecast_spread_pct')} % of the P50"
        lines.append(line + ").")
    else:
        lines.append("No quantile forecast is stored for this client's assets on this day "
                     "(reservoir plants are bid from the price scenarios).")
    if t.has("day.price_spread"):
        lines.append(f"The price scenarios range from a P10 of {t.n('day.price_p10')} to a P90 of "
                     f"{t.n('day.price_p90')} EUR/MWh on average over the MTUs (spread {t.n('day.price_spread')} EUR/MWh).")
    return lines


def _sensitivity_lines(t: _Text) -> list[str]:
    lines = []
    b = t.largest("price_sensitivity_mwh", absolute=True)
    if b is not None and not t.value(f"{t.prefix(b)}.price_sensitivity_mwh"):
        lines.append("The offer does not move between the scenarios' P10 and P90 prices in any block (it sells "
                     "the same volume wherever the price lands in that range).")
    elif b is not None:
        p = t.prefix(b)
        lines.append(f"Largest price sensitivity: {t.label(b)}, where the offer moves by "
                     f"{t.n(p + '.price_sensitivity_mwh')} MWh between the scenarios' P10 and P90 prices "
                     f"({t.n(p + '.price_p10')} and {t.n(p + '.price_p90')} EUR/MWh, a spread of "
                     f"{t.n(p + '.price_spread')} EUR/MWh).")
        w = t.largest("price_spread")
        if w != b:
            lines.append(f"Widest price spread: {t.label(w)}, {t.n(t.prefix(w) + '.price_spread')} EUR/MWh.")
    b = t.largest("forecast_spread_mwh")
    if b is not None:
        lines.append(f"Largest forecast spread: {t.label(b)}, {t.n(t.prefix(b) + '.forecast_spread_mwh')} MWh "
                     "between P10 and P90.")
    return lines or ["No price scenarios or quantiles to measure sensitivities with."]


def _limit_lines(t: _Text) -> list[str]:
    lines = []
    if t.value("mtus_at_cap"):
        lines.append(f"The volume cap of {t.n('cap_share_pct')} % of {t.n('capacity_mw')} MW ({t.n('cap_mw')} MW) "
                     f"binds in {t.n('mtus_at_cap')} of {t.n('mtus')} MTUs.")
    if t.value("mtus_at_max_points"):
        lines.append(f"The limit of {t.n('max_points')} points per curve binds in {t.n('mtus_at_max_points')} MTUs.")
    if t.has("mtus_at_p90_limit") and t.value("mtus_at_p90_limit"):
        lines.append(f"The offer is at the allowed distance of {t.n('p90_allowed_mw')} MW from the P90 in "
                     f"{t.n('mtus_at_p90_limit')} MTUs.")
    if t.value("violations"):
        rules = [k.removeprefix("violations.") for k in t.f if k.startswith("violations.")]
        lines.append(f"The matrix breaks the rules in {t.n('violations')} places ("
                     + ", ".join(f"{rule}: {t.n('violations.' + rule)}" for rule in rules)
                     + "): it cannot be approved as it is.")
    return lines or [f"No policy limit binds: volumes stay below the cap of {t.n('cap_mw')} MW and the matrix "
                     "keeps every rule."]


def _fallback_lines(t: _Text, curves: pl.DataFrame) -> list[str]:
    if not t.value("assets"):
        return ["No asset curve is stored for this client and day."]
    if t.value("assets_complete") == t.value("assets"):
        return [f"All {t.n('assets')} assets have complete curves (every price scenario solved)."]
    lines = [f"{t.n('assets_complete')} of {t.n('assets')} assets complete, {t.n('assets_partial')} partial, "
             f"{t.n('assets_fallback')} on a fallback curve."]
    statuses = curves.group_by("asset_id").agg(pl.col("curve_status").first(),
                                                pl.col("fallback_source").first()).sort("asset_id")
    for row in statuses.filter(pl.col("curve_status") != "complete").iter_rows(named=True):
        line = f"{row['asset_id']}: {row['curve_status']}, coverage {t.n('asset.' + row['asset_id'] + '.coverage_pct')} %"
        if row["curve_status"] == "fallback" and row["fallback_source"]:
            line += f", curve from {row['fallback_source'].replace('_', ' ')}"
        lines.append(line + ".")
    return lines


def _change_lines(t: _Text) -> list[str]:
    changed = [k.removeprefix("change.") for k in t.f if k.startswith("change.")]
    if not changed:
        return ["No briefing of the day before to compare with."]
    lines = []
    for key in changed:
        name = CHANGE_NAMES[key.removeprefix("day.")]
        unit = "" if t.f[key].unit in ("assets", "MTU") else f" {t.f[key].unit}"
        lines.append(f"{name[0].upper() + name[1:]}: {t.n(key)}{unit}, {t.n('change.' + key, sign=True)}{unit} against "
                     f"{t.n('previous.' + key)}{unit} the day before.")
    return lines


# ------------------------------------------------------------------------------------ number check

NUMBER_RUN = re.compile(r"[-+]?\d(?:[\d.,]*\d)?")
WELL_FORMED = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$")
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


@dataclass(frozen=True)
class CheckResult:
    numbers: int
    unmatched: list[str]

    @property
    def passed(self) -> bool:
        return not self.unmatched

    def reason(self) -> str:
        return "every number is a figure" if self.passed else \
            f"{len(self.unmatched)} number(s) not among the figures: {', '.join(self.unmatched[:10])}"


def visible_text(document: str) -> str:
    """The text a reader sees in an HTML document (scripts, styles and tags removed)."""
    return html.unescape(_TAGS.sub(" ", document))


def identifiers(client_id: str, keys: Iterable[str]) -> list[str]:
    """Names that may contain digits without being numbers: the client, the figure keys and their
    parts (asset ids, block names), and P10 / P50 / P90; longest first."""
    names = {client_id, *TEXT_NAMES}
    for key in keys:
        names.add(key)
        names.update(part for part in key.split(".") if part)
    return sorted((n for n in names if any(c.isdigit() for c in n)), key=len, reverse=True)


def numbers_in(text: str, delivery_day: date, names: Sequence[str]) -> list[str]:
    """Every number in ``text``, as written; the delivery day (the briefing's own key) and the
    names are taken out first. Digits glued to other words are numbers too (``v3`` gives ``3``)."""
    text = text.replace(delivery_day.isoformat(), " ")
    for name in names:
        text = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)", " ", text)
    return NUMBER_RUN.findall(text)


def number_check(text: str, figures: pl.DataFrame, client_id: str, delivery_day: date) -> CheckResult:
    """Every number of ``text`` must be the formatted value of a figure of ``figures`` (columns key,
    value, decimals: the rows of ``main.briefing_figure`` of this client and day): the same value at
    the same number of decimals. A number that is not written the way figures are (``3,4``) fails."""
    shown: dict[int, set[float]] = {}
    for row in figures.iter_rows(named=True):
        shown.setdefault(int(row["decimals"]), set()).add(_r(row["value"], int(row["decimals"])))
    tokens = numbers_in(text, delivery_day, identifiers(client_id, figures["key"].to_list()))
    unmatched = []
    for token in tokens:
        form = WELL_FORMED.match(token)
        if form is None:
            unmatched.append(token)
            continue
        decimals = len(form.group(1) or "")
        value = _r(float(token.replace(",", "")), decimals)
        if value not in shown.get(decimals, set()):
            unmatched.append(token)
    return CheckResult(len(tokens), unmatched)


# ------------------------------------------------------------------------------------ HTML

def render_html(briefing: Briefing, wording: str, paragraphs: Sequence[tuple[str, Sequence[str]]] | None = None) -> str:
    """The briefing page: the text (``paragraphs``, default the rule text), a table per block and
    the figures the text is made of. ``wording`` says where the wording came from (no digits)."""
    f = briefing.by_key()
    esc = html.escape
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Trader briefing {esc(briefing.client_id)} {briefing.delivery_day.isoformat()}</title>",
             "<style>body{font-family:sans-serif;max-width:960px;margin:auto;padding:1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}"
             "th{background:#eee}td.k{text-align:left;font-family:monospace}</style></head><body>",
             f"<h1>Trader briefing: {esc(briefing.client_id)}, delivery day {briefing.delivery_day.isoformat()}</h1>",
             f'<p class="wording"><em>{esc(wording)}</em></p>']
    for title, lines in paragraphs if paragraphs is not None else briefing.sections:
        parts.append(f"<h2>{esc(title)}</h2>")
        parts += [f"<p>{esc(line)}</p>" for line in lines]
    columns = [("max_offer_mwh", "offer max MWh"), ("expected_mwh", "at mean price MWh"),
               ("mean_price", "mean price EUR/MWh"), ("price_spread", "price spread EUR/MWh"),
               ("price_sensitivity_mwh", "price sensitivity MWh"), ("forecast_p50_mwh", "forecast P50 MWh"),
               ("forecast_spread_mwh", "forecast spread MWh")]
    shown = [(c, title) for c, title in columns if f"day.{c}" in f]
    if shown and briefing.blocks:
        parts.append("<h2>Blocks</h2><table><tr><th>block (h)</th>"
                     + "".join(f"<th>{esc(t)}</th>" for _, t in shown) + "</tr>")
        for b in briefing.blocks:
            p = f"block_{b:02d}_{b + BLOCK_HOURS:02d}"
            cells = "".join(f"<td>{f[p + '.' + c].text if p + '.' + c in f else ''}</td>" for c, _ in shown)
            parts.append(f"<tr><td>{f[p + '.start_h'].text}–{f[p + '.end_h'].text}</td>{cells}</tr>")
        parts.append("<tr><th>day</th>" + "".join(f"<th>{f['day.' + c].text}</th>" for c, _ in shown) + "</tr></table>")
    parts.append("<h2>Figures</h2><p>Every number above is one of these (table main.briefing_figure).</p>"
                 "<table><tr><th>key</th><th>value</th><th>unit</th></tr>")
    parts += [f'<tr><td class="k">{esc(x.key)}</td><td>{x.text}</td><td class="k">{esc(x.unit)}</td></tr>'
              for x in briefing.figures]
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"
