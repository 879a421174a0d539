"""The command line starts without the portal's web stack; its commands load when called."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from flexpower_assets.cli import main


def test_starting_the_command_line_does_not_import_the_portal():
    code = ("import sys, flexpower_assets.cli; "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'flexpower_assets.portal.app', 'dagster') "
            "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert loaded.stdout.strip() == "[]"


def test_the_portal_commands_are_still_there_and_load_when_called():
    runner = CliRunner()
    listing = runner.invoke(main, ["--help"])
    assert listing.exit_code == 0
    for command in ("portal", "token", "audit", "materialize", "simulate"):
        assert f"  {command} " in listing.output
    token = runner.invoke(main, ["token", "--help"])
    assert token.exit_code == 0
    assert "create" in token.output and "revoke" in token.output
