"""Family `inventory`: inventory.plugin.Collector + inventory.plugin.Job.

init answers locally (cheap, side-effect free); verify, plan and every collect
shard go to the collect function as CloudEvents. collect streams the plan's
types and regions first, then each shard's resources as its reply returns.

A collection of 20,000 VMs is 20,000 `ResourceInfo` messages. Building each
as a protobuf object (`Struct.update`) and serializing it cost ~55 us; writing
the wire format straight from the reply dict costs ~12 us. So collect yields
encoded bytes (`encode_resource_info`) and the Collector is registered with a
serializer that passes bytes through; tests check the bytes equal what
protobuf writes (deterministic mode: map keys sorted).
"""

from __future__ import annotations

import struct
from typing import Any

import grpc
from google.protobuf import empty_pb2
from spaceone.api.inventory.plugin import (
    collector_pb2,
    collector_pb2_grpc,
    job_pb2,
    job_pb2_grpc,
)

from functions.plugin import wire
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
_STATE_NUMBERS = dict(_STATE.items())  # a dict lookup, not the enum wrapper's, per resource
COLLECTOR_SERVICE = collector_pb2.DESCRIPTOR.services_by_name["Collector"].full_name


def to_resource_info(item: dict) -> collector_pb2.ResourceInfo:
    """Built field by field: ~3x faster than json_format.ParseDict, same message."""
    info = collector_pb2.ResourceInfo(state=_STATE.Value(item.get("state", "SUCCESS")),
                                      message=item.get("message", ""),
                                      resource_type=item["resource_type"])
    info.match_rules.update(item.get("match_rules") or {})
    info.resource.update(item.get("resource") or {})
    return info


# -- ResourceInfo wire format (protobuf encoding; struct.proto and collector.proto) -------


_VARINTS, _encode_varint, _varint = wire.VARINTS, wire.encode_varint, wire.varint
_DOUBLE = struct.Struct("<d").pack


def _value(value: Any) -> bytes:
    """A `google.protobuf.Value`: what `Struct.update` makes of a JSON value."""
    kind = type(value)
    if kind is str:
        raw = value.encode()
        size = len(raw)
        return b"\x1a" + (_VARINTS[size] if size < 16384 else _encode_varint(size)) + raw
    if value is None:
        return b"\x08\x00"  # null_value (1)
    if kind is bool:
        return b"\x20\x01" if value else b"\x20\x00"  # bool_value (4)
    if kind is int or kind is float:
        return b"\x11" + _DOUBLE(value)  # number_value (2): every number is a double
    if kind is dict:
        raw = _struct(value)
        return b"\x2a" + _varint(len(raw)) + raw  # struct_value (5)
    if kind is list:
        raw = b"".join([b"\x0a" + _varint(len(v)) + v  # ListValue.values (1)
                        for v in [_value(item) for item in value]])
        return b"\x32" + _varint(len(raw)) + raw  # list_value (6)
    raise TypeError(f"no Struct value for {kind.__name__}")


_KEYS: dict[str, bytes] = {}  # key -> its encoded MapEntry.key: the same few keys recur
_ENTRIES: dict[tuple[str, str], bytes] = {}  # (key, text) -> whole entry, for REPEATED keys
_MAX_CACHED = 4096
# resource fields whose text repeats across a collection (one value per kind, region, size)
REPEATED = frozenset({"provider", "cloud_service_group", "cloud_service_type", "json_metadata",
                      "region_code", "instance_type"})


def _key(key: str) -> bytes:
    raw = key.encode()
    encoded = b"\x0a" + _varint(len(raw)) + raw
    if len(_KEYS) < _MAX_CACHED:
        _KEYS[key] = encoded
    return encoded


def _entry(key: str, value: Any) -> bytes:
    """One `Struct.fields` map entry {key (1), value (2)}, with its own tag and length."""
    encoded = _value(value)
    size = len(encoded)
    entry = (_KEYS.get(key) or _key(key)) + b"\x12" + (
        _VARINTS[size] if size < 16384 else _encode_varint(size)) + encoded
    size = len(entry)
    return b"\x0a" + (_VARINTS[size] if size < 16384 else _encode_varint(size)) + entry


_ORDERS: dict[tuple, list[str]] = {}  # keys as they come -> as protobuf writes them


