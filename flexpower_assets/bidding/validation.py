"""Every policy and exchange rule a bid curve or matrix must keep, each violation named.

A frame to check has ``delivery_start``, ``point``, ``price_eur_per_mwh``, ``volume_mw`` (an asset's
grid curve or a client's matrix). ``validate_bids`` returns one ``Violation`` per broken rule and
place, naming the MTU, the point and the rule; an empty list means the bid may be approved.

Rules (``RULES``): every MTU of the day present (``mtu_missing``); 2 .. max_points points
(``point_count``); points numbered 1..n (``point_numbering``); the first point at the minimum price
(``first_point_at_min_price``), the last at the maximum (``last_point_at_max_price``); prices within
the limits (``price_limits``), on the tick (``price_tick``) and strictly rising (``price_rising``);
volumes on the step (``volume_step``), never decreasing as the price rises
(``volume_non_decreasing``) and within the policy's share of capacity (``max_volume``); for a
renewable asset with a P90 forecast, an offered volume (the last point's) no further from the P90
than the policy allows (``renewable_p90_deviation``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from flexpower_assets.bidding.config import BiddingConfig

RULES = (
    "mtu_missing", "point_count", "point_numbering", "first_point_at_min_price", "last_point_at_max_price",
    "price_limits", "price_tick", "price_rising", "volume_step", "volume_non_decreasing", "max_volume",
    "renewable_p90_deviation",
)
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (MTU, point; None for the whole MTU) and what."""

    delivery_start: datetime
    point: int | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"MTU {self.delivery_start:%Y-%m-%dT%H:%MZ}" + (f" point {self.point}" if self.point else "")
        return f"{where}: {self.rule}: {self.message}"


def validate_bids(bids: pl.DataFrame, config: BiddingConfig, delivery_starts: Sequence[datetime],
                  max_sell_mw: float, max_buy_mw: float = 0.0, p90: pl.DataFrame | None = None,
                  capacity_mw: float | None = None) -> list[Violation]:
    """Every violation of the market and policy rules in ``bids`` (see the module docstring).

    ``max_sell_mw`` / ``max_buy_mw``: the capacity the volumes are measured against (an asset's, or
    the sum over a client's assets); ``p90``: delivery_start, p90_mw of a renewable asset, checked
    when the policy sets ``max_renewable_deviation_from_p90_share`` (of ``capacity_mw``).

    The rules are evaluated as column expressions over the whole frame (a client's matrix has
    96 x 256 points); only the points that break a rule are looked at one by one, to name them.
    Order: the missing MTUs, then per MTU its curve-wide rules and then its points in order.
    """
    present = set(bids["delivery_start"].unique().to_list()) if bids.height else set()
    violations = [Violation(start, None, "mtu_missing", "no curve for this MTU")
                  for start in delivery_starts if start not in present]
    limits = _Limits.of(config, max_sell_mw, max_buy_mw, capacity_mw)
    flagged = _flag(bids, config, limits, p90)
    for row in flagged.iter_rows(named=True):
        if row["_position"] == 0:
            violations += _curve_violations(row, bids, config)
        violations += _point_violations(row, config, limits)
    return violations


@dataclass(frozen=True)
class _Limits:
    share: float
    sell: float
    buy: float
    deviation_mw: float | None      # the allowed distance of a renewable bid from its P90

    @classmethod
    def of(cls, config: BiddingConfig, max_sell_mw: float, max_buy_mw: float, capacity_mw: float | None) -> _Limits:
        share = config.policy.max_volume_share_of_capacity
        deviation = config.policy.max_renewable_deviation_from_p90_share
        allowed = deviation * capacity_mw if deviation is not None and capacity_mw is not None else None
        return cls(share, share * max_sell_mw, share * max_buy_mw, allowed)


def _on_expr(column: str, step: float) -> pl.Expr:
    ratio = pl.col(column) / step
    return (ratio - ratio.round(0)).abs() < 1e-6


