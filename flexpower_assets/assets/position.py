"""The open position of a delivery day (``main.open_position``): a thin asset over ``domain.position``.

Its inputs are the day's raw forecast versions and our private-trade exports (so a new forecast
or trade export re-runs it through the landing sensors: it is downstream of both raw tables),
the portfolio, and, read with parametrised queries, the champion's quantiles of
``asset_forecast_quantile`` and the day-ahead order the exchange accepted (``main.bid_submission``
and its ``main.bid_matrix`` version) with the auction's prices (``market/day_ahead_prices_<D>.csv``,
registered in the landing catalog). Everything is taken as of the platform clock.
"""


from datetime import date

import dagster as dg
import polars as pl

from flexpower_assets.assets.metadata import markdown_table, partitioned_check_spec, schema_check, schema_check_spec
from flexpower_assets.assets.raw import RAW_ASSET_KEYS
from flexpower_assets.assets.steps import check_events, merge_metadata
from flexpower_assets.bidding.orders import gate_closure
from flexpower_assets.domain import portfolio
from flexpower_assets.domain import position as rules
from flexpower_assets.domain.time import quarter_hours
from flexpower_assets.ingestion.catalog import accepted_rows, sync_landing
from flexpower_assets.partitions import DeliveryDay, daily_backfill_policy, daily_partitions, partition_delivery_days
from flexpower_assets.schemas.position import OpenPosition
from resources.landing import LandingZone
from resources.position import PositionResource
from resources.warehouse import Warehouse, WarehouseSession
from resources.warehouse_resource import WarehouseResource

WARN = dg.AssetCheckSeverity.WARN
CHECK = "open_within_limit"


def champion_quantiles(warehouse: Warehouse | WarehouseSession, day: date) -> pl.DataFrame:
    """The champion's 0.10 and 0.90 quantiles of the day (empty when none are built)."""
    if not warehouse.table_exists("main", "asset_forecast_quantile"):
        return pl.DataFrame()
    return warehouse.read(
        "select asset_id, delivery_start, quantile_level, power_kw, is_champion from main.asset_forecast_quantile "
        "where delivery_day = ? and is_champion and round(quantile_level, 2) in (0.1, 0.9)", [day])


def accepted_orders(warehouse: Warehouse | WarehouseSession, day: date, asset_ids: list[str]) -> pl.DataFrame:
    """The live accepted bid matrix of every client that bids portfolio assets on the day."""
    needed = [("main", "bid_submission"), ("main", "bid_matrix"), ("main", "asset_bid_curve")]
    if not asset_ids or not all(warehouse.table_exists(schema, table) for schema, table in needed):
        return pl.DataFrame()
    return warehouse.read(
        "select m.client_id, m.delivery_start, m.point, m.price_eur_per_mwh, m.volume_mw "
        "from main.bid_matrix m join (select client_id, max(version) as version from main.bid_submission "
        "  where delivery_day = ? and status = 'accepted' group by client_id) s using (client_id, version) "
        "where m.delivery_day = ? and m.client_id in (select distinct client_id from main.asset_bid_curve "
        "  where delivery_day = ? and list_contains(?, asset_id)) order by m.client_id, m.delivery_start, m.point",
        [day, day, day, asset_ids])


def auction_prices(warehouse: Warehouse | WarehouseSession, day: date, grid: pl.DataFrame) -> pl.DataFrame:
    """The day's auction prices from the accepted ``day_ahead_prices`` file (empty when not in;
    the step syncs the landing zone for them first: ``sync_auction_prices``)."""
    rows = accepted_rows(warehouse, "day_ahead_prices", days=[day])
    if rows.is_empty():
        return rows
    return rows.join(grid.select("delivery_start"), on="delivery_start", how="semi").select(
        "delivery_start", "price_eur_per_mwh").unique("delivery_start", keep="last")


def sync_auction_prices(landing: LandingZone, warehouse: Warehouse) -> None:
    """Register an auction-result file dropped since the last sync."""
    sync_landing(landing.root, warehouse, kinds=["day_ahead_prices"], workers=landing.parse_workers,
                 min_age_s=landing.min_file_age_s)


CHECKS = [schema_check_spec("open_position", OpenPosition),
          partitioned_check_spec(CHECK, asset="open_position",
                                 description="No QH starting within warn_within_minutes has an open "
                                             "position above max_open_share_of_capacity of the "
                                             "portfolio's capacity (resource `position`).")]


