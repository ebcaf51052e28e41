"""What the two notification families share: Protocol init/verify, Notification.dispatch.

init answers locally: CloudForet calls it at protocol creation, from the
console with empty options, and before every single dispatch, so it must be
cheap (spec cloudforet/notification.md 4.1). `options.channel` picks the
channel kind whose metadata it answers (shared/notify/run.py). verify and
dispatch go to the notify function as CloudEvents; dispatch answers Empty
once the receiver took the message, or the receiver's refusal as
FAILED_PRECONDITION / INVALID_ARGUMENT and a receiver still failing after
the retries as UNAVAILABLE (with `ERROR_` details, so CloudForet does not
dispatch again). The family modules pass their own protobuf modules: this
module imports none (alert_manager's cannot share a process with others').
"""

from __future__ import annotations

from types import ModuleType

from google.protobuf import empty_pb2

from functions.plugin.calls import Functions
from functions.plugin.structs import message_to_dict, to_dict, to_struct
from shared import events
from shared.notify import run

FIELDS = ("options", "secret_data", "channel_data", "message")


def dispatch_data(request) -> dict:
    """A DispatchRequest (either family) as the notify function's event data.

    The enum goes by name (INFO, ERROR, ...): the numbers differ between the
    two families, the names do not. NONE is left out (read as INFO); the
    alert_manager family's domain_id is not needed to deliver.
    """
    received = message_to_dict(request)
    data = {name: received.get(name) or {} for name in FIELDS}
    if received.get("notification_type"):
        data["notification_type"] = received["notification_type"]
    return data


def registrar(protocol_pb2: ModuleType, protocol_pb2_grpc: ModuleType,
              notification_pb2: ModuleType, notification_pb2_grpc: ModuleType):
    """A family's `register(server, functions)` built from its protobuf modules."""

    class Protocol(protocol_pb2_grpc.ProtocolServicer):
        def __init__(self, functions: Functions) -> None:
            self.functions = functions

        def init(self, request, context):
            metadata = run.init_metadata(to_dict(request.options))
            return protocol_pb2.PluginInfo(metadata=to_struct(metadata))

        def verify(self, request, context):
            self.functions.call("notify", events.NOTIFY_VERIFY, {
                "options": to_dict(request.options),
                "secret_data": to_dict(request.secret_data)})
            return empty_pb2.Empty()

    class Notification(notification_pb2_grpc.NotificationServicer):
        def __init__(self, functions: Functions) -> None:
            self.functions = functions

        def dispatch(self, request, context):
            self.functions.call("notify", events.NOTIFY_DISPATCH, dispatch_data(request))
            return empty_pb2.Empty()

    def register(server, functions: Functions) -> list[str]:
        protocol_pb2_grpc.add_ProtocolServicer_to_server(Protocol(functions), server)
        notification_pb2_grpc.add_NotificationServicer_to_server(Notification(functions),
                                                                 server)
        return [protocol_pb2.DESCRIPTOR.services_by_name["Protocol"].full_name,
                notification_pb2.DESCRIPTOR.services_by_name["Notification"].full_name]

    return register
