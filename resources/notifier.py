"""Notifications to people: failed runs, blocking check failures, rejected files, late data.

One generic call, ``notify(subject, text, severity, context)``, used by the pipeline's sensors
and checks (and meant for any later alert, e.g. bidding). Every notification is written to the
log; it is also sent to each channel that is configured:

- a Slack-compatible incoming webhook: an HTTP POST of the JSON ``{"text": ...}`` (httpx);
- e-mail over SMTP (smtplib), with STARTTLS and login when configured.

Channels are set once, in ``definitions.build_defs`` from the settings (environment variables,
see the README). A channel that fails (server down, timeout) is logged and the others still get
the message: an alert never fails the run or tick that raised it.
"""

from __future__ import annotations

import json
import logging
import smtplib
from email.message import EmailMessage

import dagster as dg
import httpx

SEVERITIES = ("info", "warning", "error")
LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def format_text(subject: str, text: str, severity: str, context: dict | None) -> str:
    """The message as people read it: severity and subject, the text, then the context lines."""
    lines = [f"[{severity.upper()}] {subject}", text]
    lines += [f"{key}: {value}" for key, value in (context or {}).items()]
    return "\n".join(line for line in lines if line)


class Notifier(dg.ConfigurableResource):
    """Sends a notification to the log and to every configured channel.

    ``webhook_url`` empty means no webhook; ``smtp_host`` empty means no e-mail. ``min_severity``
    drops notifications below it (``info`` < ``warning`` < ``error``) from the channels (the log
    keeps them all).
    """

    webhook_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    mail_from: str = "flexpower@localhost"
    mail_to: str = ""  # comma-separated addresses
    min_severity: str = "warning"
    timeout_s: float = 5.0

    def notify(self, subject: str, text: str, severity: str = "warning",
               context: dict | None = None) -> dict[str, str]:
        """Send one notification; returns what each channel did (``sent`` or the error)."""
        severity = severity if severity in SEVERITIES else "warning"
        message = format_text(subject, text, severity, context)
        logger = logging.getLogger("flexpower.notifier")
        dg.get_dagster_logger().log(LOG_LEVELS[severity], message)
        outcome: dict[str, str] = {}
        threshold = self.min_severity if self.min_severity in SEVERITIES else "warning"
        if SEVERITIES.index(severity) < SEVERITIES.index(threshold):
            return outcome
        if self.webhook_url:
            outcome["webhook"] = self._deliver(self._post_webhook, message, logger, "webhook")
        if self.smtp_host and self.mail_to:
            outcome["email"] = self._deliver(lambda m: self._send_mail(subject, severity, m), message,
                                             logger, "email")
        return outcome

    @staticmethod
    def _deliver(send, message: str, logger: logging.Logger, channel: str) -> str:
        try:
            send(message)
            return "sent"
        except Exception as error:  # an alert channel down must not fail the run that alerts
            logger.warning("could not send the %s notification: %r", channel, error)
            dg.get_dagster_logger().warning(f"could not send the {channel} notification: {error!r}")
            return f"failed: {error!r}"

    def _post_webhook(self, message: str) -> None:
        response = httpx.post(self.webhook_url, content=json.dumps({"text": message}),
                              headers={"Content-Type": "application/json"}, timeout=self.timeout_s)
        response.raise_for_status()

    def _send_mail(self, subject: str, severity: str, message: str) -> None:
        mail = EmailMessage()
        mail["Subject"] = f"[flexpower {severity}] {subject}"
        mail["From"] = self.mail_from
        mail["To"] = ", ".join(address.strip() for address in self.mail_to.split(",") if address.strip())
        mail.set_content(message)
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_s) as smtp:
            if self.smtp_starttls:
                smtp.starttls()
            if self.smtp_user:
                smtp.login(self.smtp_user, self.smtp_password)
            smtp.send_message(mail)