@dg.multi_asset(
    # a multi-asset of one table so that, over a range of days, its checks are recorded per day
    # (as evaluations of each day's partition) instead of once for the step
    name="open_position", can_subset=True,
    outs={"open_position": dg.AssetOut(
        key=dg.AssetKey("open_position"), group_name="trading", is_required=False,
        metadata={"partition_expr": "delivery_day", "schema": "main"}, kinds={"duckdb", "polars"},
        description="Open position per QH as of the platform clock: latest forecast (P10/P90 of the champion) "
                    "minus the MWh sold (day-ahead accepted + net intraday); positive = long, still to sell.")},
    partitions_def=daily_partitions, backfill_policy=daily_backfill_policy,
    ins={"forecast_rows": dg.AssetIn(key=RAW_ASSET_KEYS["forecast"]),
         "private_trades": dg.AssetIn(key=RAW_ASSET_KEYS["private_trades"]),
         "portfolio_frame": dg.AssetIn(key=["core", "portfolio_assets"])},
    deps=[dg.AssetKey("asset_forecast_quantile"), dg.AssetKey("bid_submission")],
    check_specs=CHECKS,
)
def open_position(context, forecast_rows: pl.DataFrame, private_trades: pl.DataFrame,
                  portfolio_frame: pl.DataFrame, warehouse: WarehouseResource, landing: LandingZone,
                  position: PositionResource):
    # a range of days (a backfill run) is built day by day, each day with its own rows; an
    # auction-result file dropped since the last sync is registered once for all of them (a write:
    # before the days' reads)
    store = warehouse.get()
    sync_auction_prices(landing, store)
    per_day = [(d.day, position_of_day(d, *(_of_day(frame, d.day) for frame in (forecast_rows, private_trades,
                                                                                portfolio_frame)),
                                       store, position)) for d in partition_delivery_days(context)]
    frame = per_day[0][1][0] if len(per_day) == 1 else pl.concat([one[0] for _day, one in per_day], how="vertical_relaxed")
    yield dg.Output(frame, output_name="open_position", metadata=merge_metadata([(day, one[1]) for day, one in per_day]))
    yield from check_events(CHECKS, [(day, one[2]) for day, one in per_day])


def _of_day(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    return frame.filter(pl.col("delivery_day") == day) if "delivery_day" in frame.columns else frame


def position_of_day(d: DeliveryDay, forecast_rows: pl.DataFrame, private_trades: pl.DataFrame,
                    portfolio_frame: pl.DataFrame, store: Warehouse,
                    position: PositionResource) -> tuple[pl.DataFrame, dict, list[dg.AssetCheckResult]]:
    """One day's open position, its metadata and its check results."""
    day, start, end = d.day, d.start, d.end
    if portfolio_frame.is_empty():
        raise dg.Failure(description=f"No portfolio built for {day} (core/portfolio_assets is empty): build the "
                                     "day with daily_job first; an open position without its assets would "
                                     "count trades against no forecast.")
    as_of = position.clock()
    grid = quarter_hours(start, end)
    asset_ids = sorted(portfolio_frame["asset_id"].to_list())
    with store.session() as session:  # the reads on one connection
        quantiles = champion_quantiles(session, day)
        orders, prices = accepted_orders(session, day, asset_ids), auction_prices(session, day, grid)
    latest = rules.known_forecasts(forecast_rows, portfolio.asset_grid(portfolio_frame, grid), as_of)
    band = rules.portfolio_forecast_band(rules.asset_bands(latest, quantiles))
    day_ahead = rules.day_ahead_accepted(orders, prices, grid, gate_closed=as_of >= gate_closure(day))
    intraday = rules.intraday_net(private_trades, grid, as_of)
    capacity_mw = float(portfolio_frame.select(
        pl.coalesce(pl.col("capacity_mw"), pl.col("capacity_vpp_kw") / 1000.0).sum()).item() or 0.0)
    frame, schema_result = schema_check(rules.open_position(band, day_ahead, intraday, grid, as_of, capacity_mw),
                                        OpenPosition, "open_position", day)
    limits = position.limits()
    warnings = rules.open_warnings(frame, limits)
    metadata = {
        "as_of_utc": as_of.isoformat(), "capacity_mw": round(capacity_mw, 3),
        "forecast_mwh": round(float(frame["forecast_mwh"].sum()), 3),
        "day_ahead_mwh": round(float(frame["day_ahead_mwh"].sum()), 3),
        "day_ahead_status": ", ".join(sorted(frame["day_ahead_status"].unique().to_list())),
        "intraday_net_mwh": round(float(frame["intraday_net_mwh"].sum()), 3),
        "open_mwh": round(float(frame["open_mwh"].sum()), 3),
        "qh_without_quantile": int((frame["n_without_quantile"] > 0).sum()),
    }
    return frame, metadata, [schema_result, dg.AssetCheckResult(
        check_name=CHECK, asset_key=dg.AssetKey("open_position"), passed=warnings.is_empty(), severity=WARN,
        description=f"delivery day {day}", metadata={
            "delivery_day": day.isoformat(), "as_of_utc": as_of.isoformat(),
            "max_open_share_of_capacity": limits.max_open_share_of_capacity,
            "warn_within_minutes": limits.warn_within_minutes, "n_qh_above": warnings.height,
            "qh_above": dg.MetadataValue.md(markdown_table(warnings))})]


position_assets = [open_position]

# What the open position of a day needs of that day when the day's other tables are not built
# (tomorrow, before the day's first trade export): its raw inputs and the portfolio.
POSITION_SELECTION = dg.AssetSelection.assets(
    dg.AssetKey("open_position"), dg.AssetKey(["core", "portfolio_assets"]),
    *(RAW_ASSET_KEYS[kind] for kind in ("contracts", "technical_data", "forecast", "private_trades")))

position_job = dg.define_asset_job(
    "position_job",
    selection=POSITION_SELECTION,
    partitions_def=daily_partitions,
    description="The open position of today or tomorrow with just its inputs (raw forecasts, trades, "
                "contracts, technical data and the portfolio), for days whose other tables wait for data.",
    tags={"flexpower/job": "position"},
)
