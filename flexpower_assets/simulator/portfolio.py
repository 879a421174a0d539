"""The simulated portfolio: assets, their contracts, and which asset carries which quirk.

About 40 % solar parks and 60 % wind farms (``SOL-DE-001``, ``WND-DE-001``, metering points
``MP-SOL-001``, ...), 0.5-10 MW each. Contracts mix the price models (fixed with a price, market)
and the fee models. A few assets are given a role: the inconsistent contract, the contract that
starts and the one that ends within the period, the asset whose VPP capacity disagrees with the
CRM, the asset that appears late in the technical data, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from flexpower_assets.simulator.noise import rng_for
from flexpower_assets.simulator.timegrid import Period
from flexpower_assets.simulator.weather import AssetSpec

SOLAR_SHARE = 0.4
PRICE_MODELS = ["fixed", "market"]
FEE_MODELS = ["fixed_as_produced", "fixed_for_capacity", "percent_of_market"]
MIN_ASSETS = 3

REGIONS = [
    "Brandenburg", "Bavaria", "Saxony", "Thuringia", "Lower Saxony", "Hesse", "Swabia", "Franconia",
    "Uckermark", "Altmark", "Eifel", "Hunsrueck", "Emsland", "Lausitz", "Prignitz", "North Frisia",
    "Dithmarschen", "Vorpommern", "Mecklenburg", "Oberpfalz", "Wesermarsch", "Ostfriesland",
]
SOLAR_KINDS = ["Solar Park", "Solar Field", "PV Plant"]
WIND_KINDS = ["Wind Farm", "Wind Site", "Wind Cluster"]
OWNERS = [
    "FlexPower GmbH", "WindEnergy Nord GmbH", "Sonnenfeld Invest GmbH", "Buergerwind Nordheide eG",
    "Agrar Solar KG", "Stadtwerke Energie Projekt GmbH", "Green Acre Renewables GmbH",
]
FIRST_NAMES = ["maria", "thomas", "petra", "alexander", "stefan", "julia", "andreas", "katrin", "jan",
               "sabine"]
LAST_NAMES = ["schmidt", "mueller", "weber", "hoffmann", "fischer", "wagner", "becker", "schulz", "koch",
              "richter"]
DOMAINS = ["energypartners.de", "windkraft-gmbh.com", "greenenergy-solutions.de", "renewables-corp.com",
           "solartech-innovations.com", "buergerenergie.de"]
PANELS = ["monocrystalline", "polycrystalline", "bifacial"]
TRACKING = ["fixed", "single_axis"]
TURBINES = [("Siemens SWT-3.6-120", 3.6, 100), ("Vestas V112", 3.45, 95),
            ("Siemens Gamesa SG 6.0-155", 6.0, 120), ("Enercon E-138", 4.2, 131), ("Nordex N149", 5.7, 125)]


@dataclass
class Asset:
    index: int
    asset_id: str
    metering_point_id: str
    technology: str
    capacity_mw: float  # 3 decimals
    name: str
    latitude: float
    longitude: float
    site_factor: float
    owner: str
    commissioning_date: date
    attributes: dict  # technology-specific technical attributes (without capacity)

    @property
    def capacity_kw(self) -> float:
        return round(self.capacity_mw * 1000, 3)

    @property
    def number(self) -> int:
        return int(self.asset_id.rsplit("-", 1)[1])

    @property
    def spec(self) -> AssetSpec:
        return AssetSpec(self.asset_id, self.technology, self.capacity_kw, self.latitude,
                         self.longitude, self.site_factor)


@dataclass
class Contract:
    contract_id: str
    asset_id: str
    metering_point_id: str
    capacity_mw: float
    technology: str
    begin: date
    end: date | None
    price_model: str
    price: float | None
    fee_model: str
    fee: float | None
    fee_percent: float | None
    email: str
    listed_from: date | None = None  # first snapshot date that holds the contract (None: all)


@dataclass
class Portfolio:
    assets: list[Asset]
    contracts: list[Contract]
    roles: dict[str, str] = field(default_factory=dict)  # role -> asset_id

    def asset(self, asset_id: str) -> Asset:
        return next(a for a in self.assets if a.asset_id == asset_id)

    def role(self, name: str) -> Asset:
        return self.asset(self.roles[name])


def asset_spec_for(asset_id: str, technology: str, capacity_kw: float, seed: int) -> AssetSpec:
    """A plausible location and site for an asset known only by id, technology and capacity."""
    rng = rng_for(seed, "site", asset_id)
    lat, lon, site = _site(rng, technology)
    return AssetSpec(asset_id, technology, capacity_kw, lat, lon, site)


def _site(rng: np.random.Generator, technology: str) -> tuple[float, float, float]:
    if technology == "solar":
        return (round(rng.uniform(47.8, 53.5), 4), round(rng.uniform(7.0, 14.5), 4),
                round(rng.uniform(0.9, 1.0), 3))
    return (round(rng.uniform(51.0, 54.8), 4), round(rng.uniform(7.0, 14.0), 4),
            round(rng.uniform(0.85, 1.2), 3))


def build_portfolio(n_assets: int, period: Period, seed: int) -> Portfolio:
    if n_assets < MIN_ASSETS:
        raise ValueError(f"the simulator needs at least {MIN_ASSETS} assets, got {n_assets}")
    rng = rng_for(seed, "portfolio")
    n_solar = max(1, round(SOLAR_SHARE * n_assets))
    technologies = ["solar"] * n_solar + ["wind"] * (n_assets - n_solar)
    assets: list[Asset] = []
    counters = {"solar": 0, "wind": 0}
    for index, technology in enumerate(technologies):
        counters[technology] += 1
        k = counters[technology]
        prefix = "SOL" if technology == "solar" else "WND"
        lat, lon, site = _site(rng, technology)
        if technology == "solar":
            capacity = round(float(rng.uniform(0.5, 6.0)), 3)
            kind = SOLAR_KINDS[int(rng.integers(len(SOLAR_KINDS)))]
            attributes = {"panel_type": PANELS[int(rng.integers(len(PANELS)))],
                          "tracking_type": TRACKING[int(rng.integers(len(TRACKING)))]}
        else:
            capacity = round(float(rng.uniform(2.0, 10.0)), 3)
            kind = WIND_KINDS[int(rng.integers(len(WIND_KINDS)))]
            model, unit_mw, hub = TURBINES[int(rng.integers(len(TURBINES)))]
            attributes = {"turbine_model": model, "turbine_count": max(1, round(capacity / unit_mw)),
                          "hub_height_meters": hub}
        region = REGIONS[int(rng.integers(len(REGIONS)))]
        commissioning = period.first_day - timedelta(days=int(rng.integers(400, 3650)))
        assets.append(Asset(
            index=index, asset_id=f"{prefix}-DE-{k:03d}", metering_point_id=f"MP-{prefix}-{k:03d}",
            technology=technology, capacity_mw=capacity, name=f"{region} {kind}",
            latitude=lat, longitude=lon, site_factor=site,
            owner=OWNERS[int(rng.integers(len(OWNERS)))], commissioning_date=commissioning,
            attributes=attributes,
        ))
    roles = _assign_roles(assets, rng)
    # price and fee models take turns (from a random start) so even a small portfolio has each
    offsets = (int(rng.integers(len(PRICE_MODELS))), int(rng.integers(len(FEE_MODELS))))
    contracts = [_contract(a, roles, period, rng, offsets) for a in assets]
    return Portfolio(assets=assets, contracts=contracts, roles=roles)


def _assign_roles(assets: list[Asset], rng: np.random.Generator) -> dict[str, str]:
    solar = [a for a in assets if a.technology == "solar"]
    wind = [a for a in assets if a.technology == "wind"]
    inconsistent = wind[2] if len(wind) >= 3 else wind[-1]
    others = [a for a in assets if a is not inconsistent]
    order = [others[i] for i in rng.permutation(len(others))]
    names = ["contract_starts", "contract_ends", "capacity_mismatch", "new_in_technical_data",
             "live_alias_name", "final_correction", "final_missing", "bad_final_production"]
    roles = {"inconsistent_contract": inconsistent.asset_id}
    for i, name in enumerate(names):
        roles[name] = order[i % len(order)].asset_id
    roles["live_missing"] = solar[0].asset_id
    roles["live_entity_id"] = solar[1].asset_id if len(solar) > 1 else wind[0].asset_id
    if roles["live_alias_name"] == roles["live_entity_id"] and len(assets) > 3:
        roles["live_alias_name"] = next(a.asset_id for a in order if a.asset_id != roles["live_entity_id"])
    return roles


def _contract(asset: Asset, roles: dict[str, str], period: Period, rng: np.random.Generator,
              offsets: tuple[int, int]) -> Contract:
    first = period.first_day
    middle = first + timedelta(days=period.n_days // 2)
    begin = first - timedelta(days=int(rng.integers(60, 900)))
    end: date | None = None
    if rng.random() < 0.3:
        end = first + timedelta(days=int(rng.integers(400, 1800)))
    listed_from = None
    if asset.asset_id == roles["contract_starts"]:
        begin = max(middle, first + timedelta(days=1)) if period.n_days > 1 else first
        listed_from = begin - timedelta(days=(begin.weekday() + 1) % 7)  # the Sunday on or before
        end = None
    if asset.asset_id == roles["contract_ends"]:
        end = max(middle, first + timedelta(days=1))
    price_model = PRICE_MODELS[(asset.index + offsets[0]) % len(PRICE_MODELS)]
    price = round(float(rng.uniform(55, 95)), 1) if price_model == "fixed" else None
    fee_model = FEE_MODELS[(asset.index + offsets[1]) % len(FEE_MODELS)]
    fee = fee_percent = None
    if fee_model == "fixed_as_produced":
        fee = round(float(rng.uniform(1.5, 4.0)), 1)
    elif fee_model == "fixed_for_capacity":
        fee = round(float(rng.uniform(200, 600)), 1)  # EUR per MW and month
    else:
        fee_percent = round(float(rng.uniform(3.0, 8.0)), 1)
    if asset.asset_id == roles["inconsistent_contract"]:
        # like the real CON1_WND-DE-003: fixed without a price, fixed_as_produced without a fee
        price_model, price, fee_model, fee, fee_percent = "fixed", None, "fixed_as_produced", None, 7.0
    email = (f"{FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]}."
             f"{LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]}@{DOMAINS[int(rng.integers(len(DOMAINS)))]}")
    return Contract(
        contract_id=f"CON1_{asset.asset_id}", asset_id=asset.asset_id,
        metering_point_id=asset.metering_point_id, capacity_mw=asset.capacity_mw,
        technology=asset.technology, begin=begin, end=end, price_model=price_model, price=price,
        fee_model=fee_model, fee=fee, fee_percent=fee_percent, email=email, listed_from=listed_from,
    )
