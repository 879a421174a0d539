"""The bid tables in the warehouse: matrix versions, approvals and submissions (no Dagster).

History is never deleted: a new matrix is a new version, an approval, a solve or a submission
attempt is a new row. The one table that shows a current state, ``main.bid_submission``, is
derived from the attempts (its row of a version changes from accepted to superseded).
Tables (BIDDING.md's data contract, plus the bookkeeping the four-eyes rule needs):

- ``main.solver_run``        one row per input hash (same hash, same record), with the volumes
- ``main.bid_matrix``        client x day x version x MTU x point
- ``main.bid_submission``    client x day x version: the exchange's decision on the version
- ``bidding.submission_attempt`` every attempt, with its outcome
- ``bidding.matrix_version`` per version: content hash, who made it (``system`` or the editor),
                             from which version, the config hash and the rule violations found
- ``bidding.approval``       every approval decision (approved / rejected), by whom, why
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import duckdb
import polars as pl

from flexpower_assets.bidding.orders import content_hash
from resources.warehouse import Warehouse, as_utc

DDL = [
    "create schema if not exists bidding",
    """create table if not exists main.bid_matrix (
        delivery_day date not null, client_id varchar not null, version integer not null,
        delivery_start timestamptz not null, point integer not null,
        price_eur_per_mwh double not null, volume_mw double not null)""",
    """create table if not exists main.bid_submission (
        delivery_day date not null, client_id varchar not null, version integer not null,
        content_hash varchar not null, idempotency_key varchar not null, status varchar not null,
        approved_by varchar, submitted_at timestamptz not null, exchange_order_id varchar,
        exchange_version integer, message varchar)""",
    """create table if not exists bidding.matrix_version (
        delivery_day date not null, client_id varchar not null, version integer not null,
        content_hash varchar not null, origin varchar not null, made_by varchar not null,
        made_at timestamptz not null, based_on integer, config_hash varchar, violations varchar[])""",
    """create table if not exists main.solver_run (
        delivery_day date not null, client_id varchar not null, asset_id varchar not null,
        scenario_id bigint not null, input_hash varchar not null, status varchar not null,
        objective_eur double, solve_seconds double not null, message varchar, iterations bigint not null,
        asset_type varchar not null, config_hash varchar not null, volumes_mw double[],
        recorded_at timestamptz not null)""",
    """create table if not exists bidding.submission_attempt (
        delivery_day date not null, client_id varchar not null, version integer not null,
        content_hash varchar not null, idempotency_key varchar not null, outcome varchar not null,
        attempted_at timestamptz not null, exchange_order_id varchar, exchange_version integer,
        message varchar)""",
    """create table if not exists bidding.approval (
        delivery_day date not null, client_id varchar not null, version integer not null,
        decision varchar not null, decided_by varchar not null, role varchar,
        decided_at timestamptz not null, reason varchar)""",
]

MATRIX_COLUMNS = ["delivery_start", "point", "price_eur_per_mwh", "volume_mw"]


@dataclass(frozen=True)
class MatrixVersion:
    delivery_day: date
    client_id: str
    version: int
    content_hash: str
    origin: str
    made_by: str
    made_at: datetime
    based_on: int | None
    config_hash: str | None
    violations: list[str]
    approval: str | None = None          # approved | rejected | None (pending)
    approved_by: str | None = None


def _now() -> datetime:
    return datetime.now(timezone.utc)


_VERSIONS_SQL = """select v.*, a.decision as approval, a.decided_by as approved_by
   from bidding.matrix_version v
   left join (select * from bidding.approval
              qualify row_number() over (partition by client_id, delivery_day, version
                                         order by decided_at desc) = 1) a
     using (client_id, delivery_day, version)
   where v.client_id = ? and v.delivery_day = ? order by v.version"""


def _versions(conn: duckdb.DuckDBPyConnection, client_id: str, day: date) -> list[MatrixVersion]:
    """Every version of a client's day on an open connection (one connection instead of a look-up
    whether the tables exist and then the read: each open of the warehouse costs tens of ms)."""
    try:
        frame = as_utc(conn.execute(_VERSIONS_SQL, [client_id, day]).pl())
    except duckdb.CatalogException:  # no version stored yet (the tables come with the first one)
        return []
    return [MatrixVersion(**{**row, "violations": list(row["violations"] or [])}) for row in frame.iter_rows(named=True)]


class BidStore:
    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def ensure_tables(self) -> None:
        with self.warehouse.writer() as conn:
            for statement in DDL:
                conn.execute(statement)

    # -------------------------------------------------------------- matrix versions

    def save_version(self, client_id: str, day: date, matrix: pl.DataFrame, *, origin: str, made_by: str,
                     violations: list[str], config_hash: str | None = None,
                     based_on: int | None = None) -> tuple[MatrixVersion, bool]:
        """Store the matrix as the next version, unless a version with the same content exists
        (then that one is returned and ``False``: re-running a day adds nothing)."""
        digest = content_hash(matrix)
        frame = matrix.select(MATRIX_COLUMNS).sort("delivery_start", "point")
        with self.warehouse.writer() as conn:
            for statement in DDL:
                conn.execute(statement)
            found = conn.execute(
                "select version from bidding.matrix_version where client_id = ? and delivery_day = ? "
                "and content_hash = ? order by version limit 1", [client_id, day, digest]).fetchone()
            if found:
                existing = found[0]
            else:
                existing = None
                version = conn.execute(
                    "select coalesce(max(version), 0) + 1 from bidding.matrix_version "
                    "where client_id = ? and delivery_day = ?", [client_id, day]).fetchone()[0]
                conn.execute("insert into bidding.matrix_version values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             [day, client_id, version, digest, origin, made_by, _now(), based_on, config_hash,
                              list(violations)])
                rows = frame.with_columns(  # noqa: F841 (read by DuckDB)
                    delivery_day=pl.lit(day, dtype=pl.Date), client_id=pl.lit(client_id),
                    version=pl.lit(version, dtype=pl.Int32))
                conn.execute("insert into main.bid_matrix by name select * from rows")
            wanted = existing if existing is not None else version
            stored = next(v for v in _versions(conn, client_id, day) if v.version == wanted)
        return stored, existing is None

    def versions(self, client_id: str, day: date) -> list[MatrixVersion]:
        with self.warehouse.reader() as conn:
            return _versions(conn, client_id, day)

    def version(self, client_id: str, day: date, version: int | None = None) -> MatrixVersion:
        """One version (default: the latest); ``LookupError`` when there is none."""
        found = self.versions(client_id, day)
        if version is not None:
            found = [v for v in found if v.version == version]
        if not found:
            what = "no bid matrix" if version is None else f"no bid matrix version {version}"
            raise LookupError(f"{client_id} has {what} for {day}")
        return found[-1]

    def matrix(self, client_id: str, day: date, version: int) -> pl.DataFrame:
        return self.warehouse.read(
            "select delivery_start, point, price_eur_per_mwh, volume_mw from main.bid_matrix "
            "where client_id = ? and delivery_day = ? and version = ? order by delivery_start, point",
            [client_id, day, version])

    # -------------------------------------------------------------- solver runs

    def known_solves(self, input_hashes: list[str]) -> pl.DataFrame:
        """The recorded solves among ``input_hashes`` (same hash, same result: not solved again)."""
        if not input_hashes or not self.warehouse.table_exists("main", "solver_run"):
            return pl.DataFrame()
        wanted = pl.DataFrame({"input_hash": sorted(set(input_hashes))})  # noqa: F841 (read by DuckDB)
        with self.warehouse.reader() as conn:
            return conn.execute("select r.* from main.solver_run r join wanted using (input_hash)").pl()

    def record_solves(self, rows: pl.DataFrame) -> int:
        """Insert the solves whose input hash has no record yet; returns how many were new."""
        if rows.is_empty():
            return 0
        fresh = rows.unique("input_hash", keep="first").with_columns(  # noqa: F841 (read by DuckDB)
            recorded_at=pl.lit(_now(), dtype=pl.Datetime("us", "UTC")))
        with self.warehouse.writer() as conn:
            for statement in DDL:
                conn.execute(statement)
            before = conn.execute("select count(*) from main.solver_run").fetchone()[0]
            conn.execute("insert into main.solver_run by name select * from fresh f "
                         "where not exists (select 1 from main.solver_run r where r.input_hash = f.input_hash)")
            after = conn.execute("select count(*) from main.solver_run").fetchone()[0]
        return after - before

    # -------------------------------------------------------------- approvals

    def record_approval(self, client_id: str, day: date, version: int, *, approved: bool, by: str,
                        role: str | None, reason: str) -> None:
        with self.warehouse.writer() as conn:
            for statement in DDL:
                conn.execute(statement)
            conn.execute("insert into bidding.approval values (?, ?, ?, ?, ?, ?, ?, ?)",
                         [day, client_id, version, "approved" if approved else "rejected", by, role, _now(), reason])

    # -------------------------------------------------------------- submissions

    def record_submission(self, *, client_id: str, day: date, version: int, content_hash: str,
                          idempotency_key: str, status: str, approved_by: str | None, submitted_at: datetime,
                          exchange_order_id: str | None, exchange_version: int | None,
                          message: str | None) -> None:
        """Every attempt goes to ``bidding.submission_attempt``. ``main.bid_submission`` holds one
        row per version the exchange (or the gate rule) decided on: ``accepted`` (the live order),
        ``superseded`` (an accepted version a later one replaced), ``rejected`` (content refused),
        ``refused_after_gate_closure``. An attempt without an answer (``error``) changes no row."""
        with self.warehouse.writer() as conn:
            for statement in DDL:
                conn.execute(statement)
            conn.execute("insert into bidding.submission_attempt values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [day, client_id, version, content_hash, idempotency_key, status, submitted_at,
                          exchange_order_id, exchange_version, message])
            contract_status = {"accepted": "accepted", "invalid": "rejected", "refused": "refused_after_gate_closure"}
            if status not in contract_status:
                return
            if status == "accepted":
                conn.execute("update main.bid_submission set status = 'superseded' where client_id = ? and "
                             "delivery_day = ? and status = 'accepted' and version <> ?", [client_id, day, version])
            conn.execute("delete from main.bid_submission where client_id = ? and delivery_day = ? and version = ?",
                         [client_id, day, version])
            conn.execute("insert into main.bid_submission values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [day, client_id, version, content_hash, idempotency_key, contract_status[status],
                          approved_by, submitted_at, exchange_order_id, exchange_version, message])

    def submissions(self, client_id: str | None = None, day: date | None = None) -> pl.DataFrame:
        with self.warehouse.reader() as conn:
            try:
                frame = conn.execute(
                    "select * from main.bid_submission where (? is null or client_id = ?) and "
                    "(? is null or delivery_day = ?) order by delivery_day, client_id, version",
                    [client_id, client_id, day, day]).pl()
            except duckdb.CatalogException:  # no submission yet
                return pl.DataFrame()
        return as_utc(frame)

    def live_submission(self, client_id: str, day: date) -> dict | None:
        """The latest submission the exchange accepted for the client and day (None if none)."""
        frame = self.submissions(client_id, day)
        if frame.is_empty():
            return None
        live = frame.filter(pl.col("status") == "accepted")
        return live.row(-1, named=True) if live.height else None
