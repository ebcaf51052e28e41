"""What the two webhook families share: Webhook init/verify and Event.parse via alert_ingest.

init answers locally (cheap, side-effect free: CloudForet's console calls it
with empty options); verify and parse go to alert_ingest as CloudEvents.
`Event.parse` runs inside CloudForet's webhook HTTP request, so it is one
short call. The family modules pass their own protobuf modules (this module
imports none: alert_manager's cannot share a process with other families')
and a `shape` that turns our EventInfo dicts into their EventInfo.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from google.protobuf import empty_pb2, json_format

from functions.plugin.calls import Functions
from functions.plugin.structs import to_dict, to_struct
from shared import events, options
from shared.alerts.run import OPTIONS_SCHEMA

METADATA = {"options_schema": OPTIONS_SCHEMA}
PARSE_TIMEOUT_S = 60.0  # inside CloudForet's webhook request: the sender waits on it


def registrar(webhook_pb2: ModuleType, webhook_pb2_grpc: ModuleType, event_pb2: ModuleType,
              event_pb2_grpc: ModuleType, *, plugin_info: type,
              shape: Callable[[dict], dict] = lambda event: event):
    """A family's `register(server, functions)` built from its protobuf modules."""

    class Webhook(webhook_pb2_grpc.WebhookServicer):
        def __init__(self, functions: Functions) -> None:
            self.functions = functions

        def init(self, request, context):
            opts = to_dict(request.options)
            if opts:
                options.check(OPTIONS_SCHEMA, opts, "options")
            return plugin_info(metadata=to_struct(METADATA))

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
            results = [json_format.ParseDict(shape(item), event_pb2.EventInfo())
                       for item in reply.get("results") or []]
            return event_pb2.EventsInfo(results=results)

    def register(server, functions: Functions) -> list[str]:
        webhook_pb2_grpc.add_WebhookServicer_to_server(Webhook(functions), server)
        event_pb2_grpc.add_EventServicer_to_server(Event(functions), server)
        return [webhook_pb2.DESCRIPTOR.services_by_name["Webhook"].full_name,
                event_pb2.DESCRIPTOR.services_by_name["Event"].full_name]

    return register
