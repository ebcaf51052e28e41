"""Family `alert_manager_webhook`: alert_manager.plugin.Webhook + alert_manager.plugin.Event.

Same work as `monitoring_webhook` (functions/plugin/webhook_family.py); this
module only translates to alert_manager's messages (spec
cloudforet/alert_manager.md section 1): `event_type` is an enum without
ERROR, severity has no NOT_AVAILABLE (sent as CRITICAL: an unknown severity
is not hidden), and there is no `resource`/`provider`/`account`, so the
resource's name goes into `resources`. Only the webhook and event modules are
imported here (not even monitoring's): alert_manager's `protocol_pb2`
cannot share a process with `webhook_pb2`.
"""

from __future__ import annotations

from spaceone.api.alert_manager.plugin import (
    event_pb2,
    event_pb2_grpc,
    webhook_pb2,
    webhook_pb2_grpc,
)

from functions.plugin.webhook_family import registrar

FIELDS = ("event_key", "title", "description", "rule", "image_url", "additional_info",
          "occurred_at")
SEVERITIES = {"CRITICAL": "CRITICAL", "ERROR": "ERROR", "WARNING": "WARNING", "INFO": "INFO",
              "NOT_AVAILABLE": "CRITICAL"}
EVENT_TYPES = {"ALERT": "ALERT", "RECOVERY": "RECOVERY", "ERROR": "ALERT"}


def to_alert_manager(event: dict) -> dict:
    """A monitoring EventInfo dict -> alert_manager.plugin.EventInfo dict."""
    out = {key: event[key] for key in FIELDS if key in event}
    out["event_type"] = EVENT_TYPES.get(event.get("event_type", ""), "ALERT")
    out["severity"] = SEVERITIES.get(event.get("severity", ""), "CRITICAL")
    resources = list(event.get("resources") or [])
    name = (event.get("resource") or {}).get("name")
    if name and name not in resources:
        resources.insert(0, name)
    if resources:
        out["resources"] = resources
    return out


register = registrar(webhook_pb2, webhook_pb2_grpc, event_pb2, event_pb2_grpc,
                     plugin_info=webhook_pb2.PluginInfo, shape=to_alert_manager)
