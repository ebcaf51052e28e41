"""Family `notification`: notification.plugin.Protocol + notification.plugin.Notification.

The work is the notify function's; the servicers are functions/plugin/notify_family.py.
"""

from __future__ import annotations

from spaceone.api.notification.plugin import (
    notification_pb2,
    notification_pb2_grpc,
    protocol_pb2,
    protocol_pb2_grpc,
)

from functions.plugin.notify_family import registrar

register = registrar(protocol_pb2, protocol_pb2_grpc, notification_pb2, notification_pb2_grpc)
