"""Command-line entry points of the portal, added to the main ``flexpower`` group.

- ``flexpower portal [--host H --port P]`` serves the portal with uvicorn.
- ``flexpower token create --user NAME --role ROLE [--contract CONTRACT_ID]`` prints a new token
  (only the token, on stdout, so scripts can capture it); ``flexpower token revoke --user NAME``
  revokes every token of the user and ends their sessions; ``flexpower token list`` shows who has
  tokens (never the tokens themselves).
- ``flexpower audit verify`` checks the audit log's hash chain.

Locations default to the project settings (``FLEXPOWER_DATA_DIR``, ``FLEXPOWER_WAREHOUSE``); the
portal's state (tokens, sessions, audit log) is under ``<data-dir>/portal`` unless ``--state-dir``
says otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import click

from flexpower_assets.portal.audit import AuditLog, redact, verify_audit_log
from flexpower_assets.portal.policy import DEFAULT_POLICY, NAME, Policy
from flexpower_assets.portal.tokens import TokenStore
from flexpower_assets.settings import Settings
from resources.warehouse import Warehouse, WarehouseDamaged


def _locations(f):
    f = click.option("--state-dir", type=click.Path(path_type=Path), default=None,
                     help="Tokens, sessions and audit log [default: <data-dir>/portal].")(f)
    f = click.option("--data-dir", type=click.Path(path_type=Path), default=None,
                     help="Holds portal/ [default: FLEXPOWER_DATA_DIR or data/].")(f)
    return f


def _data_dir(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else Settings.from_env().data_dir


def _state_dir(data_dir: Path | None, state_dir: Path | None) -> Path:
    return state_dir if state_dir is not None else _data_dir(data_dir) / "portal"


def _audit_key(state: Path) -> Path:
    return Settings.from_env().audit_key_file or state / "audit.key"


def _audit_log(state: Path) -> AuditLog:
    return AuditLog(state / "audit.jsonl", _audit_key(state))


@click.command("portal")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--warehouse", type=click.Path(path_type=Path), default=None,
              help="DuckDB file [default: FLEXPOWER_WAREHOUSE or data/warehouse/flexpower.duckdb].")
@click.option("--documents-dir", type=click.Path(path_type=Path), default=None,
              help="Invoices and reports of that warehouse [default: FLEXPOWER_DOCUMENTS_DIR or "
                   "<warehouse dir>/<warehouse stem>.documents].")
@_locations
def portal_command(host: str, port: int, warehouse: Path | None, documents_dir: Path | None,
                   data_dir: Path | None, state_dir: Path | None) -> None:
    """Serve the read-only portal (reports, invoices, data) behind the access policy."""
    import uvicorn

    from flexpower_assets.portal.app import create_app

    settings = Settings.from_env()
    if warehouse is not None:
        settings = replace(settings, warehouse_path=warehouse.resolve())
    try:
        Warehouse(settings.warehouse_path).check()
    except WarehouseDamaged as exc:
        raise click.ClickException(str(exc)) from None
    documents = documents_dir if documents_dir is not None else settings.documents_root
    app = create_app(settings.warehouse_path, documents, _state_dir(data_dir, state_dir), data_dir=_data_dir(data_dir),
                     secure_cookies=settings.portal_https, audit_key_path=settings.audit_key_file,
                     clock=settings.current_time)
    logging.getLogger("uvicorn.access").addFilter(RedactSecrets())
    click.echo(f"portal on http://{host}:{port}/ (API docs at /docs), warehouse {settings.warehouse_path}, "
               f"documents {documents}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info")


class RedactSecrets(logging.Filter):
    """Keeps tokens out of the access log: ``token=`` query parameters become ``[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def contract_exists(warehouse: Path, contract_id: str) -> bool:
    """Whether the warehouse knows the contract (in any CRM snapshot of its built days)."""
    store = Warehouse(warehouse)
    if not store.table_exists("raw", "raw_crm__contracts"):
        return False
    found = store.read('select count(*) as n from "raw"."raw_crm__contracts" where contract_id = ?', [contract_id])
    return bool(found["n"][0])


@click.group("token")
def token_group() -> None:
    """Personal API tokens of the portal."""


@token_group.command("create")
@click.option("--user", required=True, help="Who the token is for.")
@click.option("--role", required=True,
              help="A role of the access policy (admin, trader, operations, finance, customer).")
@click.option("--contract", "contract_id", default=None,
              help="The contract a customer token is bound to (it must be in the warehouse).")
@click.option("--warehouse", type=click.Path(path_type=Path), default=None,
              help="Where --contract is looked up [default: FLEXPOWER_WAREHOUSE].")
@_locations
def token_create(user: str, role: str, contract_id: str | None, warehouse: Path | None, data_dir: Path | None,
                 state_dir: Path | None) -> None:
    """Create a token and print it (shown once; only its hash is stored)."""
    policy = Policy.load(DEFAULT_POLICY)
    known = policy.role(role)
    if known is None:
        raise click.BadParameter(f"unknown role {role!r}; the policy has {', '.join(sorted(policy.roles))}",
                                 param_hint="--role")
    if known.bound_to_contract and not contract_id:
        raise click.BadParameter(f"role {role!r} is bound to one contract: give --contract", param_hint="--contract")
    if not known.bound_to_contract and contract_id:
        raise click.BadParameter(f"role {role!r} is not bound to a contract: leave out --contract",
                                 param_hint="--contract")
    if contract_id is not None and not NAME.match(contract_id):
        raise click.BadParameter("use letters, digits, _ and - only", param_hint="--contract")
    if contract_id is not None:
        warehouse = warehouse if warehouse is not None else Settings.from_env().warehouse_path
        try:
            known_contract = contract_exists(warehouse, contract_id)
        except WarehouseDamaged as exc:
            raise click.ClickException(str(exc)) from None
        if not known_contract:
            raise click.BadParameter(f"contract {contract_id!r} does not exist in the warehouse {warehouse} "
                                     "(check the id, or build a day of its CRM snapshot first)",
                                     param_hint="--contract")
    state = _state_dir(data_dir, state_dir)
    try:
        token = TokenStore(state).create(user, role, contract_id)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    _audit_log(state).append(action="CLI", target="token create", resource=f"token:{user}",
                                           decision="allow", user=user, role=role, contract_id=contract_id)
    click.echo(token)


@token_group.command("revoke")
@click.option("--user", required=True, help="Whose tokens to revoke.")
@_locations
def token_revoke(user: str, data_dir: Path | None, state_dir: Path | None) -> None:
    """Revoke every token of a user and end the user's browser sessions."""
    state = _state_dir(data_dir, state_dir)
    n = TokenStore(state).revoke(user)
    _audit_log(state).append(action="CLI", target="token revoke", resource=f"token:{user}",
                                           decision="allow", user=user, reason=f"{n} token(s) revoked")
    if n == 0:
        raise click.ClickException(f"user {user!r} has no active token")
    click.echo(f"revoked {n} token(s) of {user}", err=True)


@token_group.command("list")
@_locations
def token_list(data_dir: Path | None, state_dir: Path | None) -> None:
    """Users with tokens, their roles and contracts (never the tokens)."""
    for t in TokenStore(_state_dir(data_dir, state_dir)).list():
        status = f"revoked {t.revoked_at}" if t.revoked_at else "active"
        click.echo(f"{t.user}\t{t.role}\t{t.contract_id or '-'}\tcreated {t.created_at}\t{status}")


@click.group("audit")
def audit_group() -> None:
    """The portal's audit log."""


@audit_group.command("verify")
@_locations
def audit_verify(data_dir: Path | None, state_dir: Path | None) -> None:
    """Check the audit log's hash chain and its signed head; exit 1 when broken or cut short."""
    state = _state_dir(data_dir, state_dir)
    result = verify_audit_log(state / "audit.jsonl", _audit_key(state))
    if not result.ok:
        raise click.ClickException(f"audit log broken after {result.records} good records: {result.problem}")
    click.echo(f"audit log intact: {result.records} records, ending where its signed head says")
    if result.torn_lines:
        click.echo(f"note: {result.problem}", err=True)


__all__ = ["audit_group", "portal_command", "token_group"]
