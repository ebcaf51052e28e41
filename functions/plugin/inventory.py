"""Family `inventory`: inventory.plugin.Collector + inventory.plugin.Job.

init answers locally (cheap, side-effect free); verify, plan and every collect
shard go to the collect function as CloudEvents. collect streams the plan's
types and regions first, then each shard's resources as its reply returns.
"""

from __future__ import annotations

from google.protobuf import empty_pb2
from spaceone.api.inventory.plugin import (
    collector_pb2,
    collector_pb2_grpc,
    job_pb2,
    job_pb2_grpc,
)

from functions.plugin.calls import Functions
from functions.plugin.structs import credentialed, to_dict, to_struct
from shared import events, options
from shared.mapping.inventory import error_resource

METADATA = {
    "supported_resource_type": ["inventory.CloudService", "inventory.CloudServiceType",
                                "inventory.Region", "inventory.ErrorResource"],
    "supported_schedules": ["hours"],
    "supported_features": ["garbage_collection"],
    "filter_format": [],
    "options_schema": options.INVENTORY_OPTIONS_SCHEMA,
}
STOP_CODES = ("UNAUTHENTICATED",)  # a wrong credential stops the run; a 403 one kind
# small kinds share one task; VMs (the bulk) get their own so they run in parallel
TASK_GROUPS = (("vms",), ("clusters", "hosts", "subnets", "images", "volume_groups",
                          "projects", "categories"))


_STATE = collector_pb2.ResourceInfo.State


def to_resource_info(item: dict) -> collector_pb2.ResourceInfo:
    """Built field by field: ~3x faster than json_format.ParseDict, same message."""
    info = collector_pb2.ResourceInfo(state=_STATE.Value(item.get("state", "SUCCESS")),
                                      message=item.get("message", ""),
                                      resource_type=item["resource_type"])
    info.match_rules.update(item.get("match_rules") or {})
    info.resource.update(item.get("resource") or {})
    return info


class Collector(collector_pb2_grpc.CollectorServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def init(self, request, context):
        opts = to_dict(request.options)
        if opts:
            options.check(options.INVENTORY_OPTIONS_SCHEMA, opts, "options")
        return collector_pb2.PluginInfo(metadata=to_struct(METADATA))

    def verify(self, request, context):
        self.functions.call("collect", events.COLLECT_VERIFY, credentialed(request))
        return empty_pb2.Empty()

    def collect(self, request, context):
        base = credentialed(request)
        task_options = to_dict(request.task_options) if request.HasField("task_options") else {}
        plan = self.functions.call("collect", events.COLLECT_PLAN,
                                   {**base, "task_options": task_options}) or {}
        for item in plan.get("resources", []):
            yield to_resource_info(item)
        shards = [{**base, "task": shard, "context": plan.get("context", {})}
                  for shard in plan.get("shards", [])]
        for outcome in self.functions.fan_out("collect", events.COLLECT, shards):
            if outcome.error is not None:
                if outcome.error.grpc_code in STOP_CODES:
                    raise outcome.error
                # one failing shard must not lose the others
                kind = outcome.data["task"].get("kind", "vms")
                yield to_resource_info(error_resource(kind, str(outcome.error)))
                continue
            for item in (outcome.reply or {}).get("resources", []):
                yield to_resource_info(item)


class Job(job_pb2_grpc.JobServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def get_tasks(self, request, context):
        opts = options.check(options.INVENTORY_OPTIONS_SCHEMA, to_dict(request.options),
                             "options")
        wanted = set(opts["kinds"])
        tasks = []
        for group in TASK_GROUPS:
            kinds = [k for k in group if k in wanted]
            if kinds:
                tasks.append(job_pb2.TaskInfo(task_options=to_struct({"kinds": kinds})))
        return job_pb2.TasksInfo(tasks=tasks)


def register(server, functions: Functions) -> list[str]:
    collector_pb2_grpc.add_CollectorServicer_to_server(Collector(functions), server)
    job_pb2_grpc.add_JobServicer_to_server(Job(functions), server)
    return [collector_pb2.DESCRIPTOR.services_by_name["Collector"].full_name,
            job_pb2.DESCRIPTOR.services_by_name["Job"].full_name]
