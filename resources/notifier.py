"""Notifications to people: data-quality findings and failed deadlines.

``Notifier`` is the interface the pipeline talks to; ``LogNotifier`` writes to the Dagster
log (and is what runs here: no network at run time). A mail or chat notifier implements the
same ``notify`` method and is chosen once, in ``definitions.build_defs``.
"""

from __future__ import annotations

import dagster as dg


class Notifier(dg.ConfigurableResource):
    """Base interface: ``notify(subject, body, severity)``."""

    def notify(self, context: dg.OpExecutionContext | None, subject: str, body: str,
               severity: str = "warning") -> None:
        raise NotImplementedError


class LogNotifier(Notifier):
    """Writes notifications to the run's log, where operators see them in the UI."""

    def notify(self, context, subject: str, body: str, severity: str = "warning") -> None:
        message = f"[{severity.upper()}] {subject}: {body}"
        if context is None:
            dg.get_dagster_logger().warning(message)
        elif severity == "info":
            context.log.info(message)
        else:
            context.log.warning(message)