def _upb_order(key: str) -> bytes:
    """upb's deterministic map order: UTF-8 bytes, and a key before any prefix of it
    ("ab" before "a"). UTF-8 has no 0xFF byte, so the appended one sorts last."""
    return key.encode() + b"\xff"


def _sorted(data: dict) -> list[str]:
    """The order protobuf writes a Struct's keys in; the mapping repeats a few key sets."""
    keys = tuple(data)
    order = _ORDERS.get(keys)
    if order is None:
        order = sorted(keys, key=_upb_order)
        if len(_ORDERS) < _MAX_CACHED:
            _ORDERS[keys] = order
    return order


def _struct(data: dict) -> bytes:
    """`Struct.fields` (1), keys in the order protobuf's deterministic mode writes them."""
    out = []
    entries = _ENTRIES
    for key in _sorted(data):
        value = data[key]
        if key in REPEATED and type(value) is str:
            cached = entries.get((key, value))
            if cached is None:
                cached = _entry(key, value)
                if len(entries) < _MAX_CACHED:
                    entries[key, value] = cached
            out.append(cached)
        else:
            out.append(_entry(key, value))
    return b"".join(out)


def _field(tag: bytes, raw: bytes) -> bytes:
    return tag + _varint(len(raw)) + raw


def encode_resource_info(item: dict) -> bytes:
    """`to_resource_info(item).SerializeToString(deterministic=True)`, ~4x faster.

    Anything the fast path does not know (a value that is not JSON, a key that
    is not a string) takes protobuf's own path, which accepts or refuses it.
    """
    state = _STATE_NUMBERS.get(item.get("state", "SUCCESS"))
    if state is None:
        state = _STATE.Value(item["state"])  # refuses it as protobuf does
    try:
        parts = [b"\x08" + _varint(state) if state else b""]
        message = item.get("message", "")
        if message:
            parts.append(_field(b"\x12", message.encode()))  # message (2)
        resource_type = item["resource_type"]
        if resource_type:
            parts.append(_field(b"\x1a", resource_type.encode()))  # resource_type (3)
        match_rules = item.get("match_rules")
        if match_rules:
            parts.append(_field(b"\x22", _struct(match_rules)))  # match_rules (4)
        resource = item.get("resource")
        if resource:
            parts.append(_field(b"\x32", _struct(resource)))  # resource (6)
    except (TypeError, AttributeError, OverflowError, UnicodeEncodeError):
        return to_resource_info(item).SerializeToString(deterministic=True)
    return b"".join(parts)


class Collector(collector_pb2_grpc.CollectorServicer):
    """Registered by hand (see `register`): collect yields encoded bytes."""

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
            yield encode_resource_info(item)
        shards = [{**base, "task": shard, "context": plan.get("context", {})}
                  for shard in plan.get("shards", [])]
        for outcome in self.functions.fan_out("collect", events.COLLECT, shards):
            if outcome.error is not None:
                if outcome.error.grpc_code in STOP_CODES:
                    raise outcome.error
                # one failing shard must not lose the others
                kind = outcome.data["task"].get("kind", "vms")
                yield encode_resource_info(error_resource(kind, str(outcome.error)))
                continue
            for item in (outcome.reply or {}).get("resources", []):
                yield encode_resource_info(item)


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
    collector = Collector(functions)
    handlers = {
        "init": grpc.unary_unary_rpc_method_handler(
            collector.init, request_deserializer=collector_pb2.InitRequest.FromString,
            response_serializer=collector_pb2.PluginInfo.SerializeToString),
        "verify": grpc.unary_unary_rpc_method_handler(
            collector.verify, request_deserializer=collector_pb2.VerifyRequest.FromString,
            response_serializer=empty_pb2.Empty.SerializeToString),
        "collect": grpc.unary_stream_rpc_method_handler(
            collector.collect, request_deserializer=collector_pb2.CollectRequest.FromString,
            response_serializer=wire.serialize),
    }
    wire.add_handlers(server, COLLECTOR_SERVICE, handlers)
    job_pb2_grpc.add_JobServicer_to_server(Job(functions), server)
    return [COLLECTOR_SERVICE, job_pb2.DESCRIPTOR.services_by_name["Job"].full_name]
