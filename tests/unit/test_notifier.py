"""The notifier sends real messages: a Slack-compatible webhook and SMTP e-mail (local servers)."""

from __future__ import annotations

import socket

from resources.notifier import Notifier, format_text
from tests.alert_servers import SmtpSink, WebhookServer


def test_webhook_receives_the_text_as_json():
    with WebhookServer() as hook:
        outcome = Notifier(webhook_url=hook.url).notify(
            "2 rejected file(s) in dso/", "- dso/x.csv: line 3: not a time", "warning", {"sensor": "landing_dso_sensor"})
    assert outcome == {"webhook": "sent"}
    assert hook.messages == [{"text": "[WARNING] 2 rejected file(s) in dso/\n- dso/x.csv: line 3: not a time\n"
                                      "sensor: landing_dso_sensor"}]


def test_email_reaches_the_smtp_server_with_subject_and_text():
    with SmtpSink() as smtp:
        outcome = Notifier(smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from="alerts@example.org",
                           mail_to="ops@example.org, finance@example.org").notify(
            "Run failed: daily_job 2025-06-08", "step best_of_infeed failed", "error", {"run_id": "abc"})
    assert outcome == {"email": "sent"}
    assert len(smtp.mails) == 1
    mail = smtp.mails[0]
    assert mail["from"] == "alerts@example.org"
    assert mail["to"] == ["ops@example.org", "finance@example.org"]
    assert "Subject: [flexpower error] Run failed: daily_job 2025-06-08" in mail["data"]
    assert "step best_of_infeed failed" in mail["data"] and "run_id: abc" in mail["data"]


def test_a_channel_that_is_down_is_reported_and_the_others_still_get_the_message():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    with WebhookServer() as hook:
        outcome = Notifier(webhook_url=hook.url, smtp_host="127.0.0.1", smtp_port=dead_port,
                           mail_to="ops@example.org", timeout_s=2).notify("Late data: dso", "missing", "warning")
    assert outcome["webhook"] == "sent"
    assert outcome["email"].startswith("failed:")
    assert len(hook.messages) == 1


def test_below_the_minimum_severity_only_the_log_gets_it():
    with WebhookServer() as hook:
        outcome = Notifier(webhook_url=hook.url, min_severity="error").notify("info", "text", "warning")
    assert outcome == {} and hook.messages == []


def test_message_format_names_severity_subject_and_context():
    assert format_text("S", "T", "error", {"a": 1}) == "[ERROR] S\nT\na: 1"
