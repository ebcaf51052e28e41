"""Family `alert_manager_webhook`: alert_manager.plugin.Webhook + alert_manager.plugin.Event.

Same work as `monitoring_webhook` (alert_ingest verifies and parses); this
module only translates to alert_manager's messages (spec
cloudforet/alert_manager.md section 1): `event_type` is an enum without
ERROR, severity has no NOT_AVAILABLE (sent as CRITICAL: an unknown severity
is not hidden), and there is no `resource`/`provider`/`account`, so the
resource's name goes into `resources`. Only the webhook and event modules are
imported here (not even monitoring's): alert_manager's `protocol_pb2`
cannot share a process with `webhook_pb2`.
"""

from __future__ import annotations

from google.protobuf import empty_pb2, json_format
from spaceone.api.alert_manager.plugin import (
    event_pb2,
    event_pb2_grpc,
    webhook_pb2,
    webhook_pb2_grpc,
)

from functions.plugin.calls import Functions
from functions.plugin.structs import to_dict, to_struct
from shared import events, options
from shared.alerts.run import OPTIONS_SCHEMA

METADATA = {"options_schema": OPTIONS_SCHEMA}
PARSE_TIMEOUT_S = 60.0  # inside CloudForet's webhook request: the sender waits on it

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


class Webhook(webhook_pb2_grpc.WebhookServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def init(self, request, context):
        opts = to_dict(request.options)
        if opts:
            options.check(OPTIONS_SCHEMA, opts, "options")
        return webhook_pb2.PluginInfo(metadata=to_struct(METADATA))

    def verify(self, request, context):
        self.functions.call("alert_ingest", events.ALERT_VERIFY,
                            {"options": to_dict(request.options)})
        return empty_pb2.Empty()


class Event(event_pb2_grpc.EventServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def parse(self, request, context):
        reply = self.functions.call(
            "alert_ingest", events.ALERT_PARSE,
            {"options": to_dict(request.options), "data": to_dict(request.data)},
            timeout_s=PARSE_TIMEOUT_S) or {}
        results = [json_format.ParseDict(to_alert_manager(item), event_pb2.EventInfo())
                   for item in reply.get("results") or []]
        return event_pb2.EventsInfo(results=results)


def register(server, functions: Functions) -> list[str]:
    webhook_pb2_grpc.add_WebhookServicer_to_server(Webhook(functions), server)
    event_pb2_grpc.add_EventServicer_to_server(Event(functions), server)
    return [webhook_pb2.DESCRIPTOR.services_by_name["Webhook"].full_name,
            event_pb2.DESCRIPTOR.services_by_name["Event"].full_name]
