"""Family `alert_manager_notification`: alert_manager.plugin.Protocol + Notification.

The same work as family `notification` (the notify function delivers); only
the messages differ (spec cloudforet/alert_manager.md section 2): requests
carry `domain_id` (not needed to deliver), `message` is a typed
NotificationMessage, and the notification_type numbers are ordered
differently, which is why the enum travels by name. Only alert_manager's
protocol and notification modules are imported here: its `webhook_pb2`
cannot share a process with `protocol_pb2`.
"""

from __future__ import annotations

from google.protobuf import empty_pb2
from spaceone.api.alert_manager.plugin import (
    notification_pb2,
    notification_pb2_grpc,
    protocol_pb2,
    protocol_pb2_grpc,
)

from functions.plugin.calls import Functions
from functions.plugin.structs import message_to_dict, to_dict, to_struct
from shared import events
from shared.notify import run

FIELDS = ("options", "secret_data", "channel_data", "message")


def dispatch_data(request) -> dict:
    """A DispatchRequest as the notify function's event data (enum by name, no domain_id)."""
    received = message_to_dict(request)
    data = {name: received.get(name) or {} for name in FIELDS}
    if received.get("notification_type"):
        data["notification_type"] = received["notification_type"]
    return data


class Protocol(protocol_pb2_grpc.ProtocolServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def init(self, request, context):
        metadata = run.init_metadata(to_dict(request.options))
        return protocol_pb2.PluginInfo(metadata=to_struct(metadata))

    def verify(self, request, context):
        self.functions.call("notify", events.NOTIFY_VERIFY, {
            "options": to_dict(request.options), "secret_data": to_dict(request.secret_data)})
        return empty_pb2.Empty()


class Notification(notification_pb2_grpc.NotificationServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def dispatch(self, request, context):
        self.functions.call("notify", events.NOTIFY_DISPATCH, dispatch_data(request))
        return empty_pb2.Empty()


def register(server, functions: Functions) -> list[str]:
    protocol_pb2_grpc.add_ProtocolServicer_to_server(Protocol(functions), server)
    notification_pb2_grpc.add_NotificationServicer_to_server(Notification(functions), server)
    return [protocol_pb2.DESCRIPTOR.services_by_name["Protocol"].full_name,
            notification_pb2.DESCRIPTOR.services_by_name["Notification"].full_name]
