"""create_server: one protocol family, plus health, reflection and ServerInfo.

CloudForet discovers services by reflection (`grpc.reflection.v1alpha`) and
binds them by short name, so a process serves exactly one family (DESIGN
fact 1). Family modules are imported lazily: alert_manager's webhook and
protocol modules cannot even be imported into one process.
"""

from __future__ import annotations

import importlib
from concurrent import futures

import grpc
from google.protobuf import empty_pb2  # noqa: F401 - registers Empty for reflection
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from spaceone.api.core.v1 import server_info_pb2, server_info_pb2_grpc

from functions.plugin.calls import Functions
from functions.plugin.interceptor import ErrorInterceptor
from functions.plugin.version import VERSION
from shared.config import Settings
from shared.errors import InvalidInput

FAMILIES = {
    "inventory": "functions.plugin.inventory",
    "cost": "functions.plugin.cost",
    "metric": "functions.plugin.metric",
    "account": "functions.plugin.account",
    "monitoring_webhook": "functions.plugin.monitoring_webhook",
    "alert_manager_webhook": "functions.plugin.alert_manager_webhook",
    "notification": "functions.plugin.notification",
    "alert_manager_notification": "functions.plugin.alert_manager_notification",
}
DEFAULT_FAMILY = "inventory"
MAX_MESSAGE = 256 * 1024 * 1024  # CloudForet's client allows 256 MiB each way


class ServerInfo(server_info_pb2_grpc.ServerInfoServicer):
    def get_version(self, request, context):
        return server_info_pb2.VersionInfo(version=VERSION)


def create_server(address: str = "[::]:50051", *, family: str | None = None,
                  settings: Settings | None = None, max_workers: int = 32):
    """Build (not start) the server; returns (server, bound_port)."""
    settings = settings or Settings.from_env()
    family = family or settings.plugin_family or DEFAULT_FAMILY
    if family not in FAMILIES:
        raise InvalidInput(f"NTNX_PLUGIN_FAMILY must be one of {', '.join(FAMILIES)}")
    module = importlib.import_module(FAMILIES[family])
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        interceptors=[ErrorInterceptor()],
        options=[("grpc.max_send_message_length", MAX_MESSAGE),
                 ("grpc.max_receive_message_length", MAX_MESSAGE)],
    )
    names = list(module.register(server, Functions(settings)))

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    server_info_pb2_grpc.add_ServerInfoServicer_to_server(ServerInfo(), server)

    reflection.enable_server_reflection(
        [*names, server_info_pb2.DESCRIPTOR.services_by_name["ServerInfo"].full_name,
         health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME],
        server)
    port = server.add_insecure_port(address)
    return server, port
