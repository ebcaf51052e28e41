"""Family `alert_manager_notification`: alert_manager.plugin.Protocol + Notification.

The same work as family `notification` (functions/plugin/notify_family.py);
only the messages differ (spec cloudforet/alert_manager.md section 2):
requests carry `domain_id` (not needed to deliver), `message` is a typed
NotificationMessage, and the notification_type numbers are ordered
differently, which is why the enum travels by name. Only alert_manager's
protocol and notification modules are imported here: its `webhook_pb2`
cannot share a process with `protocol_pb2`.
"""

from __future__ import annotations

from spaceone.api.alert_manager.plugin import (
    notification_pb2,
    notification_pb2_grpc,
    protocol_pb2,
    protocol_pb2_grpc,
)

from functions.plugin.notify_family import registrar

register = registrar(protocol_pb2, protocol_pb2_grpc, notification_pb2, notification_pb2_grpc)
