"""What both notify test modules send and expect: the alert, its webhook body, planted secrets.

tests/test_notify_core.py calls shared.notify in process and
tests/test_notify_e2e.py goes through gRPC; both send ALERT and compare with
WEBHOOK_EXPECTED, so the two cannot drift apart. The secrets are planted in
URLs, passwords and AWS keys and then looked for in errors and logs.
"""

from __future__ import annotations

TOKEN = "XyZ-t0ken-s3cret"  # planted in webhook URL paths
PASSWORD = "smtp-pa55word-s3cret"
AWS_SECRET = "aws-secret-key-s3cret"

ALERT = {  # spec cloudforet/notification.md 4.2, as the monitoring service sends it
    "title": "[Alerting] Cluster CPU usage high",
    "description": "cluster-a CPU 95%\nsince 03:10",
    "link": "https://console.example.com/alert-public-detail?alert_url=x",
    "image_url": "https://img.example.com/panel.png",
    "occurred_at": "2025-06-21T03:13:00Z",
    "tags": [{"key": "Alert Number", "value": "#42", "options": {"short": True}},
             {"key": "State", "value": "TRIGGERED", "options": {"short": True}},
             {"key": "Project", "value": "web"},
             {"key": "Count", "value": 3.0}],  # a Struct number: rendered "3"
    "callbacks": [{"label": "Acknowledge Alerts", "url": "https://cb.example.com/ack"}],
    "domain_name": "acme",
}
WEBHOOK_EXPECTED = {  # ALERT as ERROR, the whole webhook body but its idempotency_key
    "type": "io.cloudforet.nutanix.notification.v1",
    "notification_type": "ERROR",
    "title": "[Alerting] Cluster CPU usage high",
    "description": "cluster-a CPU 95%\nsince 03:10",
    "short_description": "",
    "link": "https://console.example.com/alert-public-detail?alert_url=x",
    "image_url": "https://img.example.com/panel.png",
    "occurred_at": "2025-06-21T03:13:00Z",
    "domain_name": "acme",
    "content_type": "",
    "contents": "",
    "tags": [{"key": "Alert Number", "value": "#42", "short": True},
             {"key": "State", "value": "TRIGGERED", "short": True},
             {"key": "Project", "value": "web", "short": False},
             {"key": "Count", "value": "3", "short": False}],
    "callbacks": [{"label": "Acknowledge Alerts", "url": "https://cb.example.com/ack"}],
}


def sns_secret(moto: str) -> dict:
    """secret_data for moto's SNS at `moto`, its secret key planted."""
    return {"endpoint_url": moto, "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": AWS_SECRET}
