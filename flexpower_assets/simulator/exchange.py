"""Exchange exports: private trades (ours) and public trades (the whole market).

``exchange/Private_Trades-<YYYYMMDD>-<YYYYMMDDTHHMMSSmmmZ>.csv`` and ``Public_Trades-...``: a
``#`` title line, the header, then semicolon-separated rows with offset timestamps. One export
per Europe/Berlin day, a few minutes after the next UTC midnight. Volumes are MW over the product
(hourly or quarter-hourly), labelled ``MWH`` as in the real export.

Private trades sell the portfolio's forecast: hourly products against the day-ahead forecast
version, then quarter-hour products to follow the latest tradeable version (sold or bought back),
in lots of 0.05-0.8 MW. Public trades have a market size that does not depend on the portfolio.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from flexpower_assets.simulator.formats import compact_ms_z, iso_ms_z
from flexpower_assets.simulator.market import Market
from flexpower_assets.simulator.noise import rng_for
from flexpower_assets.simulator.timegrid import QH_MS, Grid, utc_midnight

HEADER = "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit"
LOTS = np.array([0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
LOT_WEIGHTS = np.array([0.30, 0.33, 0.01, 0.15, 0.07, 0.05, 0.04, 0.02, 0.015, 0.015])
# a large position is worked in the largest lots
LARGE_POSITION_MW = 10.0
LARGE_LOT_WEIGHTS = np.array([0.02, 0.03, 0.0, 0.05, 0.05, 0.05, 0.1, 0.2, 0.2, 0.3])
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
HOURLY_OPEN_BEFORE_DAY = 9 * HOUR_MS  # 15:00 Berlin the day before
QH_OPEN_BEFORE_DAY = 8 * HOUR_MS  # 16:00 Berlin the day before
TRADE_COLUMNS = ["trade_id", "side", "start_ms", "end_ms", "exec_ms", "price", "volume"]


TRADE_IDS_PER_DAY = 2_000_000


def trade_id_base(day: date) -> int:
    """Trade ids grow with the day; public trades get even ids, ours odd ones (never equal)."""
    return 2_000_000_000 + (day.toordinal() - date(2020, 1, 1).toordinal()) * TRADE_IDS_PER_DAY


def export_time(day: date, rng: np.random.Generator, after_minutes: tuple[int, int]) -> datetime:
    """A few minutes after the UTC midnight that follows the delivery day, to the millisecond."""
    ms = int(rng.integers(after_minutes[0] * MINUTE_MS, after_minutes[1] * MINUTE_MS))
    return utc_midnight(day + timedelta(days=1)) + timedelta(milliseconds=ms)


def lots_for(volume_mw: float, rng: np.random.Generator) -> np.ndarray:
    """Lots of 0.05-0.8 MW adding up to ``volume_mw`` (to the 0.05 MW below)."""
    if volume_mw < 0.05:
        return np.empty(0)
    weights = LARGE_LOT_WEIGHTS if volume_mw >= LARGE_POSITION_MW else LOT_WEIGHTS
    lots = rng.choice(LOTS, int(volume_mw / 0.1) + 10, p=weights)
    cumulative = np.cumsum(lots)
    k = int(np.searchsorted(cumulative, volume_mw + 1e-9, side="right"))
    rest = volume_mw - (cumulative[k - 1] if k else 0.0)
    lots = lots[:k]
    if rest >= 0.05:
        lots = np.append(lots, np.floor(rest / 0.05 + 1e-9) * 0.05)
    return np.round(lots, 2)


def _execution_times(rng, start_ms, earliest_ms, latest_before_ms, mean_lead_ms) -> np.ndarray:
    """Execution before ``start - latest_before``, exponentially more likely close to it."""
    close = start_ms - latest_before_ms
    span = np.maximum(close - earliest_ms, MINUTE_MS)
    lead = np.mod(rng.exponential(mean_lead_ms, len(start_ms)), span).astype(np.int64)
    exec_ms = close - lead
    exact = rng.random(len(exec_ms)) < 0.02  # some executions carry no milliseconds
    return np.where(exact, exec_ms // 1000 * 1000, exec_ms)


def _product_prices(market: Market, first_idx: np.ndarray, length: np.ndarray) -> np.ndarray:
    cumulative = np.concatenate([[0.0], np.cumsum(market.price)])
    return (cumulative[first_idx + length] - cumulative[first_idx]) / length


def private_trades(day: date, grid: Grid, market: Market, day_ahead_mw: np.ndarray,
                   latest_mw: np.ndarray, seed: int) -> pl.DataFrame:
    """Our trades for a Berlin day from the portfolio forecast (MW per QH of the day)."""
    rng = rng_for(seed, "private-trades", day.toordinal())
    sl = grid.day_slice(day)
    n_qh = sl.stop - sl.start
    products: list[tuple[int, int, str, np.ndarray]] = []  # first QH, QHs, side, lots
    hourly_sold = np.zeros(n_qh)
    for h in range(n_qh // 4):
        lots = lots_for(0.9 * float(day_ahead_mw[4 * h:4 * h + 4].mean()), rng)
        hourly_sold[4 * h:4 * h + 4] = lots.sum()
        products.append((4 * h, 4, "SELL", lots))
    for q in range(n_qh):
        difference = float(latest_mw[q]) - hourly_sold[q]
        products.append((q, 1, "SELL" if difference > 0 else "BUY", lots_for(abs(difference), rng)))
    first_qh = np.concatenate([np.full(len(lots), q) for q, _, _, lots in products]).astype(np.int64)
    n_products = np.concatenate([np.full(len(lots), n) for _, n, _, lots in products]).astype(np.int64)
    side = np.concatenate([np.full(len(lots), s) for _, _, s, lots in products]).astype(str)
    volume = np.concatenate([lots for _, _, _, lots in products])
    start_ms = grid.ms[sl.start + first_qh]
    day_start = int(grid.ms[sl.start])
    hourly = n_products == 4
    exec_ms = np.where(
        hourly,
        _execution_times(rng, start_ms, day_start - HOURLY_OPEN_BEFORE_DAY, 30 * MINUTE_MS, 3 * HOUR_MS),
        _execution_times(rng, start_ms, day_start - QH_OPEN_BEFORE_DAY, 5 * MINUTE_MS, 40 * MINUTE_MS),
    )
    reference = _product_prices(market, sl.start + first_qh, n_products)
    price = np.round(reference + rng.normal(0, 4, len(volume)) + np.where(side == "SELL", -1.0, 1.0), 2)
    return _frame(day, side, start_ms, start_ms + n_products * QH_MS, exec_ms, price, volume, parity=1)


def public_trades(day: date, grid: Grid, market: Market, n_trades: int, seed: int) -> pl.DataFrame:
    """``n_trades`` market trades of a Berlin day (independent of our portfolio)."""
    rng = rng_for(seed, "public-trades", day.toordinal())
    sl = grid.day_slice(day)
    n_qh = sl.stop - sl.start
    hourly = rng.random(n_trades) < 0.3
    first_qh = np.where(hourly, 4 * rng.integers(0, n_qh // 4, n_trades), rng.integers(0, n_qh, n_trades))
    n_products = np.where(hourly, 4, 1)
    start_ms = grid.ms[sl.start + first_qh]
    day_start = int(grid.ms[sl.start])
    exec_ms = np.where(
        hourly,
        _execution_times(rng, start_ms, day_start - HOURLY_OPEN_BEFORE_DAY, 5 * MINUTE_MS, 2 * HOUR_MS),
        _execution_times(rng, start_ms, day_start - QH_OPEN_BEFORE_DAY, 5 * MINUTE_MS, 75 * MINUTE_MS),
    )
    lead_hours = (start_ms - exec_ms) / HOUR_MS
    reference = _product_prices(market, sl.start + first_qh, n_products)
    price = np.round(reference + rng.normal(0, 5, n_trades) + rng.normal(0, 1, n_trades) * lead_hours, 2)
    volume = np.round(np.clip(rng.lognormal(np.log(2.5), 1.0, n_trades), 0.1, 500.0), 1)
    side = np.where(rng.random(n_trades) < 0.5, "BUY", "SELL")
    return _frame(day, side, start_ms, start_ms + n_products * QH_MS, exec_ms, price, volume, parity=0)


def _frame(day, side, start_ms, end_ms, exec_ms, price, volume, parity: int) -> pl.DataFrame:
    if 2 * len(exec_ms) >= TRADE_IDS_PER_DAY:
        raise ValueError(f"at most {TRADE_IDS_PER_DAY // 2 - 1:,} trades a day, got {len(exec_ms):,}")
    order = np.lexsort((np.arange(len(exec_ms)), exec_ms))
    trade_id = np.empty(len(exec_ms), dtype=np.int64)
    trade_id[order] = trade_id_base(day) + 2 * np.arange(len(exec_ms), dtype=np.int64) + parity
    frame = pl.DataFrame({
        "trade_id": trade_id, "side": side, "start_ms": start_ms.astype(np.int64),
        "end_ms": end_ms.astype(np.int64), "exec_ms": exec_ms.astype(np.int64),
        "price": price.astype(float), "volume": volume.astype(float),
    })
    return sort_trades(frame)


def sort_trades(frame: pl.DataFrame) -> pl.DataFrame:
    """Export order: by delivery start, hourly products first, latest execution first."""
    return frame.with_columns(length=pl.col("end_ms") - pl.col("start_ms")).sort(
        ["start_ms", "length", "exec_ms", "trade_id"], descending=[False, True, True, False]
    ).drop("length")


def _timestamp(column: str, fraction: bool) -> pl.Expr:
    pattern = "%Y-%m-%d %H:%M:%S%.6f+00:00" if fraction else "%Y-%m-%d %H:%M:%S+00:00"
    return pl.from_epoch(pl.col(column), time_unit="ms").dt.strftime(pattern)


def trades_csv(title: str, day: date, exported_at: datetime, frame: pl.DataFrame) -> str:
    """The export text: ``# <title> - <day> - <export time>;;;;;;;;``, header, rows."""
    rows = frame.select(pl.concat_str([
        pl.col("trade_id").cast(pl.Utf8),
        pl.col("side"),
        _timestamp("start_ms", False),
        _timestamp("end_ms", False),
        pl.when(pl.col("exec_ms") % 1000 == 0).then(_timestamp("exec_ms", False))
        .otherwise(_timestamp("exec_ms", True)),
        pl.col("price").cast(pl.Utf8),
        pl.lit("EUR"),
        pl.col("volume").cast(pl.Utf8),
        pl.lit("MWH"),
    ], separator=";").alias("row"))["row"].to_list()
    lines = [f"# {title} - {day.isoformat()} - {iso_ms_z(exported_at)};;;;;;;;", HEADER, *rows]
    return "\n".join(lines) + "\n"


def export_name(kind: str, day: date, exported_at: datetime) -> str:
    return f"{kind}-{day:%Y%m%d}-{compact_ms_z(exported_at)}.csv"


def write_export(folder: Path, kind: str, title: str, day: date, exported_at: datetime,
                 frame: pl.DataFrame) -> Path:
    path = folder / export_name(kind, day, exported_at)
    path.write_text(trades_csv(title, day, exported_at, frame), encoding="utf-8", newline="")
    return path
