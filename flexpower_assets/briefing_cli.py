"""The ``flexpower briefing`` command and the briefing lines of ``make demo``.

``flexpower briefing --day D`` runs ``briefing_job`` for the day through Dagster (the run shows in
the UI); it builds every client's briefing of the day (its figures replace the day's rows of
``main.briefing_figure``), then prints where the files are; ``--client C`` also prints that
client's text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import click

from flexpower_assets.settings import Settings
from resources.warehouse import Warehouse


def briefing_files(settings: Settings, day: date) -> list[tuple[str, str]]:
    """(client, path) of every briefing of the day in the warehouse's document index."""
    from flexpower_assets.documents.store import indexed_documents

    index = indexed_documents(Warehouse(settings.warehouse_path), ("briefing",))
    rows = index.filter(index["period"] == day.isoformat())
    return [(r["name"], str(settings.documents_root / r["path"])) for r in rows.iter_rows(named=True)]


def echo_briefings(settings: Settings, day: date, echo: Callable[[str], None] = print) -> int:
    files = briefing_files(settings, day)
    if not files:
        echo(f"briefings {day}: none")
        return 1
    echo(f"briefings {day} (portal: /briefings): " + ", ".join(client for client, _ in files))
    echo(f"  {settings.documents_root / 'reports' / 'briefing' / day.isoformat()}/")
    return 0


def run_briefing_command(settings: Settings, day: date, client_id: str | None,
                         echo: Callable[[str], None] = print) -> int:
    from flexpower_assets.definitions import build_defs
    from flexpower_assets.runner import instance, run_partition

    summary = run_partition(build_defs(settings), "briefing_job", day.isoformat(), instance())
    if not summary.success:
        echo(f"briefing run failed: {summary.error}")
        return 1
    files = dict(briefing_files(settings, day))
    if client_id and client_id not in files:
        echo(f"no briefing for client {client_id} on {day} (clients: {', '.join(sorted(files)) or 'none'})")
        return 1
    for client, path in sorted(files.items()):
        echo(f"{client:<16}{path}")
    if client_id:
        from flexpower_assets.bidding.briefing import visible_text

        echo("")
        body = visible_text(Path(files[client_id]).read_text(encoding="utf-8"))
        echo("\n".join(line.strip() for line in body.split("Blocks")[0].splitlines() if line.strip()))
    return 0


@click.command("briefing")
@click.option("--day", required=True, help="Delivery day, YYYY-MM-DD.")
@click.option("--client", "client_id", default=None, help="Also print this client's briefing text.")
def briefing_command(day: str, client_id: str | None) -> None:
    """Build the trader briefings of a delivery day (one per client) and print where they are."""
    from flexpower_assets.cli import check_warehouse

    settings = Settings.from_env()
    check_warehouse(settings.warehouse_path)
    raise SystemExit(run_briefing_command(settings, date.fromisoformat(day), client_id))
