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


def validate_bids(  # noqa: C901 (one branch per rule of the module docstring, in order)
        bids: pl.DataFrame, config: BiddingConfig, delivery_starts: Sequence[datetime],
        max_sell_mw: float, max_buy_mw: float = 0.0, p90: pl.DataFrame | None = None,
        capacity_mw: float | None = None) -> list[Violation]:
    """Every violation of the market and policy rules in ``bids`` (see the module docstring).

    ``max_sell_mw`` / ``max_buy_mw``: the capacity the volumes are measured against (an asset's, or
    the sum over a client's assets); ``p90``: delivery_start, p90_mw of a renewable asset, checked
    when the policy sets ``max_renewable_deviation_from_p90_share`` (of ``capacity_mw``).
    """
    market, policy = config.market, config.policy
    violations: list[Violation] = []
    present = set(bids["delivery_start"].to_list())
    for start in delivery_starts:
        if start not in present:
            violations.append(Violation(start, None, "mtu_missing", "no curve for this MTU"))
    share = policy.max_volume_share_of_capacity
    sell_limit, buy_limit = share * max_sell_mw, share * max_buy_mw
    tick, step = market.price_tick_eur_per_mwh, market.volume_step_mw
    p90_by_start = {} if p90 is None else dict(zip(p90["delivery_start"].to_list(), p90["p90_mw"].to_list()))
    deviation_share = policy.max_renewable_deviation_from_p90_share
    for part in bids.sort("delivery_start", "point").partition_by("delivery_start", maintain_order=True):
        start = part["delivery_start"][0]
        points = part["point"].to_list()
        prices = part["price_eur_per_mwh"].to_list()
        volumes = part["volume_mw"].to_list()

        def add(point: int | None, rule: str, message: str) -> None:
            violations.append(Violation(start, point, rule, message))

        if not market.min_points <= len(points) <= market.max_points:
            add(None, "point_count", f"{len(points)} points; between {market.min_points} and "
                                     f"{market.max_points} are allowed")
        if points != list(range(1, len(points) + 1)):
            add(None, "point_numbering", f"points are numbered {points[:5]}..., not 1..{len(points)}")
        if abs(prices[0] - market.price_min_eur_per_mwh) > TOLERANCE:
            add(points[0], "first_point_at_min_price",
                f"first price {prices[0]} is not the minimum price {market.price_min_eur_per_mwh}")
        if abs(prices[-1] - market.price_max_eur_per_mwh) > TOLERANCE:
            add(points[-1], "last_point_at_max_price",
                f"last price {prices[-1]} is not the maximum price {market.price_max_eur_per_mwh}")
        for i, (point, price, volume) in enumerate(zip(points, prices, volumes)):
            if price < market.price_min_eur_per_mwh - TOLERANCE or price > market.price_max_eur_per_mwh + TOLERANCE:
                add(point, "price_limits", f"price {price} outside {market.price_min_eur_per_mwh} .. "
                                           f"{market.price_max_eur_per_mwh} EUR/MWh")
            if not _on(price, tick):
                add(point, "price_tick", f"price {price} is not a multiple of the tick {tick} EUR/MWh")
            if not _on(volume, step):
                add(point, "volume_step", f"volume {volume} is not a multiple of the step {step} MW")
            if i and price <= prices[i - 1] + TOLERANCE / 10:
                add(point, "price_rising", f"price {price} does not rise above the previous point's {prices[i - 1]}")
            if i and volume < volumes[i - 1] - TOLERANCE:
                add(point, "volume_non_decreasing",
                    f"volume {volume} MW falls below the previous point's {volumes[i - 1]} MW as the price rises")
            if volume > sell_limit + TOLERANCE or volume < -buy_limit - TOLERANCE:
                add(point, "max_volume", f"volume {volume} MW outside -{buy_limit:g} .. {sell_limit:g} MW "
                                         f"({share:g} of capacity)")
            if (deviation_share is not None and start in p90_by_start and capacity_mw is not None
                    and i == len(points) - 1):  # the offered volume: the curve's last point
                allowed = deviation_share * capacity_mw
                if abs(volume - p90_by_start[start]) > allowed + TOLERANCE:
                    add(point, "renewable_p90_deviation",
                        f"volume {volume} MW is {abs(volume - p90_by_start[start]):.3f} MW from the P90 "
                        f"{p90_by_start[start]} MW; at most {allowed:g} MW is allowed")
    return violations


def _on(value: float, step: float) -> bool:
    ratio = value / step
    return abs(ratio - round(ratio)) < 1e-6
