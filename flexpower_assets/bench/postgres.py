"""A throwaway PostgreSQL cluster for the run benchmark and its test: Debian's server, a temp dir, a free port.

``ensure_installed()`` installs Debian's ``postgresql`` package with apt-get when no server
binaries are found (``sudo`` only when not root; the registry is the only network it uses) and
raises ``PostgresUnavailable`` naming what failed otherwise. ``ThrowawayPostgres`` runs
``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/<version>/bin`` in a fresh temp folder,
listening on 127.0.0.1 on a free port only: as the calling user, or, for root (``initdb``
refuses root), as Debian's ``postgres`` system user through ``runuser``. The superuser gets a
random password generated at start (scram-sha-256 over TCP), so nothing secret is ever written
to the repository; ``env()`` hands host, port, user, password and database to the instance
configuration ``dagster-postgres.yaml`` as ``FLEXPOWER_PG_*`` variables. Leaving the context
stops the server and removes the cluster's folder (it never held anything but this run's data).

``python -m flexpower_assets.bench.postgres install`` is what ``make postgresql`` runs.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from flexpower_assets.ports import free_port

APT_PACKAGE = "postgresql"
SYSTEM_USER = "postgres"  # created by Debian's postgresql-common
DATABASE = "dagster"
SUPERUSER = "flexpower"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be installed or started (the message says which command and why)."""


def server_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` that holds initdb and pg_ctl (Debian's layout)."""
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")
                  if (Path(p) / "initdb").exists() and (Path(p) / "pg_ctl").exists()]
    candidates.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return candidates[-1] if candidates else None


def ensure_installed(echo=print) -> Path:
    """The server's bin folder; installs Debian's ``postgresql`` package first when it is missing."""
    found = server_bin_dir()
    if found is not None:
        return found
    if shutil.which("apt-get") is None:
        raise PostgresUnavailable("PostgreSQL is not installed and there is no apt-get to install Debian's "
                                  f"{APT_PACKAGE!r} package: install it by hand (initdb and pg_ctl under "
                                  "/usr/lib/postgresql/<version>/bin)")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    steps = [[*sudo, "apt-get", "update", "-qq"],
             [*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", APT_PACKAGE]]
    for command in steps:
        echo(f"installing PostgreSQL: {' '.join(command)}")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise PostgresUnavailable(f"`{' '.join(command)}` failed (exit {done.returncode}): "
                                      f"{(done.stderr or done.stdout).strip()[-1500:]}")
    found = server_bin_dir()
    if found is None:
        raise PostgresUnavailable(f"apt-get installed {APT_PACKAGE!r} but no initdb/pg_ctl is under "
                                  "/usr/lib/postgresql/*/bin")
    return found


class ThrowawayPostgres:
    """A PostgreSQL server of its own, for as long as the ``with`` block lasts."""

    def __init__(self, echo=print) -> None:
        self.echo = echo
        self.bin = ensure_installed(echo)
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self.root: Path | None = None
        self._as_user: list[str] = []

    @property
    def data(self) -> Path:
        return self.root / "data"

    def env(self) -> dict[str, str]:
        """What ``dagster-postgres.yaml`` reads: where the server is and how to log in."""
        return {"FLEXPOWER_PG_HOST": "127.0.0.1", "FLEXPOWER_PG_PORT": str(self.port),
                "FLEXPOWER_PG_USER": SUPERUSER, "FLEXPOWER_PG_PASSWORD": self.password,
                "FLEXPOWER_PG_DB": DATABASE}

    def url(self) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as_user, *command], capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise PostgresUnavailable(f"`{' '.join(command)}` failed (exit {done.returncode}): "
                                      f"{(done.stderr or done.stdout).strip()[-1500:]}\n{tail}")

    def __enter__(self) -> ThrowawayPostgres:
        self.root = Path(tempfile.mkdtemp(prefix="flexpower-pg-"))
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to Debian's postgres user
            try:
                account = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise PostgresUnavailable(f"running as root, but there is no {SYSTEM_USER!r} user to own "
                                          "the cluster (Debian's postgresql-common creates it)") from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresUnavailable("running as root: runuser (util-linux) is needed to start PostgreSQL "
                                          f"as {SYSTEM_USER!r}")
            self._as_user = [runuser, "-u", SYSTEM_USER, "--"]
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        pwfile.chmod(0o600)
        try:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
                      "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C")
            pwfile.unlink()
            options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                      "-l", str(self.root / "server.log"), "-w", "-t", "120", "start")
            # over the cluster's own socket (trust for local connections: only its owner can reach it)
            self._run(str(self.bin / "createdb"), "-h", str(self.root), "-p", str(self.port), "-U", SUPERUSER,
                      DATABASE)
        except BaseException:
            self._stop()
            raise
        self.echo(f"PostgreSQL {self.bin.parent.name} on 127.0.0.1:{self.port} (cluster in {self.root})")
        return self

    def _stop(self) -> None:
        if self.root is None:
            return
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self._as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                            "stop"], capture_output=True, cwd=self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __exit__(self, *exc) -> None:
        self._stop()


def main(argv: list[str]) -> int:
    if argv[:1] != ["install"]:
        print("usage: python -m flexpower_assets.bench.postgres install", file=sys.stderr)
        return 2
    try:
        print(f"PostgreSQL server binaries in {ensure_installed()}")
    except PostgresUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