def _flag(bids: pl.DataFrame, config: BiddingConfig, limits: _Limits, p90: pl.DataFrame | None) -> pl.DataFrame:
    """The points (sorted by MTU and point) that break a rule, with a column per rule and what
    the messages need; an MTU's curve-wide rules are flagged on its first point."""
    market = config.market
    mtu = "delivery_start"
    frame = bids.select(mtu, "point", "price_eur_per_mwh", "volume_mw").sort(mtu, "point")
    if p90 is not None and limits.deviation_mw is not None:
        frame = frame.join(p90.select(mtu, "p90_mw"), on=mtu, how="left")
    else:
        frame = frame.with_columns(p90_mw=pl.lit(None, dtype=pl.Float64))
    price, volume = pl.col("price_eur_per_mwh"), pl.col("volume_mw")
    frame = frame.with_columns(
        _position=pl.int_range(pl.len()).over(mtu), _count=pl.len().over(mtu),
        _previous_price=price.shift(1).over(mtu), _previous_volume=volume.shift(1).over(mtu),
        _last_point=pl.col("point").last().over(mtu), _last_price=price.last().over(mtu))
    first_price = price.first().over(mtu)
    tolerance = TOLERANCE
    frame = frame.with_columns(
        point_count=~pl.col("_count").is_between(market.min_points, market.max_points),
        point_numbering=(pl.col("point") != pl.col("_position") + 1).any().over(mtu),
        first_point_at_min_price=(first_price - market.price_min_eur_per_mwh).abs() > tolerance,
        last_point_at_max_price=(pl.col("_last_price") - market.price_max_eur_per_mwh).abs() > tolerance,
        price_limits=(price < market.price_min_eur_per_mwh - tolerance) | (price > market.price_max_eur_per_mwh + tolerance),
        price_tick=~_on_expr("price_eur_per_mwh", market.price_tick_eur_per_mwh),
        volume_step=~_on_expr("volume_mw", market.volume_step_mw),
        price_rising=(price <= pl.col("_previous_price") + tolerance / 10).fill_null(False),
        volume_non_decreasing=(volume < pl.col("_previous_volume") - tolerance).fill_null(False),
        max_volume=(volume > limits.sell + tolerance) | (volume < -limits.buy - tolerance),
        renewable_p90_deviation=((pl.col("_position") == pl.col("_count") - 1)
                                 & ((volume - pl.col("p90_mw")).abs() > (limits.deviation_mw or 0.0) + tolerance)
                                 ).fill_null(False),
    )
    curve_wide = pl.any_horizontal(*_CURVE_RULES) & (pl.col("_position") == 0)
    return frame.filter(curve_wide | pl.any_horizontal(*_POINT_RULES))


_CURVE_RULES = ("point_count", "point_numbering", "first_point_at_min_price", "last_point_at_max_price")
_POINT_RULES = ("price_limits", "price_tick", "volume_step", "price_rising", "volume_non_decreasing", "max_volume",
                "renewable_p90_deviation")


def _curve_violations(row: dict, bids: pl.DataFrame, config: BiddingConfig) -> list[Violation]:
    """The curve-wide rules an MTU breaks (``row`` is its first point)."""
    market, start, count = config.market, row["delivery_start"], row["_count"]
    found = []
    if row["point_count"]:
        found.append(Violation(start, None, "point_count", f"{count} points; between {market.min_points} and "
                                                           f"{market.max_points} are allowed"))
    if row["point_numbering"]:
        points = bids.filter(pl.col("delivery_start") == start).sort("point")["point"].head(5).to_list()
        found.append(Violation(start, None, "point_numbering", f"points are numbered {points}..., not 1..{count}"))
    if row["first_point_at_min_price"]:
        found.append(Violation(start, row["point"], "first_point_at_min_price",
                               f"first price {row['price_eur_per_mwh']} is not the minimum price "
                               f"{market.price_min_eur_per_mwh}"))
    if row["last_point_at_max_price"]:
        found.append(Violation(start, row["_last_point"], "last_point_at_max_price",
                               f"last price {row['_last_price']} is not the maximum price {market.price_max_eur_per_mwh}"))
    return found


def _point_violations(row: dict, config: BiddingConfig, limits: _Limits) -> list[Violation]:
    """The rules one point breaks, in the order of ``RULES``."""
    market, start, point = config.market, row["delivery_start"], row["point"]
    price, volume = row["price_eur_per_mwh"], row["volume_mw"]
    messages = {
        "price_limits": lambda: f"price {price} outside {market.price_min_eur_per_mwh} .. "
                                f"{market.price_max_eur_per_mwh} EUR/MWh",
        "price_tick": lambda: f"price {price} is not a multiple of the tick {market.price_tick_eur_per_mwh} EUR/MWh",
        "volume_step": lambda: f"volume {volume} is not a multiple of the step {market.volume_step_mw} MW",
        "price_rising": lambda: f"price {price} does not rise above the previous point's {row['_previous_price']}",
        "volume_non_decreasing": lambda: (f"volume {volume} MW falls below the previous point's "
                                          f"{row['_previous_volume']} MW as the price rises"),
        "max_volume": lambda: (f"volume {volume} MW outside -{limits.buy:g} .. {limits.sell:g} MW "
                               f"({limits.share:g} of capacity)"),
        "renewable_p90_deviation": lambda: (f"volume {volume} MW is {abs(volume - row['p90_mw']):.3f} MW from the P90 "
                                            f"{row['p90_mw']} MW; at most {limits.deviation_mw:g} MW is allowed"),
    }
    return [Violation(start, point, rule, messages[rule]()) for rule in _POINT_RULES if row[rule]]
