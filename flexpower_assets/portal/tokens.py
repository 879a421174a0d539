"""Personal API tokens and browser sessions of the portal, in ``<state_dir>/portal.sqlite``.

A token is 32 random bytes (``secrets.token_urlsafe``), shown once when it is created and stored
only as its SHA-256 digest. A slow password hash (bcrypt, scrypt) protects guessable passwords; a
256-bit random token cannot be guessed, so a plain digest is enough and lets a request find its
token by an indexed lookup. A browser logs in with the token once and gets a session: another
random value in a cookie, also stored only as its digest, valid for ``SESSION_HOURS`` and only
while the token it came from is not revoked. Revoking a user revokes all of the user's tokens
and ends their sessions at once.

The portal's state never lives in the warehouse: the pipeline owns that file and its lock.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flexpower_assets.portal.policy import NAME, USER, Principal

TOKEN_PREFIX = "fpt_"
SESSION_HOURS = 8

_SCHEMA = """
create table if not exists tokens (
    token_hash  text primary key,
    user        text not null,
    role        text not null,
    contract_id text,
    created_at  text not null,
    revoked_at  text
);
create index if not exists tokens_by_user on tokens(user);
create table if not exists sessions (
    session_hash text primary key,
    token_hash   text not null references tokens(token_hash),
    created_at   text not null,
    expires_at   text not null
);
"""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class TokenInfo:
    user: str
    role: str
    contract_id: str | None
    created_at: str
    revoked_at: str | None


class TokenStore:
    """Create, check and revoke tokens; open, check and close sessions."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "portal.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("pragma journal_mode=wal")
            db.execute("pragma foreign_keys=on")
            yield db
        finally:
            db.close()

    # -- tokens ---------------------------------------------------------------------------------

    def create(self, user: str, role: str, contract_id: str | None = None) -> str:
        """A new token for ``user``; the caller checks ``role`` against the policy."""
        if not USER.match(user):
            raise ValueError(f"user name {user!r}: use letters, digits and . _ @ - (at most 64)")
        if contract_id is not None and not NAME.match(contract_id):
            raise ValueError(f"contract id {contract_id!r}: use letters, digits, _ and - (at most 64)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db() as db:
            db.execute(
                "insert into tokens (token_hash, user, role, contract_id, created_at) values (?, ?, ?, ?, ?)",
                (digest(token), user, role, contract_id, _now().isoformat()),
            )
        return token

    def revoke(self, user: str) -> int:
        """Revoke every active token of ``user`` and end their sessions; the number revoked."""
        with self._db() as db:
            db.execute("begin immediate")
            db.execute(
                "delete from sessions where token_hash in (select token_hash from tokens where user = ?)", (user,)
            )
            n = db.execute(
                "update tokens set revoked_at = ? where user = ? and revoked_at is null", (_now().isoformat(), user)
            ).rowcount
            db.execute("commit")
        return n

    def principal(self, token: str) -> Principal | None:
        """The principal of an active token, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        with self._db() as db:
            row = db.execute(
                "select user, role, contract_id from tokens where token_hash = ? and revoked_at is null",
                (digest(token),),
            ).fetchone()
        return Principal(*row) if row else None

    def list(self) -> list[TokenInfo]:
        with self._db() as db:
            rows = db.execute(
                "select user, role, contract_id, created_at, revoked_at from tokens order by user, created_at"
            ).fetchall()
        return [TokenInfo(*r) for r in rows]

    # -- sessions -------------------------------------------------------------------------------

    def open_session(self, token: str) -> tuple[str, Principal] | None:
        """Log in with a token: a new session id (for the cookie) and its principal, or None."""
        who = self.principal(token)
        if who is None:
            return None
        session = secrets.token_urlsafe(32)
        now = _now()
        with self._db() as db:
            db.execute("delete from sessions where expires_at <= ?", (now.isoformat(),))
            db.execute(
                "insert into sessions (session_hash, token_hash, created_at, expires_at) values (?, ?, ?, ?)",
                (digest(session), digest(token), now.isoformat(), (now + timedelta(hours=SESSION_HOURS)).isoformat()),
            )
        return session, who

    def session_principal(self, session: str) -> Principal | None:
        """The principal of a live session whose token is still active, or None."""
        if len(session) > 200:
            return None
        with self._db() as db:
            row = db.execute(
                "select t.user, t.role, t.contract_id from sessions s join tokens t using (token_hash) "
                "where s.session_hash = ? and s.expires_at > ? and t.revoked_at is null",
                (digest(session), _now().isoformat()),
            ).fetchone()
        return Principal(*row) if row else None

    def close_session(self, session: str) -> None:
        with self._db() as db:
            db.execute("delete from sessions where session_hash = ?", (digest(session),))
