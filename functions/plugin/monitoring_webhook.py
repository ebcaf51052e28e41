"""Family `monitoring_webhook`: monitoring.plugin.Webhook + monitoring.plugin.Event.

Our EventInfo dicts are already in monitoring's shape (functions/plugin/webhook_family.py).
"""

from __future__ import annotations

from spaceone.api.monitoring.plugin import event_pb2, event_pb2_grpc, webhook_pb2, webhook_pb2_grpc

from functions.plugin.webhook_family import registrar

register = registrar(webhook_pb2, webhook_pb2_grpc, event_pb2, event_pb2_grpc,
                     plugin_info=webhook_pb2.WebhookPluginInfo)
