"""Family `metric`: monitoring.plugin.DataSource + monitoring.plugin.Metric.

init answers locally (cheap, side-effect free: the catalogue's metadata,
`required_keys` = the path the inventory collector fills); verify goes to
the collect function as `collect.verify.v1`, Metric.list and
Metric.get_data as `metric.list.v1` / `metric.data.v1` (one event per call:
the function bounds its own Prism concurrency).

get_data's values arrive packed (`shared.metrics.series.pack`: float64,
NaN for null) and the whole `MetricDataInfo` is written in protobuf's wire
format from those bytes: `Struct.update` builds a Python object per value
(~1.2 us; a 30-day, 5-minute chart of 100 VMs is 864,000 values), the
encoding below is a few slice copies per resource. Parsing those bytes into
a message only for gRPC to serialize it again cost another ~0.1 s, so
get_data answers the bytes and the Metric service is registered with a
serializer that passes bytes through. `tests/test_metrics.py` and
`tests/test_metrics_fast_paths.py` check the bytes parse to the message the
protobuf library builds.
"""

from __future__ import annotations

import functools
import sys
from array import array

import grpc
from google.protobuf import empty_pb2, json_format
from spaceone.api.monitoring.plugin import (
    data_source_pb2,
    data_source_pb2_grpc,
    metric_pb2,
    metric_pb2_grpc,
)

from functions.plugin import wire
from functions.plugin.calls import Functions
from functions.plugin.structs import credentialed, to_dict, to_struct
from shared import events, options
from shared.metrics import catalogue, series

_NUMBER_HEAD = b"\x0a\x09\x11"  # ListValue.values (1), 9 bytes: Value.number_value (2, double)
_NULL = b"\x0a\x02\x08\x00"  # ListValue.values (1), 2 bytes: Value.null_value (1) = 0
METRIC_SERVICE = metric_pb2.DESCRIPTOR.services_by_name["Metric"].full_name


_varint, _field = wire.varint, wire.field


def _numbers(raw: bytes) -> bytes:
    """Little-endian doubles as ListValue items, 11 bytes each, laid out by slices."""
    count = len(raw) // 8
    out = bytearray(11 * count)
    for offset, byte in enumerate(_NUMBER_HEAD):
        out[offset::11] = bytes([byte]) * count
    for k in range(8):
        out[3 + k::11] = raw[k::8]
    return bytes(out)


@functools.lru_cache(maxsize=256)
def _string_item_head(size: int) -> bytes:
    """ListValue.values (1) holding Value.string_value (3) of `size` bytes, up to the text.

    Labels all have one length: 8,641 of them cost ~25 ms as two `_field`s each.
    """
    value_head = _varint(3 << 3 | 2) + _varint(size)
    return _varint(1 << 3 | 2) + _varint(len(value_head) + size) + value_head


def encode_list(raw: bytes) -> bytes:
    """A ListValue from `series.pack`'s bytes: runs of numbers together, NaN as null."""
    doubles = array("d", raw)
    if sys.byteorder != "little":
        doubles.byteswap()
    total = sum(doubles)
    if total == total:  # NaN spreads through a sum: no null, one run (the usual case)
        return _numbers(raw)
    parts, start = [], 0
    for index in [i for i, v in enumerate(doubles) if v != v]:  # NaN: no value
        if start < index:
            parts.append(_numbers(raw[8 * start:8 * index]))
        parts.append(_NULL)
        start = index + 1
    if start < len(doubles):
        parts.append(_numbers(raw[8 * start:]))
    return b"".join(parts)


def encode_values(values: dict[str, str]) -> bytes:
    """`MetricDataInfo.values`: a Struct {cloud service id: list of numbers and nulls}."""
    entries = []
    for key, packed in values.items():
        value = _field(6, encode_list(series.unpack(packed)))  # Value.list_value (6)
        entries.append(_field(1, _field(1, key.encode()) + _field(2, value)))
    return b"".join(entries)


def encode_metric_data_info(reply: dict) -> bytes:
    """`MetricDataInfo`: labels (1, a ListValue of strings) then values (2, the Struct)."""
    labels = b"".join([_string_item_head(len(text)) + text
                       for text in map(str.encode, reply.get("labels") or [])])
    values = _field(2, encode_values(reply.get("values") or {}))  # present even when empty
    return _field(1, labels) + values if labels else values


def metric_data_info(reply: dict) -> metric_pb2.MetricDataInfo:
    return metric_pb2.MetricDataInfo.FromString(encode_metric_data_info(reply))


def _check_options(request) -> dict:
    opts = to_dict(request.options)
    if opts:
        options.check(catalogue.OPTIONS_SCHEMA, opts, "options")
    return opts


class DataSource(data_source_pb2_grpc.DataSourceServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def init(self, request, context):
        _check_options(request)
        return data_source_pb2.PluginInfo(metadata=to_struct(catalogue.metadata()))

    def verify(self, request, context):
        _check_options(request)
        self.functions.call("collect", events.COLLECT_VERIFY, credentialed(request))
        return empty_pb2.Empty()


class Metric(metric_pb2_grpc.MetricServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def list(self, request, context):
        data = {**credentialed(request), "query": to_dict(request.query)}
        reply = self.functions.call("collect", events.METRIC_LIST, data) or {}
        return json_format.ParseDict(reply, metric_pb2.MetricsInfo(),
                                     ignore_unknown_fields=True)

    def get_data(self, request, context):
        data = {**credentialed(request), "metric": request.metric,
                "metric_query": to_dict(request.metric_query),
                "start": request.start, "end": request.end}
        if request.period:  # proto3: 0 means absent
            data["period"] = request.period
        if request.stat:
            data["stat"] = request.stat
        return encode_metric_data_info(
            self.functions.call("collect", events.METRIC_DATA, data) or {})


def register(server, functions: Functions) -> list[str]:
    data_source_pb2_grpc.add_DataSourceServicer_to_server(DataSource(functions), server)
    metric = Metric(functions)
    handlers = {
        "list": grpc.unary_unary_rpc_method_handler(
            metric.list, request_deserializer=metric_pb2.MetricRequest.FromString,
            response_serializer=metric_pb2.MetricsInfo.SerializeToString),
        "get_data": grpc.unary_unary_rpc_method_handler(
            metric.get_data, request_deserializer=metric_pb2.MetricDataRequest.FromString,
            response_serializer=wire.serialize),
    }
    wire.add_handlers(server, METRIC_SERVICE, handlers)
    return [data_source_pb2.DESCRIPTOR.services_by_name["DataSource"].full_name,
            METRIC_SERVICE]
