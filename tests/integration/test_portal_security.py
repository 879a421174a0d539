"""Audit log that survives a torn write and notices a lost tail; browser sessions hardened
(Secure cookie behind HTTPS, CSRF refusal, login lockout); tokens kept out of the logs; customer
tokens only for contracts that exist."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from flexpower_assets.portal.app import SESSION_COOKIE, create_app
from flexpower_assets.portal.audit import AuditLog, head_path_of, verify_audit_log
from flexpower_assets.portal.commands import RedactSecrets, audit_group, token_group
from flexpower_assets.portal.throttle import LoginThrottle
from flexpower_assets.settings import Settings

from .test_portal import SAME_ORIGIN, World, as_, build_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def _client(world: World, **options) -> TestClient:
    return TestClient(create_app(world.warehouse, world.data_dir, world.state_dir, **options))


def _verify_cli(world: World):
    return CliRunner().invoke(audit_group, ["verify", "--state-dir", str(world.state_dir)])


# ---------------------------------------------------------------------------------------------
# audit log


def test_a_torn_last_line_does_not_break_requests_and_is_reported(world: World) -> None:
    client = _client(world)
    for _ in range(3):
        assert client.get("/api/me", headers=as_(world, "trader")).status_code == 200
    log = world.state_dir / "audit.jsonl"
    with open(log, "ab") as f:  # the process died half-way through writing a record
        f.write(b'{"seq":4,"ts":"2025-06-08T10:00:00.000+00:00","user":"tom","act')
    assert client.get("/api/me", headers=as_(world, "trader")).status_code == 200  # not 500
    assert client.get("/api/me", headers=as_(world, "trader")).status_code == 200
    lines = log.read_bytes().splitlines()
    assert len(lines) == 6 and lines[3].endswith(b'"act')  # the fragment kept on a line of its own
    records = AuditLog(log).records()
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]  # the chain goes on from record 3
    result = verify_audit_log(log)
    assert result.ok and result.records == 5 and result.torn_lines == (4,)
    cli = _verify_cli(world)
    assert cli.exit_code == 0 and "intact: 5 records" in cli.stdout and "partial line(s) 4" in cli.stderr


@pytest.mark.parametrize("cut", ["last line", "last 100 lines", "whole file"])
def test_verify_detects_a_lost_tail(world: World, cut: str) -> None:
    client = _client(world)
    for _ in range(120):
        client.get("/api/me", headers=as_(world, "trader"))
    log = world.state_dir / "audit.jsonl"
    assert verify_audit_log(log) == verify_audit_log(log) and verify_audit_log(log).ok
    lines = log.read_bytes().splitlines(keepends=True)
    assert len(lines) == 120
    keep = {"last line": lines[:-1], "last 100 lines": lines[:-100], "whole file": []}[cut]
    if cut == "whole file":
        log.unlink()
    else:
        log.write_bytes(b"".join(keep))
    result = verify_audit_log(log)
    assert not result.ok and result.records == len(keep)
    assert f"the head names 120 records, the log holds {len(keep)}" in result.problem
    cli = _verify_cli(world)
    assert cli.exit_code == 1 and "missing" in cli.output


def test_verify_detects_a_forged_head(world: World) -> None:
    client = _client(world)
    for _ in range(3):
        client.get("/api/me", headers=as_(world, "trader"))
    log = world.state_dir / "audit.jsonl"
    head_path = head_path_of(log)
    head = orjson.loads(head_path.read_bytes())
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-1]))
    second = orjson.loads(log.read_bytes().splitlines()[-1])
    head_path.write_bytes(orjson.dumps({**head, "records": 2, "last_hash": second["hash"]}))  # no key
    result = verify_audit_log(log)
    assert not result.ok and "not signed by the audit key" in result.problem
    (world.state_dir / "audit.key").unlink()
    assert "key" in verify_audit_log(log).problem and not verify_audit_log(log).ok


def test_tokens_in_a_query_never_reach_the_audit_or_access_log(world: World) -> None:
    client = _client(world)
    token = world.tokens["alice"]
    client.get(f"/api/me?token={token}&from=2025-06-08", headers=as_(world, "alice"))
    client.get(f"/reports/daily/2025-06-08/{token}", headers=as_(world, "alice"))
    raw = (world.state_dir / "audit.jsonl").read_bytes().decode()
    assert token not in raw and token[4:] not in raw
    records = AuditLog(world.state_dir / "audit.jsonl").records()
    assert records[-2]["query"] == "token=[redacted]&from=2025-06-08"
    assert records[-1]["target"] == "/reports/daily/2025-06-08/[redacted]"
    # uvicorn's access log line: (client, method, path with query, HTTP version, status)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", f"/api/me?token={token}", "1.1", 200), None)
    assert RedactSecrets().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /api/me?token=[redacted] HTTP/1.1" 200'


# ---------------------------------------------------------------------------------------------
# browser sessions


def test_the_session_cookie_is_secure_when_served_over_https(world: World, monkeypatch) -> None:
    monkeypatch.setenv("FLEXPOWER_PORTAL_HTTPS", "1")
    assert Settings.from_env().portal_https is True
    monkeypatch.setenv("FLEXPOWER_PORTAL_HTTPS", "0")
    assert Settings.from_env().portal_https is False
    https = TestClient(create_app(world.warehouse, world.data_dir, world.state_dir, secure_cookies=True),
                       base_url="https://testserver")
    r = https.post("/login", data={"token": world.tokens["alice"]}, headers={"Origin": "https://testserver"},
                   follow_redirects=False)
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
    # behind HTTPS a form posted from a plain-http page is refused
    assert https.post("/login", data={"token": world.tokens["alice"]}, headers=SAME_ORIGIN).status_code == 403
    plain = _client(world).post("/login", data={"token": world.tokens["alice"]}, headers=SAME_ORIGIN,
                                follow_redirects=False)
    assert plain.status_code == 303 and "Secure" not in plain.headers["set-cookie"]


@pytest.mark.parametrize("headers", [{}, {"Origin": "https://evil.example"}, {"Origin": "null"},
                                     {"Referer": "http://evil.example/page"},
                                     {"Origin": "http://testserver.evil.example"}])
def test_posts_from_another_site_are_refused(world: World, headers: dict[str, str]) -> None:
    client = _client(world)
    r = client.post("/login", data={"token": world.tokens["alice"]}, headers=headers, follow_redirects=False)
    assert r.status_code == 403 and SESSION_COOKIE not in r.headers.get("set-cookie", "")
    # a logged-in browser is not logged out by another site's form either
    assert client.post("/login", data={"token": world.tokens["alice"]}, headers=SAME_ORIGIN,
                       follow_redirects=False).status_code == 303
    assert client.post("/logout", headers=headers, follow_redirects=False).status_code == 403
    assert client.get("/api/me").status_code == 200
    assert client.post("/logout", headers={"Referer": "http://testserver/"}, follow_redirects=False).status_code == 303
    assert client.get("/api/me").status_code == 401
    denied = [r for r in AuditLog(world.state_dir / "audit.jsonl").records() if r["status"] == 403]
    assert [r["reason"] for r in denied] == ["cross-site or unverifiable origin"] * 2
    # an API client that sends its own bearer token (no browser adds one by itself) needs no Origin
    assert client.post("/logout", headers={**headers, **as_(world, "admin")},
                       follow_redirects=False).status_code == 303


def test_repeated_failed_logins_lock_the_address_out(world: World) -> None:
    now = [1000.0]
    throttle = LoginThrottle(max_failures=5, window_s=900, lockout_s=900, clock=lambda: now[0])
    client = _client(world, login_throttle=throttle)

    def login(token: str):
        return client.post("/login", data={"token": token}, headers=SAME_ORIGIN, follow_redirects=False)

    for _ in range(4):
        assert login("fpt_guess").status_code == 401
    assert login(world.tokens["alice"]).status_code == 303  # a success clears the count
    for _ in range(5):
        assert login("fpt_guess").status_code == 401
    locked = login(world.tokens["alice"])  # locked out: even the right token is refused
    assert locked.status_code == 429 and locked.headers["retry-after"] == "900"
    now[0] += 899.5
    assert login(world.tokens["alice"]).headers["retry-after"] == "1"
    now[0] += 0.5  # 900 s after the fifth failure
    assert login(world.tokens["alice"]).status_code == 303
    reasons = [r["reason"] for r in AuditLog(world.state_dir / "audit.jsonl").records() if r["status"] == 429]
    assert reasons == ["locked out after repeated failed logins"] * 2


def test_failures_older_than_the_window_are_forgotten() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=3, window_s=60, lockout_s=600, clock=lambda: now[0])
    assert [throttle.failed("a") for _ in range(2)] == [False, False]
    now[0] = 61.0  # both failures are now older than the window
    assert throttle.failed("a") is False and throttle.retry_after("a") == 0
    assert [throttle.failed("a") for _ in range(2)] == [False, True]  # 3 within 60 s: locked out
    assert throttle.retry_after("a") == 600 and throttle.retry_after("b") == 0


# ---------------------------------------------------------------------------------------------
# tokens


def test_a_customer_token_for_a_contract_that_does_not_exist_is_refused(world: World) -> None:
    args = ["create", "--user", "eve", "--role", "customer", "--state-dir", str(world.state_dir),
            "--warehouse", str(world.warehouse)]
    refused = CliRunner().invoke(token_group, [*args, "--contract", "CON-Z"])
    assert refused.exit_code == 2
    assert f"contract 'CON-Z' does not exist in the warehouse {world.warehouse}" in refused.output
    assert not [t for t in _tokens(world) if t == "eve"]
    accepted = CliRunner().invoke(token_group, [*args, "--contract", "CON-A"])
    assert accepted.exit_code == 0 and accepted.stdout.startswith("fpt_")
    assert "eve" in _tokens(world)


def _tokens(world: World) -> list[str]:
    listed = CliRunner().invoke(token_group, ["list", "--state-dir", str(world.state_dir)])
    return [line.split("\t")[0] for line in listed.stdout.splitlines()]
